import { readFile } from 'node:fs/promises';
import { type NodeInfo, tmeshError } from '@tmesh/core';
import { PeerSet } from './peer-set.js';
import type { DiscoveredNode, Discovery, DiscoveryEvents } from './types.js';

/** Check that a value read from a config file is a usable NodeInfo; throws E_CONFIG saying what is wrong. */
export function parseNodeInfo(value: unknown, where: string): NodeInfo {
  const v = value as Partial<NodeInfo> | null;
  const fail = (what: string) => {
    throw tmeshError('E_CONFIG', `${where}: ${what}`);
  };
  if (typeof v !== 'object' || v === null) return fail('a peer must be an object');
  if (typeof v.id !== 'string' || v.id.length === 0) fail('"id" must be a non-empty string');
  if (typeof v.language !== 'string') fail(`peer ${v.id}: "language" must be a string`);
  if (!Array.isArray(v.endpoints) || v.endpoints.length === 0)
    fail(`peer ${v.id}: "endpoints" must list at least one endpoint`);
  for (const e of v.endpoints ?? []) {
    if (!e || !['tcp', 'unix', 'shm', 'grpc'].includes((e as { kind?: string }).kind ?? '')) {
      fail(`peer ${v.id}: endpoint ${JSON.stringify(e)} has no valid "kind" (tcp, unix, shm, grpc)`);
    }
  }
  return {
    id: v.id!,
    machineId: typeof v.machineId === 'string' ? v.machineId : `static:${v.id}`,
    language: v.language!,
    endpoints: v.endpoints!,
    wires: Array.isArray(v.wires) && v.wires.length > 0 ? v.wires : ['universal'],
    protocolVersions:
      Array.isArray(v.protocolVersions) && v.protocolVersions.length > 0 ? v.protocolVersions : [1],
    ...(Array.isArray(v.services) ? { services: v.services } : {}),
  };
}

/** Peers listed in configuration, e.g. `{ "peers": [ { "id": ..., "endpoints": [...] } ] }` in a JSON file. */
export class StaticDiscovery implements Discovery {
  readonly name = 'static';
  readonly #peers: PeerSet;
  readonly #initial: NodeInfo[];
  #selfId: string | undefined;

  constructor(peers: NodeInfo[]) {
    this.#peers = new PeerSet(() => this.#selfId);
    this.#initial = peers;
  }

  /** Read peers from a JSON config file (`{ "peers": [...] }`). */
  static async fromFile(path: string): Promise<StaticDiscovery> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw tmeshError('E_CONFIG', `cannot read peers file ${path}`, { cause });
    }
    let parsed: { peers?: unknown };
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw tmeshError('E_CONFIG', `${path} is not valid JSON`, { cause });
    }
    if (!Array.isArray(parsed?.peers)) throw tmeshError('E_CONFIG', `${path}: expected { "peers": [ ... ] }`);
    return new StaticDiscovery(parsed.peers.map((p, i) => parseNodeInfo(p, `${path} peers[${i}]`)));
  }

  async announce(info: NodeInfo): Promise<void> {
    this.#selfId = info.id;
    this.#peers.reconcile(this.#initial.map((p) => ({ info: p, source: this.name })));
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

  async close(): Promise<void> {}
}
