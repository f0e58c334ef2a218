import type { NodeInfo } from '@tmesh/core';

/** A node as discovery sees it: its announced info, and where the record came from. */
export interface DiscoveredNode {
  info: NodeInfo;
  /** Which discovery source reported it ('runtime-dir', 'static', 'etcd'). */
  source: string;
  /** Process id, when the source knows it (same machine only). */
  pid?: number;
}

/** Events of a discovery source: a node appeared, changed, or went away. */
export interface DiscoveryEvents {
  join: (node: DiscoveredNode) => void;
  leave: (node: DiscoveredNode) => void;
}

/** One way of finding peers. Every source announces this node and reports the others. */
export interface Discovery {
  readonly name: string;
  /** Publish this node (again, if its info changed). */
  announce(info: NodeInfo): Promise<void>;
  /** The nodes currently known, this node excluded. */
  peers(): DiscoveredNode[];
  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this;
  off<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this;
  /** Look again now (where the source can), e.g. before giving up on an unknown peer id. */
  refresh?(): Promise<void>;
  /** Withdraw this node and stop watching. */
  close(): Promise<void>;
}

/** Same node info, compared field by field (so a re-announce with no change is not an event). */
export function sameInfo(a: NodeInfo, b: NodeInfo): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
