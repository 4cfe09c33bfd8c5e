import { describe, expect, it } from 'vitest';
import {
  ArgumentError,
  CheckpointError,
  checkWeights,
  officialConfig,
  randomWeights,
  tokenizerParams,
  transformerParams,
  validateConfig,
} from '../src/node.js';
import { getEngine } from './helpers/engine.js';

describe('model config and parameter contract', () => {
  it('describes the official model: 172.46M transformer and 54.5M tokenizer parameters', () => {
    const config = officialConfig(256);
    validateConfig(config);
    const count = (specs: { shape: readonly number[] }[]) => specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    // REFERENCE.md: 172.46M parameters for the transformer, 54.5M for the tokenizer.
    expect(count(transformerParams(config.transformer)) / 1e6).toBeCloseTo(172.46, 1);
    expect(count(tokenizerParams(config.tokenizer)) / 1e6).toBeCloseTo(54.5, 0);
    expect(config.transformer.maxPositions).toBe(257);
    expect(officialConfig(512).transformer.maxPositions).toBe(1025);
  });

  it('rejects inconsistent configs naming the field', () => {
    const bad = officialConfig();
    bad.transformer.vocabSize = 2024;
    expect(() => validateConfig(bad)).toThrow(ArgumentError);
    expect(() => validateConfig(bad)).toThrow(/transformer.vocabSize/);
    const heads = officialConfig();
    heads.transformer.numHeads = 7;
    expect(() => validateConfig(heads)).toThrow(/numHeads/);
  });

  it('checks a weight map against the specs', async () => {
    const engine = await getEngine();
    const specs = transformerParams({ vocabSize: 11, hiddenSize: 8, numLayers: 1, numHeads: 2, mlpSize: 16, maxPositions: 5, layerNormEps: 1e-12, gelu: 'tanh' });
    const weights = randomWeights(engine, specs, { seed: 1 });
    checkWeights(weights, specs);
    const missing = new Map(weights);
    missing.delete('transformer.head.bias');
    expect(() => checkWeights(missing, specs)).toThrow(CheckpointError);
    expect(() => checkWeights(missing, specs)).toThrow(/transformer.head.bias/);
    const word = Array.from(await weights.get('transformer.embed.word')!.read());
    const std = Math.sqrt(word.reduce((a, v) => a + v * v, 0) / word.length);
    expect(std).toBeGreaterThan(0.01);
    expect(std).toBeLessThan(0.03);
    expect([...(await weights.get('transformer.embed.ln.scale')!.read())].every((v) => v === 1)).toBe(true);
  });
});
