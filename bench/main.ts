// Kernel and end-to-end benchmarks, ours against the WebGPU peers on the same adapter in one
// process. Prints a table; with --json, one JSON object per line.
//   npm run bench -- [--json] [--only kernels,conv,...] [--runs N] [--warmup N] [--list]
import { createEngine } from '../src/node.js';
import { formatTable, type BenchContext, type BenchRow } from './harness.js';
import { formatPeerTable, type PeerRow } from './harness.js';
import { GROUPS } from './groups/index.js';

function parseArgs(argv: string[]) {
  const args = { json: false, only: null as string[] | null, runs: 5, warmup: 2, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--json') args.json = true;
    else if (a === '--list') args.list = true;
    else if (a === '--only') args.only = value().split(',');
    else if (a === '--runs') args.runs = Number(value());
    else if (a === '--warmup') args.warmup = Number(value());
    else throw new Error(`unknown argument ${a} (expected --json, --only <groups>, --runs N, --warmup N, --list)`);
  }
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const g of GROUPS) console.log(`${g.name.padEnd(12)} ${g.description}`);
    return 0;
  }
  const unknown = (args.only ?? []).filter((name) => !GROUPS.some((g) => g.name === name));
  if (unknown.length) throw new Error(`unknown group(s) ${unknown.join(', ')}; groups: ${GROUPS.map((g) => g.name).join(', ')}`);
  const engine = await createEngine();
  const rows: BenchRow[] = [];
  const peerRows: PeerRow[] = [];
  const log = (line: string) => {
    if (!args.json) console.error(line);
  };
  log(`adapter: ${engine.info.description || engine.info.device} (${engine.info.features.join(', ')})`);
  const ctx: BenchContext = {
    engine,
    options: { json: args.json, runs: args.runs, warmup: args.warmup },
    emit(row) {
      rows.push(row);
      if (args.json) console.log(JSON.stringify(row));
      else log(`  ${row.kernel} ${row.shape}: ours ${row.ours_ms.toFixed(2)} ms${row.peer ? `, ${row.peer} ${row.peer_ms?.toFixed(2)} ms` : ''}`);
    },
    emitPeer(row) {
      peerRows.push(row);
      if (args.json) console.log(JSON.stringify(row));
      else log(`  ${row.peer_kernel} ${row.shape} ${row.dtype}: ${row.peer}${row.peer_ms === null ? '' : ` ${row.peer_ms.toFixed(2)} ms`}${row.max_abs_error === null ? '' : `, max abs error ${row.max_abs_error.toExponential(2)}`}${row.failure ? `, failed: ${row.failure}` : ''}`);
    },
    log,
  };
  for (const group of GROUPS) {
    if (args.only && !args.only.includes(group.name)) continue;
    log(`# ${group.name}: ${group.description}`);
    await group.run(ctx);
  }
  if (!args.json) console.log('\n' + formatTable(rows));
  if (!args.json && peerRows.length) console.log('\n' + formatPeerTable(peerRows));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
