// tfjs-backend-webgpu on OUR device: the peer runs on the same adapter in the same process.
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { getGPU, type Engine } from '../../src/node.js';

export type Tf = typeof tf;

export interface TfjsPeer {
  tf: Tf;
  backend: WebGPUBackend;
  /** Submits tfjs's pending commands and waits for the GPU to finish them. */
  sync(): Promise<void>;
}

let peer: Promise<TfjsPeer> | null = null;

export function tfjsPeer(engine: Engine): Promise<TfjsPeer> {
  peer ??= (async () => {
    // tfjs looks for navigator.gpu before it accepts a device (Node 20 has no navigator).
    // The real GPU object, since the ORT peer in the same process uses navigator.gpu too.
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
    if (!g.navigator!.gpu) Object.defineProperty(g.navigator, 'gpu', { value: await getGPU(), configurable: true });
    tf.env().set('IS_TEST', true);
    const backend = new WebGPUBackend(engine.device);
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => backend);
    await tf.setBackend('webgpu');
    await tf.ready();
    return {
      tf,
      backend,
      async sync() {
        backend.endComputePassEncoder();
        backend.submitQueue();
        await engine.device.queue.onSubmittedWorkDone();
      },
    };
  })();
  return peer;
}
