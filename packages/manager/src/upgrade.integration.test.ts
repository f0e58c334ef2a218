// Route upgrades: a node that fell back (the peer declined the first ShmOffer) returns to shared memory
// in the background, without losing, duplicating or reordering the stream sent across the switch.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { crc32, sampleMessages } from '@tmesh/core';
import { isAvailable, listRegions } from '@tmesh/shm-native';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { requestReport } from './fixtures/traffic.js';
import { createNode, type NodeEvent, type TmeshNode } from './node.js';

const here = dirname(fileURLToPath(import.meta.url));
const types = [sampleMessages.FileChunk, sampleMessages.Metrics];
const children: ChildProcess[] = [];

/** A peer process; `lines` collects what it prints (its ready line, and the offers it declined or held). */
async function startPeer(
  id: string,
  dir: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; lines: Record<string, string>[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures/peer-node.ts'), id, dir], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: Record<string, string>[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${id} did not start`)), 30_000);
    const poll = setInterval(() => {
      if (lines.some((l) => l.ready === id)) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => reject(new Error(`${id} exited with ${code}`)));
  });
  return { child, lines };
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Connections the peer accepted on its Unix socket (ss lists the accepted end under the socket path). */
function accepted(path: string): number {
  return execFileSync('ss', ['-xH', 'state', 'established'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.split(/\s+/).includes(path)).length;
}

const chunk = (i: number) => new Uint8Array(64 + ((i * 977) % 3000)).map((_, j) => (i * 31 + j) & 0xff);

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe.skipIf(!isAvailable().available)(
  'route upgrade after a fallback (real processes, sockets, shm)',
  () => {
    const open: TmeshNode[] = [];
    afterEach(async () => {
      for (const n of open.splice(0)) await n.close();
    });

    it('falls back to unix when the first ShmOffer is declined, then upgrades to shm within the backoff; the stream across the switch arrives whole and in order', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tmesh-upgrade-'));
      const peer = await startPeer('up-peer', dir, { TMESH_PEER_SHM_DECLINE: '1' });
      const events: NodeEvent[] = [];
      const initialMs = 300;
      const node = await createNode({
        id: 'up-driver',
        types,
        discovery: { runtimeDir: dir },
        upgrade: { initialMs, maxMs: 2000 },
        onEvent: (e) => events.push(e),
      });
      open.push(node);
      const routes = new Set<string>();
      let crc = 0;
      let sent = 0;
      // Pipelined: 8 sends in flight at a time, so the switch happens with calls queued behind it.
      const sendBatch = async () => {
        const batch: Promise<void>[] = [];
        for (let k = 0; k < 8; k++, sent++) {
          const data = chunk(sent);
          crc = crc32(data, crc);
          batch.push(
            node.send('up-peer', sampleMessages.FileChunk, {
              path: `f${sent}`,
              offset: BigInt(sent),
              sequence: sent,
              last: false,
              data,
            }),
          );
        }
        await Promise.all(batch);
        const route = node.peers().find((p) => p.info.id === 'up-peer')?.route;
        if (route) routes.add(route);
      };
      await sendBatch();
      const first = node.peers().find((p) => p.info.id === 'up-peer')!;
      expect(first.route).toBe('unix');
      expect(first.upgrade?.reason).toMatch(/declined shared memory: declined by the test fixture/);
      expect(peer.lines.filter((l) => l.declined)).toHaveLength(1);
      // One connection: the fallback link. The declined offer's control link was closed.
      const sock = join(dir, 'up-peer.sock');
      await until('the declined control link to close', () => accepted(sock) === 1, 5000);
      const fallback = events.find((e) => e.kind === 'fallback')!;
      expect(fallback.message).toMatch(/^rust over unix: .*\(after: shm shm: E_NOT_SUPPORTED: /);

      // Keep the stream going until the node is on shm, then some more.
      const startedAt = Date.now();
      while (node.peers().find((p) => p.info.id === 'up-peer')?.route !== 'shm') {
        if (Date.now() - startedAt > 20_000) throw new Error('no upgrade within 20 s');
        await sendBatch();
      }
      for (let r = 0; r < 50; r++) await sendBatch();

      const upgraded = events.filter((e) => e.kind === 'route' && e.message.startsWith('upgraded'));
      expect(upgraded).toHaveLength(1);
      expect(upgraded[0]!.message).toMatch(
        /^upgraded from unix to shm after 1 attempt\(s\) \(drained unix in \d+ ms; fallback since: shm shm: E_NOT_SUPPORTED: up-peer declined shared memory: declined by the test fixture\): shm over shm: /,
      );
      // The first retry comes after initialMs +-25 %; the rest is the shm setup and the drain.
      expect(upgraded[0]!.at - fallback.at).toBeGreaterThanOrEqual(initialMs * 0.75 - 5);
      expect(upgraded[0]!.at - fallback.at).toBeLessThan(initialMs * 1.25 + 10_000);
      expect(peer.lines.filter((l) => l.accepting)).toHaveLength(1);
      expect([...routes]).toEqual(['unix', 'shm']);

      const now = node.peers().find((p) => p.info.id === 'up-peer')!;
      expect(now.strategy).toBe('shm');
      expect(now.upgrade).toBeUndefined();
      expect(listRegions().find((r) => r.name === now.resource)?.status).toBe('live');
      // The old unix link is closed; the shm channel's control link remains.
      await until('the old unix link to close', () => accepted(sock) === 1, 5000);

      // Every message once, in order (the sink's CRC-32 runs over the data in arrival order).
      const { reply, counters } = await requestReport(node, 'up-peer');
      expect(reply.via.route).toBe('shm');
      expect(counters.count).toBe(sent);
      expect(counters.crc).toBe(crc);
      expect(events.filter((e) => e.kind === 'undelivered' || e.kind === 'peer-gone')).toEqual([]);
    }, 60_000);

    it('close() while an upgrade is setting up shm leaves no region behind', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tmesh-upgrade-close-'));
      // The retry's offer is held for 4 s: close() comes while the channel exists and the offer is pending.
      const peer = await startPeer('hold-peer', dir, {
        TMESH_PEER_SHM_DECLINE: '1',
        TMESH_PEER_SHM_HOLD_MS: '4000',
      });
      const node = await createNode({
        id: 'hold-driver',
        types,
        discovery: { runtimeDir: dir },
        upgrade: { initialMs: 100, maxMs: 1000 },
      });
      await node.send('hold-peer', sampleMessages.FileChunk, {
        path: 'x',
        offset: 0n,
        sequence: 0,
        last: false,
        data: chunk(0),
      });
      expect(node.peers().find((p) => p.info.id === 'hold-peer')?.route).toBe('unix');
      await until('the held offer', () => peer.lines.some((l) => l.holding), 10_000);
      const name = peer.lines.find((l) => l.holding)!.holding!;
      expect(listRegions().find((r) => r.name === name)).toBeDefined();
      const closing = Date.now();
      await node.close();
      expect(Date.now() - closing).toBeLessThan(10_000);
      expect(listRegions().find((r) => r.name === name)).toBeUndefined();
      // Nothing of the node's runs on: no late retry creates a region after close().
      const mine = () =>
        listRegions()
          .filter((r) => r.creatorPid === process.pid)
          .map((r) => r.name);
      const before = new Set(mine());
      await sleep(1500);
      expect(mine().filter((n) => !before.has(n))).toEqual([]);
    }, 60_000);

    it('with upgrade: false a fallback is kept', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tmesh-upgrade-off-'));
      const peer = await startPeer('off-peer', dir, { TMESH_PEER_SHM_DECLINE: '1' });
      const node = await createNode({
        id: 'off-driver',
        types,
        discovery: { runtimeDir: dir },
        upgrade: false,
      });
      open.push(node);
      const send = (i: number) =>
        node.send('off-peer', sampleMessages.FileChunk, {
          path: 'x',
          offset: 0n,
          sequence: i,
          last: false,
          data: chunk(i),
        });
      await send(0);
      await sleep(1500);
      await send(1);
      const p = node.peers().find((q) => q.info.id === 'off-peer')!;
      expect(p.route).toBe('unix');
      expect(p.upgrade).toBeUndefined();
      expect(peer.lines.filter((l) => l.declined || l.accepting)).toHaveLength(1);
    }, 60_000);

    it('refuses bad upgrade options with E_INVALID_ARGUMENT', async () => {
      await expect(
        createNode({
          id: 'bad-upgrade',
          types,
          discovery: { runtimeDir: false },
          upgrade: { initialMs: -1 },
        }),
      ).rejects.toMatchObject({
        code: 'E_INVALID_ARGUMENT',
        message: expect.stringContaining('upgrade.initialMs'),
      });
    });
  },
);
