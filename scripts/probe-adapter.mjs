// Prints the WebGPU adapter Dawn finds as one JSON line ({"adapter": null} when none) and exits.
// Run in a child process: a broken driver must not take the caller down.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
const info = adapter ? adapter.info : null;
console.log(JSON.stringify({ adapter: info ? { vendor: info.vendor, architecture: info.architecture, description: info.description } : null }));
process.exit(0);
