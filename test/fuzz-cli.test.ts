// Fuzzing `maskgit convert` as users run it (the built CLI in a child process) on mutated
// checkpoints (helpers/flax-mutations.ts): it converts (exit 0, a folder that loads) or fails
// with exit code 2 or 4 and one line on stderr naming the error class, never a stack trace,
// and leaves nothing behind when it fails.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkModelHeader } from '../src/io/model.js';
import { decodeSafetensors, modelContents, modelParamSpecs, parseModelConfig } from '../src/node.js';
import { bases, caseSpec, mutated } from './helpers/flax-mutations.js';
import { fuzz, fuzzRuns } from './helpers/fuzz.js';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const root = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'maskgit-fuzz-cli-'));
beforeAll(() => execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' }), 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The CLI's contract for one run, as an error the harness can tally (or nothing for exit 0). */
class CliRefused extends Error {}

let count = 0;

describe('fuzz: maskgit convert', () => {
  it('mutated checkpoints convert, or fail with exit 2/4 and one line', async () => {
    const report = await fuzz(
      'cli-convert',
      {
        arbitrary: caseSpec,
        prepare: (c) => {
          const file = join(work, `checkpoint-${count}`);
          writeFileSync(file, mutated(c));
          const args = [file, ...(c.pair ? [join(work, `valid-${1 - c.base}`)] : []), '--out', join(work, `out-${count++}`), '--dtype', c.f16 ? 'f16' : 'f32'];
          return args;
        },
      },
      (args) => {
        const out = args[args.indexOf('--out') + 1]!;
        const r = spawnSync(process.execPath, [join(root, 'dist/cli.js'), '-q', 'convert', ...args], { encoding: 'utf8', timeout: HANG_GUARD_MS });
        if (r.status === 0) {
          expect(r.stderr).toBe('');
          // The folder loads: its config parses and its weights match it.
          const config = parseModelConfig(readFileSync(join(out, 'config.json'), 'utf8'), out);
          const { header } = decodeSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors'))), out);
          checkModelHeader(header, config, modelParamSpecs(config, modelContents(config)), out);
          return;
        }
        expect([2, 4], `exit ${r.status} (${r.signal ?? ''}): ${r.stderr}`).toContain(r.status);
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(r.status === 4 ? /^maskgit: CheckpointError: / : /^maskgit: (ArgumentError|ShapeError): /);
        expect(existsSync(out), 'a failed conversion left its output folder').toBe(false);
        throw new CliRefused(lines[0]);
      },
      // The conversion runs in a child: its time is bounded by spawnSync's timeout above, not caseMs.
      { runs: fuzzRuns(24), allowed: [CliRefused] },
    );
    expect(report.cases).toBe(fuzzRuns(24));
    // No temporaries left beside the outputs.
    expect(readdirSync(work).filter((f) => f.startsWith('.'))).toEqual([]);
  }, HANG_GUARD_MS);
});

// The valid partner checkpoints the mutated ones are converted with.
beforeAll(() => bases.forEach((b, i) => writeFileSync(join(work, `valid-${i}`), b.bytes)));