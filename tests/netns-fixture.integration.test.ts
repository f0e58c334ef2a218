// The shared netns fixture (test-support/netns.ts): what it builds is really there and carries TCP, shaping
// and drop rules land on A's veth and heal removes them, and no namespace outlives it: not after dispose,
// not after a setup step fails, not after a process that never called dispose exits.
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { NetnsPair, netnsSkipReason } from '../test-support/netns.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const skipReason = netnsSkipReason(['ip', 'tc', 'nft']);
if (skipReason) {
  if (process.env.CI) throw new Error(`netns fixture test cannot run in CI: ${skipReason}`);
  console.warn(`netns fixture test skipped: ${skipReason}`);
}

const namespaces = () => execFileSync('ip', ['netns', 'list']).toString();

describe.skipIf(skipReason !== undefined)('NetnsPair', () => {
  const pairs: NetnsPair[] = [];
  afterAll(() => {
    for (const p of pairs) expect(p.dispose()).toEqual([]);
  });

  it('builds two namespaces joined by an addressed veth that carries TCP, and dispose removes them', async () => {
    const pair = new NetnsPair('fix', { prefixLength: 24 }).setup();
    pairs.push(pair);
    expect(namespaces()).toContain(pair.a);
    expect(namespaces()).toContain(pair.b);
    expect(pair.exec(pair.a, 'ip', '-br', 'addr', 'show', pair.devA)).toContain(`${pair.ipA}/24`);
    expect(pair.exec(pair.b, 'ip', '-br', 'addr', 'show', pair.devB)).toContain(`${pair.ipB}/24`);
    const server = `require('node:net').createServer((s) => s.end('pong')).listen(0, '${pair.ipB}', function () { console.log('ready ' + this.address().port); });`;
    const { proc, match } = await pair.start(pair.b, process.execPath, ['-e', server], /ready (\d+)/, 10_000);
    try {
      const client = `require('node:net').connect(${match[1]}, '${pair.ipB}').on('data', (d) => process.stdout.write(d));`;
      expect(await pair.run(pair.a, process.execPath, ['-e', client], 10_000)).toBe('pong');
      // The host namespace has no route to the pair: the link is only between the namespaces.
      await expect(pair.run(pair.a, 'ip', ['route', 'get', '8.8.8.8'], 5000)).rejects.toThrow(/exited with/);
    } finally {
      proc.kill('SIGKILL');
    }
    expect(pair.dispose()).toEqual([]);
    expect(namespaces()).not.toContain(pair.a);
    expect(namespaces()).not.toContain(pair.b);
    expect(pair.dispose()).toEqual([]);
  }, 30_000);

  it('shape and drop land on A, heal removes both', () => {
    const pair = new NetnsPair('fix').setup();
    pairs.push(pair);
    pair.shape('10mbit', '32kbit', '400ms');
    expect(pair.exec(pair.a, 'tc', 'qdisc', 'show', 'dev', pair.devA)).toMatch(/tbf .*rate 10Mbit/);
    pair.drop('meta l4proto tcp');
    expect(pair.exec(pair.a, 'nft', 'list', 'tables')).toContain('tmesh_fault');
    pair.heal();
    expect(pair.exec(pair.a, 'tc', 'qdisc', 'show', 'dev', pair.devA)).not.toContain('tbf');
    expect(pair.exec(pair.a, 'nft', 'list', 'tables')).not.toContain('tmesh_fault');
  });

  it('linkToHost joins the host namespace to one side', () => {
    const pair = new NetnsPair('fix').setup();
    pairs.push(pair);
    const { hostDev, nsDev } = pair.linkToHost(pair.b, `${pair.net}.9`, `${pair.net}.10`);
    expect(execFileSync('ip', ['-br', 'addr', 'show', hostDev]).toString()).toContain(`${pair.net}.9/30`);
    expect(pair.exec(pair.b, 'ip', '-br', 'addr', 'show', nsDev)).toContain(`${pair.net}.10/30`);
    expect(pair.dispose()).toEqual([]);
    // The host end went with the namespace.
    expect(spawnSync('ip', ['link', 'show', hostDev]).status).not.toBe(0);
  });

  it('a failed setup deletes the namespace it had made', () => {
    const pair = new NetnsPair('fix');
    pairs.push(pair);
    execFileSync('ip', ['netns', 'add', pair.b]);
    try {
      expect(() => pair.setup()).toThrow(/netns add/);
      expect(namespaces()).not.toContain(pair.a);
    } finally {
      execFileSync('ip', ['netns', 'del', pair.b]);
    }
  });

  it('a process that exits without dispose leaves no namespace behind', () => {
    const script = `import { NetnsPair } from './test-support/netns.ts';
const pair = new NetnsPair('fix').setup();
console.log(pair.a + ' ' + pair.b);
process.exit(3);`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.status, child.stderr).toBe(3);
    const [a, b] = child.stdout.trim().split(' ');
    expect(a).toMatch(/^tmesh-fix-[0-9a-f]{6}-a$/);
    expect(namespaces()).not.toContain(a);
    expect(namespaces()).not.toContain(b);
  }, 40_000);
});
