// Kernel and end-to-end benchmarks, ours against the WebGPU peers on the same adapter in one
// process. Prints a table; with --json, one JSON object per line: first {"bench_run": ...}
// (date, command, adapter, machine, load), then the rows, last {"bench_run_end": ...}.
//   npm run bench -- [--json] [--only kernels,conv,...] [--runs N] [--warmup N] [--list]
//   npm run bench -- --check [--json]   the peers' correctness gate alone (bench/check.ts); exit 1 on a failure
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, type Engine } from '../src/node.js';
import { formatTable, type BenchContext, type BenchRow } from './harness.js';
import { formatPeerTable, type PeerRow } from './harness.js';
import { GROUPS } from './groups/index.js';
import { runPeerChecks } from './check.js';
import { compileOrtWasmWithLiftoffOnly } from './peers/ort.js';

function parseArgs(argv: string[]) {
  const args = { json: false, only: null as string[] | null, runs: 5, warmup: 2, list: false, check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--json') args.json = true;
    else if (a === '--list') args.list = true;
    else if (a === '--check') args.check = true;
    else if (a === '--only') args.only = value().split(',');
    else if (a === '--runs') args.runs = Number(value());
    else if (a === '--warmup') args.warmup = Number(value());
    else throw new Error(`unknown argument ${a} (expected --json, --only <groups>, --runs N, --warmup N, --list, --check)`);
  }
  return args;
}

/** The checkout's commit and whether its tracked files differ from it (null outside a git checkout). */
function gitState(): { commit: string; modified: boolean } | null {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: dirname(fileURLToPath(import.meta.url)), encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) return null;
  return { commit: head.stdout.trim(), modified: git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '' };
}

/** What a record of a run needs besides its rows: when, how it was started, on what, under what load. */
function runHeader(engine: Engine, argv: string[]) {
  const { limits: _limits, ...adapter } = engine.info;
  return {
    bench_run: {
      date: new Date().toISOString(),
      git: gitState(),
      command: ['npm', 'run', 'bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
      node: process.version,
      node_flags: process.execArgv,
      ...(process.env.MASKGIT_BENCH_DECODE_CONFIGS ? { env: { MASKGIT_BENCH_DECODE_CONFIGS: process.env.MASKGIT_BENCH_DECODE_CONFIGS } } : {}),
      adapter,
      machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? '', memory_gib: Math.round(totalmem() / 2 ** 30) },
      loadavg_start: loadavg().map((v) => Number(v.toFixed(2))),
    },
  };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const g of GROUPS) console.log(`${g.name.padEnd(12)} ${g.description}`);
    return 0;
  }
  if (args.check) {
    if (args.only) throw new Error('--check runs alone (it compiles the peers\' wasm for results, not for times); drop --only');
    return check(args.json);
  }
  const unknown = (args.only ?? []).filter((name) => !GROUPS.some((g) => g.name === name));
  if (unknown.length) throw new Error(`unknown group(s) ${unknown.join(', ')}; groups: ${GROUPS.map((g) => g.name).join(', ')}`);
  const engine = await createEngine();
  const rows: BenchRow[] = [];
  const peerRows: PeerRow[] = [];
  const log = (line: string) => {
    if (!args.json) console.error(line);
  };
  const header = runHeader(engine, process.argv.slice(2));
  if (args.json) console.log(JSON.stringify(header));
  log(`adapter: ${engine.info.description || engine.info.device} (${engine.info.features.join(', ')}); ${header.bench_run.machine.cpus} CPUs, load ${header.bench_run.loadavg_start.join(' ')}`);
  // Each row carries its group, the machine's 1-minute load average when it was measured (a
  // shared machine) and the seconds since the process started when it was emitted (time to first result).
  let group = '';
  const stamp = () => ({ group, loadavg_1m: Number(loadavg()[0]!.toFixed(2)), elapsed_s: Number((performance.now() / 1000).toFixed(1)) });
  const ctx: BenchContext = {
    engine,
    options: { json: args.json, runs: args.runs, warmup: args.warmup },
    emit(measured) {
      const row = { ...measured, ...stamp() };
      rows.push(row);
      if (args.json) console.log(JSON.stringify(row));
      else log(`  ${row.kernel} ${row.shape}: ours ${row.ours_ms.toFixed(2)} ms${row.peer ? `, ${row.peer} ${row.peer_ms?.toFixed(2)} ms` : ''}${row.extrapolated ? ' (EXTRAPOLATED)' : ''}`);
    },
    emitPeer(measured) {
      const row = { ...measured, ...stamp() };
      peerRows.push(row);
      if (args.json) console.log(JSON.stringify(row));
      else log(`  ${row.peer_kernel} ${row.shape} ${row.dtype}: ${row.peer}${row.peer_ms === null ? '' : ` ${row.peer_ms.toFixed(2)} ms`}${row.max_abs_error === null ? '' : `, max abs error ${row.max_abs_error.toExponential(2)}`}${row.failure ? `, failed: ${row.failure}` : ''}`);
    },
    log,
  };
  for (const g of GROUPS) {
    if (args.only && !args.only.includes(g.name)) continue;
    log(`# ${g.name}: ${g.description}`);
    group = g.name;
    await g.run(ctx);
  }
  if (args.json) console.log(JSON.stringify({ bench_run_end: { date: new Date().toISOString(), seconds: Math.round(performance.now() / 1000), loadavg_end: loadavg().map((v) => Number(v.toFixed(2))) } }));
  if (!args.json) console.log('\n' + formatTable(rows));
  if (!args.json && peerRows.length) console.log('\n' + formatPeerTable(peerRows));
  return 0;
}

/** --check: every peer check, one line (or JSON object) each; 1 if any failed. */
async function check(json: boolean): Promise<number> {
  compileOrtWasmWithLiftoffOnly(); // before ORT loads: results only, no times in this process
  const engine = await createEngine();
  const header = runHeader(engine, process.argv.slice(2));
  if (json) console.log(JSON.stringify(header));
  else console.error(`adapter: ${engine.info.description || engine.info.device}; checking the benchmark peers`);
  const results = await runPeerChecks(engine, (r) => {
    if (json) console.log(JSON.stringify({ bench_check: r.check, ok: r.ok, detail: r.detail }));
    else console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.check}: ${r.detail}`);
  });
  const failed = results.filter((r) => !r.ok).length;
  if (json) console.log(JSON.stringify({ bench_run_end: { date: new Date().toISOString(), seconds: Math.round(performance.now() / 1000), checks: results.length, failed } }));
  else console.log(failed ? `${failed} of ${results.length} peer checks failed` : `all ${results.length} peer checks passed`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
