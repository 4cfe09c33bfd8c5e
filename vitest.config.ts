import { defineConfig, type Plugin } from 'vitest/config';

/** Imports .wgsl files as text, as esbuild's text loader does in the builds. */
function wgslText(): Plugin {
  return {
    name: 'wgsl-text',
    transform(code, id) {
      if (id.endsWith('.wgsl')) return { code: `export default ${JSON.stringify(code)};`, map: null };
      return null;
    },
  };
}

export default defineConfig({
  plugins: [wgslText()],
  test: {
    include: ['test/**/*.test.ts'],
    // One GPU device per test process: Dawn is not shared across workers.
    pool: 'forks',
    // Hang guards only, never a pass condition: a loaded 2-core machine ran single tests
    // past 120 s (ort-peer, matmul), so the guard sits far above the slowest loaded case.
    testTimeout: 1_800_000,
    hookTimeout: 1_800_000,
    reporters: ['default'],
  },
});
