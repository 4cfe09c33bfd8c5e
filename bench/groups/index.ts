import type { BenchGroup } from '../harness.js';
import { engineGroup } from './engine.js';
import { kernelsGroup } from './kernels.js';

/** Every benchmark group, in the order `npm run bench` runs them. */
export const GROUPS: BenchGroup[] = [engineGroup];
GROUPS.push(kernelsGroup);
