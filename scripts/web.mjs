#!/usr/bin/env node
// `npm run web`: builds the demo page (web/main.ts, bundled by esbuild from the package's
// browser entry, and its converter worker web/convert-worker.ts) and serves it on localhost
// with the model folders under /models/.
//   node scripts/web.mjs [--port 8080] [--host 127.0.0.1] [--build-only]
import { build } from 'esbuild';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: the folder above this file holding web/ (also when this file is bundled into .run/ by scripts/run-ts.mjs). */
function repositoryRoot(from) {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'web', 'index.html')) && existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no repository with web/index.html above ${from}`);
  }
}
const root = repositoryRoot(dirname(fileURLToPath(import.meta.url)));

export async function buildWeb() {
  await build({
    entryPoints: { app: join(root, 'web/main.ts'), 'convert-worker': join(root, 'web/convert-worker.ts') },
    outdir: join(root, 'web/dist'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    loader: { '.wgsl': 'text' },
    logLevel: 'warning',
  });
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};

/** Static files: the page from web/, model folders from models/ (no listing, no path escapes); onRequest(path) sees each request. */
export function serveWeb({ port = 8080, host = '127.0.0.1', modelsDir = join(root, 'models'), onRequest } = {}) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    onRequest?.(url.pathname);
    let path = decodeURIComponent(url.pathname);
    let base = join(root, 'web');
    if (path === '/') path = '/index.html';
    if (path.startsWith('/models/')) {
      base = modelsDir;
      path = path.slice('/models'.length);
    } else if (/^\/(app|convert-worker)\.js(\.map)?$/.test(path)) {
      path = '/dist' + path;
    }
    const file = normalize(join(base, path));
    if (!file.startsWith(base + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-cache',
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

// Run as a command (not when bundled into another script by scripts/run-ts.mjs).
if (process.argv[1] && basename(process.argv[1]) === 'web.mjs' && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const args = process.argv.slice(2);
  const value = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  await buildWeb();
  if (args.includes('--build-only')) {
    console.log('built web/dist/app.js and web/dist/convert-worker.js');
  } else {
    const server = await serveWeb({ port: Number(value('--port', '8080')), host: value('--host', '127.0.0.1') });
    const { address, port } = server.address();
    console.log(`MaskGIT demo: http://${address}:${port}/  (Ctrl+C to stop)`);
    console.log('Chrome/Edge 113+ have WebGPU; on Linux start Chromium with --enable-unsafe-webgpu.');
  }
}
