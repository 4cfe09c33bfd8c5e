import { defineConfig, type Plugin } from 'vitest/config';
import { HANG_GUARD_MS } from './test/helpers/hang-guard.js';

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
    // Hang guards only, never a pass condition (test/helpers/hang-guard.ts says why).
    testTimeout: HANG_GUARD_MS,
    hookTimeout: HANG_GUARD_MS,
    reporters: ['default'],
  },
});
