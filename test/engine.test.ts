import { describe, expect, it } from 'vitest';
import { defineKernel, DeviceError, DisposedError, ops, ShapeError } from '../src/node.js';
import { getEngine } from './helpers/engine.js';

describe('engine', () => {
  it('finds a real WebGPU adapter (CI must not skip the GPU tests)', async () => {
    const engine = await getEngine();
    expect(engine.device).toBeTruthy();
    expect(engine.info.features.length).toBeGreaterThan(0);
    expect(engine.info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    // Where CI runs (lavapipe) the adapter has these; they are used by the fast paths.
    if (process.env.CI) {
      expect(engine.hasF16).toBe(true);
      expect(engine.hasSubgroups).toBe(true);
    }
  });

  it('uploads and reads back every dtype', async () => {
    const engine = await getEngine();
    const f = engine.tensor([1.5, -2, 3.25], [3]);
    const h = engine.tensor([1.5, -2, 3.25], [3], 'f16');
    const i = engine.tensor([-7, 0, 2147483647], [3], 'i32');
    const u = engine.tensor([0, 7, 4294967295], [3], 'u32');
    expect([...(await f.read())]).toEqual([1.5, -2, 3.25]);
    expect([...(await h.read())]).toEqual([1.5, -2, 3.25]);
    expect([...(await i.read())]).toEqual([-7, 0, 2147483647]);
    expect([...(await u.read())]).toEqual([0, 7, 4294967295]);
    for (const t of [f, h, i, u]) t.dispose();
  });

  it('batches many dispatches into a bounded number of submits', async () => {
    const engine = await getEngine();
    const a = engine.tensor(new Float32Array(1000).fill(1), [1000]);
    await a.read();
    const before = engine.stats();
    let acc = a;
    const n = 300;
    engine.tidy(() => {
      for (let k = 0; k < n; k++) acc = ops.add(acc, a);
      engine.keep(acc);
    });
    const result = await acc.read();
    const after = engine.stats();
    expect(result[0]).toBe(n + 1);
    expect(after.dispatches - before.dispatches).toBe(n);
    // 300 dispatches and one readback: a single submit.
    expect(after.submits - before.submits).toBe(1);
    expect(after.readbacks - before.readbacks).toBe(1);
    acc.dispose();
    a.dispose();
  });

  it('splits very long batches at the dispatch limit', async () => {
    const { createEngine } = await import('../src/node.js');
    // A second engine on the same adapter with a small batch limit.
    const small = await createEngine({ maxDispatchesPerSubmit: 16 });
    const a = small.tensor([1], [1]);
    const before = small.stats().submits;
    let acc = a;
    for (let k = 0; k < 100; k++) {
      const next = ops.add(acc, a);
      if (acc !== a) acc.dispose();
      acc = next;
    }
    expect((await acc.read())[0]).toBe(101);
    const submits = small.stats().submits - before;
    expect(submits).toBeGreaterThanOrEqual(Math.ceil(100 / 16));
    expect(submits).toBeLessThanOrEqual(Math.ceil(100 / 16) + 1);
    small.destroy();
  });

  it('frees everything a scope created except what it returns', async () => {
    const engine = await getEngine();
    await engine.sync();
    const base = engine.stats().pool;
    const x = engine.tensor(new Float32Array(4096).fill(2), [64, 64]);
    const kept = engine.tidy(() => {
      const y = ops.mul(x, x);
      const z = ops.add(y, x);
      const w = ops.sub(z, y);
      return { result: ops.sum(w), unrelated: 5 };
    });
    const mid = engine.stats().pool;
    // x and the returned sum are alive; y, z, w are back in the pool.
    expect(mid.buffersInUse - base.buffersInUse).toBe(2);
    expect([...(await kept.result.read())].every((v) => v === 128)).toBe(true);
    kept.result.dispose();
    x.dispose();
    const end = engine.stats().pool;
    expect(end.bytesInUse).toBe(base.bytesInUse);
    expect(end.buffersInUse).toBe(base.buffersInUse);
  });

  it('reuses pooled buffers instead of allocating in a steady loop', async () => {
    const engine = await getEngine();
    const x = engine.tensor(new Float32Array(777).fill(1), [777]);
    const step = () => engine.tidy(() => ops.sum(ops.mul(ops.add(x, x), x)).dispose());
    step();
    await engine.sync();
    const before = engine.stats().pool.allocations;
    for (let k = 0; k < 50; k++) step();
    await engine.sync();
    expect(engine.stats().pool.allocations).toBe(before);
    x.dispose();
  });

  it('keeps uploads ordered after pending commands that read a recycled buffer', async () => {
    const engine = await getEngine();
    const a = engine.tensor(new Float32Array(64).fill(3), [64]);
    const b = engine.tensor(new Float32Array(64).fill(4), [64]);
    const c = ops.add(a, b); // recorded, not submitted
    a.dispose(); // a's buffer returns to the pool while c's dispatch still reads it
    const d = engine.tensor(new Float32Array(64).fill(100), [64]); // must not overwrite a's data
    expect((await c.read())[0]).toBe(7);
    expect((await d.read())[0]).toBe(100);
    engine.write(d, new Float32Array(64).fill(5)); // written in order with recorded commands
    const e = ops.add(d, b);
    expect((await e.read())[63]).toBe(9);
    for (const t of [b, c, d, e]) t.dispose();
  });

  it('reshapes without copying and errors on misuse', async () => {
    const engine = await getEngine();
    const x = engine.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const y = x.reshape([3, -1]);
    expect(y.shape).toEqual([3, 2]);
    expect(y.buffer).toBe(x.buffer);
    x.dispose();
    expect([...(await y.read())]).toEqual([1, 2, 3, 4, 5, 6]); // the view keeps the storage alive
    y.dispose();
    expect(() => y.buffer).toThrow(DisposedError);
    expect(() => engine.tensor([1, 2, 3], [2, 2])).toThrow(ShapeError);
    expect(() => x.reshape([4])).toThrow(DisposedError);
    const z = engine.tensor([1, 2, 3, 4], [4]);
    expect(() => z.reshape([3, -1])).toThrow(ShapeError);
    z.dispose();
  });

  it('reports a kernel that fails to compile with its name, as a DeviceError', async () => {
    const { createEngine } = await import('../src/node.js');
    const engine = await createEngine();
    const broken = defineKernel('broken_example', '@group(0) @binding(0) var<storage, read_write> out: array<f32>;\n@compute @workgroup_size(1) fn main() { out[0] = undefined_name; }');
    const t = engine.zeros([1]);
    engine.run({ kernel: broken, outputs: [t], workgroups: [1] });
    await expect(t.read()).rejects.toThrow(DeviceError);
    const u = engine.zeros([1]);
    engine.run({ kernel: broken, outputs: [u], workgroups: [1] });
    await expect(engine.sync()).rejects.toThrow(/broken_example/);
    engine.destroy();
  });
  it('profiles GPU time per kernel with timestamp queries, results unchanged', async () => {
    const engine = await getEngine();
    if (!engine.hasTimestamps) return; // lavapipe (CI) has timestamp-query
    const a = engine.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = engine.tensor([1, 0, 0, 1, 1, 1], [3, 2]);
    engine.startProfile();
    let rows;
    try {
      expect(() => engine.startProfile()).toThrow(/already running/);
      const c = ops.matmul(a, b);
      const d = ops.add(c, c);
      const e = ops.add(d, c);
      expect([...(await e.read())]).toEqual([12, 15, 30, 33]);
      for (const t of [c, d, e]) t.dispose();
    } finally {
      rows = await engine.stopProfile();
    }
    const byKernel = new Map<string, number>();
    for (const r of rows) byKernel.set(r.kernel, (byKernel.get(r.kernel) ?? 0) + r.dispatches);
    expect(byKernel.get('gemm')).toBe(1);
    expect(byKernel.get('binary')).toBe(2);
    for (const r of rows) {
      expect(r.ms).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(r.ms)).toBe(true);
      expect(r.pipeline.startsWith(`${r.kernel}(`)).toBe(true);
    }
    expect(rows.map((r) => r.ms)).toEqual([...rows.map((r) => r.ms)].sort((x, y) => y - x));
    await expect(engine.stopProfile()).rejects.toThrow(/no profile is running/);
    a.dispose();
    b.dispose();
  });
});
