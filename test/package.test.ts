// The published package works from outside the repo: npm pack, install the tarball into a
// fresh project, import it from Node (and type-check a TypeScript consumer against its types).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HANG_GUARD_MS } from './helpers/hang-guard.js';

const root = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'maskgit-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('packaged @maskgit/core', () => {
  it('installs from its tarball and runs from a project outside the repo', { timeout: HANG_GUARD_MS }, () => {
    execFileSync(process.execPath, [join(root, 'scripts/build.mjs'), '--types', '--quiet'], { cwd: root, stdio: 'inherit' });
    execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: root, stdio: 'pipe' });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeTruthy();
    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(work, tarball!)], {
      cwd: app,
      stdio: 'pipe',
    });
    writeFileSync(
      join(app, 'main.mjs'),
      `import { createEngine, ops } from '@maskgit/core';
const engine = await createEngine();
const out = ops.add(engine.tensor([1, 2, 3], [3]), engine.tensor([10], [1]));
console.log(JSON.stringify({ values: [...(await out.read())], adapter: engine.info.description }));
process.exit(0);
`,
    );
    const printed = execFileSync(process.execPath, ['main.mjs'], { cwd: app, encoding: 'utf8' });
    const result = JSON.parse(printed.trim().split('\n').pop()!);
    expect(result.values).toEqual([11, 12, 13]);

    // A TypeScript consumer type-checks against the shipped declarations.
    writeFileSync(
      join(app, 'main.ts'),
      `import { createEngine, ops, type Tensor } from '@maskgit/core';
export async function twice(): Promise<Float32Array> {
  const engine = await createEngine();
  const t: Tensor<'f32'> = engine.tensor([1, 2], [2]);
  return (await ops.add(t, t).read()) as Float32Array;
}
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, skipLibCheck: false, target: 'es2022', types: [] }, files: ['main.ts'] }),
    );
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app, stdio: 'pipe' });
  });
});
