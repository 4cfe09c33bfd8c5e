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
  openFileSource,
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
export {
  classSampleGrid,
  conditionalConfig,
  DEFAULT_MVTM_OPTIONS,
  NULL_CLASS_NAME,
  runTransformerTraining,
  TRANSFORMER_PRESETS,
  TRANSFORMER_RUN_FILES,
  type MVTMEvent,
  type MVTMHistory,
  type MVTMImages,
  type TransformerPreset,
  type TransformerRunOptions,
} from './maskgit/train/transformer-run.js';
export { exportModel, loadCheckpoint, saveCheckpoint, type LoadedCheckpoint, type TrainingState } from './maskgit/train/checkpoint.js';
