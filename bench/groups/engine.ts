// Foundation ops: elementwise add with broadcasting, a unary op and sums, against tfjs-webgpu.
import { ops } from '../../src/node.js';
import { gpuRunner, rowTiming, timeRunners, type BenchGroup } from '../harness.js';
import { TFJS_AS_RUNNER_1, tfjsPeer } from '../peers/tfjs.js';

export const engineGroup: BenchGroup = {
  name: 'engine',
  description: 'elementwise add (broadcast), swish, sums over the last and the leading axis',
  async run(ctx) {
    const { engine } = ctx;
    const peer = await tfjsPeer(engine);
    const { tf } = peer;
    for (const [rows, cols] of [
      [1024, 1024],
      [257, 3072],
    ] as const) {
      const data = new Float32Array(rows * cols).map((_, i) => (i % 97) / 97);
      const bias = new Float32Array(cols).map((_, i) => i / cols);
      const a = engine.tensor(data, [rows, cols]);
      const b = engine.tensor(bias, [cols]);
      const ta = tf.tensor(data, [rows, cols]);
      const tb = tf.tensor(bias, [cols]);
      const shape = `${rows}x${cols}`;
      for (const [kernel, ours, theirs] of [
        ['add_broadcast', () => ops.add(a, b), () => tf.add(ta, tb)],
        ['sum_last_axis', () => ops.sum(a), () => tf.sum(ta, -1)],
        ['sum_leading_axis', () => ops.sumTo(a, [cols]), () => tf.sum(ta, 0)],
        ['swish', () => ops.swish(a), () => tf.mul(ta, tf.sigmoid(ta))],
      ] as const) {
        const timed = await timeRunners(ctx, [gpuRunner(engine, ours), peer.runner(theirs)]);
        ctx.emit({ kernel, shape, gflops: null, ...rowTiming(timed, 0, TFJS_AS_RUNNER_1) });
      }
      for (const t of [a, b]) t.dispose();
      ta.dispose();
      tb.dispose();
    }
  },
};
