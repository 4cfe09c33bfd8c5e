// Bundles a TypeScript entry of this repo into one ES module for Node: kernels (.wgsl) as
// text, packages left external (so the output must sit inside the repo for bare imports to
// resolve from its node_modules), `require` available for CommonJS dependencies.
import { build } from 'esbuild';

/** @param {string} entry @param {string} outfile */
export async function bundleTs(entry, outfile) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    loader: { '.wgsl': 'text' },
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" },
  });
}
