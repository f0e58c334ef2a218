import type { NodeInfo } from '@tmesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdServer, hasEtcd } from '../../../../test-support/etcd.js';
import { until } from '../../../../test-support/wait.js';
import { EtcdDiscovery } from './etcd.js';

const info = (id: string): NodeInfo => ({
  id,
  machineId: `machine-${id}`,
  language: 'typescript',
  endpoints: [{ kind: 'tcp', host: '127.0.0.1', port: 1 }],
  wires: ['rust', 'swift', 'universal'],
  protocolVersions: [1],
});

describe.skipIf(!hasEtcd)('etcd discovery (real etcd on loopback)', () => {
  let server: EtcdServer;
  const nodes: EtcdDiscovery[] = [];

  beforeAll(async () => {
    server = new EtcdServer();
    await server.start();
  }, 30_000);

  afterAll(async () => {
    for (const n of nodes) await n.close().catch(() => {});
    await server?.dispose();
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
