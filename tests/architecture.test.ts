// Dependencies run one way: core <- codecs and shm-native <- selector and monitor <- manager <- examples
// and bench. This test fails when a package imports (or depends on) one at its own layer or above.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const LAYERS: Record<string, number> = {
  '@tmesh/core': 0,
  '@tmesh/codec-swift': 1,
  '@tmesh/codec-rust': 1,
  '@tmesh/codec-universal': 1,
  '@tmesh/shm-native': 1,
  '@tmesh/selector': 2,
  '@tmesh/monitor': 2,
  '@tmesh/net': 2,
  '@tmesh/manager': 3,
  '@tmesh/examples': 4,
  '@tmesh/bench': 4,
};

const packageDirs = [
  ...readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d)),
  join(root, 'examples'),
  join(root, 'bench'),
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name === 'target' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(name)) out.push(path);
  }
  return out;
}

const IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"](@tmesh\/[a-z-]+)/g;

describe('dependency direction', () => {
  it('knows every workspace package', () => {
    for (const dir of packageDirs) {
      const { name } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      expect(LAYERS, `add ${name} to LAYERS in tests/architecture.test.ts`).toHaveProperty([name]);
    }
  });

  for (const dir of packageDirs) {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const own = LAYERS[pkg.name] ?? -1;
    it(`${pkg.name} depends only on lower layers`, () => {
      const declared = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies });
      for (const dep of declared.filter((d) => d.startsWith('@tmesh/'))) {
        expect(LAYERS[dep], `${pkg.name} declares ${dep}`).toBeLessThan(own);
      }
      const violations: string[] = [];
      for (const file of sourceFiles(dir)) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(IMPORT)) {
          const target = m[1]!;
          if (target === pkg.name) continue;
          const layer = LAYERS[target];
          if (layer === undefined || layer >= own)
            violations.push(`${relative(root, file)} imports ${target}`);
          else if (!declared.includes(target))
            violations.push(`${relative(root, file)} imports ${target} without declaring it`);
        }
      }
      expect(violations).toEqual([]);
    });
  }

  it('the check itself catches an upward import', () => {
    const fake = "import { createNode } from '@tmesh/manager';";
    const hits = [...fake.matchAll(IMPORT)].map((m) => m[1]);
    expect(hits).toEqual(['@tmesh/manager']);
    expect(LAYERS['@tmesh/manager']!).toBeGreaterThanOrEqual(LAYERS['@tmesh/codec-rust']!);
  });
});
