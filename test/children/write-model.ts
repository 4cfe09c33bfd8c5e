// Writes version <v> of a test model folder to <dir> with writeModelFolder, saying "WRITING"
// just before and "DONE <ms>" after: test/crash-write.test.ts kills it with SIGKILL somewhere
// in between.
import { writeModelFolder } from '../../src/node.js';
import { versionConfig, versionTensors } from '../helpers/model-versions.js';

const [dir, v] = process.argv.slice(2);
const version = Number(v);
const tensors = versionTensors(version);
process.stdout.write('WRITING\n');
const t0 = performance.now();
await writeModelFolder(dir!, versionConfig(version), tensors);
process.stdout.write(`DONE ${(performance.now() - t0).toFixed(1)}\n`);
