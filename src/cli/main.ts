import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerConvert } from './commands/convert.js';
import { registerEvaluate } from './commands/evaluate.js';
import { registerEditing } from './commands/edit.js';
import { registerGenerate } from './commands/generate.js';
import { registerInfo } from './commands/info.js';
import { registerTrainTokenizer } from './commands/train-tokenizer.js';
import { registerTrain } from './commands/train.js';
import { EXIT, exitCodeFor, formatError } from './exit.js';
import { makeOutput, type Output } from './output.js';

const program = new Command('maskgit')
  .description('MaskGIT image generation and editing on WebGPU')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--json', 'print results as JSON lines')
  // Commander's usage errors (unknown option, missing value...) in one line, like ours.
  .configureOutput({ outputError: (text, write) => write(`maskgit: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (run with --help for usage)\n`) })
  .exitOverride();

const output = (): Output => makeOutput(program.opts<{ json?: boolean; quiet?: boolean }>());
registerInfo(program, output);
registerConvert(program, output);
registerGenerate(program, output);
registerEditing(program, output);
registerTrainTokenizer(program, output);
registerTrain(program, output);
registerEvaluate(program, output);
registerBench(program, output);

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(formatError(error) + '\n');
    return exitCodeFor(error);
  }
}

// Exit explicitly: Dawn's instance is kept alive for the process and must not hold it open.
main().then((code) => process.exit(code));
