/**
 * Typed errors. Each says what was expected, what was found, and what to do about it,
 * so a caller can branch on the class and a user can act on the message.
 */
export class MaskGITError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Tensor shapes or dtypes that an op cannot accept. */
export class ShapeError extends MaskGITError {}

/** No WebGPU adapter, a lost device, or a GPU validation error. */
export class DeviceError extends MaskGITError {}

/** A model file or checkpoint that is malformed, truncated or does not match its config. */
export class CheckpointError extends MaskGITError {}

/** A bad argument to a public function or to the command line. `argument` names it. */
export class ArgumentError extends MaskGITError {
  readonly argument: string;
  constructor(argument: string, message: string) {
    super(`${argument}: ${message}`);
    this.argument = argument;
  }
}

/** The tensor or engine was used after it was disposed. */
export class DisposedError extends MaskGITError {}
