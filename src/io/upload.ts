import { CheckpointError } from '../errors.js';
import type { Engine } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { bf16BytesToF32, f16BytesToF32, f32BytesToF16, f64BytesToF32, type ScratchBuffers } from './dtype-bytes.js';
import { safetensorsDTypeSize, type SafetensorsDType } from './safetensors.js';

/**
 * GPU storage of float weights: 'f32', 'f16' (when the adapter has shader-f16; f32 otherwise),
 * or 'auto' (f16 for F16 data when the adapter can store it, else f32).
 */
export type WeightDType = 'f32' | 'f16' | 'auto';

/** What float data of `fileDType` is stored as on this engine. */
export function storageDType(engine: Engine, requested: WeightDType, fileDType: SafetensorsDType | undefined): 'f32' | 'f16' {
  const want = requested === 'auto' ? (fileDType === 'F16' ? 'f16' : 'f32') : requested;
  return want === 'f16' && engine.hasF16 ? 'f16' : 'f32';
}

/**
 * Uploads one tensor read from a file. Floats (F32, F16, BF16, F64) become `floatStorage`,
 * converted on the host when the formats differ (into `scratch` when given: the upload copies,
 * so one pair of buffers serves a whole model); I32 and U32 are uploaded as they are. The bytes
 * are copied by the upload, so the caller may reuse their buffer afterwards.
 */
export function uploadTensor(
  engine: Engine,
  info: { readonly name: string; readonly dtype: SafetensorsDType; readonly shape: readonly number[] },
  bytes: Uint8Array,
  floatStorage: 'f32' | 'f16',
  scratch?: ScratchBuffers,
): Tensor {
  const elements = bytes.byteLength / safetensorsDTypeSize(info.dtype);
  const f16Out = () => scratch?.get(0, elements * 2);
  const f32Out = () => scratch?.get(1, elements * 4);
  switch (info.dtype) {
    case 'I32':
      return engine.tensorFromBytes(bytes, info.shape, 'i32');
    case 'U32':
      return engine.tensorFromBytes(bytes, info.shape, 'u32');
    case 'F32':
      return floatStorage === 'f32'
        ? engine.tensorFromBytes(bytes, info.shape, 'f32')
        : engine.tensorFromBytes(f32BytesToF16(bytes, f16Out()), info.shape, 'f16');
    case 'F16':
      return floatStorage === 'f16'
        ? engine.tensorFromBytes(bytes, info.shape, 'f16')
        : engine.tensorFromBytes(f16BytesToF32(bytes, f32Out()), info.shape, 'f32');
    case 'BF16':
    case 'F64': {
      const f32 = info.dtype === 'BF16' ? bf16BytesToF32(bytes, f32Out()) : f64BytesToF32(bytes, f32Out());
      return floatStorage === 'f32' ? engine.tensorFromBytes(f32, info.shape, 'f32') : engine.tensorFromBytes(f32BytesToF16(f32, f16Out()), info.shape, 'f16');
    }
    default:
      throw new CheckpointError(`tensor "${info.name}" has dtype ${info.dtype}, which the engine cannot store; use F32, F16, BF16, F64, I32 or U32`);
  }
}
