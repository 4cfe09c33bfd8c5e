// The official networks computed in tfjs-core straight from a Flax checkpoint tree, by the
// official module names and array layouts (REFERENCE.md): attention kernels [H, heads, d] and
// [heads, d, H] used per head, Flax's <Type>_<n> numbering walked in call order. Independent of
// src/io/convert.ts's layout change, so a forward pass of the converted model can be held to it.
import type * as tfc from '@tensorflow/tfjs-core';
import { FlaxArray, type FlaxTree } from '../../src/node.js';

type Tf = typeof tfc;

function node(tree: FlaxTree, path: string): FlaxTree | FlaxArray {
  let at: unknown = (tree.params as FlaxTree | undefined) ?? tree;
  for (const key of path.split('/')) {
    at = (at as FlaxTree)[key];
    if (at === undefined) throw new Error(`no ${path} in the checkpoint`);
  }
  return at as FlaxTree | FlaxArray;
}

function array(tf: Tf, tree: FlaxTree, path: string): tfc.Tensor {
  const a = node(tree, path);
  if (!(a instanceof FlaxArray)) throw new Error(`${path} is not an array`);
  return tf.tensor(new Float32Array(a.bytes.slice().buffer), [...a.shape]);
}

function has(tree: FlaxTree, path: string): boolean {
  try {
    node(tree, path);
    return true;
  } catch {
    return false;
  }
}

const gelu = (tf: Tf, x: tfc.Tensor) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));

/** The official transformer's logits [B * L, vocab] for tokens [B, L], from the Flax tree. */
export function flaxTransformerLogits(tf: Tf, tree: FlaxTree, tokens: Int32Array, batch: number, length: number, heads: number): Float32Array {
  return tf.tidy(() => {
    const w = (path: string) => array(tf, tree, path);
    const ln = (x: tfc.Tensor, path: string) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-12))), w(`${path}/scale`)), w(`${path}/bias`));
    };
    const dense = (x: tfc.Tensor, path: string) => tf.add(tf.matMul(x, w(`${path}/kernel`)), w(`${path}/bias`));
    const word = w('Embed_0/word_embeddings/embedding');
    const H = word.shape[1]!;
    const d = H / heads;
    const rows = batch * length;
    const position = tf.slice(w('Embed_0/position_embeddings/embedding'), [0, 0], [length, H]);
    let x = ln(tf.add(tf.gather(word, tf.tensor(tokens, [rows], 'int32')), tf.tile(position, [batch, 1])), 'Embed_0/embeddings_ln');
    for (let i = 0; has(tree, `TransformerLayer_${i}`); i++) {
      const a = `TransformerLayer_${i}/Attention_0/self_attention`;
      const proj = (name: string, h: number) => {
        // kernel [H, heads, d] and bias [heads, d]: head h's columns, as DenseGeneral computes them.
        const kernel = tf.reshape(tf.slice(w(`${a}/${name}/kernel`), [0, h, 0], [H, 1, d]), [H, d]);
        const bias = tf.reshape(tf.slice(w(`${a}/${name}/bias`), [h, 0], [1, d]), [d]);
        return tf.reshape(tf.add(tf.matMul(x, kernel), bias), [batch, length, d]);
      };
      const outKernel = w(`${a}/out/kernel`); // [heads, d, H]
      let attended: tfc.Tensor = tf.zeros([rows, H]);
      for (let h = 0; h < heads; h++) {
        const [q, k, v] = [proj('query', h), proj('key', h), proj('value', h)];
        const probs = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(d)));
        const head = tf.reshape(tf.matMul(probs, v), [rows, d]);
        attended = tf.add(attended, tf.matMul(head, tf.reshape(tf.slice(outKernel, [h, 0, 0], [1, d, H]), [d, H])));
      }
      x = ln(tf.add(x, tf.add(attended, w(`${a}/out/bias`))), `TransformerLayer_${i}/Attention_0/attention_output_ln`);
      const m = `TransformerLayer_${i}/Mlp_0`;
      x = ln(tf.add(x, dense(gelu(tf, dense(x, `${m}/intermediate_output`)), `${m}/layer_output`)), `${m}/layer_output_ln`);
    }
    const h = ln(gelu(tf, dense(x, 'MlmLayer_0/mlm_dense')), 'MlmLayer_0/mlm_ln');
    return tf.add(tf.matMul(h, word, false, true), w('MlmLayer_0/mlm_bias/bias')).dataSync() as Float32Array;
  });
}

/**
 * The official VQGAN decoder (no clipping) for tokens [B, h, w], from the Flax tree: codebook
 * rows, decoder/Conv_0, the ResBlocks in order (the first `resBlocks` in the middle, then
 * `resBlocks` per level from the deepest, each level but the last followed by nearest x2
 * upsampling and the next Conv_k), GroupNorm_0, swish, the last Conv_k. GroupNorm: 32 groups, eps 1e-6.
 */
export function flaxDecoder(tf: Tf, tree: FlaxTree, tokens: Int32Array, grid: [number, number, number], resBlocks: number): Float32Array {
  return tf.tidy(() => {
    const w = (path: string) => array(tf, tree, path);
    const swish = (x: tfc.Tensor) => tf.mul(x, tf.sigmoid(x));
    const norm = (x: tfc.Tensor4D, path: string): tfc.Tensor4D => {
      const [B, H, W, C] = x.shape;
      const grouped = tf.reshape(x, [B, H, W, 32, C / 32]);
      const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
      const normed = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-6))), x.shape);
      return swish(tf.add(tf.mul(normed, w(`${path}/scale`)), w(`${path}/bias`))) as tfc.Tensor4D;
    };
    const conv = (x: tfc.Tensor4D, path: string): tfc.Tensor4D => {
      const y = tf.conv2d(x, w(`${path}/kernel`) as tfc.Tensor4D, 1, 'same');
      return has(tree, `${path}/bias`) ? tf.add(y, w(`${path}/bias`)) : y;
    };
    const block = (x: tfc.Tensor4D, path: string): tfc.Tensor4D => {
      let h = conv(norm(x, `${path}/GroupNorm_0`), `${path}/Conv_0`);
      h = conv(norm(h, `${path}/GroupNorm_1`), `${path}/Conv_1`);
      return has(tree, `${path}/Conv_2`) ? tf.add(h, conv(h, `${path}/Conv_2`)) : tf.add(h, x);
    };
    const codebook = w('quantizer/codebook');
    const [B, gh, gw] = grid;
    let x = tf.reshape(tf.gather(codebook, tf.tensor(tokens, [tokens.length], 'int32')), [B, gh, gw, codebook.shape[1]!]) as tfc.Tensor4D;
    x = conv(x, 'decoder/Conv_0');
    let blockIndex = 0;
    let convIndex = 1;
    for (let j = 0; j < resBlocks; j++) x = block(x, `decoder/ResBlock_${blockIndex++}`);
    while (has(tree, `decoder/ResBlock_${blockIndex}`)) {
      for (let j = 0; j < resBlocks; j++) x = block(x, `decoder/ResBlock_${blockIndex++}`);
      if (has(tree, `decoder/ResBlock_${blockIndex}`)) x = conv(tf.image.resizeNearestNeighbor(x, [2 * x.shape[1], 2 * x.shape[2]]), `decoder/Conv_${convIndex++}`);
    }
    return conv(norm(x, 'decoder/GroupNorm_0'), `decoder/Conv_${convIndex}`).dataSync() as Float32Array;
  });
}
