import type { Command } from 'commander';
import { ArgumentError } from '../../errors.js';
import { convertCheckpointFiles, type CheckpointFile, type ConvertedModel } from '../../io/convert.js';
import { MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE } from '../../io/model.js';
import { openFileSource, writeModelFolder } from '../../io/node-files.js';
import { FileProgress } from '../../io/progress.js';
import type { Output } from '../output.js';
import { progressReporter } from '../progress.js';

interface ConvertFlags {
  out?: string;
  dtype: string;
  codebookSize?: string;
  imageSize?: string;
}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(name, `must be a positive integer, got "${value}"`);
  return n;
}

/**
 * `maskgit convert <flax-checkpoint> [<flax-checkpoint>] --out <dir>`: the official Flax
 * checkpoints (transformer and/or tokenizer, in either order) to a model folder.
 */
export function registerConvert(program: Command, output: () => Output): void {
  program
    .command('convert')
    .description('convert the official MaskGIT Flax checkpoints (transformer and/or tokenizer) into a model folder')
    .argument('<checkpoints...>', 'one or two Flax msgpack checkpoint files, in either order')
    .option('--out <dir>', 'output model folder (written atomically; an existing model folder is replaced)')
    .option('--dtype <dtype>', 'weight storage: f32 or f16', 'f32')
    .option('--codebook-size <n>', 'codebook rows, when converting a transformer without its tokenizer (default 1024)')
    .option('--image-size <px>', 'image size, when it cannot be read off the checkpoints')
    .addHelpText(
      'after',
      [
        '',
        'The folder holds config.json and model.safetensors. From one checkpoint it holds that part only',
        '(config.json "contents" says which); loading a full model from it then says what is missing.',
        '',
        'Examples:',
        '  $ maskgit convert maskgit_imagenet256_checkpoint tokenizer_imagenet256_checkpoint --out models/maskgit-256',
        '  $ maskgit convert tokenizer_imagenet256_checkpoint --out models/tokenizer-256 --dtype f16',
      ].join('\n'),
    )
    .action(async (files: string[], flags: ConvertFlags) => {
      const out = output();
      if (!flags.out) throw new ArgumentError('--out', 'is required: the model folder to write (e.g. --out models/maskgit-256)');
      if (files.length > 2) throw new ArgumentError('checkpoints', `give one or two checkpoint files, got ${files.length}`);
      if (flags.dtype !== 'f32' && flags.dtype !== 'f16') throw new ArgumentError('--dtype', `must be f32 or f16, got "${flags.dtype}"`);
      const codebookSize = positiveInteger('--codebook-size', flags.codebookSize);
      const imageSize = positiveInteger('--image-size', flags.imageSize);
      const started = performance.now();
      const reading = progressReporter(out, 'reading');
      // The files stay open while the folder is written: arrays are read from them tensor by tensor.
      const opened: { file: CheckpointFile; close(): void }[] = [];
      let model: ConvertedModel;
      try {
        for (const path of files) {
          const { bytes, close } = openFileSource(path);
          opened.push({ file: { bytes, source: path }, close });
        }
        const progress = new Map(opened.map(({ file }) => [file, new FileProgress(reading.onProgress, file.source, file.source, file.bytes.size)]));
        try {
          model = convertCheckpointFiles(
            opened.map((o) => o.file),
            {
              dtype: flags.dtype,
              codebookSize,
              imageSize,
              onRead: (file, position) => {
                const p = progress.get(file)!;
                if (position === 0) p.initiate();
                p.update(position);
                if (position === file.bytes.size) p.done();
              },
            },
          );
        } finally {
          reading.stop();
        }
        const writing = progressReporter(out, 'writing');
        try {
          await writeModelFolder(flags.out, model.config, model.tensors, { onProgress: writing.onProgress });
        } finally {
          writing.stop();
        }
      } finally {
        for (const o of opened) o.close();
      }
      const c = model.config;
      const summary = {
        out: flags.out,
        files: [MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE],
        contents: model.contents,
        dtype: c.dtype,
        parameters: model.parameters,
        imageSize: c.imageSize,
        codebookSize: c.codebookSize,
        numClasses: c.numClasses,
        transformer: model.contents.includes('transformer') ? c.transformer : null,
        tokenizer: model.contents.includes('tokenizer') ? c.tokenizer : null,
        seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
      };
      out.result(summary, () =>
        [
          `wrote ${flags.out} (${model.contents.join(' + ')}, ${(model.parameters / 1e6).toFixed(2)}M parameters, ${c.dtype}) in ${summary.seconds} s`,
          model.contents.includes('transformer')
            ? `  transformer: ${c.transformer.numLayers} layers, hidden ${c.transformer.hiddenSize}, ${c.transformer.numHeads} heads, mlp ${c.transformer.mlpSize}, vocab ${c.transformer.vocabSize}`
            : '  transformer: not converted',
          model.contents.includes('tokenizer')
            ? `  tokenizer: filters ${c.tokenizer.filters}, multipliers [${c.tokenizer.channelMultipliers.join(', ')}], ${c.tokenizer.numResBlocks} res blocks, codebook ${c.tokenizer.codebookSize} x ${c.tokenizer.embeddingDim}`
            : '  tokenizer: not converted',
          `  image ${c.imageSize} px, ${c.numClasses} classes, mask token ${c.maskTokenId}`,
        ].join('\n'),
      );
    });
}
