import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, isTmeshError, sampleMessages } from '@tmesh/core';
import type { SelectionPolicy } from '@tmesh/selector';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { within } from '../../../test-support/wait.js';
import { managerControl } from './control.js';
import {
  buildRustPeer,
  hasCargo,
  killRustPeers,
  type RustPeer,
  startRustPeer,
} from './fixtures/rust-peer.js';
import { requestReport, sendChunks, sendUntilFailure } from './fixtures/traffic.js';
import { createNode, type TmeshNode } from './node.js';

// The Rust peer (examples/rust-peer) is a node written from docs/PROTOCOL.md with the real bincode 1.3,
// prost, crc32fast and the tmesh-shm crate. These tests drive it from a TypeScript node over every route.

if (!hasCargo)
  console.warn('rust-peer tests skipped: cargo is not installed (the Rust peer cannot be built)');

const types = [sampleMessages.FileChunk, sampleMessages.Metrics];
const MACHINE = `rp-machine-${process.pid}`;
/** The peer logs links, resumptions and errors to stderr (`peer.log`). */
const PEER_LOG = { env: { TMESH_PEER_LOG: '1' } };

let nodeCount = 0;
function startNode(peer: RustPeer, policy?: SelectionPolicy, token?: string): Promise<TmeshNode> {
  return createNode({
    id: `ts-rp-${process.pid}-${++nodeCount}`,
    types,
    machineId: MACHINE,
    discovery: { runtimeDir: peer.dir },
    transport: { unix: false, ...(token ? { auth: { token } } : {}) },
    ...(policy ? { policy } : {}),
  });
}

/** Send n FileChunks of random sizes (0..64 KiB), then ask for the report. */
async function exchange(node: TmeshNode, peer: string, n: number) {
  const expected = await sendChunks(node, peer, n, () => randomBytes(Math.floor(Math.random() * 65_536)));
  const { reply, counters } = await requestReport(node, peer);
  expect(reply.type).toBe(sampleMessages.Metrics);
  expect((reply.value as { node: string }).node).toBe(peer);
  return {
    expected,
    got: { count: counters.count, bytes: counters.bytes, crc: counters.crc },
    via: reply.via,
  };
}

function stopPeer(peer: RustPeer): Promise<number | null> {
  peer.child.kill('SIGTERM');
  return peer.exited;
}

const regionGone = (name: string) => !existsSync(`/dev/shm/tmesh-${name}`);

describe.skipIf(!hasCargo)('Rust peer (examples/rust-peer) <-> TypeScript node', () => {
  const open: TmeshNode[] = [];

  beforeAll(buildRustPeer, 610_000);

  afterEach(async () => {
    for (const n of open.splice(0)) await n.close();
  });

  afterAll(killRustPeers);

  it.each<
    [string, SelectionPolicy | undefined, string[], { route: string; strategy: string; explanation: string }]
  >([
    [
      'same machine -> shm',
      undefined,
      [],
      { route: 'shm', strategy: 'shm', explanation: 'same machine id -> shm' },
    ],
    [
      'shm disabled -> rust wire over tcp',
      { disableShm: true },
      [],
      {
        route: 'tcp',
        strategy: 'rust',
        explanation:
          "typescript <-> rust on the same machine, typescript speaks rust's native wire, shm disabled by policy -> rust wire over tcp",
      },
    ],
    [
      'other machine -> rust wire over tcp',
      undefined,
      ['--machine-id', 'rp-other-machine'],
      {
        route: 'tcp',
        strategy: 'rust',
        explanation:
          "typescript <-> rust on another machine, typescript speaks rust's native wire -> rust wire over tcp",
      },
    ],
    [
      'universal forced -> universal wire over tcp',
      { force: 'universal' },
      [],
      {
        route: 'tcp',
        strategy: 'universal',
        explanation: 'policy forces universal wire -> universal wire over tcp',
      },
    ],
  ])(
    '%s: the selector picks it; counts and CRC of random-size messages match',
    async (name, policy, args, expected) => {
      const id = `rust-${name.replace(/[^a-z]+/g, '-').slice(0, 24)}`;
      const peer = await startRustPeer(id, ['--machine-id', MACHINE, ...args], PEER_LOG);
      const node = await startNode(peer, policy);
      open.push(node);

      const result = await exchange(node, id, 150);
      expect(result.got).toEqual(result.expected);
      expect(result.via.route).toBe(expected.route);
      const seen = node.peers().find((p) => p.info.id === id)!;
      expect(seen.info.language).toBe('rust');
      expect(seen.route).toBe(expected.route);
      expect(seen.strategy).toBe(expected.strategy);
      expect(seen.explanation).toBe(expected.explanation);

      // A request type the peer has no handler for comes back as that error code, on every route.
      const failed = await node
        .request(id, sampleMessages.Metrics, {
          node: 'x',
          at: 0n,
          throughput: 0,
          latencyMicros: 0,
          counters: new Map(),
        })
        .catch((e: unknown) => e);
      expect(isTmeshError(failed, 'E_UNKNOWN_MESSAGE_TYPE'), String(failed)).toBe(true);

      // Echo (the manager's id 250, what `tmesh ping` sends) comes back with the same payload.
      const payload = randomBytes(1000);
      const echo = await node.request(id, managerControl.Echo, { payload });
      expect(Buffer.from((echo.value as { payload: Uint8Array }).payload).equals(payload)).toBe(true);

      // An acked send rides on Echo; the Rust peer only echoes it, so the sender hears it was not taken.
      const acked = await node
        .send(
          id,
          sampleMessages.FileChunk,
          { path: 'a', offset: 0n, sequence: 0, last: false, data: payload },
          {
            delivery: 'acked',
          },
        )
        .catch((e: unknown) => e);
      expect(isTmeshError(acked, 'E_NOT_SUPPORTED'), String(acked)).toBe(true);

      // A second exchange on the same transport keeps counting from where the first left off.
      const again = await exchange(node, id, 20);
      expect(again.got.count).toBe(170);

      await node.close();
      open.splice(open.indexOf(node), 1);
      if (expected.route === 'shm') {
        expect(peer.channels.length).toBe(1);
        expect(await within(() => regionGone(peer.channels[0]!), 3000)).toBe(true);
      }
      // SIGTERM: a clean exit that withdraws the runtime-directory record.
      expect(existsSync(join(peer.dir, `${id}.json`))).toBe(true);
      expect(await stopPeer(peer)).toBe(0);
      expect(existsSync(join(peer.dir, `${id}.json`))).toBe(false);
    },
    60_000,
  );

  it('token authentication: the right token links, a wrong one is refused with E_AUTH', async () => {
    const peer = await startRustPeer(
      'rust-token',
      ['--machine-id', MACHINE, '--token', 'open sesame'],
      PEER_LOG,
    );
    const good = await startNode(peer, { disableShm: true }, 'open sesame');
    open.push(good);
    const result = await exchange(good, 'rust-token', 5);
    expect(result.got).toEqual(result.expected);

    const bad = await startNode(peer, { disableShm: true }, 'wrong');
    open.push(bad);
    const failure = await bad
      .send('rust-token', sampleMessages.FileChunk, {
        path: 'x',
        offset: 0n,
        sequence: 0,
        last: true,
        data: new Uint8Array(1),
      })
      .catch((e: unknown) => e);
    expect(isTmeshError(failure, 'E_NO_ROUTE'), String(failure)).toBe(true);
    expect(String((failure as Error).message)).toContain('token proof');
  }, 30_000);

  it('a dropped connection resumes: every message arrives exactly once, none is failed', async () => {
    const peer = await startRustPeer('rust-resume', ['--machine-id', MACHINE], PEER_LOG);
    // A TCP proxy in front of the peer, announced in a runtime directory of its own, so the test can cut
    // the connection under the link while frames are in flight.
    const sockets: Socket[] = [];
    let connections = 0;
    const proxy = createServer((client) => {
      connections++;
      const upstream = createConnection(peer.port, '127.0.0.1');
      sockets.push(client, upstream);
      client.on('error', () => {});
      upstream.on('error', () => {});
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', res));
    const proxyPort = (proxy.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-rp-proxy-'));
    const info = {
      id: peer.id,
      machineId: MACHINE,
      language: 'rust',
      endpoints: [{ kind: 'tcp', host: '127.0.0.1', port: proxyPort }],
      wires: ['rust', 'universal'],
      protocolVersions: [1],
    };
    writeFileSync(
      join(dir, `${peer.id}.json`),
      JSON.stringify({ info, pid: peer.child.pid, announcedAt: Date.now() }),
      { mode: 0o600 },
    );
    const node = await startNode({ ...peer, dir }, { disableShm: true });
    open.push(node);
    try {
      let crc = 0;
      let bytes = 0;
      const send = async (i: number) => {
        const data = randomBytes(1000 + Math.floor(Math.random() * 30_000));
        crc = crc32(data, crc);
        bytes += data.length;
        await node.send(peer.id, sampleMessages.FileChunk, {
          path: `r${i}`,
          offset: BigInt(i),
          sequence: i,
          last: false,
          data,
        });
      };
      await send(0);
      // A request answered: the link is up on both sides (an initiator can finish its handshake before the
      // acceptor has read its Auth; a drop in that window leaves the acceptor nothing to resume).
      await requestReport(node, peer.id);
      for (let i = 1; i < 300; i++) await send(i); // queued at once: most are unacknowledged here
      for (const s of sockets.splice(0)) s.destroy();
      for (let i = 300; i < 400; i++) await send(i);
      const { counters } = await requestReport(node, peer.id);
      expect({ count: counters.count, bytes: counters.bytes, crc: counters.crc }).toEqual({
        count: 400,
        bytes,
        crc,
      });
      expect(connections).toBeGreaterThanOrEqual(2);
      expect(peer.log).toMatch(/link from ts-rp-\S+: rust wire, version 1, resumed/);
      expect(node.stats().events.some((e) => e.kind === 'failure')).toBe(false);
    } finally {
      proxy.close();
      for (const s of sockets) s.destroy();
    }
  }, 30_000);

  it('a Rust peer killed mid-stream over shm fails the sender in bounded time; no region is left', async () => {
    const peer = await startRustPeer('rust-victim', ['--machine-id', MACHINE], PEER_LOG);
    const node = await startNode(peer);
    open.push(node);
    const started = Date.now();
    setTimeout(() => peer.child.kill('SIGKILL'), 300);
    const { sent, failure } = await sendUntilFailure(node, 'rust-victim');
    expect(sent).toBeGreaterThan(0);
    expect(isTmeshError(failure), String(failure)).toBe(true);
    expect(['E_PEER_GONE', 'E_CLOSED', 'E_CONNECTION', 'E_NO_ROUTE']).toContain(
      (failure as { code: string }).code,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(peer.channels.length).toBe(1);
    await node.close();
    open.splice(open.indexOf(node), 1);
    // The TS end created the region; with its peer gone, closing it unlinks the region.
    expect(await within(() => regionGone(peer.channels[0]!), 3000)).toBe(true);
  }, 30_000);
});
