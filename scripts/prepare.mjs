#!/usr/bin/env node
// The package's `prepare` step (local `npm install` / `npm ci` in a checkout, and `npm pack`):
// builds dist/, then makes sure WebGPU works here. Without an adapter, on Debian as root it
// installs Mesa's Vulkan driver (and Chromium for the browser tests); otherwise it prints the
// exact command to run. It never fails the install for a missing driver: the tests say so.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--types'], { stdio: 'inherit', cwd: root });

if (process.env.MASKGIT_SKIP_PROVISION) process.exit(0);

function probe() {
  const r = spawnSync(process.execPath, [join(root, 'scripts/probe-adapter.mjs')], { encoding: 'utf8', timeout: 60_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '').adapter;
  } catch {
    return null;
  }
}

const setup = join(root, 'scripts/setup-webgpu.sh');
const isDebian = existsSync('/etc/debian_version');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const needChromium = process.platform === 'linux' && !existsSync('/usr/bin/chromium');
let adapter = probe();

if ((!adapter || needChromium) && isDebian && isRoot) {
  console.log(`prepare: ${adapter ? 'no Chromium for the browser tests' : 'no WebGPU adapter'}; provisioning with ${setup}`);
  const r = spawnSync('sh', [setup, '--chromium'], { stdio: 'inherit' });
  if (r.status !== 0) console.warn(`prepare: ${setup} failed (exit ${r.status})`);
  adapter = probe();
}
if (adapter) {
  console.log(`prepare: WebGPU adapter ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ')}`);
} else {
  console.warn(
    'prepare: no WebGPU adapter found. On Debian/Ubuntu without a GPU run:\n' +
      `  sudo sh ${setup} --chromium\n` +
      'elsewhere install your GPU\'s Vulkan driver. The tests need an adapter.',
  );
}
