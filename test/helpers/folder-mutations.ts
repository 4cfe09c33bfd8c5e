// Mutated model folders (config.json and model.safetensors together) and the means to serve
// them, shared by the fuzz tests of the loader (fuzz-config.test.ts) and, later, of whatever
// loads model folders for users (the pipeline, \`maskgit generate\`).
import fc from 'fast-check';
import { encodeSafetensors, initialValues, modelParamSpecs, seededUniform, type TensorBytes } from '../../src/node.js';
import { byteMutation, concat, jsonMutation, mutateBytes, mutateJson, mutations, type ByteMutation, type JsonMutation } from './fuzz.js';
import { TINY_MODEL_CONFIG as tiny } from './model-versions.js';

/** The header JSON and the data section of a valid safetensors file. */
export function splitHeader(file: Uint8Array): { json: unknown; data: Uint8Array } {
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  return { json: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))), data: file.subarray(8 + n) };
}

/** A safetensors file with `text` as its header (length prefix `length`, or the true one). */
export function joinHeader(text: string, data: Uint8Array, length?: bigint): Uint8Array {
  const json = new TextEncoder().encode(text);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, length ?? BigInt(json.byteLength), true);
  return concat([prefix, json, data]);
}

const random = seededUniform(3);
const tinyTensors: TensorBytes[] = modelParamSpecs(tiny).map((s) => ({ name: s.name, dtype: 'F32', shape: s.shape, data: new Uint8Array(initialValues(s, random).buffer) }));
export const tinyWeights = encodeSafetensors(tinyTensors, { format: 'maskgit' });

export const folderSpec = fc.record({
  config: mutations(2, 1, jsonMutation, 2),
  header: mutations(1, 2, jsonMutation, 2),
  bytes: mutations(1, 3, byteMutation, 2),
  how: fc.constantFrom('url', 'url-no-length', 'disk'),
  chunk: fc.integer({ min: 1, max: 4096 }),
  dtype: fc.constantFrom(undefined, 'f32', 'f16', 'auto'),
});

export type FolderSpec = typeof folderSpec extends fc.Arbitrary<infer T> ? T : never;

export function folderFiles(c: FolderSpec): { config: Uint8Array; weights: Uint8Array } {
  const config = new TextEncoder().encode(JSON.stringify(mutateJson(tiny, c.config as JsonMutation[])));
  const { json, data } = splitHeader(tinyWeights);
  const weights = mutateBytes(c.header.length ? joinHeader(JSON.stringify(mutateJson(json, c.header as JsonMutation[])), data) : tinyWeights, c.bytes as ByteMutation[]);
  return { config, weights };
}

/** A fetch over in-memory files, delivering `chunk`-byte pieces, with or without Content-Length. */
export function memoryFetch(files: Record<string, Uint8Array>, chunk: number, withLength: boolean) {
  return async (url: string): Promise<Response> => {
    const bytes = files[url.slice(url.lastIndexOf('/') + 1)];
    if (!bytes) return new Response('not found', { status: 404 });
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.slice(at, at + chunk));
        at += chunk;
      },
    });
    return new Response(body, { headers: withLength ? { 'content-length': String(bytes.byteLength) } : {} });
  };
}

