// The memory a browser tab needs for the official 256 px MaskGIT: random weights of the
// official shapes written in the official Flax format (the release cannot be downloaded here),
// dropped on the demo page in Debian's Chromium (headless, WebGPU on SwiftShader), converted in
// the page's worker (f16 by default), loaded from the Origin Private File System, then one
// transformer forward (and, with --generate, a 1-step generation: forward + VQGAN decoder).
// Memory is read from /proc for every Chromium process: the kernel's high-water mark (VmHWM)
// per process, and the sum of proportional set sizes (Pss: shared pages counted once), sampled
// every 250 ms. The renderer runs the page
// and its worker; SwiftShader's GPU memory is host memory of the GPU process.
//   node scripts/run-ts.mjs bench/browser-memory.ts [--dtype f16|f32] [--generate] [--checkpoints DIR]
// (--checkpoints reuses the two files from an earlier run: it writes them there if missing.)
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFlaxCheckpointFile, writeModelFolder } from '../src/node.js';
import { launchPersistentChromium, servePage } from '../test/helpers/chromium.js';
import { OFFICIAL_TOKENIZER_SIZES, OFFICIAL_TRANSFORMER_SIZES, tokenizerFixture, transformerFixture } from '../test/helpers/flax-fixtures.js';
import { tinyConfig, tinyTensors } from '../test/helpers/tiny-maskgit.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dtype = flag('--dtype') ?? 'f16';
const MiB = 2 ** 20;
const work = mkdtempSync(join(tmpdir(), 'maskgit-browser-memory-'));
const checkpoints = flag('--checkpoints') ?? join(work, 'checkpoints');
const TRANSFORMER = join(checkpoints, 'maskgit_imagenet256_checkpoint');
const TOKENIZER = join(checkpoints, 'tokenizer_imagenet256_checkpoint');

/**
 * One process's memory (MiB): resident set, its proportional share (shared pages split between
 * the processes that map them, so the sum over processes counts each page once) and the kernel's
 * high-water mark of the resident set; and what Chromium process it is.
 */
function processMemory(pid: number): { pid: number; type: string; rss: number; pss: number; anon: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8') + readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const type = /--type=([\w-]+)/.exec(cmdline)?.[1] ?? 'browser';
    const sub = /--utility-sub-type=([\w.]+)/.exec(cmdline)?.[1];
    return { pid, type: sub ? `${type}:${sub}` : type, rss: kb('VmRSS') / 1024, pss: kb('Pss') / 1024, anon: kb('RssAnon') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return null; // exited
  }
}

/** The Chromium processes this script started: its descendants (playwright spawns the browser as its child). */
function chromiumProcesses(): number[] {
  return descendants(process.pid).filter((pid) => {
    try {
      return /chrom/i.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!);
    } catch {
      return false;
    }
  });
}

function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out.slice(1);
}

async function main(): Promise<void> {
  mkdirSync(checkpoints, { recursive: true });
  if (!existsSync(TRANSFORMER) || !existsSync(TOKENIZER)) {
    console.error('writing random official-size checkpoints (official Flax format)…');
    await writeFlaxCheckpointFile(TRANSFORMER, transformerFixture(OFFICIAL_TRANSFORMER_SIZES, 11).tree);
    await writeFlaxCheckpointFile(TOKENIZER, tokenizerFixture(OFFICIAL_TOKENIZER_SIZES, 12).tree);
  }
  const sizes = { transformerMiB: statSync(TRANSFORMER).size / MiB, tokenizerMiB: statSync(TOKENIZER).size / MiB };
  // A tiny model for the page to start with (the bundled model's place), so the baseline is the page itself.
  const models = join(work, 'models');
  const start = tinyConfig({ classes: 4 });
  await writeModelFolder(join(models, 'start'), start, tinyTensors(start, 1));
  const served = await servePage(models);
  // A profile on disk, as a user's: the stored model is a file, not memory of the browser process.
  const browser = await launchPersistentChromium(join(work, 'profile'));

  let peakSum = 0;
  let peakAt = '';
  let phase = 'start';
  /** Per process, over the whole run (exited ones too): its type, its high-water mark and its largest anonymous set. */
  const peaks = new Map<number, { type: string; hwm: number; anon: number }>();
  const sample = () => {
    const procs = chromiumProcesses().map(processMemory).filter((p) => p !== null);
    const sum = procs.reduce((n, p) => n + p.pss, 0);
    if (sum > peakSum) [peakSum, peakAt] = [sum, phase];
    for (const p of procs) {
      const seen = peaks.get(p.pid) ?? { type: p.type, hwm: 0, anon: 0 };
      peaks.set(p.pid, { type: p.type, hwm: Math.max(seen.hwm, p.hwm), anon: Math.max(seen.anon, p.anon) });
    }
    return procs;
  };
  const timer = setInterval(sample, 250);
  const round = (n: number) => Math.round(n);
  const now = () => {
    const out: Record<string, { rssMiB: number; pssMiB: number; anonMiB: number }> = {};
    for (const p of sample()) {
      const t = (out[`${p.type} ${p.pid}`] ??= { rssMiB: 0, pssMiB: 0, anonMiB: 0 });
      [t.rssMiB, t.pssMiB, t.anonMiB] = [round(p.rss), round(p.pss), round(p.anon)];
    }
    return out;
  };
  const report = (what: string, extra: Record<string, unknown> = {}) =>
    console.log(
      JSON.stringify({
        bench: 'browser-memory',
        phase: what,
        seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
        ...extra,
        processes: now(),
        peakPssSumMiB: round(peakSum),
        peakPssSumPhase: peakAt,
      }),
    );
  const summary = () => {
    const out: Record<string, { peakRssMiB: number; peakAnonMiB: number }> = {};
    for (const [pid, p] of peaks) out[`${p.type} ${pid}`] = { peakRssMiB: round(p.hwm), peakAnonMiB: round(p.anon) };
    console.log(JSON.stringify({ bench: 'browser-memory', phase: 'summary', dtype, peakPssSumMiB: round(peakSum), peakPssSumPhase: peakAt, processes: out }));
  };

  const t0 = performance.now();
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.error(`[page] ${m.text()}`));
    await page.goto(`${served.base}?model=/models/start/`);
    await page.evaluate(() => window.maskgitApp.ready);
    report('page ready', { adapter: await page.evaluate(() => window.maskgitApp.engine!.info.architecture), shaderF16: await page.evaluate(() => window.maskgitApp.engine!.hasF16), ...sizes });
    await page.selectOption('#convert-dtype', dtype);
    phase = 'convert';
    const events = await page.evaluate(() => window.maskgitApp.modelEvents.length);
    await page.setInputFiles('#model-files', [TRANSFORMER, TOKENIZER]);
    await page.waitForFunction((n) => window.maskgitApp.modelEvents.slice(n).some((e) => e.kind === 'converted' || e.kind === 'error'), events, { timeout: 0, polling: 1000 });
    const converted = await page.evaluate((n) => window.maskgitApp.modelEvents.slice(n), events);
    if (converted.some((e) => e.kind === 'error')) throw new Error(`conversion failed: ${JSON.stringify(converted)}`);
    const stored = await page.evaluate(() => window.maskgitApp.storedModels().then((s) => s.map((m) => ({ name: m.name, bytes: m.bytes }))));
    report('converted', { stored: stored.map((m) => ({ name: m.name, MiB: Math.round(m.bytes / MiB) })) });
    phase = 'load';
    await page.waitForFunction((n) => window.maskgitApp.modelEvents.slice(n).some((e) => e.kind === 'loaded' || e.kind === 'error'), events, { timeout: 0, polling: 1000 });
    const pool = () => page.evaluate(() => {
      const stats = window.maskgitApp.engine!.stats().pool;
      return { poolInUseMiB: Math.round(stats.bytesInUse / 2 ** 20), poolPeakMiB: Math.round(stats.peakBytesAllocated / 2 ** 20) };
    });
    report('loaded', { gpuDtype: await page.evaluate(() => window.maskgitApp.model!.dtype), model: await page.textContent('#model-name'), ...(await pool()) });
    phase = 'forward';
    const forwardStart = performance.now();
    const logits = await page.evaluate(() => window.maskgitApp.forward());
    report('forward', { forwardSeconds: Number(((performance.now() - forwardStart) / 1000).toFixed(1)), logits: logits.slice(0, 3), ...(await pool()) });
    if (args.includes('--generate')) {
      phase = 'generate';
      await page.uncheck('#sketch');
      const generated = await page.evaluate(() => window.maskgitApp.runGenerate({ classLabel: 207, seed: 0, steps: 1 }));
      report('generate 1 step', { generateSeconds: Number(generated.seconds.toFixed(1)) });
    }
    summary();
  } finally {
    clearInterval(timer);
    await browser.close();
    await served.close();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
