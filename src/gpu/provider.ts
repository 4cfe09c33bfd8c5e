import { DeviceError } from '../errors.js';

/**
 * Where a GPU comes from. The browser has `navigator.gpu`; Node gets one from Dawn
 * (the `webgpu` package) through the Node entry point, which registers it here.
 */
export type GPUProvider = () => Promise<GPU>;

let provider: GPUProvider | null = null;

export function setGPUProvider(next: GPUProvider): void {
  provider = next;
}

export async function getGPU(): Promise<GPU> {
  if (provider) return provider();
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  throw new DeviceError(
    'WebGPU is not available: this browser has no navigator.gpu. Use a browser with WebGPU ' +
      '(Chrome or Edge 113+, Safari 26+, Firefox 141+), or in Node import "@maskgit/core" through its node entry.',
  );
}

/** Install command printed when Node finds no adapter (Debian/Ubuntu without a GPU). */
export const NO_ADAPTER_HELP =
  'No WebGPU adapter was found. On a machine without a GPU install Mesa\'s Vulkan driver ' +
  '(lavapipe, Mesa >= 24): on Debian 12 run `sudo sh scripts/setup-webgpu.sh` from the @maskgit/core ' +
  'checkout (it installs libvulkan1 and mesa-vulkan-drivers from bookworm-backports); elsewhere install ' +
  'your GPU\'s Vulkan driver (or libvulkan1 + mesa-vulkan-drivers).';
