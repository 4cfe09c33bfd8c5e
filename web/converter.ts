// The page's side of a conversion: starts the worker, turns its progress into bytes, rate and
// time left, and cancels by stopping the worker and removing what it was writing.
import type { ConvertRequest, WorkerMessage } from './convert-protocol.js';
import { partialName, removePartial } from './storage.js';

export interface ConversionProgress {
  phase: 'reading' | 'writing';
  file: string;
  loaded: number;
  total: number;
  /** Seconds left in this phase at the rate so far (null until there is a rate). */
  secondsLeft: number | null;
}

/** A failure the worker reported: the library's error class name and its message. */
export class ConversionError extends Error {
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(message);
    this.name = errorName;
  }
}

export class ConversionCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'ConversionCancelled';
  }
}

export interface Conversion {
  /** The stored model's name. */
  done: Promise<string>;
  /** Stops the worker and removes its partial output; `done` rejects with ConversionCancelled. */
  cancel(): Promise<void>;
}

export function startConversion(request: Omit<ConvertRequest, 'partial'>, onProgress: (p: ConversionProgress) => void): Conversion {
  const worker = new Worker(new URL('convert-worker.js', import.meta.url), { type: 'module', name: 'maskgit-convert' });
  const partial = partialName();
  let phaseStart = { phase: '', file: '', time: 0, loaded: 0 };
  let settle: { resolve(name: string): void; reject(error: Error): void } | null = null;
  const done = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  const finish = (result: { name: string } | { error: Error }) => {
    const s = settle;
    settle = null;
    worker.terminate();
    if (!s) return;
    if ('name' in result) s.resolve(result.name);
    else s.reject(result.error);
  };
  worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
    const m = event.data;
    if (m.type === 'progress') {
      const now = performance.now();
      if (m.phase !== phaseStart.phase || m.file !== phaseStart.file) phaseStart = { phase: m.phase, file: m.file, time: now, loaded: m.loaded };
      const seconds = (now - phaseStart.time) / 1000;
      const rate = seconds > 0.5 ? (m.loaded - phaseStart.loaded) / seconds : 0;
      onProgress({ phase: m.phase, file: m.file, loaded: m.loaded, total: m.total, secondsLeft: rate > 0 ? (m.total - m.loaded) / rate : null });
    } else if (m.type === 'done') finish({ name: m.name });
    else finish({ error: new ConversionError(m.name, m.message) });
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    finish({ error: new Error(`the converter stopped: ${event.message || 'its script could not run'}`) });
  };
  worker.postMessage({ ...request, partial } satisfies ConvertRequest);
  return {
    done,
    async cancel() {
      if (!settle) return;
      finish({ error: new ConversionCancelled() });
      // The terminated worker releases its file handles shortly after; then its folder can go.
      await removePartial(partial);
    },
  };
}

/** "12.3 of 690.1 MB, 1 min 5 s left" */
export function describeProgress(p: ConversionProgress): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  const left = p.secondsLeft === null ? '' : `, ${formatSeconds(p.secondsLeft)} left`;
  const verb = p.phase === 'reading' ? 'Reading' : 'Writing';
  return `${verb} ${p.file}: ${mb(p.loaded)} of ${mb(p.total)} MB${left}`;
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}
