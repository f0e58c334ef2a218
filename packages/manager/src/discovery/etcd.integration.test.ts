import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeInfo } from '@tmesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdDiscovery } from './etcd.js';

const hasEtcd = spawnSync('sh', ['-c', 'command -v etcd']).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function until(fn: () => boolean, ms = 10_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (fn()) return resolve();
      if (Date.now() - start > ms) return reject(new Error('timed out waiting'));
      setTimeout(tick, 50);
    };
    tick();
  });
}

const info = (id: string): NodeInfo => ({
  id,
  machineId: `machine-${id}`,
  language: 'typescript',
  endpoints: [{ kind: 'tcp', host: '127.0.0.1', port: 1 }],
  wires: ['rust', 'swift', 'universal'],
  protocolVersions: [1],
});

/** A real etcd server on loopback, in a temporary data directory, restartable. */
class EtcdServer {
  proc: ChildProcess | undefined;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'tmesh-etcd-'));
  constructor(
    readonly clientPort: number,
    readonly peerPort: number,
  ) {}
  get url() {
    return `http://127.0.0.1:${this.clientPort}`;
  }
  async start(): Promise<void> {
    this.proc = spawn(
      'etcd',
      [
        '--data-dir',
        this.dataDir,
        '--name',
        'tmesh-test',
        '--listen-client-urls',
        this.url,
        '--advertise-client-urls',
        this.url,
        '--listen-peer-urls',
        `http://127.0.0.1:${this.peerPort}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${this.peerPort}`,
        '--initial-cluster',
        `tmesh-test=http://127.0.0.1:${this.peerPort}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('etcd did not start in 15 s')), 15_000);
      let log = '';
      this.proc!.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (/ready to serve client requests|serving insecure client requests/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.proc!.once('exit', (code) => reject(new Error(`etcd exited with ${code}: ${log.slice(-500)}`)));
    });
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise((r) => {
      p.once('exit', r);
      p.kill('SIGKILL');
    });
  }
}

describe.skipIf(!hasEtcd)('etcd discovery (real etcd on loopback)', () => {
  let server: EtcdServer;
  const nodes: EtcdDiscovery[] = [];

  beforeAll(async () => {
    server = new EtcdServer(await freePort(), await freePort());
    await server.start();
  }, 30_000);

  afterAll(async () => {
    for (const n of nodes) await n.close().catch(() => {});
    await server?.stop();
  });

  it('nodes see each other join and leave; a leave is reported when the lease is revoked', async () => {
    const a = new EtcdDiscovery({ hosts: [server.url], ttlSeconds: 2, prefix: '/t1/' });
    const b = new EtcdDiscovery({ hosts: [server.url], ttlSeconds: 2, prefix: '/t1/' });
    nodes.push(a);
    await a.announce(info('a'));
    await b.announce(info('b'));
    await until(() => a.peers().length === 1 && b.peers().length === 1);
    expect(a.peers()[0]!.info).toEqual(info('b'));
    const left = new Promise<string>((r) => a.on('leave', (n) => r(n.info.id)));
    await b.close();
    expect(await left).toBe('b');
  });

  it('survives an etcd restart: membership converges again', async () => {
    const a = new EtcdDiscovery({ hosts: [server.url], ttlSeconds: 2, prefix: '/t2/', retryMs: 200 });
    const b = new EtcdDiscovery({ hosts: [server.url], ttlSeconds: 2, prefix: '/t2/', retryMs: 200 });
    nodes.push(a, b);
    await a.announce(info('a2'));
    await b.announce(info('b2'));
    await until(() => a.peers().length === 1 && b.peers().length === 1);
    await server.stop();
    await new Promise((r) => setTimeout(r, 3000)); // longer than the lease TTL
    await server.start();
    // Both re-announce and the watches resync: each sees the other again, with nothing stale.
    await until(
      () =>
        a
          .peers()
          .map((p) => p.info.id)
          .join() === 'b2' &&
        b
          .peers()
          .map((p) => p.info.id)
          .join() === 'a2',
      20_000,
    );
    const c = new EtcdDiscovery({ hosts: [server.url], prefix: '/t2/' });
    nodes.push(c);
    await c.announce(info('c2'));
    await until(() => c.peers().length === 2);
    expect(
      c
        .peers()
        .map((p) => p.info.id)
        .sort(),
    ).toEqual(['a2', 'b2']);
  }, 60_000);
});
