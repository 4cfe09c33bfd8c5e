import { describe, expect, it } from 'vitest';
import { backward, constant, grad, ops, parameter, ShapeError } from '../src/node.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { gradCheck } from './helpers/gradcheck.js';
import { oracle } from './helpers/oracle.js';
import { uniform } from './helpers/random.js';

describe('sumTo (the gradient of a broadcast; oracle: tfjs-core CPU)', () => {
  const cases: [number[], number[]][] = [
    [[257, 3], [3]],
    [[257, 3], [257, 1]],
    [[4, 5, 6], [1, 5, 1]],
    [[4, 5, 6], [4, 1, 6]],
    [[2, 3, 4, 5], [3, 1, 1]],
    [[17], [1]],
    [[3, 1025], [1025]],
    [[2, 3], [2, 3]],
  ];
  for (const [from, to] of cases) {
    it(`[${from}] -> [${to}]`, async () => {
      const engine = await getEngine();
      const tf = await oracle();
      const v = uniform(from.reduce((a, b) => a * b, 1), from.length * 7 + to.length);
      const out = ops.sumTo(engine.tensor(v, from), to);
      expect(out.shape).toEqual(to);
      const reduced: number[] = [];
      from.forEach((d, i) => {
        const j = i - (from.length - to.length);
        if ((j < 0 || to[j] === 1) && d !== 1) reduced.push(i);
      });
      const ref = tf.reshape(tf.sum(tf.tensor(v, from), reduced, true), to);
      expectClose(await out.read(), ref.dataSync(), { atol: 1e-5, rtol: 1e-5 }, 'sumTo');
    });
  }
  it('refuses shapes that do not broadcast', async () => {
    const engine = await getEngine();
    expect(() => ops.sumTo(engine.tensor(new Float32Array(6), [2, 3]), [2])).toThrow(ShapeError);
  });
});

describe('unary ops (oracle: tfjs-core CPU)', () => {
  it('neg, abs, square, sqrt, exp, log, sigmoid, tanh, relu, swish, affine, clamp, pow', async () => {
    const engine = await getEngine();
    const tf = await oracle();
    for (const n of [1, 3, 17, 1025]) {
      const v = uniform(n, n, -3, 3);
      const pos = uniform(n, n + 1, 0.1, 4);
      const x = engine.tensor(v, [n]);
      const p = engine.tensor(pos, [n]);
      const tx = tf.tensor(v);
      const tp = tf.tensor(pos);
      const checks: [string, ReturnType<typeof ops.neg>, ArrayLike<number>][] = [
        ['neg', ops.neg(x), tf.neg(tx).dataSync()],
        ['abs', ops.abs(x), tf.abs(tx).dataSync()],
        ['square', ops.square(x), tf.square(tx).dataSync()],
        ['sqrt', ops.sqrt(p), tf.sqrt(tp).dataSync()],
        ['exp', ops.exp(x), tf.exp(tx).dataSync()],
        ['log', ops.log(p), tf.log(tp).dataSync()],
        ['sigmoid', ops.sigmoid(x), tf.sigmoid(tx).dataSync()],
        ['tanh', ops.tanh(x), tf.tanh(tx).dataSync()],
        ['relu', ops.relu(x), tf.relu(tx).dataSync()],
        ['swish', ops.swish(x), tf.mul(tx, tf.sigmoid(tx)).dataSync()],
        ['affine', ops.affine(x, 2.5, -1), tf.add(tf.mul(tx, 2.5), -1).dataSync()],
        ['clamp', ops.clamp(x, -1, 0.5), tf.clipByValue(tx, -1, 0.5).dataSync()],
        ['pow', ops.pow(p, 1.5), tf.pow(tp, 1.5).dataSync()],
      ];
      // Transcendental functions on GPUs are accurate to a few ulps (WGSL allows more for exp/log).
      for (const [name, out, ref] of checks) expectClose(await out.read(), ref, { atol: 1e-5, rtol: 1e-5 }, `${name} n=${n}`);
    }
  });
});

describe('autograd', () => {
  it('matches finite differences through broadcasting add/sub/mul and sums', async () => {
    const engine = await getEngine();
    await gradCheck(
      engine,
      [uniform(12, 1), uniform(4, 2), uniform(3, 3)],
      [[3, 4], [4], [3, 1]],
      ([a, b, c]) => grad.sum(grad.reshape(grad.mul(grad.sub(grad.add(a!, b!), c!), grad.add(a!, c!)), [12])),
      { h: 1e-2, atol: 2e-3, rtol: 1e-2 },
    );
  });

  it('matches tfjs gradients on a small composite', async () => {
    const engine = await getEngine();
    const tf = await oracle();
    const av = uniform(20, 5);
    const bv = uniform(5, 6);
    const a = parameter(engine.tensor(av, [4, 5]));
    const b = parameter(engine.tensor(bv, [5]));
    const kv = uniform(20, 7);
    const k = constant(engine.tensor(kv, [4, 5]));
    const y = grad.sum(grad.reshape(grad.mul(grad.mul(grad.add(a, b), k), a), [20]));
    backward(y);
    const f = (ta: import('@tensorflow/tfjs-core').Tensor, tb: import('@tensorflow/tfjs-core').Tensor) =>
      tf.sum(tf.mul(tf.mul(tf.add(ta, tb), tf.tensor(kv, [4, 5])), ta));
    const [ga, gb] = tf.grads(f)([tf.tensor(av, [4, 5]), tf.tensor(bv, [5])]);
    expectClose(await a.grad!.read(), ga!.dataSync(), { atol: 1e-5, rtol: 1e-5 }, 'dA');
    expectClose(await b.grad!.read(), gb!.dataSync(), { atol: 1e-5, rtol: 1e-5 }, 'dB');
    expect(k.grad).toBeNull();
  });

  it('accumulates into leaves across backward calls and frees the graph', async () => {
    const engine = await getEngine();
    const a = parameter(engine.tensor([1, 2, 3], [3]));
    await engine.sync();
    const base = engine.stats().pool.buffersInUse;
    for (let round = 0; round < 3; round++) backward(grad.sum(grad.mul(a, a)));
    // d/da sum(a^2) = 2a, three times.
    expect([...(await a.grad!.read())]).toEqual([6, 12, 18]);
    // Only the accumulated gradient remains beyond what existed before.
    expect(engine.stats().pool.buffersInUse - base).toBe(1);
    a.zeroGrad();
    expect(engine.stats().pool.buffersInUse).toBe(base);
  });

  it('explains a backward from a non-scalar or from a constant', async () => {
    const engine = await getEngine();
    const a = parameter(engine.tensor([1, 2], [2]));
    expect(() => backward(grad.mul(a, a))).toThrow(/gradOutput/);
    expect(() => backward(constant(engine.tensor([1], [1])))).toThrow(/does not depend/);
  });
});
