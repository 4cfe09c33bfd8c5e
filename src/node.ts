// Node entry: WebGPU comes from Dawn (the `webgpu` package).
import { installNodeGPU } from './gpu/node-gpu.js';
import { installNodeFiles } from './io/node-files.js';

installNodeGPU();
// Model folders and safetensors files can be read from disk paths.
installNodeFiles();

export * from './index.js';
export { setDawnFlags } from './gpu/node-gpu.js';
export {
  installNodeFiles,
  localModelFolder,
  openLocalFile,
  readFileWithProgress,
  readFlaxCheckpointFile,
  recoverModelFolder,
  writeFlaxCheckpointFile,
  writeModelFolder,
  writeSafetensorsFile,
  type WriteOptions,
} from './io/node-files.js';
export type { ExtraFile } from './io/node-files.js';
export { runTokenizerTraining, RUN_FILES, type TokenizerRunOptions, type TrainEvent } from './maskgit/train/tokenizer-run.js';
