import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Endpoint, NodeInfo } from '@tmesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdServer, hasEtcd } from '../../../../test-support/etcd.js';
import { NetnsPair, netnsSkipReason } from '../../../../test-support/netns.js';
import { until } from '../../../../test-support/wait.js';

// Two network namespaces, A and B, joined by a veth pair: the nodes listen on that link. Each namespace
// also has a veth to the host namespace, where a real etcd listens on the host side of A's veth (B reaches
// that address through its own veth: the host owns it). A tmesh node runs in each namespace as its own
// process, announces itself through EtcdDiscovery and prints the peers it sees.

const NODE = fileURLToPath(new URL('./fixtures/etcd-netns-node.ts', import.meta.url));
const TTL_SECONDS = 2;

const skipReason =
  netnsSkipReason(['ip']) ?? (hasEtcd ? undefined : 'needs an etcd binary: apt-get install -y etcd-server');
if (skipReason) console.warn(`etcd netns integration test skipped: ${skipReason}`);

// The link between the namespaces: A .1, B .2 (a /30 each, all inside the pair's random /24).
const pair = new NetnsPair('etcd');
const { suffix, net, ipA: A_IP, ipB: B_IP } = pair;
// A <-> host: host .5 (etcd), A .6.   B <-> host: host .9, B .10.
const ETCD_IP = `${net}.5`;

type PeerView = { id: string; machineId: string; endpoints: Endpoint[] }[];
interface PeerLine {
  /** The node's own peers (`node.peers()`). */
  peers: PeerView;
  /** What a watch on the etcd prefix lists, this node left out. */
  etcd: PeerView;
  at: number;
}
interface EchoLine {
  echo: { peer: string; ok: boolean; route?: string; error?: string };
}

/** A node process in a namespace, with every JSON line it printed. */
class NsNode {
  readonly lines: Record<string, unknown>[] = [];
  readonly proc: ChildProcess;
  stderr = '';
  constructor(ns: string, config: object) {
    this.proc = pair.spawn(ns, process.execPath, ['--import', 'tsx', NODE, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let buffered = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        this.lines.push(JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
  }
  get info(): NodeInfo | undefined {
    return this.lines.find((l) => 'ready' in l)?.ready as NodeInfo | undefined;
  }
  /** The node's own peers, as it printed them last. */
  get peers(): PeerView {
    return this.lastPeerLine()?.peers ?? [];
  }
  /** The peers etcd lists, as it printed them last. */
  get etcd(): PeerView {
    return this.lastPeerLine()?.etcd ?? [];
  }
  lastPeerLine(): PeerLine | undefined {
    return this.lines.filter((l) => 'peers' in l).pop() as PeerLine | undefined;
  }
  async ready(): Promise<NodeInfo> {
    await until(() => this.info !== undefined || this.proc.exitCode !== null, 20_000).catch(() => {});
    if (!this.info) throw new Error(`node did not start (exit ${this.proc.exitCode}): ${this.stderr}`);
    return this.info;
  }
  async echo(peer: string): Promise<EchoLine['echo']> {
    const before = this.lines.length;
    this.proc.stdin!.write(`echo ${peer}\n`);
    const found = () => this.lines.slice(before).find((l) => 'echo' in l) as EchoLine | undefined;
    await until(() => found() !== undefined, 10_000);
    return found()!.echo;
  }
}

/** `until`, failing with what both nodes printed so far. */
async function waitFor(fn: () => boolean, ms: number, nodes: NsNode[]): Promise<void> {
  try {
    await until(fn, ms);
  } catch {
    const seen = nodes.map((n) => `${JSON.stringify(n.lines)}\nstderr: ${n.stderr}`).join('\n---\n');
    throw new Error(`timed out after ${ms} ms; the nodes printed:\n${seen}`);
  }
}

describe.skipIf(skipReason !== undefined)('etcd discovery across two network namespaces', () => {
  const nodes: NsNode[] = [];
  let etcd: EtcdServer | undefined;

  beforeAll(async () => {
    pair.setup();
    pair.linkToHost(pair.a, ETCD_IP, `${net}.6`);
    pair.linkToHost(pair.b, `${net}.9`, `${net}.10`);
    pair.exec(pair.a, 'ip', 'route', 'add', `${ETCD_IP}/32`, 'via', `${net}.5`);
    pair.exec(pair.b, 'ip', 'route', 'add', `${ETCD_IP}/32`, 'via', `${net}.9`);
    etcd = new EtcdServer(ETCD_IP);
    await etcd.start();
  }, 30_000);

  afterAll(async () => {
    for (const n of nodes) n.proc.kill('SIGKILL');
    await etcd?.dispose();
    for (const failure of pair.dispose()) console.warn(failure);
  });

  it('each node sees the other with its machine id and endpoint, reaches it, and sees it leave when its lease lapses', async () => {
    const common = { etcd: etcd!.url, prefix: `/tmesh-netns-${suffix}/`, ttlSeconds: TTL_SECONDS };
    const a = new NsNode(pair.a, { id: 'node-a', machineId: `machine-a-${suffix}`, host: A_IP, ...common });
    const b = new NsNode(pair.b, { id: 'node-b', machineId: `machine-b-${suffix}`, host: B_IP, ...common });
    nodes.push(a, b);
    const [infoA, infoB] = await Promise.all([a.ready(), b.ready()]);
    // Each listens only on its end of the link between the namespaces.
    expect(infoA.endpoints).toEqual([{ kind: 'tcp', host: A_IP, port: expect.any(Number) }]);
    expect(infoB.endpoints).toEqual([{ kind: 'tcp', host: B_IP, port: expect.any(Number) }]);

    await waitFor(
      () => a.peers.length === 1 && b.peers.length === 1 && a.etcd.length === 1 && b.etcd.length === 1,
      15_000,
      nodes,
    );
    const seenByA = [{ id: 'node-b', machineId: `machine-b-${suffix}`, endpoints: infoB.endpoints }];
    const seenByB = [{ id: 'node-a', machineId: `machine-a-${suffix}`, endpoints: infoA.endpoints }];
    expect(a.peers).toEqual(seenByA);
    expect(a.etcd).toEqual(seenByA);
    expect(b.peers).toEqual(seenByB);
    expect(b.etcd).toEqual(seenByB);

    // The announced endpoints work across the veth link: an Echo request each way over TCP.
    expect(await a.echo('node-b')).toEqual({ peer: 'node-b', ok: true, route: 'tcp' });
    expect(await b.echo('node-a')).toEqual({ peer: 'node-a', ok: true, route: 'tcp' });

    // SIGKILL: no revoke, so etcd drops B's record only when its lease expires.
    const linesBeforeKill = a.lines.length;
    const killedAt = Date.now();
    b.proc.kill('SIGKILL');
    await waitFor(() => a.etcd.length === 0, 15_000, nodes);
    const line = a.lines
      .slice(linesBeforeKill)
      .find((l) => 'etcd' in l && (l as unknown as PeerLine).etcd.length === 0) as unknown as PeerLine;
    const leftAfterMs = line.at - killedAt;
    console.log(`node-a saw node-b leave etcd ${leftAfterMs} ms after SIGKILL (lease TTL ${TTL_SECONDS} s)`);
    // The lease was last renewed at most a third of the TTL before the kill (etcd3 renews at TTL/3).
    expect(leftAfterMs).toBeGreaterThanOrEqual(((TTL_SECONDS * 2) / 3) * 1000 - 250);
    expect(leftAfterMs).toBeLessThan(TTL_SECONDS * 1000 + 5000);
    expect(a.proc.exitCode).toBeNull();
  }, 45_000);
});
