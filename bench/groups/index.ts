import type { BenchGroup } from '../harness.js';
import { convGroup } from './conv.js';
import { decodeKernelsGroup } from './decode-kernels.js';
import { engineGroup } from './engine.js';
import { kernelsGroup } from './kernels.js';
import { peersGroup } from './peers.js';

/** Every benchmark group, in the order `npm run bench` runs them. */
export const GROUPS: BenchGroup[] = [engineGroup];
GROUPS.push(kernelsGroup);
GROUPS.push(convGroup);
GROUPS.push(decodeKernelsGroup);
import { trainGroup } from './train.js';
GROUPS.push(trainGroup);
import { decodeGroup } from './decode.js';
GROUPS.push(decodeGroup);
// Last: some of onnxruntime-web's attention shaders never finish on lavapipe, and a stuck
// device keeps a CPU busy for the rest of the process (it would slow every later group).
GROUPS.push(peersGroup);
