// A stand-in for the transformer (until the real one lands), built from engine ops:
//   logits[b, p, v] = A[p, v] + W[p, v] * s_b + Y[p, v] * c_b + X[p, v] * tokens[b, p] / vocab,
//   s_b = sum_p tokens[b, p] / (L * vocab),   c_b = (tokens[b, 0] - codebook) / classes,
// a fixed random table per (position, entry), a term that moves as the sequence fills in
// (so every step sees other logits), one for the class (so conditional and unconditional
// rows differ) and one that depends on the token at the position.
import { ops, type DecodeConfig, type Engine, type LogitsModel, type Tensor } from '../../src/node.js';
import { normal } from './random.js';

export interface StandIn extends LogitsModel {
  readonly engine: Engine;
  readonly vocab: number;
  readonly length: number;
  /** Logits for host tokens [B, L] (runs the same ops and reads back). */
  logitsFor(tokens: Int32Array): Promise<Float32Array>;
  /** Forward calls so far. */
  calls: number;
  dispose(): void;
}

export function standInModel(
  engine: Engine,
  config: DecodeConfig,
  options: { seed?: number; scale?: number; tiedPositions?: readonly number[] } = {},
): StandIn {
  const latent = config.imageSize / 2 ** (config.tokenizer.channelMultipliers.length - 1);
  const length = latent * latent + 1;
  const vocab = config.codebookSize + config.numClasses + 1;
  const seed = options.seed ?? 1;
  const rows = (k: number, std = 1) => normal(length * vocab, seed + k, std);
  const [a, wv, yv] = [rows(0, options.scale ?? 2), rows(1), rows(3)];
  // Positions listed in tiedPositions share their rows of A, W and Y (and X is zero), so
  // their logits, hence their confidences, are equal while they are unknown.
  const tied = options.tiedPositions ?? [];
  for (const p of tied.slice(1)) for (const m of [a, wv, yv]) m.copyWithin(p * vocab, tied[0]! * vocab, (tied[0]! + 1) * vocab);
  const keep = (data: Float32Array | number[], shape: number[]) => engine.keep(engine.tensor(data, shape));
  const table = keep(a, [length, vocab]);
  const w = keep(wv, [length, vocab]);
  const y = keep(yv, [length, vocab]);
  const x = keep(rows(2, tied.length ? 0 : 1), [length, vocab]);
  const perSequence = keep([1 / (length * vocab)], [1]);
  const perToken = keep([1 / vocab], [1]);
  const firstClass = keep([config.codebookSize], [1]);
  const perClass = keep([1 / config.numClasses], [1]);
  const model: StandIn = {
    engine,
    vocab,
    length,
    calls: 0,
    forward(tokens: Tensor<'i32'>): Tensor {
      model.calls++;
      return engine.tidy(() => {
        const batch = tokens.shape[0]!;
        const t = ops.cast(tokens, 'f32');
        const s = ops.mul(ops.sum(t), perSequence).reshape([batch, 1, 1]);
        const own = ops.mul(t, perToken).reshape([batch, length, 1]);
        const classToken = engine.empty([batch, 1], 'f32');
        for (let b = 0; b < batch; b++) engine.copy(t, b * length * 4, classToken, b * 4, 4);
        const c = ops.mul(ops.sub(classToken, firstClass), perClass).reshape([batch, 1, 1]);
        return ops.add(ops.add(ops.add(table, ops.mul(w, s)), ops.mul(y, c)), ops.mul(x, own));
      });
    },
    async logitsFor(tokens: Int32Array): Promise<Float32Array> {
      const t = engine.tensor(tokens, [tokens.length / length, length], 'i32');
      const out = model.forward(t);
      model.calls--;
      const data = (await out.read()) as Float32Array;
      t.dispose();
      out.dispose();
      return data;
    },
    dispose() {
      for (const k of [table, w, y, x, perSequence, perToken, firstClass, perClass]) k.dispose();
    },
  };
  return model;
}

/** A small class-conditional config: `side` x `side` latents, codebook C, 10 classes. */
export function smallConfig(side: number, codebookSize: number, nullClassId: number | null = null): DecodeConfig {
  const classes = 10;
  return {
    imageSize: side * 4,
    codebookSize,
    numClasses: classes,
    maskTokenId: codebookSize + classes,
    nullClassId,
    tokenizer: {
      filters: 8,
      channelMultipliers: [1, 1, 1],
      numResBlocks: 1,
      embeddingDim: 4,
      codebookSize,
      groupNormGroups: 1,
      groupNormEps: 1e-6,
    },
  };
}
