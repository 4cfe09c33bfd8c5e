// Painting a mask and drawing a box over the image, on a transparent canvas laid over it.
// Both work in image pixels: the overlay has the image's resolution and is shown scaled up.

export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Image-pixel coordinates of a pointer event over `canvas`. */
function pixelAt(canvas: HTMLCanvasElement, e: PointerEvent): [number, number] {
  const rect = canvas.getBoundingClientRect();
  const x = Math.floor(((e.clientX - rect.left) / rect.width) * canvas.width);
  const y = Math.floor(((e.clientY - rect.top) / rect.height) * canvas.height);
  return [Math.min(canvas.width - 1, Math.max(0, x)), Math.min(canvas.height - 1, Math.max(0, y))];
}

/** A brush that paints the pixels to regenerate (1) into a mask, shown in translucent red. */
export class BrushMask {
  private data: Uint8Array;
  private painting = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    size: number,
  ) {
    this.data = new Uint8Array(size * size);
    this.resize(size, size);
  }

  resize(width: number, height: number): void {
    if (this.canvas.width !== width || this.canvas.height !== height || this.data.length !== width * height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.data = new Uint8Array(width * height);
    }
    this.draw();
  }

  /** One byte per pixel, row-major: 1 where the image is to be regenerated. */
  mask(): Uint8Array {
    return this.data.slice();
  }

  clear(): void {
    this.data.fill(0);
    this.draw();
  }

  pointerDown(e: PointerEvent, radius: number): void {
    this.painting = true;
    this.paint(e, radius);
  }

  pointerMove(e: PointerEvent, radius: number): void {
    if (this.painting) this.paint(e, radius);
  }

  pointerUp(): void {
    this.painting = false;
  }

  private paint(e: PointerEvent, radius: number): void {
    const [cx, cy] = pixelAt(this.canvas, e);
    const { width, height } = this.canvas;
    const r = Math.max(0.5, radius / 2);
    for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
      for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
        if (x >= 0 && y >= 0 && x < width && y < height && (x - cx) ** 2 + (y - cy) ** 2 <= r * r) this.data[y * width + x] = 1;
      }
    }
    this.draw();
  }

  private draw(): void {
    const { width, height } = this.canvas;
    const ctx = this.canvas.getContext('2d')!;
    const img = ctx.createImageData(width, height);
    for (let i = 0; i < this.data.length; i++) {
      if (!this.data[i]) continue;
      img.data.set([255, 40, 40, 140], i * 4);
    }
    ctx.putImageData(img, 0, 0);
  }
}

/** A rectangle dragged over the image (the region a box edit changes). */
export class BoxTool {
  private start: [number, number] | null = null;
  private current: Box | null = null;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    size: number,
  ) {
    this.resize(size, size);
  }

  resize(width: number, height: number): void {
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
      this.current = null;
    }
  }

  box(): Box | null {
    return this.current && this.current.width > 0 && this.current.height > 0 ? { ...this.current } : null;
  }

  clear(): void {
    this.current = null;
    this.draw();
  }

  pointerDown(e: PointerEvent): void {
    this.start = pixelAt(this.canvas, e);
    this.update(e);
  }

  pointerMove(e: PointerEvent): void {
    if (this.start) this.update(e);
  }

  pointerUp(): void {
    this.start = null;
  }

  private update(e: PointerEvent): void {
    const [x0, y0] = this.start!;
    const [x1, y1] = pixelAt(this.canvas, e);
    this.current = { left: Math.min(x0, x1), top: Math.min(y0, y1), width: Math.abs(x1 - x0) + 1, height: Math.abs(y1 - y0) + 1 };
    this.draw();
  }

  private draw(): void {
    const ctx = this.canvas.getContext('2d')!;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.current) return;
    ctx.fillStyle = 'rgba(75, 107, 251, 0.25)';
    ctx.fillRect(this.current.left, this.current.top, this.current.width, this.current.height);
    ctx.strokeStyle = 'rgb(75, 107, 251)';
    ctx.lineWidth = 0.5;
    ctx.strokeRect(this.current.left + 0.25, this.current.top + 0.25, this.current.width - 0.5, this.current.height - 0.5);
  }
}
