// Test scripts run in child processes: for what may take the process down (dawn.node can crash
// on teardown after a device is lost) or must be killed (crash-mid-write tests), and for runs
// that must be independent (determinism across processes). A script in test/children/ is
// bundled once per test process (kernels as text, packages external, as scripts/run-ts.mjs
// does) and run with Node; it reports by printing `RESULT <json>` lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleTs } from '../../scripts/bundle-ts.mjs';

const root = resolve(__dirname, '../..');
const bundles = new Map<string, Promise<string>>();

/** Removes the bundles of test processes that have exited (named by their pid). */
function removeStaleBundles(): void {
  for (const entry of readdirSync(join(root, '.run'))) {
    const pid = Number(/^child-(\d+)-/.exec(entry)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(root, '.run', entry), { recursive: true, force: true });
    }
  }
}

/** The bundled script test/children/<name>.ts (built once per process, inside the repo so bare imports resolve). */
export function childScript(name: string): Promise<string> {
  let bundle = bundles.get(name);
  if (!bundle) {
    bundle = (async () => {
      mkdirSync(join(root, '.run'), { recursive: true });
      removeStaleBundles();
      const dir = join(root, '.run', `child-${process.pid}-${name}`);
      mkdirSync(dir, { recursive: true });
      const outfile = join(dir, 'main.mjs');
      await bundleTs(join(root, 'test/children', `${name}.ts`), outfile);
      return outfile;
    })();
    bundles.set(name, bundle);
  }
  return bundle;
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The `RESULT <json>` lines, parsed. */
  results: unknown[];
  /** Killed by the timeout. */
  timedOut: boolean;
}

export interface ChildOptions {
  timeoutMs: number;
  /** Called for every stdout line as it arrives (e.g. to kill the child at a chosen moment). */
  onLine?: (line: string, child: ChildProcess) => void;
  env?: Record<string, string>;
}

/** Runs a bundled child script to its end (or kills it with SIGKILL at the timeout). */
export function runChild(script: string, args: readonly string[], options: ChildOptions): Promise<ChildRun> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: root, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    let timedOut = false;
    const results: unknown[] = [];
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('RESULT ')) results.push(JSON.parse(line.slice(7)));
        options.onLine?.(line, child);
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, results, timedOut });
    });
  });
}
