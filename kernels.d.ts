// WGSL kernel sources are imported as text (esbuild's text loader; a vite plugin in tests).
declare module '*.wgsl' {
  const source: string;
  export default source;
}

// The package has no main field; its one module is imported by path.
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  /** Template tag: resolves #if/#elif/#else/#endif whose conditions are the template's values. */
  export function wgsl(strings: TemplateStringsArray | readonly string[], ...values: unknown[]): string;
}
