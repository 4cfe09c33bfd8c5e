#!/usr/bin/env node
// The benchmark tables of README.md and docs/BENCHMARKS.md, generated from a committed record
// of one `npm run bench -- --json` run (docs/bench/*.jsonl), never typed by hand. Each file holds
// its tables between the markers
//   <!-- bench-tables begin: docs/bench/<record>.jsonl -->  ...  <!-- bench-tables end -->
// (README.md the short form, docs/BENCHMARKS.md every row).
//   node scripts/bench-tables.mjs docs/bench/<record>.jsonl   rewrites both regions from that record
//   node scripts/bench-tables.mjs --check                     fails if a region differs from its record
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The files with generated tables, and which form each gets. */
export const TARGETS = [
  { file: 'README.md', form: 'short' },
  { file: 'docs/BENCHMARKS.md', form: 'full' },
];
const BEGIN = /<!-- bench-tables begin: (\S+) -->\n/;
const END = '<!-- bench-tables end -->';

/**
 * A record: its header ({bench_run}), rows (BenchRows), peer rows (PeerRows) and end line.
 * @param {string} text
 */
export function parseRecord(text) {
  const lines = text.split('\n').filter((l) => l.trim()).map((l, i) => {
    try {
      return JSON.parse(l);
    } catch {
      throw new Error(`line ${i + 1} of the record is not JSON: ${l.slice(0, 80)}`);
    }
  });
  const header = lines.find((l) => l.bench_run)?.bench_run;
  if (!header) throw new Error('the record has no {"bench_run": ...} line: record it with npm run bench -- --json');
  return {
    header,
    end: lines.find((l) => l.bench_run_end)?.bench_run_end ?? null,
    rows: lines.filter((l) => typeof l.kernel === 'string'),
    peerRows: lines.filter((l) => typeof l.peer_kernel === 'string'),
  };
}

/** @param {number} v */
const num = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
/** @param {number|null|undefined} min @param {number|null|undefined} max */
const range = (min, max, unit = '') => (typeof min === 'number' && typeof max === 'number' ? `${num(min)}–${num(max)}${unit}` : '');
/** @param {string} s */
const cell = (s) => String(s).replace(/\|/g, '\\|');
/** A markdown table without the columns that are empty in every row. @param {string[]} header @param {string[][]} body */
function table(header, body) {
  const keep = header.map((_, i) => body.some((r) => r[i] !== ''));
  const pick = (cells) => cells.filter((_, i) => keep[i]);
  return [`| ${pick(header).join(' | ')} |`, `|${pick(header).map(() => '---').join('|')}|`, ...body.map((r) => `| ${pick(r).map(cell).join(' | ')} |`)].join('\n');
}

/** ours: "598 (597–600)" */
const oursCell = (r) => `${num(r.ours_ms)} (${range(r.ours_min_ms, r.ours_max_ms)})`;
/** a peer: "3238: 5.41x (5.2–5.7x)" (its ms, our speedup over it) */
const peerCell = (r) => (r.peer_ms === null ? '' : `${num(r.peer_ms)}: ${num(r.speedup)}x (${range(r.speedup_min, r.speedup_max, 'x')})`);

/** The rows of one (kernel, shape) merged: one column per peer kind. */
function mergedRows(rows) {
  const kinds = { tfjs: (p) => p.startsWith('tfjs-webgpu'), ort: (p) => p === 'onnxruntime-web' };
  const merged = new Map();
  for (const r of rows) {
    const key = `${r.kernel}|${r.shape}`;
    const m = merged.get(key) ?? { first: r, tfjs: null, ort: null, other: [] };
    merged.set(key, m);
    if (!r.peer) continue;
    const kind = Object.keys(kinds).find((k) => kinds[k](r.peer));
    if (kind) m[kind] = r;
    else m.other.push(r);
  }
  return [...merged.values()];
}

/** Markers of a merged row that is not a plain measurement (r: ours and the first peer; ort: the ORT row). */
function notes(r, ort) {
  const out = [];
  if (r.extrapolated) out.push('**extrapolated**');
  // f32 results a thousandth of their scale off are wrong, not rounding (ORT's attention with subgroups of 8).
  if (ort && typeof ort.peer_max_abs_error === 'number' && typeof ort.peer_max_abs_reference === 'number' && ort.peer_max_abs_error > 1e-3 * ort.peer_max_abs_reference) {
    out.push(`onnxruntime-web's result is wrong here: max abs error ${ort.peer_max_abs_error.toExponential(1)} at a scale of ${num(ort.peer_max_abs_reference)}`);
  }
  if (r.pipelines_compiled_while_timed) out.push(`${r.pipelines_compiled_while_timed} pipelines compiled while timed`);
  return out.join('; ');
}

function kernelTable(rows) {
  const body = mergedRows(rows).map((m) => {
    const r = m.first;
    const other = m.other.map((o) => `${o.peer}: ${peerCell(o)}`).join('; ');
    return [r.kernel, r.shape, oursCell(r), r.gflops === null ? '' : num(r.gflops), m.tfjs ? peerCell(m.tfjs) : '', m.ort ? peerCell(m.ort) : '', other, `${r.runs}+${r.warmup}`, notes(r, m.ort)];
  });
  return table(['kernel', 'shape', 'ours ms (min–max)', 'GFLOP/s', 'tfjs-webgpu ms: speedup (range)', 'onnxruntime-web ms: speedup (range)', 'other baseline', 'runs+warm-up', 'note'], body);
}

function decodeTable(rows) {
  const sec = (ms) => (typeof ms === 'number' ? num(ms / 1000) : ms);
  const secRange = (s) => range(s?.min / 1000, s?.max / 1000);
  const body = rows.map((r) => {
    const s = r.spread ?? {};
    const steps = Object.entries(r.maskgit_ms_by_steps ?? {}).map(([k, v]) => `${k} steps ${sec(v)}`).join(', ');
    return [
      r.config,
      `${steps} (${secRange(s.maskgit_ms)})`,
      r.ar_ms === null ? '' : `${sec(r.ar_ms)} (${secRange(s.ar_ms)})`,
      r.ar_kv_ms === null ? '' : `${sec(r.ar_kv_ms)} (${secRange(s.ar_kv_ms)})`,
      r.ratio === null ? '' : `${num(r.ratio)}x (${range(s.ratio?.min, s.ratio?.max, 'x')})`,
      `${num(r.flop_ratio)}x`,
      r.kv_ratio === null ? '' : `${num(r.kv_ratio)}x (${range(s.kv_ratio?.min, s.kv_ratio?.max, 'x')})`,
      `${num(r.kv_flop_ratio)}x`,
      `${r.runs}+${r.warmup}`,
      r.extrapolated ? `**extrapolated**: ${r.extrapolated}` : 'measured end to end',
    ];
  });
  return table(
    ['config', 'MaskGIT s (the first count\'s min–max)', 'autoregressive, uncached s', 'autoregressive, KV cache s', 'uncached / MaskGIT', 'its FLOP ratio', 'KV cache / MaskGIT', 'its FLOP ratio', 'runs+warm-up', 'how'],
    body,
  );
}

function peerTable(rows) {
  const body = rows.map((r) => [
    r.peer_kernel,
    r.shape,
    r.dtype,
    typeof r.subgroups === 'boolean' ? (r.subgroups ? 'yes' : 'no') : '',
    r.peer_ms === null ? '' : `${num(r.peer_ms)} (${range(r.peer_min_ms, r.peer_max_ms)})`,
    r.max_abs_error === null ? '' : Number.isFinite(r.max_abs_error) ? r.max_abs_error.toExponential(1) : String(r.max_abs_error),
    r.max_abs_reference === null ? '' : num(r.max_abs_reference),
    r.failure ? String(r.failure).slice(0, 100) : '',
  ]);
  return table(['peer kernel', 'shape', 'dtype', 'subgroups', 'ms (min–max)', 'max abs error', 'max abs reference', 'failure'], body);
}

/** The sentence that says where the figures come from (`link`: the record, relative to the file shown in). */
function provenance(record, recordPath, link) {
  const h = record.header;
  const a = h.adapter;
  const adapter = a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ');
  const load = `load average ${h.loadavg_start.join(' / ')} at the start${record.end ? `, ${record.end.loadavg_end.join(' / ')} at the end (${Math.round(record.end.seconds / 60)} min)` : ''}`;
  return [
    `Recorded with \`${Object.entries(h.env ?? {}).map(([k, v]) => `${k}=${v} `).join('')}${h.command}\` on ${h.date.slice(0, 10)}${h.git ? ` at commit ${h.git.commit.slice(0, 10)}${h.git.modified ? ' (modified)' : ''}` : ''}: ${adapter}, ${h.machine.cpus} CPUs (${h.machine.cpu_model}), Node ${h.node}${h.node_flags.length ? ` with ${h.node_flags.join(' ')}` : ', no V8 flags'}; ${load}.`,
    `Record: [${recordPath}](${link}) (one JSON object a line); these tables are generated from it by \`node scripts/bench-tables.mjs ${recordPath}\`.`,
    'Medians of the timed rounds after warm-up; in each round ours and every peer run once, alternating, so a changing load falls on both.',
    'Ranges are min–max over the rounds; a speedup range pairs the runs of the same round. ms are wall times to GPU completion.',
  ].join('\n');
}

const GROUP_TITLES = {
  engine: 'Foundation ops (engine)',
  kernels: 'GEMM and transformer kernels (kernels)',
  conv: 'VQGAN tokenizer kernels (conv)',
  'decode-kernels': 'Decode step without the transformer (decode-kernels)',
  train: 'Tokenizer training kernels (train)',
};

/**
 * The markdown between the markers of `file` (relative to the repo) for one record.
 * @param {ReturnType<typeof parseRecord>} record @param {string} recordPath @param {{ file: string, form: 'short'|'full' }} target
 */
export function renderTables(record, recordPath, { file, form }) {
  const link = (path) => relative(dirname(file), path);
  const parts = [provenance(record, recordPath, link(recordPath))];
  const groups = [...new Set(record.rows.map((r) => r.group))];
  for (const group of groups) {
    const rows = record.rows.filter((r) => r.group === group);
    const kernelRows = rows.filter((r) => r.kernel !== 'decode_maskgit_vs_ar');
    const decodeRows = rows.filter((r) => r.kernel === 'decode_maskgit_vs_ar');
    if (kernelRows.length) parts.push(`**${GROUP_TITLES[group] ?? group}**\n\n${kernelTable(form === 'full' ? kernelRows : kernelRows.filter((r) => !r.kernel.startsWith('gemm_f16') || r.shape === '1024x1024x1024'))}`);
    if (decodeRows.length) parts.push(`**Token generation, MaskGIT vs the autoregressive baseline (decode), same engine, same weights**\n\n${decodeTable(decodeRows)}`);
  }
  if (form === 'full' && record.peerRows.length) parts.push(`**onnxruntime-web alone (peers): self-checks against JS references and times**\n\n${peerTable(record.peerRows)}`);
  if (form === 'short' && (record.peerRows.length || record.rows.some((r) => r.kernel.startsWith('gemm_f16')))) {
    parts.push(`Every row (f16 GEMMs at the transformer's shapes, onnxruntime-web's self-checks): [docs/BENCHMARKS.md](${link('docs/BENCHMARKS.md')}).`);
  }
  return parts.join('\n\n');
}

/**
 * `text` (the contents of target.file) with its marked region regenerated from the record the
 * marker names (read from the repo).
 * @param {string} text @param {{ file: string, form: 'short'|'full' }} target @param {string} [recordPath] replaces the marker's record
 */
export function regenerate(text, target, recordPath) {
  const begin = BEGIN.exec(text);
  const end = text.indexOf(END);
  if (!begin || end < begin.index) throw new Error(`no region between "<!-- bench-tables begin: <record> -->" and "${END}"`);
  const path = recordPath ?? begin[1];
  const record = parseRecord(readFileSync(join(root, path), 'utf8'));
  return `${text.slice(0, begin.index)}<!-- bench-tables begin: ${path} -->\n${renderTables(record, path, target)}\n${text.slice(end)}`;
}

function main(argv) {
  const check = argv.includes('--check');
  const recordPath = argv.find((a) => !a.startsWith('--'));
  if (!check && !recordPath) throw new Error('usage: node scripts/bench-tables.mjs docs/bench/<record>.jsonl | --check');
  let stale = 0;
  for (const target of TARGETS) {
    const { file } = target;
    const path = join(root, file);
    const text = readFileSync(path, 'utf8');
    const next = regenerate(text, target, check ? undefined : recordPath);
    if (check) {
      if (next !== text) {
        console.error(`${file}: its benchmark tables differ from its record; run node scripts/bench-tables.mjs <record>`);
        stale++;
      }
    } else if (next !== text) {
      writeFileSync(`${path}.tmp`, next);
      renameSync(`${path}.tmp`, path);
      console.error(`${file}: tables regenerated from ${recordPath}`);
    }
  }
  return stale ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(main(process.argv.slice(2)));
