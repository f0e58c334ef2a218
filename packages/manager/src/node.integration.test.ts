import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTmeshError, sampleMessages } from '@tmesh/core';
import type { SelectionPolicy } from '@tmesh/selector';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { requestReport, sendChunks, sendUntilFailure } from './fixtures/traffic.js';
import { createNode, type TmeshNode } from './node.js';

const here = dirname(fileURLToPath(import.meta.url));
const types = [sampleMessages.FileChunk, sampleMessages.Metrics];
const children: ChildProcess[] = [];

function startPeer(
  id: string,
  runtimeDir: string,
  env: Record<string, string> = {},
  grpc = false,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'fixtures/peer-node.ts'), id, runtimeDir, grpc ? 'grpc' : ''],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${id} did not start`)), 30_000);
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${id} exited with ${code}`)));
  });
}

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

async function exchange(node: TmeshNode, peer: string, n: number) {
  const sent = await sendChunks(node, peer, n, (i) =>
    new Uint8Array(100 + ((i * 977) % 5000)).map((_, j) => (i + j) & 0xff),
  );
  const { reply, counters } = await requestReport(node, peer);
  return { expectedCrc: sent.crc, count: counters.count, crc: counters.crc, via: reply.via };
}

describe('TmeshNode end to end (TS <-> TS in separate processes)', () => {
  const open: TmeshNode[] = [];
  afterEach(async () => {
    for (const n of open.splice(0)) await n.close();
  });

  it.each<
    [
      string,
      Record<string, string>,
      SelectionPolicy | undefined,
      boolean,
      { route: string; strategy: string; explanation: string },
    ]
  >([
    [
      'same machine -> shm',
      {},
      undefined,
      false,
      { route: 'shm', strategy: 'shm', explanation: 'same machine id -> shm' },
    ],
    [
      'shm disabled -> rust wire over unix',
      {},
      { disableShm: true },
      false,
      {
        route: 'unix',
        strategy: 'rust',
        explanation:
          'typescript <-> typescript on the same machine, nothing measured, rust wire by default, shm disabled by policy -> rust wire over unix socket',
      },
    ],
    [
      'other machine -> rust wire over tcp',
      { TMESH_MACHINE_ID: 'other-machine-1' },
      undefined,
      false,
      {
        route: 'tcp',
        strategy: 'rust',
        explanation:
          'typescript <-> typescript on another machine, nothing measured, rust wire by default -> rust wire over tcp',
      },
    ],
    [
      'other machine, swift preferred -> swift wire',
      { TMESH_MACHINE_ID: 'other-machine-2' },
      { preferWire: 'swift' },
      false,
      {
        route: 'tcp',
        strategy: 'swift',
        explanation:
          'typescript <-> typescript on another machine, policy prefers swift wire -> swift wire over tcp',
      },
    ],
    [
      'other machine, universal forced',
      { TMESH_MACHINE_ID: 'other-machine-3' },
      { force: 'universal' },
      false,
      {
        route: 'tcp',
        strategy: 'universal',
        explanation: 'policy forces universal wire -> universal wire over tcp',
      },
    ],
    [
      'gRPC forced',
      { TMESH_MACHINE_ID: 'other-machine-4' },
      { force: 'grpc' },
      true,
      { route: 'grpc', strategy: 'grpc', explanation: 'policy forces grpc -> grpc' },
    ],
  ])(
    '%s: the selector picks it, every message arrives with matching checksums',
    async (name, env, policy, grpc, expected) => {
      const dir = mkdtempSync(join(tmpdir(), 'tmesh-e2e-'));
      const peerId = `peer-${name.replace(/[^a-z]+/g, '-').slice(0, 20)}`;
      await startPeer(peerId, dir, env, grpc);
      const node = await createNode({
        id: 'driver',
        types,
        discovery: { runtimeDir: dir },
        ...(policy ? { policy } : {}),
      });
      open.push(node);
      const result = await exchange(node, peerId, 300);
      expect(result.count).toBe(300);
      expect(result.crc).toBe(result.expectedCrc);
      const peer = node.peers().find((p) => p.info.id === peerId)!;
      expect(peer.route).toBe(expected.route);
      expect(peer.strategy).toBe(expected.strategy);
      expect(peer.explanation).toBe(expected.explanation);
      expect(result.via.route).toBe(expected.route);
      const stats = node.stats();
      expect(stats.report.peers.find((p: { peer: string }) => p.peer === peerId)).toBeDefined();
    },
    60_000,
  );

  it('when shared memory is declined the node falls back to the Unix socket and logs the step', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-e2e-fallback-'));
    await startPeer('no-shm', dir, { TMESH_PEER_SHM: 'off' });
    const node = await createNode({ id: 'driver-f', types, discovery: { runtimeDir: dir } });
    open.push(node);
    // Stale or hand-written peer info claims shared memory: the offer is declined, the next choice is used.
    const known = node.peers().find((p) => p.info.id === 'no-shm')!.info;
    expect(known.endpoints.some((e) => e.kind === 'shm')).toBe(false);
    node.addPeer({ ...known, endpoints: [...known.endpoints, { kind: 'shm', name: 'no-shm' }] });
    const result = await exchange(node, 'no-shm', 50);
    expect(result.count).toBe(50);
    expect(result.crc).toBe(result.expectedCrc);
    const peer = node.peers().find((p) => p.info.id === 'no-shm')!;
    expect([peer.route, peer.strategy]).toEqual(['unix', 'rust']);
    expect(peer.explanation).toBe('shm failed -> rust wire over unix socket');
    const fallback = node.stats().events.find((e) => e.kind === 'fallback');
    expect(fallback?.message).toMatch(
      /^rust over unix: shm failed -> rust wire over unix socket \(after: shm shm: E_NOT_SUPPORTED: no-shm declined shared memory: disabled by configuration\)$/,
    );
  }, 60_000);

  it('a second node with the same id in the same runtime directory is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-e2e-dup-'));
    const first = await createNode({ id: 'twin', types, discovery: { runtimeDir: dir } });
    open.push(first);
    await expect(createNode({ id: 'twin', types, discovery: { runtimeDir: dir } })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringContaining('is node id twin running twice?'),
    });
  });

  it('a SIGKILLed node leaves its socket file; the same id starts in its place and removes it on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-e2e-sock-'));
    const path = join(dir, 'phoenix.sock');
    const child = await startPeer('phoenix', dir);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(lstatSync(path).isSocket()).toBe(true); // nobody listens on it any more
    const node = await createNode({ id: 'phoenix', types, discovery: { runtimeDir: dir } });
    const after = lstatSync(path);
    expect(after.isSocket()).toBe(true);
    // The new node listens there: a second node of the id is refused while it runs.
    await expect(createNode({ id: 'phoenix', types, discovery: { runtimeDir: dir } })).rejects.toMatchObject({
      code: 'E_CONFIG',
    });
    await node.close();
    expect(existsSync(path)).toBe(false);
  }, 60_000);

  it('a peer that dies leaves peers() once its transport has closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-e2e-leave-'));
    const child = await startPeer('mortal', dir);
    const node = await createNode({ id: 'driver-l', types, discovery: { runtimeDir: dir } });
    open.push(node);
    await exchange(node, 'mortal', 5);
    expect(node.peers().map((p) => p.info.id)).toContain('mortal');
    child.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    while (node.peers().some((p) => p.info.id === 'mortal') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(node.peers().map((p) => p.info.id)).not.toContain('mortal');
  }, 30_000);

  it('a peer killed mid-stream fails the sender cleanly, then a restarted peer is reached again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-e2e-kill-'));
    const child = await startPeer('victim', dir);
    const node = await createNode({ id: 'driver-k', types, discovery: { runtimeDir: dir } });
    open.push(node);
    const started = Date.now();
    setTimeout(() => child.kill('SIGKILL'), 300);
    const { sent, failure } = await sendUntilFailure(node, 'victim');
    expect(sent).toBeGreaterThan(0);
    expect(isTmeshError(failure), String(failure)).toBe(true);
    expect(['E_PEER_GONE', 'E_CLOSED', 'E_CONNECTION', 'E_NO_ROUTE', 'E_TIMEOUT']).toContain(
      (failure as { code: string }).code,
    );
    expect(Date.now() - started, `failed with ${String(failure)}`).toBeLessThan(15_000);
    // The same node id comes back: the next send selects again and gets through.
    await startPeer('victim', dir);
    let result: Awaited<ReturnType<typeof exchange>>;
    try {
      result = await exchange(node, 'victim', 20);
    } catch (e) {
      throw new Error(
        `exchange with the restarted peer failed: ${String(e)}; events: ${JSON.stringify(node.stats().events)}`,
      );
    }
    expect(result.count).toBe(20);
    expect(node.stats().events.some((e) => e.kind === 'peer-gone' || e.kind === 'failure')).toBe(true);
  }, 60_000);
});
