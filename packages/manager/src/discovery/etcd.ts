import { type NodeInfo, tmeshError } from '@tmesh/core';
import { Etcd3, type Lease, type Watcher } from 'etcd3';
import { PeerSet } from './peer-set.js';
import type { DiscoveredNode, Discovery, DiscoveryEvents } from './types.js';

/** Options of {@link EtcdDiscovery}. */
export interface EtcdDiscoveryOptions {
  /** etcd client URLs, e.g. ['http://127.0.0.1:2379']. */
  hosts: string[];
  /** Key prefix under which nodes announce themselves. Default '/tmesh/nodes/'. */
  prefix?: string;
  /** Lease TTL in seconds: a node that stops renewing disappears after this long. Default 5. */
  ttlSeconds?: number;
  /** How often to retry after losing etcd (ms). Default 500. */
  retryMs?: number;
}

/**
 * Cluster discovery through etcd: each node puts `<prefix><id>` under a lease it keeps alive; peers
 * watch the prefix. When etcd restarts or the lease is lost, the node re-grants and re-announces, and the
 * watch resyncs with a full listing, so membership converges again without a restart of the node.
 */
export class EtcdDiscovery implements Discovery {
  readonly name = 'etcd';
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #retryMs: number;
  readonly #peers: PeerSet;
  #self: NodeInfo | undefined;
  #lease: Lease | undefined;
  #watcher: Watcher | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  /** Last error talking to etcd, for `tmesh doctor` and stats; undefined when healthy. */
  lastError: Error | undefined;

  constructor(options: EtcdDiscoveryOptions) {
    if (!options.hosts?.length) throw tmeshError('E_CONFIG', 'etcd discovery needs at least one host URL');
    this.#client = new Etcd3({ hosts: options.hosts, dialTimeout: 2000 });
    this.#prefix = options.prefix ?? '/tmesh/nodes/';
    this.#ttl = options.ttlSeconds ?? 5;
    this.#retryMs = options.retryMs ?? 500;
    this.#peers = new PeerSet(() => this.#self?.id);
  }

  async announce(info: NodeInfo): Promise<void> {
    this.#self = info;
    await this.#register();
    await this.#watch();
  }

  /** Watch and list the nodes without announcing this process (for `tmesh peers`). */
  async listOnly(): Promise<void> {
    await this.#watch();
  }

  peers(): DiscoveredNode[] {
    return this.#peers.list();
  }

  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#peers.on(event, listener);
    return this;
  }

  off<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#peers.off(event, listener);
    return this;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#watcher?.cancel().catch(() => {});
    await this.#lease?.revoke().catch(() => {});
    this.#client.close();
  }

  async #register(): Promise<void> {
    const self = this.#self;
    if (!self || this.#closed) return;
    const old = this.#lease;
    this.#lease = undefined;
    old?.removeAllListeners();
    await old?.revoke().catch(() => {});
    const lease = this.#client.lease(this.#ttl, { autoKeepAlive: true });
    lease.on('lost', (err) => {
      this.lastError = err;
      if (this.#lease === lease) this.#scheduleRetry();
    });
    this.#lease = lease;
    try {
      await lease.put(this.#prefix + self.id).value(JSON.stringify(self));
      this.lastError = undefined;
    } catch (cause) {
      this.lastError = cause as Error;
      this.#scheduleRetry();
      throw tmeshError('E_CONNECTION', `etcd: cannot announce ${self.id}`, { cause });
    }
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#register()
        .then(() => this.#resync())
        .catch(() => this.#scheduleRetry());
    }, this.#retryMs);
    this.#retry.unref();
  }

  async #resync(): Promise<void> {
    const all = await this.#client.getAll().prefix(this.#prefix).strings();
    const nodes: DiscoveredNode[] = [];
    for (const value of Object.values(all)) {
      try {
        nodes.push({ info: JSON.parse(value) as NodeInfo, source: this.name });
      } catch {
        // a foreign key under our prefix: ignore it
      }
    }
    if (!this.#closed) this.#peers.reconcile(nodes);
  }

  async #watch(): Promise<void> {
    if (this.#watcher) return;
    const watcher = await this.#client.watch().prefix(this.#prefix).create();
    this.#watcher = watcher;
    watcher.on('put', (kv) => {
      try {
        this.#peers.upsert({ info: JSON.parse(kv.value.toString()) as NodeInfo, source: this.name });
      } catch {
        // ignore foreign values
      }
    });
    watcher.on('delete', (kv) => this.#peers.remove(kv.key.toString().slice(this.#prefix.length)));
    watcher.on('connected', () => void this.#resync().catch(() => {}));
    watcher.on('disconnected', (err) => {
      this.lastError = err;
    });
    watcher.on('error', (err) => {
      this.lastError = err;
    });
    await this.#resync();
  }
}
