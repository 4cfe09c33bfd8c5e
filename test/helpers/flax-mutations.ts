// Mutations of Flax msgpack checkpoints, shared by the fuzz tests of the decoder and converter
// (fuzz-flax.test.ts) and of `maskgit convert` (fuzz-cli.test.ts): official-layout checkpoints
// of tiny models, mutated as trees (keys deleted or renamed to huge indices, arrays with other
// shapes, dtypes, byte lengths or extension types, leaves replaced by other msgpack values,
// chunked arrays valid and broken, deep nesting) and as bytes (truncation, bit flips, splices,
// msgpack length fields set to huge values).
import { encode, ExtData } from '@msgpack/msgpack';
import fc from 'fast-check';
import { concatPieces, encodeFlaxCheckpoint, FlaxArray, type FlaxValue } from '../../src/node.js';
import { TINY_TRANSFORMER, tokenizerFixture, transformerFixture, type TinyTokenizer } from './flax-fixtures.js';
import { byteMutation, mutateBytes, mutations, sometimes, type ByteMutation } from './fuzz.js';

export class LooseArray {
  constructor(
    public shape: unknown,
    public dtype: unknown,
    public bytes: unknown,
    public ext: number,
  ) {}
}
export type Loose = LooseArray | Loose[] | { [k: string]: Loose } | string | number | bigint | boolean | null | Uint8Array;

export function loosen(v: FlaxValue): Loose {
  if (v instanceof FlaxArray) return new LooseArray([...v.shape], v.dtype, v.bytes, v.shape.length === 0 ? 3 : 1);
  if (Array.isArray(v)) return v.map(loosen);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, loosen(x)]));
  return v;
}

/** msgpack as Flax writes it, through the reference encoder, with whatever the loose arrays hold. */
export function encodeLoose(v: Loose): Uint8Array {
  const toMsgpack = (x: Loose): unknown => {
    if (x instanceof LooseArray) return new ExtData(x.ext, encode([x.shape, x.dtype, x.bytes], { useBigInt64: true }));
    if (Array.isArray(x)) return x.map(toMsgpack);
    if (x !== null && typeof x === 'object' && !(x instanceof Uint8Array)) {
      // defineProperty keeps a "__proto__" key an own key (an assignment would set the prototype).
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(x)) Object.defineProperty(out, k, { value: toMsgpack((x as Record<string, Loose>)[k]!), enumerable: true, configurable: true, writable: true });
      return out;
    }
    return x;
  };
  return encode(toMsgpack(v), { useBigInt64: true, maxDepth: 1_000_000 });
}

const SMALL_TOKENIZER: TinyTokenizer = { filters: 32, multipliers: [1, 2], resBlocks: 1, embeddingDim: 4, codebook: 8 };
const transformer = transformerFixture(TINY_TRANSFORMER);
const tokenizer = tokenizerFixture(SMALL_TOKENIZER);
export const bases = [
  { kind: 'transformer', tree: transformer.tree, loose: loosen(transformer.tree), bytes: concatPieces(encodeFlaxCheckpoint(transformer.tree)) },
  { kind: 'tokenizer', tree: tokenizer.tree, loose: loosen(tokenizer.tree), bytes: concatPieces(encodeFlaxCheckpoint(tokenizer.tree)) },
] as const;

// ------------------------------------------------------------------ tree mutations

type TreeOp = 'delete' | 'rename' | 'index' | 'shape' | 'dtype' | 'bytes' | 'ext' | 'replace' | 'wrap' | 'chunk' | 'swap' | 'deep';
interface TreeMutation {
  path: number;
  op: TreeOp;
  value: number;
}

const treeMutation: fc.Arbitrary<TreeMutation> = fc.record({
  path: fc.nat(),
  op: fc.constantFrom<TreeOp>('delete', 'rename', 'index', 'index', 'index', 'shape', 'dtype', 'bytes', 'ext', 'replace', 'wrap', 'chunk', 'swap', 'deep'),
  value: fc.nat(),
});

const DTYPES = ['float32', 'float16', 'bfloat16', 'float64', 'int32', 'int64', 'uint8', 'bool', 'complex64', 'float128', '', 'float32 ', 5, null];
const EXTS = [1, 3, 2, 4, 0, -1, 127];
const REPLACEMENTS: readonly Loose[] = [
  null, true, 0, -1, 2 ** 40, 1.5, 'kernel', '', 2n ** 63n - 1n, -(2n ** 63n), new Uint8Array(12), [], [1, 2], {}, { kernel: null }, { '0': 1, '1': 2 },
];

function shapeVariant(shape: number[], bytes: number, k: number): unknown {
  const size = shape.reduce((a, b) => a * b, 1);
  const variants: unknown[] = [
    [],
    [size],
    [...shape, 1],
    shape.slice(1),
    [...shape].reverse(),
    shape.map((d, i) => (i === 0 ? d + 1 : d)),
    [-1, ...shape.slice(1)],
    [0.5],
    [2 ** 31, 2 ** 31],
    [2 ** 53, 2 ** 53],
    [bytes / 4, 0, 2 ** 60],
    ['3'],
    5,
    null,
    [[1]],
    Array.from({ length: 40 }, () => 1),
  ];
  return variants[k % variants.length];
}

/** Every node (with its parent map or list and key), depth first. */
function slots(root: Loose): { node: Loose; parent: Record<string, Loose> | Loose[]; key: string | number }[] {
  const out: { node: Loose; parent: Record<string, Loose> | Loose[]; key: string | number }[] = [];
  const walk = (node: Loose) => {
    if (Array.isArray(node)) node.forEach((v, i) => (out.push({ node: v, parent: node, key: i }), walk(v)));
    else if (node !== null && typeof node === 'object' && !(node instanceof LooseArray) && !(node instanceof Uint8Array)) {
      for (const k of Object.keys(node)) {
        out.push({ node: node[k]!, parent: node, key: k });
        walk(node[k]!);
      }
    }
  };
  walk(root);
  return out;
}

function renamed(key: string, k: number): string {
  const m = /^(.*_)(\d+)$/.exec(key);
  const names = [
    m ? `${m[1]}99999999` : `${key}_99999999`,
    m ? `${m[1]}4294967296` : `${key}_1`,
    m ? `${m[1]}${Number(m[2]) + 1}` : `${key}x`,
    m ? `${m[1]}0${m[2]}` : key.toUpperCase(),
    '__proto__',
    '__msgpack_chunked_array__',
    '',
    'params',
    'Embed_0',
    'encoder',
    'TransformerLayer_7',
    'ResBlock_3',
  ];
  return names[k % names.length]!;
}

function chunked(a: LooseArray, k: number): Loose {
  const shape = a.shape as number[];
  const bytes = a.bytes as Uint8Array;
  const item = bytes.byteLength / Math.max(1, shape.reduce((x, y) => x * y, 1));
  const per = 1 + (k % 7);
  const chunks: Record<string, Loose> = {};
  let n = 0;
  for (let at = 0; at < bytes.byteLength; at += per * item, n++) {
    const piece = bytes.subarray(at, Math.min(bytes.byteLength, at + per * item));
    chunks[String(n)] = new LooseArray([piece.byteLength / item], a.dtype, piece, 1);
  }
  const shapeMap: Record<string, Loose> = Object.fromEntries(shape.map((d, i) => [String(i), d]));
  switch (Math.floor(k / 7) % 5) {
    case 1:
      shapeMap['0'] = (shape[0] ?? 0) + 1; // chunks do not fill the shape
      break;
    case 2:
      delete chunks['0']; // a hole in the chunk keys
      break;
    case 3:
      if (chunks['0'] instanceof LooseArray) chunks['0'].dtype = 'float16'; // dtypes differ
      break;
    case 4:
      shapeMap['0'] = 2 ** 40;
      break;
  }
  return { __msgpack_chunked_array__: true, shape: shapeMap, chunks };
}

function deepValue(k: number): Loose {
  let v: Loose = null;
  const depth = [70, 200, 2000][k % 3]!;
  for (let i = 0; i < depth; i++) v = k % 2 ? [v] : { a: v };
  return v;
}

export function mutateTree(base: Loose, mutations: readonly TreeMutation[]): Loose {
  const root = structuredClone(base, {}) as Loose;
  // structuredClone drops the class of LooseArray: restore it.
  const restore = (node: Loose, from: Loose): Loose => {
    if (from instanceof LooseArray) return new LooseArray(structuredClone(from.shape), from.dtype, from.bytes, from.ext);
    if (Array.isArray(from)) return (from as Loose[]).map((v, i) => restore((node as Loose[])[i]!, v));
    if (from !== null && typeof from === 'object' && !(from instanceof Uint8Array)) {
      return Object.fromEntries(Object.entries(from).map(([k, v]) => [k, restore((node as Record<string, Loose>)[k]!, v)]));
    }
    return node;
  };
  const tree = restore(root, base);
  for (const m of mutations) {
    let all = slots(tree);
    // 'index' picks among Flax's numbered module names (TransformerLayer_3, ResBlock_1, Conv_2).
    if (m.op === 'index') all = all.filter((s) => typeof s.key === 'string' && /_\d+$/.test(s.key));
    if (all.length === 0) continue;
    const { node, parent, key } = all[m.path % all.length]!;
    const set = (v: Loose) => ((parent as Record<string | number, Loose>)[key] = v);
    switch (m.op) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      case 'index':
      case 'rename':
        if (!Array.isArray(parent)) {
          delete parent[key as string];
          Object.defineProperty(parent, renamed(String(key), m.op === 'index' ? m.value % 4 : m.value), { value: node, enumerable: true, configurable: true, writable: true });
        }
        break;
      case 'shape':
        if (node instanceof LooseArray && Array.isArray(node.shape)) node.shape = shapeVariant(node.shape as number[], (node.bytes as Uint8Array).byteLength, m.value);
        break;
      case 'dtype':
        if (node instanceof LooseArray) node.dtype = DTYPES[m.value % DTYPES.length];
        break;
      case 'bytes':
        if (node instanceof LooseArray && node.bytes instanceof Uint8Array) {
          const b = node.bytes;
          node.bytes = [b.subarray(0, Math.max(0, b.byteLength - 1 - (m.value % 8))), new Uint8Array(b.byteLength + 1 + (m.value % 8)), new Uint8Array(0), 'bytes', [1, 2]][m.value % 5];
        }
        break;
      case 'ext':
        if (node instanceof LooseArray) node.ext = EXTS[m.value % EXTS.length]!;
        break;
      case 'replace':
        set(REPLACEMENTS[m.value % REPLACEMENTS.length]!);
        break;
      case 'wrap':
        set([node]);
        break;
      case 'chunk':
        if (node instanceof LooseArray && Array.isArray(node.shape) && node.shape.length > 0 && node.bytes instanceof Uint8Array) set(chunked(node, m.value));
        break;
      case 'swap': {
        const siblings = Array.isArray(parent) ? parent.map((_, i) => i) : Object.keys(parent);
        const other = siblings[m.value % siblings.length]!;
        const a = (parent as Record<string | number, Loose>)[other]!;
        (parent as Record<string | number, Loose>)[other] = node;
        set(a);
        break;
      }
      case 'deep':
        set(deepValue(m.value));
        break;
    }
  }
  return tree;
}

/** msgpack length fields (str/bin/ext/array/map of 8, 16 and 32 bits) after `at` set to their maximum. */
export function hugeLength(bytes: Uint8Array, at: number): Uint8Array {
  const widths: Record<number, number> = { 0xc4: 1, 0xc5: 2, 0xc6: 4, 0xc7: 1, 0xc8: 2, 0xc9: 4, 0xd9: 1, 0xda: 2, 0xdb: 4, 0xdc: 2, 0xdd: 4, 0xde: 2, 0xdf: 4 };
  const out = bytes.slice();
  for (let i = at % Math.max(1, out.byteLength); i < out.byteLength; i++) {
    const w = widths[out[i]!];
    if (w !== undefined) {
      out.fill(0xff, i + 1, Math.min(out.byteLength, i + 1 + w));
      return out;
    }
  }
  return out;
}

export const caseSpec = fc.record({
  base: fc.integer({ min: 0, max: 1 }),
  // With the other part given, the transformer's vocabulary fits the tokenizer's codebook.
  pair: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  f16: fc.boolean(),
  tree: mutations(3, 1, treeMutation, 3),
  bytes: mutations(2, 3, byteMutation, 3),
  huge: sometimes(1, 5, fc.nat()),
});

export type CaseSpec = typeof caseSpec extends fc.Arbitrary<infer T> ? T : never;

export function mutated(c: CaseSpec): Uint8Array {
  const base = bases[c.base]!;
  let bytes = c.tree.length ? encodeLoose(mutateTree(base.loose, c.tree)) : base.bytes;
  bytes = mutateBytes(bytes, c.bytes as ByteMutation[], bases[1 - c.base]!.bytes);
  if (c.huge !== null) bytes = hugeLength(bytes, c.huge);
  return bytes;
}

