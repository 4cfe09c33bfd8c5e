#!/usr/bin/env node
// Builds the package with esbuild: the Node entry, the browser entry, the CLI, and (with
// --types) the TypeScript declarations. WGSL kernels are bundled as text.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const common = {
  bundle: true,
  format: 'esm',
  sourcemap: true,
  loader: { '.wgsl': 'text' },
  logLevel: 'warning',
  absWorkingDir: root,
};

if (args.has('--clean')) rmSync(join(root, 'dist'), { recursive: true, force: true });

const started = Date.now();
await Promise.all([
  // Node: dependencies stay external (they are installed with the package).
  build({ ...common, entryPoints: ['src/node.ts'], outfile: 'dist/node.js', platform: 'node', target: 'node20', packages: 'external' }),
  build({
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    banner: { js: '#!/usr/bin/env node' },
  }),
  // Browsers: one self-contained module.
  build({ ...common, entryPoints: ['src/browser.ts'], outfile: 'dist/browser.js', platform: 'browser', target: 'es2022' }),
]);

if (args.has('--types')) {
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
if (!args.has('--quiet')) console.log(`built dist/ in ${Date.now() - started} ms${args.has('--types') ? ' (with types)' : ''}`);
