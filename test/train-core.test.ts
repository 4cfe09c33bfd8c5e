import { describe, expect, it } from 'vitest';
import { AdamW, backward, constant, createEngine, grad, parameter, warmupCosine, type Variable } from '../src/node.js';
import { expectClose } from './helpers/compare.js';
import { getEngine } from './helpers/engine.js';
import { oracle } from './helpers/oracle.js';
import { randomInts, uniform } from './helpers/random.js';

describe('softmax cross-entropy with label smoothing (oracle: tfjs-core CPU)', () => {
  for (const [rows, vocab, classes, smoothing] of [
    [1, 3, 3, 0],
    [17, 50, 40, 0.1],
    [65, 266, 256, 0.1],
    [3, 1025, 1025, 0.2],
  ] as const) {
    it(`${rows} rows x ${vocab} (first ${classes}), smoothing ${smoothing}`, async () => {
      for (const engine of [await getEngine(), await createEngine({ disableFeatures: ['subgroups'] })]) {
        const tf = await oracle();
        const x = uniform(rows * vocab, rows + vocab, -4, 4);
        const t = randomInts(rows, rows, 0, classes);
        const w = Float32Array.from(uniform(rows, 3), (v) => (v > -0.4 ? 1 : 0));
        const weightSum = Math.max(1, w.reduce((a, b) => a + b, 0));
        const logits = parameter(engine.tensor(x, [rows, vocab]));
        const loss = grad.softmaxCrossEntropy(logits, engine.tensor(t, [rows], 'i32'), engine.tensor(w, [rows]), { smoothing, classes, weightSum });
        const got = (await loss.value.read())[0]!;
        backward(loss);
        const q = tf.add(tf.mul(tf.oneHot(tf.tensor1d(t, 'int32'), classes), 1 - smoothing), smoothing / classes);
        const f = (z: import('@tensorflow/tfjs-core').Tensor) => {
          const zc = tf.slice(z, [0, 0], [rows, classes]);
          const ce = tf.neg(tf.sum(tf.mul(q, tf.logSoftmax(zc)), -1));
          return tf.div(tf.sum(tf.mul(ce, tf.tensor1d(w))), weightSum);
        };
        const ref = f(tf.tensor2d(x, [rows, vocab])).dataSync()[0]!;
        expect(Math.abs(got - ref)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref)));
        const [g] = tf.grads(f)([tf.tensor2d(x, [rows, vocab])]);
        expectClose(await logits.grad!.read(), g!.dataSync(), { atol: 1e-6, rtol: 1e-4 }, 'dlogits');
        logits.zeroGrad();
        if (!engine.hasSubgroups) engine.destroy();
      }
    });
  }
});

/** Host AdamW with global-norm clipping, the reference for the GPU kernels. */
function hostAdamW(p: Float64Array[], g: Float64Array[], m: Float64Array[], v: Float64Array[], step: number, o: { lr: number; b1: number; b2: number; eps: number; wd: number[]; maxNorm: number }) {
  const norm = Math.sqrt(g.reduce((a, gi) => a + gi.reduce((s, x) => s + x * x, 0), 0));
  const clip = o.maxNorm > 0 && norm > o.maxNorm ? o.maxNorm / norm : 1;
  for (let k = 0; k < p.length; k++) {
    for (let i = 0; i < p[k]!.length; i++) {
      const gi = g[k]![i]! * clip;
      m[k]![i] = o.b1 * m[k]![i]! + (1 - o.b1) * gi;
      v[k]![i] = o.b2 * v[k]![i]! + (1 - o.b2) * gi * gi;
      const update = m[k]![i]! / (1 - o.b1 ** step) / (Math.sqrt(v[k]![i]! / (1 - o.b2 ** step)) + o.eps);
      p[k]![i] = p[k]![i]! - o.lr * (update + o.wd[k]! * p[k]![i]!);
    }
  }
}

describe('AdamW', () => {
  // Fused: one dispatch over flat buffers; per parameter: the path taken when some parameter has no gradient.
  for (const fused of [true, false]) {
    it(`matches a host implementation over several steps, with clipping, decoupled decay and a step without one gradient (${fused ? 'fused' : 'per parameter'})`, async () => {
      const engine = await getEngine();
      // Decaying and non-decaying parameters interleaved (the fused layout puts the decaying ones first).
      const shapes = [[7, 5], [5], [3000], [1]];
      const names = ['layer.weight', 'layer.bias', 'big.weight', 'gain.bias'];
      const init = shapes.map((s, k) => uniform(s.reduce((a, b) => a * b, 1), 40 + k));
      const vars = new Map<string, Variable>(names.map((n, k) => [n, parameter(engine.keep(engine.tensor(init[k]!, shapes[k]!)))]));
      const lr = warmupCosine({ peak: 1e-2, warmup: 2, total: 7 });
      const options = { learningRate: lr, beta1: 0.9, beta2: 0.96, weightDecay: 0.045, maxGradNorm: 0.5, decays: (n: string) => n.endsWith('.weight'), fused };
      const opt = new AdamW(vars, options);
      const p = init.map((x) => Float64Array.from(x));
      const m = init.map((x) => new Float64Array(x.length));
      const v = init.map((x) => new Float64Array(x.length));
      const wd = [0.045, 0, 0.045, 0];
      for (let step = 1; step <= 6; step++) {
        // Gradients of sum(c * p^2): 2 c p, with c different per step; at steps 3 and 5 'layer.bias' gets none.
        const c = 0.3 * step;
        const skipped = step === 3 || step === 5 ? 1 : -1;
        const gs = p.map((x) => Float64Array.from(x, (y) => 2 * c * y));
        for (const [k, name] of names.entries()) {
          if (k === skipped) continue;
          const x = vars.get(name)!;
          backward(grad.sum(grad.reshape(grad.mul(grad.mul(x, x), constant(engine.tensor([c], [1]))), [1, x.value.size])));
        }
        opt.update();
        const kept = names.map((_, k) => k).filter((k) => k !== skipped);
        const pick = <T,>(xs: T[]) => kept.map((k) => xs[k]!);
        hostAdamW(pick(p), pick(gs), pick(m), pick(v), step, { lr: lr(step - 1), b1: 0.9, b2: 0.96, eps: 1e-8, wd: pick(wd), maxNorm: 0.5 });
      }
      for (const [k, name] of names.entries()) {
        expectClose(await vars.get(name)!.value.read(), Float32Array.from(p[k]!), { atol: 2e-6, rtol: 1e-5 }, name);
        expect(vars.get(name)!.grad).toBeNull();
      }
      expect(opt.step).toBe(6);
      // The moments per parameter, as checkpoints hold them; a new optimizer restored from them continues identically.
      const state = opt.state();
      expect([...state.keys()].sort()).toEqual(names.flatMap((n) => [`${n}.adam_m`, `${n}.adam_v`]).sort());
      for (const [k, name] of names.entries()) expectClose(await state.get(`${name}.adam_v`)!.read(), Float32Array.from(v[k]!), { atol: 1e-7, rtol: 1e-5 }, `${name}.adam_v`);
      const twin = new Map<string, Variable>(names.map((n, k) => [n, parameter(engine.keep(engine.zeros(shapes[k]!)))]));
      for (const [name, x] of vars) engine.copy(x.value, 0, twin.get(name)!.value, 0, x.value.byteLength);
      const restored = new AdamW(twin, options);
      restored.loadState(state, opt.step);
      for (const t of state.values()) t.dispose();
      for (const [o, vs] of [[opt, vars], [restored, twin]] as const) {
        for (const x of vs.values()) backward(grad.sum(grad.reshape(grad.mul(x, x), [1, x.value.size])));
        o.update();
      }
      for (const name of names) expect([...(await twin.get(name)!.value.read())], name).toEqual([...(await vars.get(name)!.value.read())]);
      opt.dispose();
      restored.dispose();
    });
  }

  it('warms up linearly then decays along a cosine', () => {
    const lr = warmupCosine({ peak: 1, warmup: 10, total: 110, final: 0.1 });
    expect(lr(0)).toBeCloseTo(0.1);
    expect(lr(9)).toBeCloseTo(1);
    expect(lr(60)).toBeCloseTo(0.55);
    expect(lr(110)).toBeCloseTo(0.1);
    expect(lr(500)).toBeCloseTo(0.1);
  });
});
