// tfjs-backend-webgpu on OUR device: the peer runs on the same adapter in the same process.
import * as tf from '@tensorflow/tfjs-core';
// tf.grads needs tfjs's gradients (the train group's GroupNorm row), which tfjs-core's Node
// entry does not register; their ES modules do not load in Node as they are (extensionless
// imports), so they are bundled in by path. They register into tfjs's global registry (the
// same engine as the Node entry's).
import '../../node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { getGPU, type Engine } from '../../src/node.js';

export type Tf = typeof tf;

export const TFJS_PEER_NAME = 'tfjs-webgpu';
/** The row peer of a timing whose runners are [ours, tfjs] (bench/harness.ts rowTiming). */
export const TFJS_AS_RUNNER_1 = { name: TFJS_PEER_NAME, index: 1 } as const;

export interface TfjsPeer {
  tf: Tf;
  backend: WebGPUBackend;
  /** Submits tfjs's pending commands and waits for the GPU to finish them. */
  sync(): Promise<void>;
  /** Runs `work` (in tf.tidy), frees its output and waits for the GPU (a runner for bench/harness.ts timeRunners). */
  runner(work: () => tf.Tensor | tf.Tensor[]): () => Promise<void>;
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
    const sync = async () => {
      backend.endComputePassEncoder();
      backend.submitQueue();
      await engine.device.queue.onSubmittedWorkDone();
    };
    return {
      tf,
      backend,
      sync,
      runner: (work) => async () => {
        tf.dispose(tf.tidy(work)); // tidy: the intermediates of a composition are freed too
        await sync();
      },
    };
  })();
  return peer;
}
