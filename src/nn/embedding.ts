import type { ParamSpec, Weights } from '../maskgit/weights.js';
import { embedding } from '../tensor/ops/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';

/**
 * Token plus learned position embedding: `${prefix}.word` [vocab, hidden] and
 * `${prefix}.position` [positions, hidden]; forward(tokens i32 [B, L]) -> [B, L, hidden].
 * Ids out of range do not read out of bounds (see ops.embedding: -1 is the last row, others clamp).
 */
export class Embedding extends Module {
  readonly vocabSize: number;
  readonly positions: number;
  readonly hidden: number;
  readonly word: Tensor;
  readonly position: Tensor;

  constructor(weights: Weights, prefix: string, vocabSize: number, positions: number, hidden: number) {
    super(prefix);
    this.vocabSize = vocabSize;
    this.positions = positions;
    this.hidden = hidden;
    this.word = this.param(weights, 'word', [vocabSize, hidden]);
    this.position = this.param(weights, 'position', [positions, hidden]);
  }

  params(): ParamSpec[] {
    return [
      { name: this.name('word'), shape: [this.vocabSize, this.hidden] },
      { name: this.name('position'), shape: [this.positions, this.hidden] },
    ];
  }

  forward(tokens: Tensor): Tensor {
    return embedding(tokens, this.word, this.position);
  }
}
