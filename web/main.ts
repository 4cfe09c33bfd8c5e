// The demo page: MaskGIT generating and editing images in a browser tab, on WebGPU.
// Everything runs here: the model is fetched (and cached with the Cache API), the transformer
// and the VQGAN decoder run as WGSL kernels through @maskgit/core's browser entry.
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
  type ProgressInfo,
  type RGBAImage,
  type SamplingOptions,
} from '../src/browser.js';
import { BrushMask, BoxTool, type Box } from './editor.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const modelUrl = new URL(params.get('model') ?? 'models/emoji-32/', location.href);

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

function fillClasses(model: LoadedMaskGIT): void {
  const names = model.config.classNames ?? [];
  for (const id of ['class', 'target-class']) {
    const select = $<HTMLSelectElement>(id);
    select.replaceChildren();
    for (let c = 0; c < model.config.numClasses; c++) {
      if (c === model.config.nullClassId) continue; // the "no class" of guidance is not a choice
      select.append(new Option(names[c] ? `${c}: ${names[c]}` : `class ${c}`, String(c)));
    }
  }
  // Guidance needs the null class; 4 suits the bundled model (its samples' class consistency: 35% -> 65% top-1).
  const guidance = $<HTMLInputElement>('guidance');
  guidance.disabled = model.config.nullClassId === null;
  if (guidance.disabled) guidance.value = '0';
}

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
  setStatus(`Loading the model from ${modelUrl.pathname}…`);
  loadBar.hidden = false;
  const model = await loadMaskGIT(engine, modelUrl, {
    onProgress(e: ProgressInfo) {
      if (e.status === 'progress' && e.total) {
        loadBar.value = e.progress ?? (100 * e.loaded) / e.total;
        setStatus(`Loading ${e.file}: ${(e.loaded / 1e6).toFixed(1)} / ${(e.total / 1e6).toFixed(1)} MB`);
      }
    },
  });
  loadBar.hidden = true;
  app.model = model;
  fillClasses(model);
  const side = model.config.imageSize;
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

  /** Draws each step as it arrives: known tokens decoded, the still-masked ones shaded. */
  const stepFrames = () => {
    stepsStrip.replaceChildren();
    let drawing = Promise.resolve();
    const onProgress = (p: GenerateProgress) => {
      setStatus(`Decoding: step ${p.step} of ${p.steps}${p.windows ? ` (window ${p.window} of ${p.windows})` : ''}`);
      const tokens = p.tokens?.[0];
      if (!tokens) return;
      drawing = drawing.then(async () => {
        const sketch = shadeMasked(rgbFloatToRGBA(await decodeTokensToPixels(model, tokens), side, side), tokens, model.config.maskTokenId);
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

  const run = async (what: string, work: () => Promise<void>) => {
    busy(true);
    const t0 = performance.now();
    try {
      await work();
      const seconds = (performance.now() - t0) / 1000;
      setStatus(`${what} in ${seconds.toFixed(1)} s on ${adapterName(engine)}.`);
      return seconds;
    } catch (error) {
      setStatus(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    } finally {
      busy(false);
    }
  };

  app.runGenerate = async (overrides = {}) => {
    const request: GenerateRequest = { ...sampling(), classLabel: Number($<HTMLSelectElement>('class').value), ...overrides };
    // Show what runs (the browser test passes its request here).
    $<HTMLSelectElement>('class').value = String(request.classLabel);
    if (request.seed !== undefined) $<HTMLInputElement>('seed').value = String(request.seed);
    if (request.steps !== undefined) $<HTMLInputElement>('steps-count').value = String(request.steps);
    let tokens: Int32Array = new Int32Array(0);
    const seconds = await run('Generated', async () => {
      const { classLabel, ...options } = request;
      const result = await generate(model, { ...options, classes: classLabel, frames: true, onProgress: stepFrames() });
      tokens = result.tokens[0]!;
      show({ image: result.images[0]!, tokens, classLabel });
      resultInfo.textContent = `class ${classLabel}, seed ${request.seed ?? 0}, ${request.steps ?? 8} steps (${request.schedule ?? 'cosine'})`;
    });
    return { tokens: [...tokens], seconds };
  };

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
    void run('Inpainted', async () => {
      const current = requireImage();
      const mask = brush.mask();
      if (!mask.some((v) => v)) throw new Error('paint a mask over the part to regenerate');
      const { width, height } = current.image;
      const result = await inpaint(model, current.image, { width, height, data: mask }, { ...sampling(), class: Number($<HTMLSelectElement>('class').value), onProgress: stepFrames() });
      app.lastEdit = { kind: 'inpaint', source: plain(current.image), pixelMask: [...mask], ...editTokens(result) };
      brush.clear();
      show({ image: result.images[0]!, tokens: result.tokens[0]!, classLabel: null });
    }).catch(() => {}),
  );
  $('outpaint').addEventListener('click', () =>
    void run('Outpainted', async () => {
      const current = requireImage();
      const side = $<HTMLSelectElement>('side').value as 'left' | 'right' | 'top' | 'bottom';
      const result = await outpaint(model, current.image, { ...sampling(), side, amount: numberInput('amount'), class: Number($<HTMLSelectElement>('class').value), onProgress: stepFrames() });
      const windows = result.windows.map((w) => ({ box: { ...w.box }, tokenMask: [...w.tokenMask], inputTokens: [...w.inputTokens[0]!], tokens: [...w.tokens[0]!] }));
      app.lastEdit = { kind: 'outpaint', source: plain(current.image), windows };
      show({ image: result.images[0]!, tokens: null, classLabel: null });
    }).catch(() => {}),
  );
  $('edit').addEventListener('click', () =>
    void run('Edited', async () => {
      const current = requireImage();
      const box: Box | null = boxTool.box();
      if (!box) throw new Error('draw a box over the region to change');
      const result = await editBox(model, current.image, box, Number($<HTMLSelectElement>('target-class').value), { ...sampling(), onProgress: stepFrames() });
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
    const pixels = engine.tensor(rgbaToRGBFloat({ width, height, data: Uint8Array.from(data) }), [1, height, width, 3]);
    const tokens = model.tokenizer.encode(pixels);
    pixels.dispose();
    try {
      return [...(await tokens.read())];
    } finally {
      tokens.dispose();
    }
  };
  app.canvasPixels = () => [...imageCanvas.getContext('2d')!.getImageData(0, 0, imageCanvas.width, imageCanvas.height).data];
  $('app').hidden = false;
  setStatus(`Ready on ${adapterName(engine)} (${engine.info.features.join(', ')}). Pick a class and press Generate.`);
}

const app: MaskGITApp = {
  ready: Promise.resolve(),
  runGenerate: () => Promise.reject(new Error('not ready')),
  canvasPixels: () => [],
  randomBits: () => Promise.reject(new Error('not ready')),
  encode: () => Promise.reject(new Error('not ready')),
};
window.maskgitApp = app;
app.ready = main(app).catch((error: unknown) => {
  app.error = error instanceof Error ? error.message : String(error);
  if (app.error !== 'no WebGPU') setStatus(`Could not start: ${app.error}`);
  throw error;
});
