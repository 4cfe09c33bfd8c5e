/** Prints a result line for the parent test (test/helpers/child.ts parses `RESULT <json>` lines). */
export function report(value: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(value)}\n`);
}
