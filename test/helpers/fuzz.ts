// The fuzz harness: runs a fast-check property over mutated inputs with a fixed seed and a
// bounded number of cases, and holds every case to the loaders' contract:
// - it either succeeds or throws one of the allowed typed errors (never a TypeError,
//   RangeError or a raw msgpack / JSON / zlib error);
// - it finishes within a time bound;
// - it allocates no more than a bound (ArrayBuffer memory, and the process's peak RSS over
//   the whole run where Linux lets us reset the peak).
// Each run tallies its cases by outcome and writes the tally to test-artifacts/fuzz/.
//
// FUZZ_SEED changes the seed, FUZZ_SCALE multiplies every case count (FUZZ_SCALE=20 for a
// long run); a failure prints fast-check's seed and path, which replay it exactly.
import fc from 'fast-check';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { concatPieces } from '../../src/io/flax.js';

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 0x6d61736b);
const FUZZ_SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/** `arbitrary` in `weight` cases out of `weight + nullWeight`, null in the others. */
export function sometimes<T>(weight: number, nullWeight: number, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: nullWeight, arbitrary: fc.constant(null) }, { weight, arbitrary });
}

/** A list of 1..max mutations in `weight` cases out of `weight + emptyWeight`, none in the others. */
export function mutations<T>(weight: number, emptyWeight: number, arbitrary: fc.Arbitrary<T>, max: number): fc.Arbitrary<T[]> {
  return fc.oneof({ weight: emptyWeight, arbitrary: fc.constant([] as T[]) }, { weight, arbitrary: fc.array(arbitrary, { minLength: 1, maxLength: max }) });
}

/** The case count for a target, scaled by FUZZ_SCALE. */
export function fuzzRuns(n: number): number {
  return Math.max(1, Math.round(n * FUZZ_SCALE));
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * The cases: an arbitrary, or an arbitrary of descriptions plus `prepare`, which builds each
 * case's input (e.g. the mutated file) outside the time and memory measured: only the body
 * is held to the bounds.
 */
export type FuzzInput<T, P> = fc.Arbitrary<T> | { arbitrary: fc.Arbitrary<T>; prepare: (description: T) => P };

export interface FuzzOptions<T> {
  runs: number;
  /** The error classes a case may throw. */
  allowed: readonly ErrorClass[];
  /**
   * Bound on one case's CPU time: this process's user + system time, all threads (Dawn's and
   * lavapipe's included), default 3000 ms. CPU time, not wall time: other processes sharing
   * the cores slow a case down without adding to it, while the bugs this bounds (quadratic or
   * unbounded loops) add seconds of it. Work done in child processes is not counted (their
   * spawn timeouts guard them).
   */
  caseMs?: number;
  /**
   * A case still running after this long, in wall time (default 5 min, hundreds of times the
   * slowest case on a loaded 2-core machine), is a hang: the watchdog prints it and kills the
   * process, since a synchronous loop cannot be interrupted from inside. The warning it prints
   * first, once a case has run for `caseMs` of wall time, fails nothing.
   */
  hangMs?: number;
  /** Bound on the growth of ArrayBuffer memory over one case (default 32 MiB). */
  caseBytes?: number;
  /** Bound on the growth of the process's peak RSS over the run (default 512 MiB). */
  runBytes?: number;
  /** Called after every case, whatever its outcome (e.g. to check the GPU pool is back at its baseline). */
  after?: (input: T) => void | Promise<void>;
  seed?: number;
}

export interface FuzzReport {
  name: string;
  seed: number;
  cases: number;
  /** Cases that loaded. */
  accepted: number;
  /** Cases rejected, by error class. */
  rejected: Record<string, number>;
  slowestMs: number;
  /** The largest CPU time of one case (the bounded figure). */
  slowestCpuMs: number;
  totalMs: number;
  /** Largest ArrayBuffer growth over one case. */
  maxCaseBytes: number;
  /** Peak RSS growth over the run (null where it cannot be measured). */
  peakRssGrowth: number | null;
}

/** Thrown when a case breaks the contract; carries the case's own error as the cause. */
export class FuzzContractError extends Error {}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.constructor.name}: ${error.message.slice(0, 300)}` : `non-error ${String(error)}`;
}

/** VmHWM (peak RSS) in bytes, after resetting it when `reset` (Linux; null elsewhere). */
function peakRss(reset = false): number | null {
  try {
    if (reset) writeFileSync('/proc/self/clear_refs', '5');
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Runs `body` on `runs` inputs from `arbitrary` (fixed seed) and checks every case against the contract. */
export async function fuzz<T, P = T>(name: string, input: FuzzInput<T, P>, body: (input: P) => unknown, options: FuzzOptions<T>): Promise<FuzzReport> {
  const arbitrary = input instanceof fc.Arbitrary ? input : input.arbitrary;
  const prepare = input instanceof fc.Arbitrary ? (t: T) => t as unknown as P : input.prepare;
  const caseMs = options.caseMs ?? 3000;
  const caseBytes = options.caseBytes ?? 32 * 1024 * 1024;
  const seed = options.seed ?? FUZZ_SEED;
  const report: FuzzReport = { name, seed, cases: 0, accepted: 0, rejected: {}, slowestMs: 0, slowestCpuMs: 0, totalMs: 0, maxCaseBytes: 0, peakRssGrowth: null };
  const rssBefore = peakRss(true);
  const started = performance.now();
  const dog = watchdog(name, caseMs, options.hangMs ?? 5 * 60_000);
  const property = fc.asyncProperty(arbitrary, async (input) => {
    dog.start(input);
    const prepared = prepare(input);
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const cpuBefore = process.cpuUsage();
    let outcome: string;
    try {
      await body(prepared);
      outcome = 'accepted';
    } catch (error) {
      if (!options.allowed.some((c) => error instanceof c)) {
        throw new FuzzContractError(`${name}: untyped error escaped: ${describeError(error)}`, { cause: error });
      }
      outcome = (error as Error).constructor.name;
    } finally {
      await options.after?.(input);
      dog.stop();
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const grown = process.memoryUsage().arrayBuffers - before;
    report.cases++;
    if (outcome === 'accepted') report.accepted++;
    else report.rejected[outcome] = (report.rejected[outcome] ?? 0) + 1;
    report.slowestMs = Math.max(report.slowestMs, ms);
    report.slowestCpuMs = Math.max(report.slowestCpuMs, cpuMs);
    report.maxCaseBytes = Math.max(report.maxCaseBytes, grown);
    if (cpuMs > caseMs) throw new FuzzContractError(`${name}: a case took ${cpuMs.toFixed(0)} ms of CPU time (bound ${caseMs} ms; ${ms.toFixed(0)} ms wall)`);
    if (grown > caseBytes) throw new FuzzContractError(`${name}: a case grew ArrayBuffer memory by ${grown} bytes (bound ${caseBytes})`);
  });
  try {
    await fc.assert(property, { seed, numRuns: options.runs, endOnFailure: process.env.FUZZ_SHRINK === undefined });
  } finally {
    await dog.close();
  }
  report.totalMs = performance.now() - started;
  const rssAfter = peakRss();
  if (rssBefore !== null && rssAfter !== null) {
    report.peakRssGrowth = rssAfter - rssBefore;
    const bound = options.runBytes ?? 512 * 1024 * 1024;
    if (report.peakRssGrowth > bound) throw new FuzzContractError(`${name}: peak RSS grew by ${report.peakRssGrowth} bytes over the run (bound ${bound})`);
  }
  saveReport(report);
  return report;
}

/**
 * A thread that watches the running case: past `hangMs` it writes the case to stderr and
 * kills the process (the test run then fails on the lost worker instead of hanging).
 */
function watchdog(name: string, slowMs: number, hangMs: number): { start(input: unknown): void; stop(): void; close(): Promise<number> } {
  const shared = new SharedArrayBuffer(8 + 4 + 4096);
  // When the running case started (ms; 0: none), read once per check: the case may end between two reads.
  const startedAt = new BigInt64Array(shared, 0, 1);
  const length = new Int32Array(shared, 8, 1);
  const text = new Uint8Array(shared, 12);
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const { writeSync } = require('node:fs');
     const startedAt = new BigInt64Array(workerData.shared, 0, 1);
     const length = new Int32Array(workerData.shared, 8, 1);
     const text = new Uint8Array(workerData.shared, 12);
     const input = () => new TextDecoder().decode(text.slice(0, Atomics.load(length, 0)));
     let warned = 0;
     setInterval(() => {
       const started = Number(Atomics.load(startedAt, 0));
       const running = started > 0 ? Date.now() - started : 0;
       // Printed before the kill (or before an out-of-memory crash takes the process first).
       if (running > workerData.slowMs && warned !== started) {
         warned = started;
         writeSync(2, '\\nfuzz ' + workerData.name + ': a case has run for ' + running + ' ms: ' + input() + '\\n');
       }
       if (running > workerData.hangMs) {
         writeSync(2, 'fuzz ' + workerData.name + ': it hung for more than ' + workerData.hangMs + ' ms; killing the process\\n');
         process.kill(process.pid, 'SIGKILL');
       }
     }, 100);`,
    { eval: true, workerData: { shared, hangMs, slowMs, name } },
  );
  worker.unref();
  return {
    start(input) {
      const encoded = new TextEncoder().encode(fc.stringify(input).slice(0, 4000));
      text.set(encoded.subarray(0, text.byteLength));
      Atomics.store(length, 0, Math.min(encoded.byteLength, text.byteLength));
      Atomics.store(startedAt, 0, BigInt(Date.now()));
    },
    stop() {
      Atomics.store(startedAt, 0, 0n);
    },
    close: () => worker.terminate(),
  };
}

function saveReport(report: FuzzReport): void {
  const dir = resolve(__dirname, '../../test-artifacts/fuzz');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${report.name}.json`), JSON.stringify(report, null, 2) + '\n');
  const rejected = Object.entries(report.rejected).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(
    `fuzz ${report.name}: ${report.cases} cases (${report.accepted} loaded; ${rejected || 'none rejected'}), ` +
      `slowest ${report.slowestMs.toFixed(0)} ms (CPU ${report.slowestCpuMs.toFixed(0)} ms), total ${(report.totalMs / 1000).toFixed(1)} s`,
  );
}

// ------------------------------------------------------------------ byte-level mutations

/** A byte-level mutation, as plain data (so fast-check can shrink it); positions wrap modulo the length. */
export type ByteMutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'splice'; at: number; from: number };

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), from: fc.nat() }),
);

/** Applies byte mutations; 'splice' joins a prefix of `bytes` to a suffix of `other` (another valid input). */
export function mutateBytes(bytes: Uint8Array, mutations: readonly ByteMutation[], other?: Uint8Array): Uint8Array {
  let out = bytes;
  for (const m of mutations) {
    const n = out.byteLength;
    switch (m.kind) {
      case 'truncate':
        out = out.slice(0, m.at % (n + 1));
        break;
      case 'flip':
        if (n > 0) {
          out = out.slice();
          out[m.at % n]! ^= 1 << m.bit;
        }
        break;
      case 'overwrite': {
        if (n === 0) break;
        out = out.slice();
        const at = m.at % n;
        out.set(m.bytes.subarray(0, n - at), at);
        break;
      }
      case 'insert': {
        const at = m.at % (n + 1);
        out = concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
        break;
      }
      case 'delete': {
        const at = m.at % (n + 1);
        out = concat([out.subarray(0, at), out.subarray(Math.min(n, at + m.count))]);
        break;
      }
      case 'append':
        out = concat([out, m.bytes]);
        break;
      case 'splice': {
        const source = other ?? out;
        out = concat([out.subarray(0, m.at % (n + 1)), source.subarray(m.from % (source.byteLength + 1))]);
        break;
      }
    }
  }
  return out;
}

export const concat = concatPieces;

// ------------------------------------------------------------------ JSON-level mutations

/** Values that break parsers and validators: boundaries, wrong types, huge and fractional numbers. */
export const INTERESTING_VALUES: readonly unknown[] = [
  0, -1, 1, 2, 3, 0.5, -0.5, 7, 255, 256, 1023, 1024, 65535, 65536,
  2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e20, 1e308, -1e308, 5e-324, 1e9, 1e12,
  '', '0', '3', 'F32', 'F16', 'f32', 'f16', 'tanh', 'erf', 'BF16', 'I64', 'F128', 'bool', 'maskgit-model', '__proto__', 'constructor',
  true, false, null, [], {}, [0], [1, 2], [0, 0], [-1, 2], [2 ** 53, 2 ** 53 + 8], [1, 2, 3], ['1', '2'], { a: 1 }, { '0': 1 }, [[1]],
];

/** A JSON-level mutation: `path` picks one of the value's nodes (modulo their count). */
export interface JsonMutation {
  path: number;
  op: 'replace' | 'delete' | 'numeric' | 'wrap' | 'duplicate' | 'push' | 'pop' | 'rename';
  value: number;
}

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  path: fc.nat(),
  op: fc.constantFrom('replace', 'delete', 'numeric', 'wrap', 'duplicate', 'push', 'pop', 'rename'),
  value: fc.nat(),
});

type Json = unknown;
type Slot = { parent: Record<string, Json> | Json[]; key: string | number } | null;

/** Every node of a JSON value with the slot holding it (null for the root), depth first. */
function nodes(root: Json): { node: Json; slot: Slot }[] {
  const out: { node: Json; slot: Slot }[] = [{ node: root, slot: null }];
  const walk = (node: Json) => {
    if (Array.isArray(node)) node.forEach((v, i) => (out.push({ node: v, slot: { parent: node, key: i } }), walk(v)));
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        out.push({ node: v, slot: { parent: node as Record<string, Json>, key: k } });
        walk(v);
      }
    }
  };
  walk(root);
  return out;
}

const NUMERIC_TWEAKS: readonly ((x: number) => number)[] = [
  (x) => x + 1, (x) => x - 1, (x) => -x, (x) => x * 2, (x) => x * 1e6, (x) => x + 0.5, (x) => 2 ** 53 - x, (x) => Math.floor(x / 2), (x) => x * 65536,
];

/** Applies JSON mutations to a deep copy of `value`. */
export function mutateJson(value: Json, mutations: readonly JsonMutation[]): Json {
  let root: Json = structuredClone(value);
  for (const m of mutations) {
    const all = nodes(root);
    const { node, slot } = all[m.path % all.length]!;
    const pick = () => structuredClone(INTERESTING_VALUES[m.value % INTERESTING_VALUES.length]);
    const set = (v: Json) => {
      if (!slot) root = v;
      else (slot.parent as Record<string | number, Json>)[slot.key] = v;
    };
    switch (m.op) {
      case 'replace':
        set(pick());
        break;
      case 'delete':
        if (slot && Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
        else if (slot) delete (slot.parent as Record<string, Json>)[slot.key as string];
        break;
      case 'numeric':
        if (typeof node === 'number') set(NUMERIC_TWEAKS[m.value % NUMERIC_TWEAKS.length]!(node));
        else set(pick());
        break;
      case 'wrap':
        set([node]);
        break;
      case 'duplicate':
        if (slot && !Array.isArray(slot.parent)) (slot.parent as Record<string, Json>)[`${String(slot.key)}_${m.value % 3}`] = structuredClone(node);
        else if (Array.isArray(node)) node.push(structuredClone(node[0]));
        break;
      case 'push':
        if (Array.isArray(node)) node.push(pick());
        else if (node !== null && typeof node === 'object') (node as Record<string, Json>)[`k${m.value % 5}`] = pick();
        break;
      case 'pop':
        if (Array.isArray(node)) node.pop();
        break;
      case 'rename':
        if (slot && !Array.isArray(slot.parent)) {
          const parent = slot.parent as Record<string, Json>;
          delete parent[slot.key as string];
          const names = ['__metadata__', '', '__proto__', 'constructor', `${String(slot.key)}x`, String(slot.key).toUpperCase()];
          parent[names[m.value % names.length]!] = node;
        }
        break;
    }
  }
  return root;
}

/** JSON texts that no structured mutation reaches: deep nesting, duplicate keys, bad escapes, odd whitespace. */
export function rawJsonVariants(valid: string): string[] {
  return [
    '['.repeat(100_000) + ']'.repeat(100_000),
    '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000),
    valid.replace(/^\{/, '{"__metadata__":{"a":"b"},"__metadata__":{"a":"c"},'),
    valid.replace(/"dtype":"[A-Z0-9]+"/, '"dtype":"F32","dtype":"F64"'),
    valid.replace(/\}$/, ',}'),
    '\uFEFF' + valid,
    valid.replace(/"/, '"\\ud800'),
    valid.replace(/:/g, ' : '),
    valid + '\u0000',
    valid.slice(0, Math.floor(valid.length / 2)),
    '{}',
    '[]',
    'null',
    '{"x":' + '9'.repeat(400) + '}',
    '{"x":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}}',
    '{"x":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}',
  ];
}
