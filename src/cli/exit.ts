import { ArgumentError, CheckpointError, DeviceError, MaskGITError, ShapeError } from '../errors.js';

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** Anything unexpected. */
  failure: 1,
  /** Bad command-line arguments or input files (wrong size, unknown class...). */
  usage: 2,
  /** No WebGPU adapter, or the GPU device was lost. */
  device: 3,
  /** A model file or checkpoint is malformed. */
  checkpoint: 4,
} as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof ArgumentError || error instanceof ShapeError) return EXIT.usage;
  if (error instanceof DeviceError) return EXIT.device;
  if (error instanceof CheckpointError) return EXIT.checkpoint;
  if (error instanceof MaskGITError) return EXIT.failure;
  return EXIT.failure;
}

/** One line: the error class and what to do. */
export function formatError(error: unknown): string {
  if (error instanceof Error) return `maskgit: ${error.name}: ${error.message.replace(/\s*\n\s*/g, ' ')}`;
  return `maskgit: ${String(error)}`;
}
