// Fuzzing the safetensors readers: valid files of random tensors, mutated at the header's JSON
// level (dtypes, shapes, offsets, entries, metadata, the length prefix) and at the byte level
// (truncation, bit flips, overwrites, splices with another file). Three readers see each case:
// the in-memory decoder, the streaming reader (random chunking, with and without the total)
// and the random-access reader (short reads). Each must load it or throw CheckpointError, all
// three must agree, and a loaded file must satisfy the format's invariants.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  readSafetensorsFile,
  readSafetensorsStream,
  safetensorsDTypeSize,
  type OpenedFile,
  type SafetensorsDType,
  type TensorBytes,
} from '../src/node.js';
import { f16BitsToF32, f32ToF16Bits } from '../src/tensor/half.js';
import { getEngine } from './helpers/engine.js';
import { joinHeader, splitHeader } from './helpers/folder-mutations.js';
import { byteMutation, concat, fuzz, fuzzRuns, jsonMutation, mutateBytes, mutateJson, mutations, rawJsonVariants, sometimes, type ByteMutation, type JsonMutation } from './helpers/fuzz.js';

const DTYPES: SafetensorsDType[] = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'I64', 'U64', 'F64'];

const tensorSpec = fc.record({
  name: fc.string({ unit: 'binary', maxLength: 6 }),
  dtype: fc.constantFrom(...DTYPES),
  shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
  fill: fc.nat(255),
});

const fileSpec = fc.record({
  tensors: fc.uniqueArray(tensorSpec, { selector: (t) => t.name, maxLength: 5 }).map((ts) => ts.filter((t) => t.name !== '__metadata__')),
  metadata: fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
});

type FileSpec = typeof fileSpec extends fc.Arbitrary<infer T> ? T : never;

function build(spec: FileSpec): Uint8Array {
  const tensors: TensorBytes[] = spec.tensors.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1) * safetensorsDTypeSize(t.dtype);
    return { name: t.name, dtype: t.dtype, shape: t.shape, data: Uint8Array.from({ length: n }, (_, i) => (t.fill + i * 31) & 255) };
  });
  return encodeSafetensors(tensors, spec.metadata);
}

const LENGTH_PREFIXES = [0n, 1n, 2n, 7n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n, 100_000_000n, 100_000_001n, 99_999_999n];

const caseSpec = fc.record({
  base: fileSpec,
  other: fileSpec,
  // Each kind of mutation is off in a good share of cases, so some cases get through to the
  // loaded side of the contract.
  json: mutations(2, 1, jsonMutation, 3),
  raw: sometimes(1, 10, fc.nat()),
  // A length prefix off by -16..16, or one of LENGTH_PREFIXES (coded as -1000 - index).
  prefix: sometimes(1, 6, fc.oneof(fc.integer({ min: -16, max: 16 }), fc.integer({ min: 0, max: LENGTH_PREFIXES.length - 1 }).map((i) => -1000 - i))),
  bytes: mutations(2, 3, byteMutation, 3),
  chunks: fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 8 }),
  announce: fc.boolean(),
  shortReads: fc.integer({ min: 1, max: 13 }),
  // A Content-Length that lies (a proxy, a truncated cache entry): off by this much.
  lie: fc.integer({ min: -9, max: 9 }).filter((n) => n !== 0),
});

type CaseSpec = typeof caseSpec extends fc.Arbitrary<infer T> ? T : never;

function mutated(c: CaseSpec): Uint8Array {
  const file = build(c.base);
  const { json, data } = splitHeader(file);
  let text = JSON.stringify(mutateJson(json, c.json as JsonMutation[]));
  if (c.raw !== null) {
    const variants = rawJsonVariants(text);
    text = variants[c.raw % variants.length]!;
  }
  let length: bigint | undefined;
  if (c.prefix !== null) {
    const trueLength = BigInt(new TextEncoder().encode(text).byteLength);
    length = c.prefix <= -1000 ? LENGTH_PREFIXES[-1000 - c.prefix]! : trueLength + BigInt(c.prefix);
    if (length < 0n) length = 0n;
  }
  return mutateBytes(joinHeader(text, data, length), c.bytes as ByteMutation[], build(c.other));
}

type Loaded = Map<string, { dtype: string; shape: readonly number[]; bytes: Uint8Array }>;

function streamOf(bytes: Uint8Array, sizes: readonly number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let k = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      const n = sizes[k++ % sizes.length]!;
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

/** An in-memory file with random access that reads at most `max` bytes per call (short reads). */
function memoryFile(bytes: Uint8Array, max: number): OpenedFile {
  return {
    stream: streamOf(bytes, [max]),
    total: bytes.byteLength,
    from: 'disk',
    readAt: async (into, position) => {
      const n = Math.max(0, Math.min(into.byteLength, max, bytes.byteLength - position));
      into.set(bytes.subarray(position, position + n));
      return n;
    },
    close: async () => undefined,
  };
}

function collect(into: Loaded) {
  return { tensor: (info: { name: string; dtype: string; shape: readonly number[] }, bytes: Uint8Array) => void into.set(info.name, { dtype: info.dtype, shape: info.shape, bytes: bytes.slice() }) };
}

type Outcome = { ok: true; tensors: Loaded } | { ok: false; error: unknown };

async function outcome(load: () => Promise<Loaded>): Promise<Outcome> {
  try {
    return { ok: true, tensors: await load() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Loads a case with all three readers; throws the error they agree on, or a contract failure. */
async function loadEveryWay(bytes: Uint8Array, c: Pick<CaseSpec, 'chunks' | 'announce' | 'shortReads'> & { lie?: number }): Promise<Loaded> {
  const memory = await outcome(async () => {
    const { header, tensors } = decodeSafetensors(bytes, 'fuzz');
    // The format's invariants for whatever loaded.
    let cursor = 0;
    for (const t of header.tensors) {
      expect(t.begin).toBe(cursor);
      const host = tensors.get(t.name)!;
      expect(host.bytes.byteLength).toBe(t.shape.reduce((a, b) => a * b, 1) * safetensorsDTypeSize(t.dtype));
      cursor = t.end;
    }
    expect(header.dataOffset + header.dataLength).toBe(bytes.byteLength);
    return new Map([...tensors].map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, bytes: t.bytes.slice() }]));
  });
  const stream = await outcome(async () => {
    const got: Loaded = new Map();
    await readSafetensorsStream(streamOf(bytes, c.chunks), collect(got), { source: 'fuzz', ...(c.announce ? { total: bytes.byteLength } : {}) });
    return got;
  });
  const random = await outcome(async () => {
    const got: Loaded = new Map();
    await readSafetensorsFile(memoryFile(bytes, c.shortReads * 7), collect(got), { source: 'fuzz' });
    return got;
  });
  if (c.lie !== undefined) {
    // With a wrong total the stream must still load the same tensors or throw CheckpointError.
    const lied = await outcome(async () => {
      const got: Loaded = new Map();
      await readSafetensorsStream(streamOf(bytes, c.chunks), collect(got), { source: 'fuzz', total: Math.max(0, bytes.byteLength + c.lie!) });
      return got;
    });
    if (!lied.ok && !(lied.error instanceof CheckpointError)) throw lied.error;
    if (lied.ok) {
      if (!memory.ok) throw new Error('the stream with a wrong total loaded a file the memory reader rejects');
      for (const [k, t] of lied.tensors) expect(Buffer.compare(t.bytes, memory.tensors.get(k)!.bytes), `wrong total: ${k}`).toBe(0);
    }
  }
  for (const [name, o] of [['memory', memory], ['stream', stream], ['random access', random]] as const) {
    if (!o.ok && !(o.error instanceof CheckpointError)) throw o.error; // the harness reports it
    if (o.ok !== memory.ok) {
      throw new Error(`readers disagree: memory ${memory.ok ? 'loaded' : 'rejected'}, ${name} ${o.ok ? 'loaded' : `rejected (${String((o as { error: unknown }).error)})`}`);
    }
    if (o.ok && memory.ok) {
      expect([...o.tensors.keys()].sort()).toEqual([...memory.tensors.keys()].sort());
      for (const [k, t] of o.tensors) expect(Buffer.compare(t.bytes, memory.tensors.get(k)!.bytes), `${name}: ${k}`).toBe(0);
    }
  }
  if (!memory.ok) throw memory.error;
  return memory.tensors;
}

describe('fuzz: safetensors', () => {
  it('mutated files load correctly or throw CheckpointError, on every reader', async () => {
    const report = await fuzz('safetensors', { arbitrary: caseSpec, prepare: (c) => ({ bytes: mutated(c), c }) }, ({ bytes, c }) => loadEveryWay(bytes, c), {
      runs: fuzzRuns(5000),
      allowed: [CheckpointError],
    });
    expect(report.cases).toBeGreaterThanOrEqual(fuzzRuns(5000));
    // The mutations reach both sides of the contract.
    expect(report.accepted).toBeGreaterThan(report.cases * 0.1);
    expect(report.rejected.CheckpointError ?? 0).toBeGreaterThan(report.cases * 0.3);
  });

  it('unmutated files load back exactly', async () => {
    await fuzz(
      'safetensors-roundtrip',
      fc.record({ spec: fileSpec, chunks: fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 4 }), announce: fc.boolean(), shortReads: fc.integer({ min: 1, max: 13 }) }),
      async ({ spec, ...how }) => {
        const loaded = await loadEveryWay(build(spec), how);
        expect([...loaded.keys()].sort()).toEqual(spec.tensors.map((t) => t.name).sort());
        for (const t of spec.tensors) {
          const got = loaded.get(t.name)!;
          expect(got.dtype).toBe(t.dtype);
          expect(got.shape).toEqual(t.shape);
          expect(got.bytes.every((v, i) => v === ((t.fill + i * 31) & 255))).toBe(true);
        }
      },
      { runs: fuzzRuns(300), allowed: [] },
    );
  });

  it('a header claiming 100 GB is refused before anything of that size is allocated, by every reader', async () => {
    const huge = 100 * 2 ** 30;
    const claims = [
      { big: { dtype: 'F64', shape: [huge / 8], data_offsets: [0, huge] } },
      { big: { dtype: 'U8', shape: [2 ** 20, 2 ** 10, 100], data_offsets: [0, huge] } },
      { small: { dtype: 'U8', shape: [4], data_offsets: [0, 4] }, big: { dtype: 'F32', shape: [huge / 4], data_offsets: [4, huge + 4] } },
    ];
    const report = await fuzz(
      'safetensors-huge-claims',
      fc.record({ claim: fc.constantFrom(...claims), tail: fc.integer({ min: 0, max: 4096 }), chunks: fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 3 }), announce: fc.boolean(), shortReads: fc.integer({ min: 1, max: 13 }) }),
      ({ claim, tail, ...how }) => loadEveryWay(joinHeader(JSON.stringify(claim), new Uint8Array(tail)), how),
      { runs: fuzzRuns(60), allowed: [CheckpointError], caseBytes: 16 * 1024 * 1024, runBytes: 64 * 1024 * 1024 },
    );
    expect(report.accepted).toBe(0);
  });

  it('a header length just under the limit with a short stream is refused without allocating the header', async () => {
    const before = process.memoryUsage().arrayBuffers;
    const prefix = new Uint8Array(8);
    new DataView(prefix.buffer).setBigUint64(0, 99_999_999n, true);
    const promise = readSafetensorsStream(streamOf(concat([prefix, new TextEncoder().encode('{"a":')]), [3]), { tensor: () => undefined });
    await expect(promise).rejects.toThrow(CheckpointError);
    await expect(promise).rejects.toThrow(/truncated safetensors file: the stream ended after 13 bytes, in the header/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});

// ------------------------------------------------------------------ onto the GPU

/** The f32 values a tensor of `dtype` must read back as, stored as `storage` (null: not storable). */
function expectedValues(dtype: SafetensorsDType, bytes: Uint8Array, storage: 'f32' | 'f16'): Float64Array | Int32Array | Uint32Array | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / safetensorsDTypeSize(dtype);
  const floats = (read: (i: number) => number) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = Math.fround(read(i));
      out[i] = storage === 'f16' ? f16BitsToF32(f32ToF16Bits(v)) : v;
    }
    return out;
  };
  switch (dtype) {
    case 'F32':
      return floats((i) => view.getFloat32(i * 4, true));
    case 'F16':
      return floats((i) => f16BitsToF32(view.getUint16(i * 2, true)));
    case 'BF16':
      return floats((i) => new Float32Array(new Uint32Array([view.getUint16(i * 2, true) << 16]).buffer)[0]!);
    case 'F64':
      return floats((i) => view.getFloat64(i * 8, true));
    case 'I32':
      return Int32Array.from({ length: n }, (_, i) => view.getInt32(i * 4, true));
    case 'U32':
      return Uint32Array.from({ length: n }, (_, i) => view.getUint32(i * 4, true));
    default:
      return null;
  }
}

describe('fuzz: safetensors onto the GPU', () => {
  it('loadSafetensors uploads every dtype it can store with the right values, or throws CheckpointError; the pool returns to its baseline', async () => {
    const engine = await getEngine();
    await engine.sync();
    const baseline = engine.stats().pool.bytesInUse;
    const spec = fc.record({ base: fileSpec, bytes: mutations(1, 4, byteMutation, 2), storage: fc.constantFrom('auto', 'f32', 'f16'), chunk: fc.integer({ min: 1, max: 512 }), announce: fc.boolean() });
    const report = await fuzz(
      'safetensors-gpu',
      { arbitrary: spec, prepare: (c) => ({ c, bytes: mutateBytes(build(c.base), c.bytes as ByteMutation[]) }) },
      async ({ c, bytes }) => {
        const fetch = async () => new Response(streamOf(bytes, [c.chunk]), { headers: c.announce ? { 'content-length': String(bytes.byteLength) } : {} });
        const { tensors } = await loadSafetensors(engine, 'https://models.invalid/fuzz.safetensors', { fetch, cache: false, dtype: c.storage as 'auto' });
        try {
          const host = decodeSafetensors(bytes).tensors;
          for (const [name, t] of tensors) {
            const file = host.get(name)!;
            const storage = t.dtype === 'f16' ? 'f16' : 'f32';
            const want = expectedValues(file.dtype, file.bytes, storage)!;
            expect([...t.shape], name).toEqual([...file.shape]);
            const got = await t.read();
            expect(got.length, name).toBe(want.length);
            for (let i = 0; i < want.length; i++) {
              const same = Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
              if (!same) throw new Error(`${name} [${i}]: ${got[i]} read back, ${want[i]} expected (${file.dtype} stored as ${t.dtype})`);
            }
          }
        } finally {
          for (const t of tensors.values()) t.dispose();
        }
      },
      {
        runs: fuzzRuns(300),
        allowed: [CheckpointError],
        after: async () => {
          await engine.sync();
          expect(engine.stats().pool.bytesInUse).toBe(baseline);
        },
      },
    );
    expect(report.accepted).toBeGreaterThan(10);
  });
});
