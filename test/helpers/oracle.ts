// The independent oracle: TensorFlow.js core on its CPU backend.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Gradients are registered separately from the ops (for tf.grads in autograd oracles).
import '@tensorflow/tfjs-core/dist/register_all_gradients';

let ready: Promise<typeof tf> | null = null;

export function oracle(): Promise<typeof tf> {
  ready ??= (async () => {
    tf.env().set('IS_TEST', true); // quiets the "use tfjs-node" notice
    await tf.setBackend('cpu');
    await tf.ready();
    return tf;
  })();
  return ready;
}
