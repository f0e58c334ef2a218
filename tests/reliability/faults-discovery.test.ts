// Regression tests for what the fault-injection trials found in runtime-directory discovery: a receiver
// restarted within milliseconds of its SIGKILL lost its record to a peer that had read the old (dead-pid)
// record just before and then deleted the file by name, so the new node stayed invisible until it
// restarted again (1 trial in about 100 of `scripts/reliability/faults.ts --mode shm --side receiver`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeInfo } from '../../packages/core/src/index.js';
import { RuntimeDirDiscovery } from '../../packages/manager/src/discovery/runtime-dir.js';
import { within } from '../../test-support/wait.js';

const info = (id: string): NodeInfo => ({
  id,
  machineId: 'm1',
  language: 'typescript',
  endpoints: [{ kind: 'tcp', host: '127.0.0.1', port: 1 }],
  wires: ['rust', 'universal'],
  protocolVersions: [1],
});

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('runtime-directory records across a fast restart', () => {
  const root = mkdtempSync(join(tmpdir(), 'tmesh-faults-rd-'));
  const dir = join(root, 'run');
  const open: RuntimeDirDiscovery[] = [];
  afterAll(async () => {
    for (const d of open) await d.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('a node whose record disappears writes it again, and its peers see it return', async () => {
    const a = new RuntimeDirDiscovery({ dir, scanIntervalMs: 100 });
    const b = new RuntimeDirDiscovery({ dir, scanIntervalMs: 100 });
    open.push(a, b);
    await a.announce(info('fast-a'));
    await b.announce(info('fast-b'));
    expect(await within(() => b.peers().some((p) => p.info.id === 'fast-a'), 5000)).toBe(true);
    // What the racing peer did: the file is deleted by name while its node runs.
    unlinkSync(join(dir, 'fast-a.json'));
    expect(await within(() => existsSync(join(dir, 'fast-a.json')), 3000)).toBe(true);
    const record = JSON.parse(readFileSync(join(dir, 'fast-a.json'), 'utf8')) as { pid: number };
    expect(record.pid).toBe(process.pid);
    expect(await within(() => b.peers().some((p) => p.info.id === 'fast-a'), 3000)).toBe(true);
  });

  it('a stale record is still removed, and nothing is left beside it', async () => {
    const c = new RuntimeDirDiscovery({ dir, scanIntervalMs: 100 });
    open.push(c);
    const file = join(dir, 'gone-x.json');
    writeFileSync(file, JSON.stringify({ info: info('gone-x'), pid: deadPid(), announcedAt: 0 }), {
      mode: 0o600,
    });
    await c.announce(info('fast-c'));
    expect(await within(() => !existsSync(file), 3000)).toBe(true);
    expect(c.peers().some((p) => p.info.id === 'gone-x')).toBe(false);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).filter((f) => f.includes('gone-x'))).toEqual([]);
  });
});
