// Dependencies run one way: core <- codecs and shm-native <- selector and monitor <- manager <- examples
// and bench. This test fails when a package imports (or depends on) one at its own layer or above.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
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

// test-support/ holds fixtures and suites shared by several packages' tests (netns links, etcd, generators,
// the gather suite). It is in no package, so no tarball ships it: that holds as long as nothing a package
// publishes reaches it, and it may import only @tmesh/core's sources (layer 0), so every package may use it.
const RELATIVE = /(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g;
const supportDir = join(root, 'test-support');

function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(RELATIVE)].map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
}

/** Every file a package's entry point reaches through relative imports: what its build bundles. */
function published(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    try {
      statSync(file);
    } catch {
      continue;
    }
    queue.push(...relativeImports(file));
  }
  return seen;
}

describe('shared test support', () => {
  for (const dir of packageDirs) {
    const entry = join(dir, 'src', 'index.ts');
    const name = relative(root, dir);
    it(`${name}: nothing its entry point reaches is test support`, () => {
      const files = [...published(entry)].map((f) => relative(root, f));
      expect(
        files.filter((f) =>
          /(^test-support\/|\/test-support\/|\/testing\/|\/fixtures\/|\.test\.ts$)/.test(f),
        ),
      ).toEqual([]);
    });
  }

  it('test-support imports only @tmesh/core sources and itself', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(supportDir)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) violations.push(`${relative(root, file)} imports ${m[1]}`);
      for (const target of relativeImports(file)) {
        const rel = relative(root, target);
        if (!rel.startsWith('test-support/') && !rel.startsWith('packages/core/src/'))
          violations.push(`${relative(root, file)} imports ${rel}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the reachability walk follows relative imports', () => {
    const files = [...published(join(root, 'packages', 'core', 'src', 'index.ts'))];
    expect(files.map((f) => relative(root, f))).toContain('packages/core/src/frame.ts');
  });
});
