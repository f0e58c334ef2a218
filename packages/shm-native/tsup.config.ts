import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/compress.ts', 'src/checksum.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // import.meta.url (the addon loader) also works in the CommonJS build.
  shims: true,
});
