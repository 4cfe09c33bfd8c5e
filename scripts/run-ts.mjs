#!/usr/bin/env node
// Runs a TypeScript file of this repo (a script or an experiment): bundles it with esbuild
// (kernels as text, packages external) into a temporary module and runs it with the given args.
//   node scripts/run-ts.mjs path/to/script.ts [args...]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleTs } from './bundle-ts.mjs';

const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
// Inside the repo (git-ignored), so the bundle's bare imports resolve from its node_modules.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, '.run'), { recursive: true });
const dir = mkdtempSync(join(root, '.run', 'run-'));
const outfile = join(dir, 'main.mjs');
await bundleTs(resolve(entry), outfile);
const r = spawnSync(process.execPath, [outfile, ...args], { stdio: 'inherit' });
rmSync(dir, { recursive: true, force: true });
process.exit(r.status ?? 1);
