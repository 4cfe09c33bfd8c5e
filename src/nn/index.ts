export { Module } from './module.js';
export { Linear, type LinearForwardOptions, type LinearOptions } from './linear.js';
export { LayerNorm } from './layernorm.js';
export { Embedding } from './embedding.js';
export { MultiHeadAttention, type MultiHeadAttentionOptions } from './attention.js';
export { geluActivation, TransformerLayer } from './transformer-layer.js';
