import { createEngine, type Engine } from '../../src/node.js';

let shared: Promise<Engine> | null = null;

/** The test process's engine: one device per process (vitest runs files in forks). */
export function getEngine(): Promise<Engine> {
  shared ??= createEngine();
  return shared;
}
