import type { Command } from 'commander';
import { createEngine, type AdapterReport } from '../../node.js';
import type { Output } from '../output.js';

export function formatAdapter(info: AdapterReport): string {
  const lines = [
    `adapter:  ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || '(no description)'}`,
    `features: ${info.features.join(', ')}`,
  ];
  if (info.subgroupMinSize !== undefined) lines.push(`subgroups: ${info.subgroupMinSize}..${info.subgroupMaxSize}`);
  lines.push('limits:');
  for (const [name, value] of Object.entries(info.limits)) lines.push(`  ${name.padEnd(36)} ${value}`);
  return lines.join('\n');
}

export function registerInfo(program: Command, output: () => Output): void {
  program
    .command('info')
    .description('print the WebGPU adapter, its features and limits')
    .addHelpText('after', '\nExamples:\n  $ maskgit info\n  $ maskgit info --json')
    .action(async () => {
      const engine = await createEngine();
      output().result(engine.info, (v) => formatAdapter(v as AdapterReport));
    });
}
