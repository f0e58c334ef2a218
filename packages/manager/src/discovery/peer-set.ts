import { EventEmitter } from 'node:events';
import type { DiscoveredNode, DiscoveryEvents } from './types.js';
import { sameInfo } from './types.js';

/** The known peers of one discovery source, emitting join/leave as records change. */
export class PeerSet extends EventEmitter {
  readonly #nodes = new Map<string, DiscoveredNode>();

  constructor(private readonly selfId: () => string | undefined) {
    super();
  }

  /** Insert or update a record; emits 'join' when it is new or changed. */
  upsert(node: DiscoveredNode): void {
    if (node.info.id === this.selfId()) return;
    const prior = this.#nodes.get(node.info.id);
    this.#nodes.set(node.info.id, node);
    if (!prior || !sameInfo(prior.info, node.info)) this.emit('join', node);
  }

  /** Remove a record; emits 'leave' if it was known. */
  remove(id: string): void {
    const prior = this.#nodes.get(id);
    if (!prior) return;
    this.#nodes.delete(id);
    this.emit('leave', prior);
  }

  /** Replace the whole set with a fresh listing (after a rescan or a watch resync). */
  reconcile(nodes: DiscoveredNode[]): void {
    const seen = new Set<string>();
    for (const n of nodes) {
      seen.add(n.info.id);
      this.upsert(n);
    }
    for (const id of [...this.#nodes.keys()]) if (!seen.has(id)) this.remove(id);
  }

  list(): DiscoveredNode[] {
    return [...this.#nodes.values()];
  }

  override on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    return super.on(event, listener);
  }
}
