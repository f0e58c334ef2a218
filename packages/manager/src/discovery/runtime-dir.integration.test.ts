import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeInfo } from '@tmesh/core';
import { afterAll, describe, expect, it } from 'vitest';
import { RuntimeDirDiscovery } from './runtime-dir.js';
import type { DiscoveredNode } from './types.js';

const info = (id: string): NodeInfo => ({
  id,
  machineId: 'm1',
  language: 'typescript',
  endpoints: [{ kind: 'unix', path: `/tmp/${id}.sock` }],
  wires: ['rust', 'swift', 'universal'],
  protocolVersions: [1],
});

function until<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = fn();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - start > ms) return reject(new Error('timed out waiting'));
      setTimeout(tick, 20);
    };
    tick();
  });
}

describe('runtime directory discovery', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'tmesh-rd-')), 'run');
  const open: RuntimeDirDiscovery[] = [];
  afterAll(async () => {
    for (const d of open) await d.close();
  });

  it('announces with private permissions and sees other nodes, not itself', async () => {
    const a = new RuntimeDirDiscovery({ dir, scanIntervalMs: 100 });
    const b = new RuntimeDirDiscovery({ dir, scanIntervalMs: 100 });
    open.push(a, b);
    await a.announce(info('node-a'));
    await b.announce(info('node-b'));
    await until(() => a.peers().length === 1);
    expect(a.peers().map((p) => p.info.id)).toEqual(['node-b']);
    expect(b.peers().map((p) => p.info.id)).toEqual(['node-a']);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'node-a.json')).mode & 0o777).toBe(0o600);
  });

  it('reports a leave when a node closes', async () => {
    const watcher = new RuntimeDirDiscovery({ dir, scanIntervalMs: 100 });
    const c = new RuntimeDirDiscovery({ dir, scanIntervalMs: 100 });
    open.push(watcher);
    await watcher.announce(info('watcher'));
    await c.announce(info('node-c'));
    await until(() => watcher.peers().some((p) => p.info.id === 'node-c'));
    const left: DiscoveredNode[] = [];
    watcher.on('leave', (n) => left.push(n));
    await c.close();
    await until(() => left.length > 0);
    expect(left[0]!.info.id).toBe('node-c');
  });

  it('drops the record of a process killed with SIGKILL', async () => {
    const watcher = new RuntimeDirDiscovery({ dir, scanIntervalMs: 100 });
    open.push(watcher);
    await watcher.announce(info('watcher-2'));
    const childScript = join(dir, '..', 'child.mjs');
    writeFileSync(
      childScript,
      `import { writeFileSync } from 'node:fs';
       writeFileSync(${JSON.stringify(join(dir, 'doomed.json'))}, JSON.stringify({ info: ${JSON.stringify(info('doomed'))}, pid: process.pid, announcedAt: Date.now() }));
       console.log('ready'); setInterval(() => {}, 1000);`,
    );
    const child = spawn(process.execPath, [childScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => child.stdout!.once('data', r));
    await until(() => watcher.peers().some((p) => p.info.id === 'doomed'));
    const left = new Promise<DiscoveredNode>((r) => watcher.on('leave', r));
    child.kill('SIGKILL');
    expect((await left).info.id).toBe('doomed');
    await until(() => !readdirSync(dir).includes('doomed.json'));
  });

  it('refuses an id that cannot be a file name', async () => {
    const d = new RuntimeDirDiscovery({ dir });
    await expect(d.announce(info('../escape'))).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
  });
});
