import { SingleBar } from 'cli-progress';
import { basename } from 'node:path';
import type { ProgressCallback } from '../io/progress.js';
import type { Output } from './output.js';

/** Progress on stderr: a bar per file on a terminal, a line per file otherwise. */
export function progressReporter(out: Output, verb: string): { onProgress: ProgressCallback; stop(): void } {
  if (out.quiet || out.json) return { onProgress: () => undefined, stop: () => undefined };
  let bar: SingleBar | null = null;
  const tty = process.stderr.isTTY === true;
  return {
    onProgress: (p) => {
      const mb = (n: number) => (n / 2 ** 20).toFixed(1);
      if (p.status === 'initiate') {
        if (tty) {
          bar = new SingleBar({ format: `${verb} {file} [{bar}] {percentage}% {mb}/{totalMb} MiB`, stream: process.stderr, hideCursor: true });
          bar.start(100, 0, { file: basename(p.file), mb: '0.0', totalMb: mb(p.total) });
        }
      } else if (p.status === 'progress') {
        bar?.update(Math.floor(p.progress), { mb: mb(p.loaded), totalMb: mb(p.total) });
      } else if (p.status === 'done') {
        if (bar) {
          bar.update(100, { mb: mb(p.loaded), totalMb: mb(p.total) });
          bar.stop();
          bar = null;
        } else process.stderr.write(`${verb} ${p.file}: ${mb(p.loaded)} MiB\n`);
      }
    },
    stop: () => {
      (bar as SingleBar | null)?.stop();
      bar = null;
    },
  };
}

/**
 * A bar for decode steps on stderr (on a terminal; nothing otherwise, nor with --quiet or
 * --json). `update(step, steps)` moves it; `stop()` ends it.
 */
export function stepBar(out: Output, label: string): { update(step: number, steps: number, detail?: string): void; stop(): void } {
  if (out.quiet || out.json || process.stderr.isTTY !== true) return { update: () => undefined, stop: () => undefined };
  let bar: SingleBar | null = null;
  return {
    update(step, steps, detail = '') {
      if (!bar) {
        bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} steps{detail}`, stream: process.stderr, hideCursor: true });
        bar.start(steps, 0, { detail });
      }
      bar.setTotal(steps);
      bar.update(step, { detail });
    },
    stop() {
      (bar as SingleBar | null)?.stop();
      bar = null;
    },
  };
}

/** What a training command shows: a bar on a terminal, lines otherwise (stderr). */
export interface TrainingProgress {
  /** Prints `line`, then starts the bar at `step` of `until` with its values. */
  start(line: string, step: number, until: number, values: Record<string, string>): void;
  /** Moves the bar to `step` with new values; without a bar prints `line` instead. */
  log(step: number, values: Record<string, string>, line: string): void;
  /** A line for when there is no bar (evaluations, checkpoints, samples). */
  note(line: string): void;
  stop(): void;
}

/** The progress of a training run; `format` is the bar's cli-progress format. */
export function trainingProgress(out: Output, format: string): TrainingProgress {
  const tty = process.stderr.isTTY === true;
  let bar: SingleBar | null = null;
  return {
    start(line, step, until, values) {
      out.info(line);
      if (!tty) return;
      bar = new SingleBar({ format, stream: process.stderr, hideCursor: true, etaBuffer: 50 });
      bar.start(until, step, values);
    },
    log(step, values, line) {
      if (bar) bar.update(step, values);
      else out.info(line);
    },
    note(line) {
      if (!bar) out.info(line);
    },
    stop() {
      (bar as SingleBar | null)?.stop();
      bar = null;
    },
  };
}
