import { CheckpointError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { TokenizerConfig, TransformerConfig } from './config.js';

/**
 * The engine's parameter names and shapes: the one contract between the modules (which
 * read these names), the model files (which store them), the Flax importer (which maps the
 * official tree onto them) and training (which updates them).
 *
 * Layouts: dense kernels are [in, out] (x @ W); attention q/k/v are fused into one
 * [hidden, 3 * hidden] kernel whose columns are q | k | v, each head-major (head h uses
 * columns h*headDim .. (h+1)*headDim-1 of its third); conv kernels are HWIO
 * [kh, kw, cin, cout]; LayerNorm/GroupNorm have `scale` and `bias`.
 */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

export function transformerParams(c: TransformerConfig): ParamSpec[] {
  const H = c.hiddenSize;
  const specs: ParamSpec[] = [
    { name: 'transformer.embed.word', shape: [c.vocabSize, H] },
    { name: 'transformer.embed.position', shape: [c.maxPositions, H] },
    { name: 'transformer.embed.ln.scale', shape: [H] },
    { name: 'transformer.embed.ln.bias', shape: [H] },
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `transformer.layers.${i}`;
    specs.push(
      { name: `${p}.attn.qkv.weight`, shape: [H, 3 * H] },
      { name: `${p}.attn.qkv.bias`, shape: [3 * H] },
      { name: `${p}.attn.out.weight`, shape: [H, H] },
      { name: `${p}.attn.out.bias`, shape: [H] },
      { name: `${p}.attn.ln.scale`, shape: [H] },
      { name: `${p}.attn.ln.bias`, shape: [H] },
      { name: `${p}.mlp.fc1.weight`, shape: [H, c.mlpSize] },
      { name: `${p}.mlp.fc1.bias`, shape: [c.mlpSize] },
      { name: `${p}.mlp.fc2.weight`, shape: [c.mlpSize, H] },
      { name: `${p}.mlp.fc2.bias`, shape: [H] },
      { name: `${p}.mlp.ln.scale`, shape: [H] },
      { name: `${p}.mlp.ln.bias`, shape: [H] },
    );
  }
  specs.push(
    { name: 'transformer.head.dense.weight', shape: [H, H] },
    { name: 'transformer.head.dense.bias', shape: [H] },
    { name: 'transformer.head.ln.scale', shape: [H] },
    { name: 'transformer.head.ln.bias', shape: [H] },
    // Logits = ln(dense(x)) @ embed.word^T + head.bias (the output matrix is tied to the input embedding).
    { name: 'transformer.head.bias', shape: [c.vocabSize] },
  );
  return specs;
}

function resBlockParams(prefix: string, cin: number, cout: number): ParamSpec[] {
  const specs: ParamSpec[] = [
    { name: `${prefix}.norm1.scale`, shape: [cin] },
    { name: `${prefix}.norm1.bias`, shape: [cin] },
    { name: `${prefix}.conv1.weight`, shape: [3, 3, cin, cout] },
    { name: `${prefix}.norm2.scale`, shape: [cout] },
    { name: `${prefix}.norm2.bias`, shape: [cout] },
    { name: `${prefix}.conv2.weight`, shape: [3, 3, cout, cout] },
  ];
  // Official quirk: the 1x1 shortcut is applied to the block's conv OUTPUT (cout -> cout).
  if (cin !== cout) specs.push({ name: `${prefix}.shortcut.weight`, shape: [1, 1, cout, cout] });
  return specs;
}

/** Channel widths per level. */
export function levelWidths(c: TokenizerConfig): number[] {
  return c.channelMultipliers.map((m) => c.filters * m);
}

/** Encoder: conv_in, per level numResBlocks blocks (then 2x2 average pool except after the last), mid blocks, norm, swish, 1x1 conv_out. */
export function encoderParams(c: TokenizerConfig): ParamSpec[] {
  const widths = levelWidths(c);
  const specs: ParamSpec[] = [{ name: 'tokenizer.encoder.conv_in.weight', shape: [3, 3, 3, c.filters] }];
  let cin = c.filters;
  widths.forEach((w, level) => {
    for (let j = 0; j < c.numResBlocks; j++) {
      specs.push(...resBlockParams(`tokenizer.encoder.down.${level}.block.${j}`, cin, w));
      cin = w;
    }
  });
  for (let j = 0; j < c.numResBlocks; j++) specs.push(...resBlockParams(`tokenizer.encoder.mid.block.${j}`, cin, cin));
  specs.push(
    { name: 'tokenizer.encoder.norm_out.scale', shape: [cin] },
    { name: 'tokenizer.encoder.norm_out.bias', shape: [cin] },
    { name: 'tokenizer.encoder.conv_out.weight', shape: [1, 1, cin, c.embeddingDim] },
    { name: 'tokenizer.encoder.conv_out.bias', shape: [c.embeddingDim] },
  );
  return specs;
}

/**
 * Decoder: conv_in (3x3, bias), mid blocks, then levels from the deepest up, each with
 * numResBlocks blocks followed (except level 0) by nearest x2 upsampling and a 3x3 conv with
 * bias; norm, swish, conv_out (3x3, bias) to RGB.
 */
export function decoderParams(c: TokenizerConfig): ParamSpec[] {
  const widths = levelWidths(c);
  const top = widths[widths.length - 1]!;
  const specs: ParamSpec[] = [
    { name: 'tokenizer.decoder.conv_in.weight', shape: [3, 3, c.embeddingDim, top] },
    { name: 'tokenizer.decoder.conv_in.bias', shape: [top] },
  ];
  for (let j = 0; j < c.numResBlocks; j++) specs.push(...resBlockParams(`tokenizer.decoder.mid.block.${j}`, top, top));
  let cin = top;
  for (let level = widths.length - 1; level >= 0; level--) {
    const w = widths[level]!;
    for (let j = 0; j < c.numResBlocks; j++) {
      specs.push(...resBlockParams(`tokenizer.decoder.up.${level}.block.${j}`, cin, w));
      cin = w;
    }
    if (level > 0) {
      specs.push(
        { name: `tokenizer.decoder.up.${level}.upsample.weight`, shape: [3, 3, w, w] },
        { name: `tokenizer.decoder.up.${level}.upsample.bias`, shape: [w] },
      );
    }
  }
  specs.push(
    { name: 'tokenizer.decoder.norm_out.scale', shape: [cin] },
    { name: 'tokenizer.decoder.norm_out.bias', shape: [cin] },
    { name: 'tokenizer.decoder.conv_out.weight', shape: [3, 3, cin, 3] },
    { name: 'tokenizer.decoder.conv_out.bias', shape: [3] },
  );
  return specs;
}

export function tokenizerParams(c: TokenizerConfig): ParamSpec[] {
  return [...encoderParams(c), { name: 'tokenizer.quantizer.codebook', shape: [c.codebookSize, c.embeddingDim] }, ...decoderParams(c)];
}

/** Parameters by name, on the GPU. */
export type Weights = ReadonlyMap<string, Tensor>;

/** The named parameter, checked against the expected shape (CheckpointError otherwise). */
export function getWeight(weights: Weights, name: string, shape: readonly number[]): Tensor {
  const t = weights.get(name);
  if (!t) throw new CheckpointError(`missing parameter ${name} [${shape.join(', ')}]`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new CheckpointError(`parameter ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

/** Checks that `weights` holds exactly the parameters in `specs`, with their shapes. */
export function checkWeights(weights: Weights, specs: readonly ParamSpec[]): void {
  const expected = new Set(specs.map((s) => s.name));
  const missing = specs.filter((s) => !weights.has(s.name)).map((s) => s.name);
  const extra = [...weights.keys()].filter((k) => !expected.has(k));
  if (missing.length || extra.length) {
    const list = (names: string[]) => names.slice(0, 8).join(', ') + (names.length > 8 ? ` and ${names.length - 8} more` : '');
    throw new CheckpointError(
      [missing.length ? `missing parameters: ${list(missing)}` : '', extra.length ? `unexpected parameters: ${list(extra)}` : ''].filter(Boolean).join('; '),
    );
  }
  for (const s of specs) getWeight(weights, s.name, s.shape);
}
