/**
 * Loading progress, shaped like transformers.js's events so UIs written for it work unchanged:
 * 'initiate' when a file starts, 'progress' as its bytes arrive, 'done' when it is complete, and
 * one 'ready' when the whole model is loaded. `progress` is a percentage (0-100); `total` is 0
 * when the size is unknown (a response without Content-Length).
 */
export interface ProgressInfo {
  status: 'initiate' | 'progress' | 'done' | 'ready';
  /** The model: a folder path or URL. */
  name: string;
  /** The file within it (for 'ready': the model again). */
  file: string;
  loaded: number;
  total: number;
  progress: number;
}

export type ProgressCallback = (info: ProgressInfo) => void;

/** Reports one file's progress; 'progress' events are limited to one per `step` percent (and the last). */
export class FileProgress {
  private lastPercent = -Infinity;
  loaded = 0;

  constructor(
    private readonly callback: ProgressCallback | undefined,
    readonly name: string,
    readonly file: string,
    public total = 0,
    private readonly step = 0.5,
  ) {}

  private emit(status: ProgressInfo['status']): void {
    const total = this.total;
    const progress = total > 0 ? Math.min(100, (100 * this.loaded) / total) : status === 'done' ? 100 : 0;
    this.callback?.({ status, name: this.name, file: this.file, loaded: this.loaded, total, progress });
  }

  initiate(): void {
    this.emit('initiate');
  }

  update(loaded: number, total?: number): void {
    this.loaded = loaded;
    if (total !== undefined) this.total = total;
    const percent = this.total > 0 ? (100 * loaded) / this.total : 0;
    if (percent - this.lastPercent >= this.step || (this.total > 0 && loaded >= this.total)) {
      this.lastPercent = percent;
      this.emit('progress');
    }
  }

  done(): void {
    if (this.total === 0) this.total = this.loaded;
    this.emit('done');
  }
}
