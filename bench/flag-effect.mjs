#!/usr/bin/env node
// What a V8 flag does to `npm run bench`: runs the benchmark bundle alternately without and
// with the flag (A B B A ..., one process each, same session), then prints per row the median
// ours and peer times of each condition and their ratio, and the time to the first row of each
// peer (process start to that row: includes loading and compiling the peer).
//   node bench/flag-effect.mjs [--flag --liftoff-only] [--pairs 2] -- --only kernels --runs 3 --warmup 1
// docs/BENCHMARKS.md records what it measured for --liftoff-only.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleTs } from '../scripts/bundle-ts.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const own = split < 0 ? argv : argv.slice(0, split);
const benchArgs = split < 0 ? [] : argv.slice(split + 1);
let flag = '--liftoff-only';
let pairs = 2;
for (let i = 0; i < own.length; i++) {
  if (own[i] === '--flag') flag = own[++i];
  else if (own[i] === '--pairs') pairs = Number(own[++i]);
  else throw new Error(`unknown argument ${own[i]} (expected --flag <v8 flag>, --pairs <n>, then -- and the bench's arguments)`);
}
if (!flag || !Number.isInteger(pairs) || pairs < 1) throw new Error('--flag needs a value and --pairs a positive integer');

const outfile = join(root, 'bench/.build/main.mjs');
await bundleTs(join(root, 'bench/main.ts'), outfile);

/** One bench process; resolves to its JSON lines. */
function run(flags) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...flags, outfile, '--json', ...benchArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim().split('\n').map((l) => JSON.parse(l))) : reject(new Error(`bench exited with ${code}`))));
  });
}

const conditions = [{ name: 'default', flags: [] }, { name: flag, flags: [flag] }];
const results = conditions.map(() => []);
for (let p = 0; p < pairs; p++) {
  const order = p % 2 === 0 ? [0, 1] : [1, 0];
  for (const c of order) {
    console.error(`pair ${p + 1}/${pairs}: ${conditions[c].name}`);
    results[c].push(await run(conditions[c].flags));
  }
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const key = (r) => `${r.kernel ?? r.peer_kernel} ${r.shape} ${r.dtype ?? ''} ${r.peer ?? ''}`.replace(/\s+/g, ' ').trim();
const byKey = results.map((runs) => {
  const map = new Map();
  for (const lines of runs) for (const r of lines) if (r.kernel || r.peer_kernel) map.set(key(r), [...(map.get(key(r)) ?? []), r]);
  return map;
});
const summary = { flag, pairs, bench_args: benchArgs, date: new Date().toISOString(), first_row_s: {}, rows: [] };
for (const [c, runs] of results.entries()) {
  const firsts = {};
  for (const lines of runs) {
    const seen = new Set();
    for (const r of lines) {
      if (!r.peer || typeof r.elapsed_s !== 'number' || seen.has(r.peer)) continue;
      seen.add(r.peer);
      (firsts[r.peer] ??= []).push(r.elapsed_s);
    }
  }
  summary.first_row_s[conditions[c].name] = Object.fromEntries(Object.entries(firsts).map(([peer, v]) => [peer, median(v)]));
}
for (const [k, rows] of byKey[0]) {
  const other = byKey[1].get(k);
  if (!other) continue;
  const m = (list, field) => {
    const v = list.map((r) => r[field]).filter((x) => typeof x === 'number');
    return v.length ? median(v) : null;
  };
  const row = { row: k };
  for (const field of ['ours_ms', 'peer_ms']) {
    const a = m(rows, field);
    const b = m(other, field);
    if (a === null || b === null) continue;
    row[`${field}_default`] = Number(a.toPrecision(4));
    row[`${field}_flag`] = Number(b.toPrecision(4));
    row[`${field}_flag_over_default`] = Number((b / a).toFixed(3));
  }
  summary.rows.push(row);
}
console.log(JSON.stringify(summary, null, 1));
