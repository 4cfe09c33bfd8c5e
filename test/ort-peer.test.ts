// The onnxruntime-web benchmark peer (bench/peers/ort.ts): its ONNX models, its GPU-resident
// wiring and its JS references are right if ORT's results match the references. Run on the
// peer's no-subgroups device, where ORT's attention is right (with subgroups of 8 it is not,
// which is ORT's bug and what selfCheck() exists to report, so it is not asserted here).
import { describe, expect, it } from 'vitest';
import { encodeModel, float, int } from '../bench/peers/onnx.js';
import { allowSharedWriteBuffer, compileOrtWasmWithLiftoffOnly, ortPeer } from '../bench/peers/ort.js';
import { getEngine } from './helpers/engine.js';
import { uniform } from './helpers/random.js';

// Results only, no times: ORT's wasm compiled by V8's baseline tier (minutes sooner here).
compileOrtWasmWithLiftoffOnly();

describe('ONNX model encoding', () => {
  it('needs an opset for every operator domain and integers for int attributes', () => {
    const graph = {
      nodes: [{ op: 'Foo', domain: 'com.example', inputs: ['x'], outputs: ['y'] }],
      inputs: [{ name: 'x', type: 'float32' as const, shape: [2] }],
      outputs: [{ name: 'y', type: 'float32' as const, shape: [2] }],
    };
    expect(() => encodeModel(graph)).toThrow(/com\.example/);
    expect(encodeModel({ ...graph, opsets: { 'com.example': 1 } }).byteLength).toBeGreaterThan(0);
    const attributes = { axis: int(1.5) };
    expect(() => encodeModel({ ...graph, nodes: [{ ...graph.nodes[0]!, attributes }], opsets: { 'com.example': 1 } })).toThrow(/integer/);
    expect(() => encodeModel({ ...graph, nodes: [{ ...graph.nodes[0]!, attributes: { epsilon: float(1e-6) } }], opsets: { 'com.example': 1 } })).not.toThrow();
  });
});

describe('SharedArrayBuffer-safe queue.writeBuffer', () => {
  it('writes the addressed range of a shared view (offset and size in elements)', async () => {
    const engine = await getEngine();
    allowSharedWriteBuffer(engine.device.queue);
    const heap = new Float32Array(new SharedArrayBuffer(64 * 4)).map((_, i) => i);
    const t = engine.zeros([8]);
    await engine.sync();
    engine.device.queue.writeBuffer(t.buffer, 8, heap, 10, 4);
    expect([...(await t.read())]).toEqual([0, 0, 10, 11, 12, 13, 0, 0]);
    const bytes = new Uint8Array(heap.buffer);
    engine.device.queue.writeBuffer(t.buffer, 0, bytes, 20 * 4, 8);
    expect([...(await t.read())]).toEqual([20, 21, 10, 11, 12, 13, 0, 0]);
    t.dispose();
  });
});

describe('onnxruntime-web peer', () => {
  it('matches the JS references on every helper graph (f32, and f16 where the device has it)', async () => {
    const engine = await getEngine();
    const peer = await ortPeer(engine, { subgroups: false });
    expect(peer.subgroups).toBe(false);
    const checks = await peer.selfCheck();
    expect(checks.length).toBeGreaterThanOrEqual(8);
    for (const c of checks) {
      expect(c.failure, `${c.op} ${c.shape} ${c.dtype}`).toBeUndefined();
      // f32: sums of <= 65 products of values in [-1, 1) (and exp/normalise): ORT's f32
      // results sit within ~1e-7 relative of the f64 reference; 1e-5 leaves margin for other
      // summation orders. f16: ORT accumulates in f16 (its error grows with K: 0.4 at K 768,
      // |ref| 40); at K <= 65 it stays below 2e-3 relative. A wiring fault (input order,
      // layout, transposition, attribute) gives errors of the order of |ref|.
      const relative = c.dtype === 'f32' ? 1e-5 : 1e-2;
      expect(c.maxAbsError, `${c.op} ${c.shape} ${c.dtype}`).toBeLessThanOrEqual(relative * Math.max(1, c.maxAbsReference));
    }
  });

  it('binds caller-chosen inputs and keeps results in the peer engine\'s GPU tensors', async () => {
    const engine = await getEngine();
    const peer = await ortPeer(engine, { subgroups: false });
    const a = uniform(3 * 5, 1);
    const b = uniform(5 * 2, 2);
    const graph = await peer.session({
      op: 'matmul',
      shape: '3x5x2',
      graph: {
        nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
        inputs: [
          { name: 'a', type: 'float32', shape: [3, 5] },
          { name: 'b', type: 'float32', shape: [5, 2] },
        ],
        outputs: [{ name: 'y', type: 'float32', shape: [3, 2] }],
      },
      inputs: { a, b },
    });
    await graph.run();
    const y = await peer.engine.read(graph.outputs.y!);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        let s = 0;
        for (let p = 0; p < 5; p++) s += a[i * 5 + p]! * b[p * 2 + j]!;
        expect(y[i * 2 + j]).toBeCloseTo(s, 5);
      }
    }
    await expect(graph.check()).rejects.toThrow(/no JS reference/);
    await graph.dispose();
  });
});
