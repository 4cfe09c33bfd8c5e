// Fuzzing Flax msgpack checkpoints and their conversion (mutations in helpers/flax-mutations.ts):
// decodeFlaxCheckpoint and convertFlaxCheckpoints must give a model whose every tensor has its
// declared size, or throw CheckpointError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CheckpointError, convertFlaxCheckpoints, decodeFlaxCheckpoint, sortCheckpoints, type FlaxTree } from '../src/node.js';
import { tensorData } from '../src/io/safetensors.js';
import { bases, caseSpec, encodeLoose, hugeLength, mutated, mutateTree, type CaseSpec } from './helpers/flax-mutations.js';
import { byteMutation, fuzz, fuzzRuns, mutateBytes, sometimes, type ByteMutation } from './helpers/fuzz.js';

/** Decodes and converts a case; a converted model's tensors must all materialise at their declared sizes. */
function convert(bytes: Uint8Array, c: CaseSpec): void {
  const tree = decodeFlaxCheckpoint(bytes, 'fuzz');
  const other = bases[1 - c.base]!;
  const model = convertFlaxCheckpoints(sortCheckpoints([{ tree, source: 'fuzz' }, ...(c.pair ? [{ tree: other.tree as FlaxTree, source: 'valid' }] : [])]), {
    dtype: c.f16 ? 'f16' : 'f32',
  });
  for (const t of model.tensors) {
    try {
      tensorData(t);
    } catch (error) {
      throw new Error(`a converted model failed to materialise ${t.name}: ${String(error)}`, { cause: error });
    }
  }
  expect(model.parameters).toBe(model.tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0));
}

describe('fuzz: Flax checkpoints', () => {
  it('the fuzz encoder writes what the library writes (so tree mutations reach the decoder)', () => {
    for (const base of bases) expect(Buffer.compare(encodeLoose(mutateTree(base.loose, [])), base.bytes)).toBe(0);
  });

  it('mutated checkpoints decode and convert, or throw CheckpointError', async () => {
    const report = await fuzz('flax-convert', { arbitrary: caseSpec, prepare: (c) => ({ bytes: mutated(c), c }) }, ({ bytes, c }) => convert(bytes, c), {
      runs: fuzzRuns(3000),
      allowed: [CheckpointError],
    });
    expect(report.accepted).toBeGreaterThan(report.cases * 0.1);
    expect(report.rejected.CheckpointError ?? 0).toBeGreaterThan(report.cases * 0.3);
  });

  it('mutated bytes decode to a tree or throw CheckpointError (decoder only, more cases)', async () => {
    const spec = fc.record({
      base: fc.integer({ min: 0, max: 1 }),
      bytes: fc.array(byteMutation, { minLength: 1, maxLength: 4 }),
      huge: sometimes(1, 3, fc.nat()),
    });
    await fuzz(
      'flax-decode',
      {
        arbitrary: spec,
        prepare: ({ base, bytes, huge }) => {
          const b = mutateBytes(bases[base]!.bytes, bytes as ByteMutation[], bases[1 - base]!.bytes);
          return huge === null ? b : hugeLength(b, huge);
        },
      },
      (b) => decodeFlaxCheckpoint(b, 'fuzz'),
      { runs: fuzzRuns(5000), allowed: [CheckpointError] },
    );
  });
});
