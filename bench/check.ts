// `npm run bench -- --check`: the benchmark peers' correctness gate. A ratio against a peer means
// something only if the peer computes the same thing, so before its times are believed its
// wiring is checked here: the ONNX encoder, the SharedArrayBuffer-safe writeBuffer that lets
// onnxruntime-web run on dawn.node, every ORT helper graph against a plain JS reference (f32,
// and f16 where the device has it), caller-bound ORT inputs and outputs, and tfjs-webgpu on our
// device. These checks were tests of the suite; they belong to the benchmarks, which are the
// only users of the peers (`npm test` keeps what the library itself promises).
//
// Results only, no times: ORT's wasm is compiled by V8's baseline tier (minutes sooner on a
// loaded 2-core machine, docs/BENCHMARKS.md), which is why --check runs alone.
import type { Engine } from '../src/node.js';
import { values } from './harness.js';
import { encodeModel, float, int } from './peers/onnx.js';
import { allowSharedWriteBuffer, matmulReference, maxAbsDifference, ortPeer } from './peers/ort.js';
import { TFJS_PEER_NAME, tfjsPeer } from './peers/tfjs.js';

/** One named check: passed, or why not. */
export interface PeerCheckResult {
  check: string;
  ok: boolean;
  detail: string;
}

function expectThat(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

/**
 * Tolerance of a peer's result against the f64 reference, relative to max |reference|.
 * f32: sums of <= 65 products of values in [-1, 1) (and exp/normalise) sit within ~1e-7
 * relative; 1e-5 leaves margin for other summation orders. f16: ORT accumulates in f16 (its
 * error grows with K: 0.4 at K 768, |ref| 40); at K <= 65 it stays below 2e-3 relative. A
 * wiring fault (input order, layout, transposition, attribute) gives errors of the order of |ref|.
 */
function peerTolerance(dtype: 'f32' | 'f16', maxAbsReference: number): number {
  return (dtype === 'f32' ? 1e-5 : 1e-2) * Math.max(1, maxAbsReference);
}

/**
 * ORT's device is declared stuck when its GPU work has not finished after this long. Generous
 * here: with Mesa's shader cache cold, compiling ORT's attention shaders on a loaded lavapipe
 * took past the peer's default 120 s, which is a slow compile, not a wrong result.
 */
const ORT = { subgroups: false, hangTimeoutMs: 10 * 60_000 } as const;

function onnxEncoding(): string {
  const graph = {
    nodes: [{ op: 'Foo', domain: 'com.example', inputs: ['x'], outputs: ['y'] }],
    inputs: [{ name: 'x', type: 'float32' as const, shape: [2] }],
    outputs: [{ name: 'y', type: 'float32' as const, shape: [2] }],
  };
  const throws = (f: () => unknown, pattern: RegExp) => {
    try {
      f();
    } catch (error) {
      return pattern.test(error instanceof Error ? error.message : String(error));
    }
    return false;
  };
  expectThat(throws(() => encodeModel(graph), /com\.example/), () => 'a graph without an opset for its domain was encoded');
  expectThat(encodeModel({ ...graph, opsets: { 'com.example': 1 } }).byteLength > 0, () => 'a graph with its opset gave no bytes');
  const withAttributes = (attributes: Record<string, unknown>) => ({ ...graph, nodes: [{ ...graph.nodes[0]!, attributes }], opsets: { 'com.example': 1 } });
  expectThat(throws(() => encodeModel(withAttributes({ axis: int(1.5) }) as Parameters<typeof encodeModel>[0]), /integer/), () => 'a fractional int attribute was encoded');
  encodeModel(withAttributes({ epsilon: float(1e-6) }) as Parameters<typeof encodeModel>[0]);
  return 'opsets required per domain, int attributes integers';
}

async function sharedWriteBuffer(engine: Engine): Promise<string> {
  allowSharedWriteBuffer(engine.device.queue);
  const heap = new Float32Array(new SharedArrayBuffer(64 * 4)).map((_, i) => i);
  const t = engine.zeros([8]);
  try {
    await engine.sync();
    engine.device.queue.writeBuffer(t.buffer, 8, heap, 10, 4); // offset and size in elements
    const first = [...(await t.read())].join(',');
    expectThat(first === '0,0,10,11,12,13,0,0', () => `typed-array range wrote ${first}`);
    engine.device.queue.writeBuffer(t.buffer, 0, new Uint8Array(heap.buffer), 20 * 4, 8); // in bytes
    const second = [...(await t.read())].join(',');
    expectThat(second === '20,21,10,11,12,13,0,0', () => `byte range wrote ${second}`);
  } finally {
    t.dispose();
  }
  return 'the addressed range of a shared view, in elements and in bytes';
}

/**
 * ORT on the peer's no-subgroups device, where its attention is right (with subgroups of 8 it
 * is not: that is ORT's bug, which the peers group reports, so it is not gated on here).
 */
async function ortHelperGraphs(engine: Engine): Promise<PeerCheckResult[]> {
  const peer = await ortPeer(engine, ORT);
  expectThat(!peer.subgroups, () => 'the no-subgroups peer has subgroups');
  const checks = await peer.selfCheck();
  expectThat(checks.length >= 8, () => `selfCheck ran ${checks.length} graphs, expected at least 8`);
  return checks.map((c) => {
    const bound = peerTolerance(c.dtype, c.maxAbsReference);
    const ok = c.failure === undefined && c.maxAbsError <= bound;
    const detail = c.failure ?? `max abs error ${c.maxAbsError.toExponential(2)} (bound ${bound.toExponential(1)}, max |reference| ${c.maxAbsReference.toFixed(2)})`;
    return { check: `onnxruntime-web ${c.op} ${c.shape} ${c.dtype}`, ok, detail };
  });
}

async function ortCallerInputs(engine: Engine): Promise<string> {
  const peer = await ortPeer(engine, ORT);
  const [m, k, n] = [3, 5, 2];
  const a = values(m * k, 1);
  const b = values(k * n, 2);
  const graph = await peer.session({
    op: 'matmul',
    shape: `${m}x${k}x${n}`,
    graph: {
      nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
      inputs: [
        { name: 'a', type: 'float32', shape: [m, k] },
        { name: 'b', type: 'float32', shape: [k, n] },
      ],
      outputs: [{ name: 'y', type: 'float32', shape: [m, n] }],
    },
    inputs: { a, b },
  });
  try {
    await graph.run();
    const y = await peer.engine.read(graph.outputs.y!);
    const { error, scale } = maxAbsDifference(y, matmulReference(a, b, null, m, k, n, false));
    const bound = peerTolerance('f32', scale);
    expectThat(error <= bound, () => `the bound inputs gave a result off by ${error} (bound ${bound})`);
    const refused = await graph.check().then(
      () => false,
      (e: unknown) => /no JS reference/.test(e instanceof Error ? e.message : String(e)),
    );
    expectThat(refused, () => 'check() without a reference did not say so');
  } finally {
    await graph.dispose();
  }
  return 'caller-chosen inputs bound, results in the peer engine\'s GPU tensors';
}

/** tfjs-webgpu on our device: the matmul shapes the kernels group times it at, small and odd. */
async function tfjsMatmul(engine: Engine): Promise<PeerCheckResult[]> {
  const { tf, sync } = await tfjsPeer(engine);
  const results: PeerCheckResult[] = [];
  for (const [m, k, n, transposeB] of [
    [17, 33, 65, false],
    [17, 48, 65, true],
    [64, 96, 96, false],
  ] as const) {
    const a = values(m * k, 3);
    const b = values(k * n, 4);
    const y = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, transposeB ? [n, k] : [k, n]), false, transposeB));
    await sync();
    const got = await y.data();
    y.dispose();
    const { error, scale } = maxAbsDifference(got as Float32Array, matmulReference(a, b, null, m, k, n, transposeB));
    const bound = peerTolerance('f32', scale);
    results.push({ check: `${TFJS_PEER_NAME} matmul${transposeB ? '_bt' : ''} ${m}x${k}x${n} f32`, ok: error <= bound, detail: `max abs error ${error.toExponential(2)} (bound ${bound.toExponential(1)})` });
  }
  return results;
}

/** Runs every peer check; a check that throws is a failed check, the others still run. */
export async function runPeerChecks(engine: Engine, onResult: (r: PeerCheckResult) => void): Promise<PeerCheckResult[]> {
  const results: PeerCheckResult[] = [];
  const record = (r: PeerCheckResult) => {
    results.push(r);
    onResult(r);
  };
  const one = async (check: string, run: () => Promise<string | PeerCheckResult[]> | string) => {
    try {
      const out = await run();
      if (typeof out === 'string') record({ check, ok: true, detail: out });
      else out.forEach(record);
    } catch (error) {
      record({ check, ok: false, detail: error instanceof Error ? error.message : String(error) });
    }
  };
  await one('onnx encoding', onnxEncoding);
  await one('SharedArrayBuffer-safe writeBuffer', () => sharedWriteBuffer(engine));
  await one('tfjs-webgpu matmul', () => tfjsMatmul(engine));
  await one('onnxruntime-web caller inputs', () => ortCallerInputs(engine));
  // Last: some of ORT's attention shaders can leave a device stuck (bench/peers/ort.ts).
  await one('onnxruntime-web helper graphs', () => ortHelperGraphs(engine));
  return results;
}
