// The page's converter, in a dedicated worker so the tab stays responsive: the official Flax
// checkpoints (or a converted model folder) the user dropped become a model folder in the
// Origin Private File System. Checkpoints are read as `maskgit convert` reads them
// (convertCheckpointFiles: the msgpack structure first, each array's bytes only when its
// tensor is written), through synchronous reads of the dropped File, and the converted
// tensors are written one at a time into a synchronous access handle: memory holds one
// tensor, never the checkpoint or its converted copy. Errors are the CLI's CheckpointErrors.
import { CheckpointError } from '../src/errors.js';
import { convertCheckpointFiles, type CheckpointFile } from '../src/io/convert.js';
import type { ByteSource } from '../src/io/flax.js';
import {
  checkModelHeader,
  MODEL_CONFIG_FILE,
  MODEL_PARTS,
  MODEL_WEIGHTS_FILE,
  MODEL_WEIGHTS_METADATA,
  modelConfigText,
  modelContents,
  modelParamSpecs,
  parseModelConfig,
  type ModelFolderConfig,
} from '../src/io/model.js';
import { encodeSafetensorsHeader, parseSafetensorsHeader, readHeaderLength, safetensorsPieces } from '../src/io/safetensors.js';
import type { ConvertRequest, WorkerMessage } from './convert-protocol.js';
import { storedName, StoredFolderWriter } from './storage.js';

/** FileReaderSync, a dedicated worker's synchronous Blob reader (lib.webworker's type, declared for this one use). */
declare const FileReaderSync: { new (): { readAsArrayBuffer(blob: Blob): ArrayBuffer } };

const post = (message: WorkerMessage) => (self as unknown as { postMessage(m: WorkerMessage): void }).postMessage(message);

/** A dropped File as a ByteSource: each read is a slice read synchronously (only the bytes asked for). */
function fileSource(file: File): ByteSource {
  const reader = new FileReaderSync();
  return {
    size: file.size,
    read(offset, length) {
      try {
        return new Uint8Array(reader.readAsArrayBuffer(file.slice(offset, offset + length)));
      } catch (cause) {
        throw new CheckpointError(`${file.name} could not be read (${(cause as Error).message}); pick the file again`, { cause });
      }
    },
  };
}

/** Progress messages, at most one per 100 ms per phase (and the last). */
function progress(phase: 'reading' | 'writing', file: string, total: number): (loaded: number) => void {
  let last = 0;
  return (loaded) => {
    const now = performance.now();
    if (now - last < 100 && loaded < total) return;
    last = now;
    post({ type: 'progress', phase, file, loaded, total });
  };
}

function missingPart(config: ModelFolderConfig, what: string): void {
  const contents = modelContents(config);
  const missing = MODEL_PARTS.filter((p) => !contents.includes(p));
  if (missing.length > 0) {
    throw new CheckpointError(
      `${what} holds only the ${contents.join(' and ')}; the ${missing.join(' and ')} is missing. ` +
        'Drop the transformer and the tokenizer checkpoint together (e.g. maskgit_imagenet256_checkpoint and tokenizer_imagenet256_checkpoint)',
    );
  }
}

/** The pieces, with a pause after each (the test hook delayMsPerTensor). */
async function* paced(pieces: Iterable<Uint8Array>, ms: number): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) {
    yield piece;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}

async function convertCheckpoints(files: File[], dtype: 'f32' | 'f16', writer: StoredFolderWriter, delayMs: number): Promise<string> {
  const sources: CheckpointFile[] = files.map((f) => ({ bytes: fileSource(f), source: f.name }));
  const reporters = new Map(sources.map((s) => [s, progress('reading', s.source, s.bytes.size)]));
  const model = convertCheckpointFiles(sources, { dtype, onRead: (file, position) => reporters.get(file)!(position) });
  missingPart(model.config, files.map((f) => f.name).join(' and '));
  const { header } = encodeSafetensorsHeader(model.tensors, MODEL_WEIGHTS_METADATA);
  const report = progress('writing', MODEL_WEIGHTS_FILE, header.dataOffset + header.dataLength);
  const pieces = safetensorsPieces(model.tensors, MODEL_WEIGHTS_METADATA);
  await writer.write(MODEL_WEIGHTS_FILE, delayMs > 0 ? paced(pieces, delayMs) : pieces, report);
  await writer.write(MODEL_CONFIG_FILE, [new TextEncoder().encode(modelConfigText(model.config))]);
  // maskgit_imagenet256_checkpoint -> maskgit_imagenet256-f16
  return storedName(`${model.sources.transformer!.replace(/_checkpoint$/, '')}-${dtype}`);
}

/** A converted folder (config.json + model.safetensors), checked as loadModelWeights checks it, then copied. */
async function importFolder(config: File, weights: File, folder: string, writer: StoredFolderWriter): Promise<string> {
  const parsed = parseModelConfig(await config.text(), `${folder}/${MODEL_CONFIG_FILE}`);
  missingPart(parsed, folder);
  const source = `${folder}/${MODEL_WEIGHTS_FILE}`;
  const bytes = fileSource(weights);
  const length = readHeaderLength(bytes.read(0, Math.min(8, bytes.size)), bytes.size, source);
  const header = parseSafetensorsHeader(bytes.read(8, length), bytes.size, source);
  checkModelHeader(header, parsed, modelParamSpecs(parsed, modelContents(parsed)), source);
  const piece = 8 * 2 ** 20;
  function* pieces(): Generator<Uint8Array> {
    for (let at = 0; at < bytes.size; at += piece) yield bytes.read(at, Math.min(piece, bytes.size - at));
  }
  await writer.write(MODEL_WEIGHTS_FILE, pieces(), progress('writing', MODEL_WEIGHTS_FILE, bytes.size));
  await writer.write(MODEL_CONFIG_FILE, [new Uint8Array(await config.arrayBuffer())]);
  return storedName(folder);
}

async function run(request: ConvertRequest): Promise<void> {
  const config = request.files.find((f) => f.name === MODEL_CONFIG_FILE);
  const weights = request.files.find((f) => f.name.endsWith('.safetensors'));
  const folderMode = config !== undefined || weights !== undefined;
  if (folderMode && !(config && weights && request.files.length === 2)) {
    throw new CheckpointError(
      `a converted model folder is ${MODEL_CONFIG_FILE} and ${MODEL_WEIGHTS_FILE} together; got ${request.files.map((f) => f.name).join(', ')}`,
    );
  }
  const writer = await StoredFolderWriter.create(request.partial);
  try {
    const name = folderMode ? await importFolder(config!, weights!, request.folder ?? 'model', writer) : await convertCheckpoints(request.files, request.dtype, writer, request.delayMsPerTensor ?? 0);
    await writer.commit(name);
    post({ type: 'done', name });
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

self.onmessage = (event: MessageEvent<ConvertRequest>) => {
  run(event.data).catch((error: unknown) => {
    post({ type: 'error', name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) });
  });
};
