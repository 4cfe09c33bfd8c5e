// The demo page: MaskGIT generating and editing images in a browser tab, on WebGPU.
// Everything runs here: the model is fetched (and cached with the Cache API) or converted from
// the official checkpoints the user drops (in a worker, kept in the Origin Private File System
// for the next visit), and the transformer and the VQGAN decoder run as WGSL kernels through
// @maskgit/core's browser entry.
import {
  createEngine,
  editBox,
  generate,
  inpaint,
  loadMaskGIT,
  outpaint,
  randomStream,
  rgbaToRGBFloat,
  rgbFloatToRGBA,
  shadeMasked,
  type EditResult,
  type Engine,
  type GenerateProgress,
  type LoadedMaskGIT,
  type MaskSchedule,
  type ModelLocation,
  type ProgressInfo,
  type RGBAImage,
  type SamplingOptions,
} from '../src/browser.js';
import { ClassPicker } from './class-picker.js';
import { ConversionCancelled, describeProgress, startConversion, type Conversion } from './converter.js';
import { BrushMask, BoxTool, type Box } from './editor.js';
import {
  forgetAllStoredModels,
  forgetStoredModel,
  listStoredModels,
  removeLeftovers,
  storageAvailable,
  storageEstimate,
  storedFileDigest,
  storedModelSource,
  type StoredModel,
} from './storage.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const BUNDLED_MODEL = 'models/emoji-32/';
/** localStorage key: the stored model last loaded, loaded again on the next visit. */
const LAST_MODEL_KEY = 'maskgit.storedModel';

const status = $<HTMLParagraphElement>('status');
const loadBar = $<HTMLProgressElement>('load-progress');
const imageCanvas = $<HTMLCanvasElement>('image');
const overlay = $<HTMLCanvasElement>('overlay');
const stepsStrip = $<HTMLDivElement>('steps');
const resultInfo = $<HTMLParagraphElement>('result-info');
const buttons = ['generate', 'inpaint', 'outpaint', 'edit'].map((id) => $<HTMLButtonElement>(id));

/** What the page shows and edits: the current image and, when generated, its tokens. */
interface Current {
  image: RGBAImage;
  tokens: Int32Array | null;
  classLabel: number | null;
}

/** What happened to the page's model, in order (the browser tests follow it). */
export type ModelEvent =
  | { kind: 'loaded'; name: string; from: 'url' | 'storage' }
  | { kind: 'converted'; name: string }
  | { kind: 'cancelled' }
  | { kind: 'error'; errorName: string; message: string };

/** Test and console access: the browser test drives the page through this. */
export interface MaskGITApp {
  ready: Promise<void>;
  engine?: Engine;
  model?: LoadedMaskGIT;
  current?: Current;
  runGenerate(overrides?: Partial<GenerateRequest>): Promise<{ tokens: number[]; seconds: number }>;
  /** The image canvas's pixels (RGBA, at the model's resolution). */
  canvasPixels(): number[];
  /** Raw Philox bits from the GPU (the decode's random stream), to compare with other runtimes. */
  randomBits(seed: number, purpose: number, positions: number, length: number): Promise<number[]>;
  /** The tokens of an RGBA image (any multiple of the tokenizer's factor), through the model's encoder. */
  encode(image: { width: number; height: number; data: number[] }): Promise<number[]>;
  /** What the last inpaint / edit / outpaint kept and regenerated, token by token (image 0). */
  lastEdit?: EditRecord;
  /** Model events: loads, conversions, cancellations and errors, in order. */
  modelEvents: ModelEvent[];
  /** The conversion running, if any. */
  conversion: Conversion | null;
  /**
   * Converts or imports model files (as dropping them does); resolves when the model is loaded
   * or the attempt failed. `testDelayMs` pauses after each tensor written (tests stop a conversion midway).
   */
  addModelFiles(files: File[], folder?: string, testDelayMs?: number): Promise<void>;
  storedModels(): Promise<StoredModel[]>;
  /** SHA-256 (hex) of a stored model's file. */
  storedDigest(name: string, file: string): Promise<string>;
  /** One transformer forward on a fully masked sequence (for memory measurements): its logits' first values. */
  forward(): Promise<number[]>;
  error?: string;
}

/** The token record of one edit through the page, for tests and the console. */
export interface EditRecord {
  kind: 'inpaint' | 'edit' | 'outpaint';
  /** The image edited (RGBA) and, for inpaint, the painted pixel mask; for edit, the box. */
  source: { width: number; height: number; data: number[] };
  pixelMask?: number[];
  box?: Box;
  /** Inpaint and edit: the source's tokens, the regenerated ones (1), the result's tokens, the pixel blend weights. */
  inputTokens?: number[];
  tokenMask?: number[];
  tokens?: number[];
  blendMask?: number[];
  /** Outpaint: per window, where it lies in the output and its tokens before and after decoding. */
  windows?: { box: Box; tokenMask: number[]; inputTokens: number[]; tokens: number[] }[];
}

interface GenerateRequest extends SamplingOptions {
  classLabel: number;
}

declare global {
  interface Window {
    maskgitApp: MaskGITApp;
  }
}

function adapterName(engine: Engine): string {
  const { vendor, architecture, description } = engine.info;
  return description || [vendor, architecture].filter(Boolean).join(' ') || 'WebGPU';
}

function setStatus(text: string): void {
  status.textContent = text;
}

function busy(on: boolean): void {
  for (const b of buttons) b.disabled = on;
}

function drawImage(canvas: HTMLCanvasElement, image: RGBAImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d')!;
  ctx.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
}

function numberInput(id: string): number {
  return Number($<HTMLInputElement>(id).value);
}

function sampling(): SamplingOptions {
  const guidance = numberInput('guidance');
  return {
    seed: numberInput('seed'),
    steps: numberInput('steps-count'),
    schedule: $<HTMLSelectElement>('schedule').value as MaskSchedule,
    sampleTemperature: numberInput('sample-temperature'),
    choiceTemperature: numberInput('choice-temperature'),
    ...(guidance > 0 ? { guidance } : {}),
  };
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** Turns any image file into RGBA at the model's resolution (drawn scaled into a canvas). */
async function fileToImage(file: File, size: number): Promise<RGBAImage> {
  const bitmap = await createImageBitmap(file);
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, size, size);
  ctx.drawImage(bitmap, 0, 0, size, size);
  const data = ctx.getImageData(0, 0, size, size).data;
  return { width: size, height: size, data: new Uint8Array(data.buffer.slice(0)) };
}

/** One image's tokens through the VQGAN decoder (masked positions decode to a clamped code; shade them after). */
async function decodeTokensToPixels(model: LoadedMaskGIT, tokens: Int32Array): Promise<Float32Array> {
  const input = model.engine.tensor(tokens, [1, tokens.length], 'i32');
  const pixels = model.tokenizer.decode(input);
  input.dispose();
  try {
    return Float32Array.from(await pixels.read());
  } finally {
    pixels.dispose();
  }
}

/** An image as plain arrays (what page.evaluate can return). */
function plain(image: RGBAImage): EditRecord['source'] {
  return { width: image.width, height: image.height, data: [...image.data] };
}

/** The token fields of an inpaint or edit result, image 0. */
function editTokens(result: EditResult): Pick<EditRecord, 'inputTokens' | 'tokenMask' | 'tokens' | 'blendMask'> {
  return { inputTokens: [...result.inputTokens], tokenMask: [...result.tokenMask], tokens: [...result.tokens[0]!], blendMask: [...result.blendMask] };
}

/** Files of a drop: plain files, or the files of one dropped folder (with its name). */
async function droppedFiles(data: DataTransfer): Promise<{ files: File[]; folder?: string }> {
  const entries = [...data.items].map((item) => item.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  const directory = entries.length === 1 && entries[0]!.isDirectory ? (entries[0] as FileSystemDirectoryEntry) : null;
  if (!directory) return { files: [...data.files] };
  const children = await new Promise<FileSystemEntry[]>((resolve, reject) => directory.createReader().readEntries(resolve, reject));
  const files = await Promise.all(
    children.filter((e) => e.isFile).map((e) => new Promise<File>((resolve, reject) => (e as FileSystemFileEntry).file(resolve, reject))),
  );
  return { files, folder: directory.name };
}

async function main(app: MaskGITApp): Promise<void> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  const adapter = gpu ? await gpu.requestAdapter() : null;
  if (!adapter) {
    $('no-webgpu').hidden = false;
    $('no-webgpu-detail').textContent = gpu ? 'navigator.gpu exists but no adapter was found (is WebGPU disabled or blocklisted?).' : 'navigator.gpu is missing.';
    setStatus('WebGPU is not available in this browser.');
    throw new Error('no WebGPU');
  }
  setStatus('Starting WebGPU…');
  const engine = await createEngine();
  app.engine = engine;
  let model: LoadedMaskGIT | null = null;
  const requireModel = (): LoadedMaskGIT => {
    if (!model) throw new Error('no model is loaded: add one under Model');
    return model;
  };
  const classPicker = new ClassPicker($('class'), $('class-search'));
  const targetPicker = new ClassPicker($('target-class'), $('target-class-search'));

  // GPU work one job at a time: a model is never swapped under a running generation.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(job: () => Promise<T>): Promise<T> => {
    const run = queue.then(job, job);
    queue = run.catch(() => undefined);
    return run;
  };

  let side = 32;
  const brush = new BrushMask(overlay, side);
  const boxTool = new BoxTool(overlay, side);
  const tool = () => (document.querySelector<HTMLInputElement>('input[name="tool"]:checked')?.value ?? 'mask') as 'mask' | 'box';
  overlay.addEventListener('pointerdown', (e) => (tool() === 'mask' ? brush : boxTool).pointerDown(e, numberInput('brush')));
  overlay.addEventListener('pointermove', (e) => (tool() === 'mask' ? brush : boxTool).pointerMove(e, numberInput('brush')));
  window.addEventListener('pointerup', () => {
    brush.pointerUp();
    boxTool.pointerUp();
  });
  $('clear-mask').addEventListener('click', () => {
    brush.clear();
    boxTool.clear();
  });

  const show = (current: Current) => {
    app.current = current;
    drawImage(imageCanvas, current.image);
    // Outpainted images are not square: keep their proportions on screen.
    imageCanvas.parentElement!.style.aspectRatio = `${current.image.width} / ${current.image.height}`;
    brush.resize(current.image.width, current.image.height);
    boxTool.resize(current.image.width, current.image.height);
  };

  /** The controls for a newly loaded model: its classes, and tools scaled to its image size. */
  const useModel = (loaded: LoadedMaskGIT, description: string) => {
    model = loaded;
    app.model = loaded;
    const c = loaded.config;
    side = c.imageSize;
    classPicker.setClasses(c);
    targetPicker.setClasses(c);
    // Guidance needs the null class; 4 suits the bundled model (its samples' class consistency: 35% -> 65% top-1).
    const guidance = $<HTMLInputElement>('guidance');
    guidance.disabled = c.nullClassId === null;
    if (guidance.disabled) guidance.value = '0';
    // Brush and outpaint widths in proportion to the image (the defaults suit 32 px).
    const scale = Math.max(1, side / 32);
    const brushInput = $<HTMLInputElement>('brush');
    brushInput.max = String(12 * scale);
    brushInput.value = String(4 * scale);
    $<HTMLInputElement>('amount').value = String(side / 2);
    app.current = undefined;
    stepsStrip.replaceChildren();
    resultInfo.textContent = '';
    drawImage(imageCanvas, { width: side, height: side, data: new Uint8Array(side * side * 4) });
    imageCanvas.parentElement!.style.aspectRatio = '1 / 1';
    brush.resize(side, side);
    boxTool.resize(side, side);
    $('model-name').textContent =
      `${description}: ${side} px, ${c.numClasses} classes, ${c.transformer.numLayers} layers x ${c.transformer.hiddenSize}, ` +
      `weights ${c.dtype} in the file, ${loaded.dtype} on the GPU${loaded.dtype === 'f32' && c.dtype === 'f16' ? ' (this adapter has no shader-f16)' : ''}`;
  };

  /** Loads a model in place of the current one (freed first: two official models would not fit some GPUs). */
  const loadModel = (location: ModelLocation, description: string, from: 'url' | 'storage') =>
    exclusive(async () => {
      busy(true);
      loadBar.hidden = false;
      setStatus(`Loading ${description}…`);
      try {
        if (model) {
          model.dispose();
          model = null;
          app.model = undefined;
        }
        const loaded = await loadMaskGIT(engine, location, {
          onProgress(e: ProgressInfo) {
            if (e.status === 'progress' && e.total) {
              loadBar.value = e.progress ?? (100 * e.loaded) / e.total;
              setStatus(`Loading ${e.file}: ${mb(e.loaded)} / ${mb(e.total)}`);
            }
          },
        });
        useModel(loaded, description);
        app.modelEvents.push({ kind: 'loaded', name: description, from });
        setStatus(
          `Ready on ${adapterName(engine)} (${engine.info.features.join(', ')}): ${description}` +
            `${from === 'storage' ? " from this browser's storage" : ''}. Pick a class and press Generate.`,
        );
      } finally {
        loadBar.hidden = true;
        busy(false);
      }
    });

  // ---------------------------------------------------------------- stored models and conversion

  const modelError = $<HTMLParagraphElement>('model-error');
  const convertBar = $<HTMLProgressElement>('convert-progress');
  const convertStatus = $<HTMLSpanElement>('convert-status');
  const cancelButton = $<HTMLButtonElement>('convert-cancel');
  const showError = (error: unknown) => {
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : String(error);
    // One line, as the command line prints it.
    modelError.textContent = `${name}: ${message.replace(/\s*\n\s*/g, ' ')}`;
    modelError.hidden = false;
    app.modelEvents.push({ kind: 'error', errorName: name, message });
  };

  const refreshStored = async () => {
    const list = $<HTMLUListElement>('stored-models');
    if (!storageAvailable()) {
      list.replaceChildren();
      $('storage-usage').textContent = 'This browser has no Origin Private File System: converted models cannot be kept.';
      return;
    }
    const stored = await listStoredModels();
    list.replaceChildren(
      ...stored.map((s) => {
        const item = document.createElement('li');
        const c = s.config;
        const text = document.createElement('span');
        text.textContent = `${s.name}: ${c.imageSize} px, ${c.numClasses} classes, ${c.dtype}, ${mb(s.bytes)}`;
        const load = document.createElement('button');
        load.type = 'button';
        load.textContent = 'Load';
        load.addEventListener('click', () => void loadStored(s.name).catch(showError));
        const forget = document.createElement('button');
        forget.type = 'button';
        forget.textContent = 'Forget';
        forget.className = 'secondary';
        forget.addEventListener('click', () =>
          void (async () => {
            await forgetStoredModel(s.name);
            if (localStorage.getItem(LAST_MODEL_KEY) === s.name) localStorage.removeItem(LAST_MODEL_KEY);
            await refreshStored();
          })().catch(showError),
        );
        item.append(text, load, forget);
        item.dataset.name = s.name;
        return item;
      }),
    );
    const total = stored.reduce((n, s) => n + s.bytes, 0);
    const estimate = await storageEstimate();
    $('storage-usage').textContent =
      `Stored models: ${stored.length ? mb(total) : 'none'}.` +
      (estimate ? ` This site uses ${mb(estimate.usage)} of ${mb(estimate.quota)} available to it (the browser's estimate).` : '');
    $<HTMLButtonElement>('forget-all').disabled = stored.length === 0 && (estimate?.usage ?? 0) === 0;
  };

  const loadStored = async (name: string) => {
    await loadModel(storedModelSource(name), name, 'storage');
    localStorage.setItem(LAST_MODEL_KEY, name);
  };

  app.addModelFiles = async (files, folder, testDelayMs) => {
    modelError.hidden = true;
    if (app.conversion) {
      showError(new Error('a conversion is running: wait for it or cancel it first'));
      return;
    }
    if (files.length === 0) return;
    const choice = $<HTMLSelectElement>('convert-dtype').value;
    const dtype = choice === 'f32' || choice === 'f16' ? choice : engine.hasF16 ? 'f16' : 'f32';
    convertBar.hidden = false;
    convertBar.removeAttribute('value');
    cancelButton.hidden = false;
    convertStatus.textContent = `Starting: ${files.map((f) => f.name).join(', ')}`;
    const conversion = startConversion({ files, dtype, ...(folder ? { folder } : {}), ...(testDelayMs ? { delayMsPerTensor: testDelayMs } : {}) }, (p) => {
      convertBar.value = p.total ? (100 * p.loaded) / p.total : 0;
      convertBar.max = 100;
      convertStatus.textContent = describeProgress(p);
    });
    app.conversion = conversion;
    try {
      const name = await conversion.done;
      app.modelEvents.push({ kind: 'converted', name });
      convertStatus.textContent = `Stored as ${name}.`;
      await refreshStored();
      await loadStored(name);
    } catch (error) {
      if (error instanceof ConversionCancelled) {
        convertStatus.textContent = 'Cancelled; nothing was kept.';
        app.modelEvents.push({ kind: 'cancelled' });
      } else {
        convertStatus.textContent = '';
        showError(error);
      }
      await refreshStored().catch(() => undefined);
    } finally {
      app.conversion = null;
      convertBar.hidden = true;
      cancelButton.hidden = true;
    }
  };
  cancelButton.addEventListener('click', () => void app.conversion?.cancel().catch(showError));
  $<HTMLButtonElement>('forget-all').addEventListener('click', () =>
    void (async () => {
      await forgetAllStoredModels();
      // The Cache API's copy of fetched models (the bundled one) is the rest of this site's storage.
      if (typeof caches !== 'undefined') await caches.delete('maskgit-models');
      localStorage.removeItem(LAST_MODEL_KEY);
      await refreshStored();
    })().catch(showError),
  );
  const pick = (input: HTMLInputElement, folder: boolean) =>
    input.addEventListener('change', () => {
      const files = [...(input.files ?? [])];
      input.value = '';
      const name = folder ? files[0]?.webkitRelativePath.split('/')[0] : undefined;
      void app.addModelFiles(files, name);
    });
  pick($('model-files'), false);
  pick($('model-folder'), true);
  const drop = $('model-drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (!e.dataTransfer) return;
    void droppedFiles(e.dataTransfer)
      .then(({ files, folder }) => app.addModelFiles(files, folder))
      .catch(showError);
  });
  app.storedModels = listStoredModels;
  app.storedDigest = storedFileDigest;

  // ---------------------------------------------------------------- generating and editing

  /** Draws each step as it arrives: known tokens decoded, the still-masked ones shaded. */
  const stepFrames = (m: LoadedMaskGIT) => {
    stepsStrip.replaceChildren();
    if (!$<HTMLInputElement>('sketch').checked) {
      return (p: GenerateProgress) => setStatus(`Decoding: step ${p.step} of ${p.steps}${p.windows ? ` (window ${p.window} of ${p.windows})` : ''}`);
    }
    let drawing = Promise.resolve();
    const onProgress = (p: GenerateProgress) => {
      setStatus(`Decoding: step ${p.step} of ${p.steps}${p.windows ? ` (window ${p.window} of ${p.windows})` : ''}`);
      const tokens = p.tokens?.[0];
      if (!tokens) return;
      drawing = drawing.then(async () => {
        const s = m.config.imageSize;
        const sketch = shadeMasked(rgbFloatToRGBA(await decodeTokensToPixels(m, tokens), s, s), tokens, m.config.maskTokenId);
        drawImage(imageCanvas, sketch);
        const thumb = document.createElement('canvas');
        drawImage(thumb, sketch);
        thumb.title = `step ${p.step}`;
        stepsStrip.append(thumb);
      });
      return drawing;
    };
    return onProgress;
  };

  const run = (what: string, work: (m: LoadedMaskGIT) => Promise<void>) =>
    exclusive(async () => {
      busy(true);
      const t0 = performance.now();
      try {
        await work(requireModel());
        const seconds = (performance.now() - t0) / 1000;
        setStatus(`${what} in ${seconds.toFixed(1)} s on ${adapterName(engine)}.`);
        return seconds;
      } catch (error) {
        setStatus(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
        throw error;
      } finally {
        busy(false);
      }
    });

  app.runGenerate = async (overrides = {}) => {
    const request: GenerateRequest = { ...sampling(), classLabel: classPicker.value, ...overrides };
    // Show what runs (the browser test passes its request here).
    classPicker.value = request.classLabel;
    if (request.seed !== undefined) $<HTMLInputElement>('seed').value = String(request.seed);
    if (request.steps !== undefined) $<HTMLInputElement>('steps-count').value = String(request.steps);
    let tokens: Int32Array = new Int32Array(0);
    const seconds = await run('Generated', async (m) => {
      const { classLabel, ...options } = request;
      const sketch = $<HTMLInputElement>('sketch').checked;
      const result = await generate(m, { ...options, classes: classLabel, frames: sketch, onProgress: stepFrames(m) });
      tokens = result.tokens[0]!;
      show({ image: result.images[0]!, tokens, classLabel });
      resultInfo.textContent = `class ${classLabel}, seed ${request.seed ?? 0}, ${request.steps ?? 8} steps (${request.schedule ?? 'cosine'})`;
    });
    return { tokens: [...tokens], seconds };
  };

  app.forward = () =>
    exclusive(async () => {
      const m = requireModel();
      const c = m.config;
      const ids = new Int32Array(c.transformer.maxPositions).fill(c.maskTokenId);
      ids[0] = c.codebookSize; // class 0, first
      const tokens = engine.tensor(ids, [1, ids.length], 'i32');
      const logits = engine.tidy(() => m.transformer.forward(tokens, { logitsColumns: c.codebookSize }));
      tokens.dispose();
      try {
        return [...(await logits.read()).slice(0, 8)];
      } finally {
        logits.dispose();
      }
    });

  const requireImage = (): Current => {
    if (!app.current) throw new Error('generate or upload an image first');
    return app.current;
  };

  $('generate').addEventListener('click', () => void app.runGenerate().catch(() => {}));
  $('upload').addEventListener('change', async (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) show({ image: await fileToImage(file, side), tokens: null, classLabel: null });
  });
  $('inpaint').addEventListener('click', () =>
    void run('Inpainted', async (m) => {
      const current = requireImage();
      const mask = brush.mask();
      if (!mask.some((v) => v)) throw new Error('paint a mask over the part to regenerate');
      const { width, height } = current.image;
      const result = await inpaint(m, current.image, { width, height, data: mask }, { ...sampling(), class: classPicker.value, onProgress: stepFrames(m) });
      app.lastEdit = { kind: 'inpaint', source: plain(current.image), pixelMask: [...mask], ...editTokens(result) };
      brush.clear();
      show({ image: result.images[0]!, tokens: result.tokens[0]!, classLabel: null });
    }).catch(() => {}),
  );
  $('outpaint').addEventListener('click', () =>
    void run('Outpainted', async (m) => {
      const current = requireImage();
      const side = $<HTMLSelectElement>('side').value as 'left' | 'right' | 'top' | 'bottom';
      const result = await outpaint(m, current.image, { ...sampling(), side, amount: numberInput('amount'), class: classPicker.value, onProgress: stepFrames(m) });
      const windows = result.windows.map((w) => ({ box: { ...w.box }, tokenMask: [...w.tokenMask], inputTokens: [...w.inputTokens[0]!], tokens: [...w.tokens[0]!] }));
      app.lastEdit = { kind: 'outpaint', source: plain(current.image), windows };
      show({ image: result.images[0]!, tokens: null, classLabel: null });
    }).catch(() => {}),
  );
  $('edit').addEventListener('click', () =>
    void run('Edited', async (m) => {
      const current = requireImage();
      const box: Box | null = boxTool.box();
      if (!box) throw new Error('draw a box over the region to change');
      const result = await editBox(m, current.image, box, targetPicker.value, { ...sampling(), onProgress: stepFrames(m) });
      app.lastEdit = { kind: 'edit', source: plain(current.image), box: { ...box }, ...editTokens(result) };
      boxTool.clear();
      show({ image: result.images[0]!, tokens: result.tokens[0]!, classLabel: null });
    }).catch(() => {}),
  );

  app.randomBits = async (seed, purpose, positions, length) => {
    const seeds = engine.tensor([seed], [1], 'u32');
    const bits = randomStream(seeds, 'bits', { purpose, step: 0, positions, length });
    seeds.dispose();
    try {
      return [...(await bits.read())];
    } finally {
      bits.dispose();
    }
  };
  app.encode = async ({ width, height, data }) => {
    const { tokenizer } = requireModel();
    const pixels = engine.tensor(rgbaToRGBFloat({ width, height, data: Uint8Array.from(data) }), [1, height, width, 3]);
    const tokens = tokenizer.encode(pixels);
    pixels.dispose();
    try {
      return [...(await tokens.read())];
    } finally {
      tokens.dispose();
    }
  };
  app.canvasPixels = () => [...imageCanvas.getContext('2d')!.getImageData(0, 0, imageCanvas.width, imageCanvas.height).data];
  $('app').hidden = false;

  // The first model: ?model=<url>, else the stored model last loaded, else the bundled one.
  await removeLeftovers().catch(() => undefined);
  await refreshStored().catch(() => undefined);
  const last = localStorage.getItem(LAST_MODEL_KEY);
  const stored = !params.has('model') && last && (await listStoredModels().catch(() => [])).some((s) => s.name === last);
  if (stored) await loadStored(last);
  else {
    const url = new URL(params.get('model') ?? BUNDLED_MODEL, location.href);
    await loadModel(url, url.pathname, 'url');
  }
}

const app: MaskGITApp = {
  ready: Promise.resolve(),
  runGenerate: () => Promise.reject(new Error('not ready')),
  canvasPixels: () => [],
  randomBits: () => Promise.reject(new Error('not ready')),
  encode: () => Promise.reject(new Error('not ready')),
  modelEvents: [],
  conversion: null,
  addModelFiles: () => Promise.reject(new Error('not ready')),
  storedModels: () => Promise.resolve([]),
  storedDigest: () => Promise.reject(new Error('not ready')),
  forward: () => Promise.reject(new Error('not ready')),
};
window.maskgitApp = app;
app.ready = main(app).catch((error: unknown) => {
  app.error = error instanceof Error ? error.message : String(error);
  if (app.error !== 'no WebGPU') setStatus(`Could not start: ${app.error}`);
  throw error;
});
