#!/usr/bin/env node
// `npm start`: generates a grid of class-conditional images (8 per class, a row per class) into
// out/ from the bundled model folder models/emoji-32 (trained here: README "The bundled model"). A folder
// without a trained transformer gets instructions to train one instead (no stand-in model).
// Extra arguments go to `maskgit generate` (e.g. `npm start -- --steps 12 --out out/other.png`); MASKGIT_START_MODEL names another folder.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const model = process.env.MASKGIT_START_MODEL ?? join('models', 'emoji-32');
const out = join('out', 'emoji-32-grid.png');

function readConfig(dir) {
  try {
    return JSON.parse(readFileSync(resolve(root, dir, 'config.json'), 'utf8'));
  } catch {
    return null;
  }
}

const config = readConfig(model);
const parts = config ? (Array.isArray(config.contents) ? config.contents : ['transformer', 'tokenizer']) : null;
if (!parts || !parts.includes('transformer') || !parts.includes('tokenizer') || !existsSync(resolve(root, model, 'model.safetensors'))) {
  const found = parts ? `holds ${parts.join(' and ')} only` : 'has no model (no config.json)';
  process.stderr.write(
    [
      `npm start: ${model} ${found}; generating needs a trained transformer and tokenizer there.`,
      'Train them, then copy the result there:',
      '  npx maskgit train-tokenizer --out runs/emoji-vq',
      '  npx maskgit train --tokenizer runs/emoji-vq/model --out runs/emoji-tfm',
      `  mkdir -p ${model} && cp runs/emoji-tfm/model/* ${model}/`,
      'Or generate from any model folder: npx maskgit generate --model DIR --class all --out out/grid.png',
    ].join('\n') + '\n',
  );
  process.exit(1);
}

// Classifier-free guidance where the model has a null class: without it the bundled model's
// samples are at chance for their class, with scale 4 at 72-74% (docs/emoji-32). A --guidance given after `--` overrides it.
const guidance = typeof config.nullClassId === 'number' ? ['--guidance', '4'] : [];
const args = [join(root, 'dist/cli.js'), 'generate', '--model', model, '--class', 'all', '--per-class', '8', '--seed', '0', ...guidance, '--out', out, ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
