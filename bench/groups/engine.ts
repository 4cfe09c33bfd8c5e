// Foundation ops: elementwise add with broadcasting, a unary op and sums, against tfjs-webgpu.
import { ops } from '../../src/node.js';
import { timeIt, type BenchGroup } from '../harness.js';
import { tfjsPeer } from '../peers/tfjs.js';

export const engineGroup: BenchGroup = {
  name: 'engine',
  description: 'elementwise add (broadcast), swish, sums over the last and the leading axis',
  async run(ctx) {
    const { engine, options } = ctx;
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
        const oursMs = await timeIt(async () => {
          ours().dispose();
          await engine.sync();
        }, options);
        const peerMs = await timeIt(async () => {
          theirs().dispose();
          await peer.sync();
        }, options);
        ctx.emit({ kernel, shape, ours_ms: oursMs, peer: 'tfjs-webgpu', peer_ms: peerMs, gflops: null });
      }
      for (const t of [a, b]) t.dispose();
      ta.dispose();
      tb.dispose();
    }
  },
};
