/** How the CLI talks: human text, nothing (--quiet), or JSON lines (--json). */
export interface Output {
  readonly json: boolean;
  readonly quiet: boolean;
  /** Human-readable line (suppressed by --quiet and --json). */
  info(line: string): void;
  /** A result: printed as JSON with --json, else through `human`. */
  result(value: unknown, human?: (value: unknown) => string): void;
}

export function makeOutput(options: { json?: boolean; quiet?: boolean }): Output {
  const json = options.json ?? false;
  const quiet = options.quiet ?? false;
  return {
    json,
    quiet,
    info(line) {
      if (!json && !quiet) process.stderr.write(line + '\n');
    },
    result(value, human) {
      if (json) process.stdout.write(JSON.stringify(value) + '\n');
      else if (!quiet) process.stdout.write((human ? human(value) : String(value)) + '\n');
    },
  };
}
