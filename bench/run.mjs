#!/usr/bin/env node
// `npm run bench`: bundles bench/main.ts with esbuild (kernels as text) and runs it.
// Arguments pass through: --json, --only <groups>, --runs <n>, --warmup <n>, --list, --check.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleTs } from '../scripts/bundle-ts.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'bench/.build/main.mjs');
await bundleTs(join(root, 'bench/main.ts'), outfile);
// No V8 flags: the peers' WebAssembly (onnxruntime-web) runs as it does for their users; only
// --check (results, no times) turns on V8's baseline-only wasm tier inside its own process
// (docs/BENCHMARKS.md: what --liftoff-only would change, measured).
const r = spawnSync(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
