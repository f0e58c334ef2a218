#!/usr/bin/env node
// The `tmesh` binary. Installed from npm it runs dist/cli.js; inside the repository (where src/ exists
// and package exports point at TypeScript sources) it runs the sources through tsx, so no build is needed.
import { existsSync } from 'node:fs';

const src = new URL('../src/cli.ts', import.meta.url);
if (existsSync(src)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(src.href);
} else {
  await import(new URL('../dist/cli.js', import.meta.url).href);
}
