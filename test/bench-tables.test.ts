// The benchmark tables of README.md and docs/BENCHMARKS.md are generated from the committed
// record they name (scripts/bench-tables.mjs), so they cannot drift from it; the record is one
// whole run: its header (date, command, adapter, load), rows with spreads, and its end.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRecord, regenerate, TARGETS } from '../scripts/bench-tables.mjs';

const root = resolve(__dirname, '..');

describe('benchmark tables', () => {
  for (const target of TARGETS) {
    const { file } = target;
    it(`${file}: the tables between the markers are what the script makes from the record they name`, () => {
      const text = readFileSync(join(root, file), 'utf8');
      expect(regenerate(text, target), `run node scripts/bench-tables.mjs <record> to regenerate ${file}`).toBe(text);
    });
  }

  it('the record is a whole run: header, measured rows with spreads, extrapolated rows said so, end', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const path = /<!-- bench-tables begin: (\S+) -->/.exec(readme)![1]!;
    const record = parseRecord(readFileSync(join(root, path), 'utf8'));
    expect(record.header.command).toMatch(/^npm run bench -- --json/);
    expect(record.header.node_flags).toEqual([]); // peers at their users' speed
    expect(record.header.adapter.description || record.header.adapter.device).not.toBe('');
    expect(record.end).not.toBeNull();
    expect(new Set(record.rows.map((r) => r.group))).toEqual(new Set(['engine', 'kernels', 'conv', 'decode-kernels', 'train', 'decode']));
    for (const r of record.rows) {
      expect(r.ours_min_ms, r.kernel).toBeLessThanOrEqual(r.ours_ms);
      expect(r.ours_ms, r.kernel).toBeLessThanOrEqual(r.ours_max_ms);
      expect(r.warmup, r.kernel).toBeGreaterThanOrEqual(1);
      if (r.peer !== null && r.kernel !== 'decode_maskgit_vs_ar') expect(r.timing, r.kernel).toBe('alternating');
      expect(typeof r.extrapolated === 'string' || r.extrapolated === false, r.kernel).toBe(true);
    }
    expect(record.rows.some((r) => typeof r.extrapolated === 'string')).toBe(true);
    for (const file of TARGETS.map((t) => t.file)) {
      const text = readFileSync(join(root, file), 'utf8');
      // Every extrapolated row is marked where it is shown.
      expect((text.match(/\*\*extrapolated\*\*/g) ?? []).length, file).toBeGreaterThanOrEqual(record.rows.filter((r) => r.extrapolated).length);
    }
  });
});
