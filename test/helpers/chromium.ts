// Debian's Chromium (headless, WebGPU on its SwiftShader) driven by playwright-core, and the
// demo page served from this checkout: what the browser tests and the browser measurement
// scripts share.
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
// @ts-expect-error: a plain .mjs script without types
import { buildWeb, serveWeb } from '../../scripts/web.mjs';

export const CHROMIUM = '/usr/bin/chromium';
/** Chromium's SwiftShader Vulkan driver: given to Node (Dawn) too, so both run on the same adapter. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Flags tested here (shared/DESIGN.md): WebGPU on, and the background networking that would
// keep trying to reach the network off. playwright adds --headless and a fresh profile.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: sh scripts/setup-webgpu.sh --chromium installs it`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/**
 * Chromium with a profile on disk: its storage (the Origin Private File System, the Cache API)
 * is kept in files as a user's is (launch() gives off-the-record contexts, which hold it in memory).
 */
export function launchPersistentChromium(userDataDir: string, extraArgs: readonly string[] = []): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: sh scripts/setup-webgpu.sh --chromium installs it`);
  return chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

export interface ServedPage {
  /** The page's URL (ends with /). */
  base: string;
  /** Paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** Builds the page and serves it on a free port, with `modelsDir` under /models/. */
export async function servePage(modelsDir: string): Promise<ServedPage> {
  await buildWeb();
  const requests: string[] = [];
  const server = (await serveWeb({ port: 0, modelsDir, onRequest: (path: string) => requests.push(path) })) as Server;
  const { port } = server.address() as { port: number };
  return {
    base: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
