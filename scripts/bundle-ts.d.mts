/** Bundles a TypeScript entry of this repo into one ES module for Node (see bundle-ts.mjs). */
export function bundleTs(entry: string, outfile: string): Promise<void>;
