// Messages between the page and its converter worker (web/convert-worker.ts).

/** Model files the user dropped: one or two official Flax checkpoints, or config.json + model.safetensors. */
export interface ConvertRequest {
  files: File[];
  /** Storage dtype of converted weights. */
  dtype: 'f32' | 'f16';
  /** The dropped folder's name, when a converted folder was dropped. */
  folder?: string;
  /** Test hook: a pause after each tensor written, so a test can stop a conversion midway. */
  delayMsPerTensor?: number;
  /** The temporary folder to write into (named by the page, which removes it if it stops the worker). */
  partial: string;
}

export type WorkerMessage =
  /** reading: the checkpoints' structure (headers only); writing: the converted tensors into storage. */
  | { type: 'progress'; phase: 'reading' | 'writing'; file: string; loaded: number; total: number }
  /** The model is stored under this name. */
  | { type: 'done'; name: string }
  | { type: 'error'; name: string; message: string };
