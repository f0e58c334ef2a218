import { join } from 'node:path';
import {
  type DecodedMessage,
  defaultWiresFor,
  type Endpoint,
  getMachineId,
  isTmeshError,
  type Language,
  MessageRegistry,
  type MessageType,
  type NodeInfo,
  PROTOCOL_VERSION,
  type TmeshError,
  type TmeshErrorCode,
  tmeshError,
  type WireId,
} from '@tmesh/core';
import {
  AdaptiveOptimizer,
  type ConfigChange,
  type OptimizerOptions,
  TransportMonitor,
} from '@tmesh/monitor';
import { type SelectionPolicy, selectTransport, type TransportChoice } from '@tmesh/selector';
import { decodeAcked, encodeAcked, isAcked } from './acked.js';
import { managerControl } from './control.js';
import { EtcdDiscovery, type EtcdDiscoveryOptions } from './discovery/etcd.js';
import { RuntimeDirDiscovery } from './discovery/runtime-dir.js';
import { StaticDiscovery } from './discovery/static.js';
import type { DiscoveredNode, Discovery } from './discovery/types.js';
import { MessageHold } from './hold.js';
import { AsyncQueue } from './inbox.js';
import type { IncomingSink, PeerTransport, SendOptions } from './transport.js';
import { createTransportFactory, type TransportOptions } from './transports.js';

/** A message delivered to this node. */
export interface IncomingMessage<T = unknown> {
  from: string;
  type: MessageType<T>;
  value: T;
  /** The strategy and route it came over. */
  via: { route: string; strategy: string };
}

/** A reply from a request handler. */
export interface Reply<R = unknown> {
  type: MessageType<R>;
  value: R;
}

/** A reply whose value is checked against the reply type's schema (the type decides, not the value). */
export interface TypedReply<R> {
  type: MessageType<R>;
  value: NoInfer<R>;
}

/** One line of the node's event log: fallbacks, reroutes, config changes, messages not delivered. */
export interface NodeEvent {
  at: number;
  peer: string;
  kind: 'route' | 'fallback' | 'failure' | 'config' | 'peer-gone' | 'undelivered' | 'refused';
  message: string;
  /**
   * 'undelivered': how many messages to `peer` whose `send` had resolved were not delivered (delivery
   * unknown). 'refused': how many messages from `peer` this node received but handed to no consumer.
   */
  count?: number;
}

/** What transports a node can open; the manager wires the real ones (net links, shm channels). */
export interface TransportFactory {
  /** Whether shared memory works in this process (addon loaded), and why not. */
  shm: { available: boolean; reason?: string };
  /** Open a transport for one of the selector's choices; throws a TmeshError when it cannot. */
  open(peer: NodeInfo, choice: TransportChoice, sink: IncomingSink): Promise<PeerTransport>;
  /** Start accepting connections for `host`; returns the endpoints to announce. */
  listen(sink: IncomingSink, host: { info: NodeInfo; registry: MessageRegistry }): Promise<Endpoint[]>;
  /** Apply an optimizer config to an open transport. */
  apply?(transport: PeerTransport, change: ConfigChange): void;
  close(): Promise<void>;
}

/** Options of {@link TmeshNode}. */
export interface NodeOptions {
  id: string;
  language?: Language;
  /** Message types this node sends and receives. */
  types: MessageType<any>[];
  machineId?: string;
  services?: string[];
  wires?: WireId[];
  /** Where peers come from. Default: the runtime directory (same machine). */
  discovery?: {
    runtimeDir?: string | false;
    peersFile?: string;
    peers?: NodeInfo[];
    etcd?: EtcdDiscoveryOptions;
  };
  policy?: SelectionPolicy;
  /**
   * The adaptive optimizer's options, e.g. `{ compression: 'fast' }` for lz4 instead of the default
   * `'best'` (zstd) on slow links, or its thresholds and hysteresis.
   */
  optimizer?: OptimizerOptions;
  /** Default deadline of `request` and of `send` with `delivery: 'acked'` (ms). Default 10 000. */
  requestTimeoutMs?: number;
  /**
   * Plain messages of a type that has no `on()` handler while no `messages()` iterator is open (e.g. they
   * arrived before the handler was registered) are held, in arrival order, until one is: at most
   * `maxMessages` per type (default 1024) and `maxBytes` of payload in all (default 16 MiB). What does not
   * fit, or everything with `false`, is refused and reported as a 'refused' event.
   */
  unclaimed?: { maxMessages?: number; maxBytes?: number } | false;
  /** Called for every event of the node's log (fallbacks, reroutes, config changes). */
  onEvent?: (event: NodeEvent) => void;
  /**
   * Route upgrades. When a peer's transport is a fallback (the selector's first choice failed to open,
   * e.g. the shared-memory setup with a peer that was restarting timed out), the node retries the first
   * choice in the background: after `initialMs` (default 1000), doubling up to `maxMs` (default 30 000),
   * each wait jittered by +-25 %, at most `maxAttempts` times (default: no limit, until the fallback
   * fails or the node closes). Each retry selects again with the node's policy, so a route the policy
   * rules out (e.g. `disableShm`) is never tried. When the first choice opens, new calls to the peer
   * wait while the fallback drains (calls in flight settle, then the peer acknowledges all it was sent),
   * for at most `drainMs` (default 5000; past that the upgrade is abandoned and retried later); then they
   * go over the new transport and the fallback is closed. `false`: keep a fallback until it fails.
   */
  upgrade?: { initialMs?: number; maxMs?: number; maxAttempts?: number; drainMs?: number } | false;
}

interface UpgradeOptions {
  initialMs: number;
  maxMs: number;
  maxAttempts: number;
  drainMs: number;
}

interface PeerState {
  info: NodeInfo;
  transport?: PeerTransport;
  connecting?: Promise<PeerTransport>;
  outstanding: number;
  sent: number;
  received: number;
  failures: number;
  /** Discovery reported it gone while a transport was still open: drop it when that transport closes. */
  left?: boolean;
  /** `transport` is a fallback: the next retry of the selector's first choice. */
  upgrade?: { timer: NodeJS.Timeout; attempt: number; from: PeerTransport; reason: string; at: number };
  /** Set while switching to the upgraded transport: new calls to the peer wait for it. */
  switching?: Promise<void>;
  /** Calls running on the peer's transports (a switch waits until none runs on the old one). */
  calls: number;
  /** Called when `calls` drops to 0. */
  idle?: Set<() => void>;
}

const TRANSPORT_FAILURES = new Set<TmeshErrorCode>([
  'E_CONNECTION',
  'E_PEER_GONE',
  'E_CLOSED',
  'E_HANDSHAKE',
  'E_NATIVE_UNAVAILABLE',
  'E_SHM_NOT_FOUND',
  'E_SHM_PERMISSION',
  'E_SHM_TOKEN',
  'E_SHM_EXISTS',
  'E_NO_ROUTE',
]);

/**
 * A tmesh node: finds peers, picks a transport per peer with the selector, sends, requests, broadcasts,
 * records every transmission in the monitor and applies the optimizer's configs. See `createNode`.
 */
export class TmeshNode {
  readonly info: NodeInfo;
  readonly registry: MessageRegistry;
  readonly monitor = new TransportMonitor();
  readonly optimizer: AdaptiveOptimizer;
  readonly #factory: TransportFactory;
  readonly #options: NodeOptions;
  readonly #discovery: Discovery[] = [];
  readonly #peers = new Map<string, PeerState>();
  readonly #handlers = new Map<number, Set<(m: IncomingMessage<any>) => void | Promise<void>>>();
  readonly #requestHandlers = new Map<number, (m: IncomingMessage<any>) => Reply | Promise<Reply>>();
  /** Open `messages()` iterators; a `stream(peer)` one takes only that peer's messages. */
  readonly #inboxes = new Map<AsyncQueue<IncomingMessage>, string | undefined>();
  readonly #hold: MessageHold<IncomingMessage>;
  #releaseQueued = false;
  /** Refusals not yet logged, per peer and reason: one event per burst, not one per message. */
  readonly #refusals = new Map<string, { peer: string; why: string; count: number }>();
  #refusalTimer: NodeJS.Immediate | undefined;
  readonly #events: NodeEvent[] = [];
  #tuner: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #upgradeOptions: UpgradeOptions | undefined;
  /** Upgrade attempts running (close() waits for them, so none leaves a channel behind). */
  readonly #upgrading = new Set<Promise<void>>();

  private constructor(options: NodeOptions, factory: TransportFactory, info: NodeInfo) {
    this.#options = options;
    this.#factory = factory;
    this.info = info;
    this.registry = new MessageRegistry([...options.types, ...Object.values(managerControl)]);
    this.optimizer = new AdaptiveOptimizer(options.optimizer);
    const upgrade = options.upgrade;
    if (upgrade !== false) {
      const initialMs = positive('upgrade.initialMs', upgrade?.initialMs, 1000);
      this.#upgradeOptions = {
        initialMs,
        maxMs: Math.max(initialMs, positive('upgrade.maxMs', upgrade?.maxMs, 30_000)),
        maxAttempts:
          upgrade?.maxAttempts === undefined
            ? Number.POSITIVE_INFINITY
            : nonNegative('upgrade.maxAttempts', upgrade.maxAttempts, 0),
        drainMs: positive('upgrade.drainMs', upgrade?.drainMs, 5000),
      };
    }
    const unclaimed = options.unclaimed;
    this.#hold = new MessageHold(
      unclaimed === false
        ? { maxMessages: 0, maxBytes: 0 }
        : {
            maxMessages: nonNegative('unclaimed.maxMessages', unclaimed?.maxMessages, 1024),
            maxBytes: nonNegative('unclaimed.maxBytes', unclaimed?.maxBytes, 16 * 1024 * 1024),
          },
    );
  }

  /** Start a node: listen, announce, and begin watching peers. */
  static async start(options: NodeOptions, factory: TransportFactory): Promise<TmeshNode> {
    if (typeof options.id !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(options.id)) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        `node id must be 1-128 characters of [A-Za-z0-9._-], got ${JSON.stringify(options.id)}`,
      );
    }
    const language = options.language ?? 'typescript';
    const info: NodeInfo = {
      id: options.id,
      machineId: options.machineId ?? getMachineId(),
      language,
      endpoints: [],
      wires: options.wires ?? defaultWiresFor(language),
      protocolVersions: [PROTOCOL_VERSION],
      ...(options.services ? { services: options.services } : {}),
    };
    const node = new TmeshNode(options, factory, info);
    info.endpoints = await factory.listen(node.#sink, node);
    await node.#startDiscovery();
    node.handle(managerControl.Echo, (m) => {
      if (!isAcked(m.value.payload)) return { type: managerControl.Echo, value: m.value };
      node.#takeAcked(m.from, m.value.payload, m.via);
      return { type: managerControl.Echo, value: { payload: new Uint8Array(0) } };
    });
    node.optimizer.subscribe((change) => node.#applyConfig(change));
    node.#tuner = setInterval(() => node.#tune(), 1000);
    node.#tuner.unref();
    return node;
  }

  /**
   * Call `handler` for every message of `type` (not for requests, which go to `handle`). Messages of the
   * type that were held because nobody consumed them yet come first, in arrival order, to every handler
   * registered in the same job. Returns an unsubscribe.
   */
  on<T>(type: MessageType<T>, handler: (message: IncomingMessage<T>) => void | Promise<void>): () => void {
    let set = this.#handlers.get(type.id);
    if (!set) {
      set = new Set();
      this.#handlers.set(type.id, set);
    }
    set.add(handler as (m: IncomingMessage<any>) => void);
    if (this.#hold.count(type.id) > 0) this.#queueRelease();
    return () => set.delete(handler as (m: IncomingMessage<any>) => void);
  }

  /** Answer requests of `type`; a thrown TmeshError reaches the requester with its code. */
  handle<T, R>(
    type: MessageType<T>,
    handler: (message: IncomingMessage<T>) => TypedReply<R> | Promise<TypedReply<R>>,
  ): void {
    this.#requestHandlers.set(type.id, handler as (m: IncomingMessage<any>) => Reply);
  }

  /**
   * Every incoming message (requests excluded), for `for await`, starting with those held because nobody
   * consumed them yet. Bounded: past `limit` unread messages, further ones are refused for this iterator
   * and reported as a 'refused' event.
   */
  messages(limit = 10_000): AsyncIterableIterator<IncomingMessage> {
    return this.#openInbox(limit, undefined);
  }

  #openInbox(limit: number, peer: string | undefined): AsyncIterableIterator<IncomingMessage> {
    const q = new AsyncQueue<IncomingMessage>(limit);
    this.#inboxes.set(q, peer);
    if (this.#hold.size > 0) this.#queueRelease();
    const done = q.return.bind(q);
    q.return = () => {
      this.#inboxes.delete(q);
      return done();
    };
    return q;
  }

  /**
   * Send one message to a peer by id. By default it resolves when the transport accepted it (backpressure
   * applies; a later failure is an 'undelivered' event). With `delivery: 'acked'` it resolves once the
   * peer node handed it to an `on()` handler or a `messages()` iterator, and rejects when the peer refused
   * it (E_UNKNOWN_MESSAGE_TYPE: no consumer for the type; E_BACKPRESSURE: its iterators are full;
   * E_NOT_SUPPORTED: a peer that does not take acked messages), timed out or its transport failed.
   */
  async send<T>(peer: string, type: MessageType<T>, value: T, options: SendOptions = {}): Promise<void> {
    const delivery = options.delivery;
    if (delivery !== undefined && delivery !== 'queued') {
      if (delivery === 'acked') return this.#sendAcked(peer, type, value, options);
      throw tmeshError('E_INVALID_ARGUMENT', `delivery must be 'queued' or 'acked', got ${String(delivery)}`);
    }
    await this.#withTransport(peer, async (transport, state) => {
      await transport.send(type, value, options);
      state.sent++;
    });
  }

  async #sendAcked<T>(peer: string, type: MessageType<T>, value: T, options: SendOptions): Promise<void> {
    const payload = encodeAcked(type, value);
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs ?? 10_000;
    const { signal } = options;
    await this.#withTransport(peer, async (transport, state) => {
      const reply = await transport.request(
        managerControl.Echo,
        { payload },
        { timeoutMs, ...(signal ? { signal } : {}) },
      );
      state.sent++;
      if ((reply.value as { payload: Uint8Array }).payload.length !== 0) {
        // The peer echoed the payload back: it does not know acked messages and did not deliver this one.
        throw tmeshError(
          'E_NOT_SUPPORTED',
          `${peer} does not take acked messages (it echoed the request back): ${type.name} was not delivered`,
        );
      }
    });
  }

  /** Send a request and wait for the reply (deadline `timeoutMs`, default 10 s; abort with `signal`). */
  async request<T>(
    peer: string,
    type: MessageType<T>,
    value: T,
    options: SendOptions = {},
  ): Promise<IncomingMessage> {
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs ?? 10_000;
    // Counted from the call, not from when the transport is open, so concurrent sendToService calls
    // already see each other's load.
    const counted = this.#peers.get(peer);
    if (counted) counted.outstanding++;
    try {
      return await this.#withTransport(peer, async (transport, state) => {
        const reply = await transport.request(type, value, { ...options, timeoutMs });
        state.sent++;
        return this.#incoming(peer, reply, transport);
      });
    } finally {
      if (counted) counted.outstanding--;
    }
  }

  /** Send to every known peer (or those `filter` keeps); one peer failing does not stop the others. */
  async broadcast<T>(
    type: MessageType<T>,
    value: T,
    filter?: (peer: NodeInfo) => boolean,
  ): Promise<{ delivered: string[]; failed: { peer: string; error: unknown }[] }> {
    const targets = [...this.#peers.values()].map((p) => p.info).filter((p) => !filter || filter(p));
    const results = await Promise.allSettled(targets.map((p) => this.send(p.id, type, value)));
    const delivered: string[] = [];
    const failed: { peer: string; error: unknown }[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') delivered.push(targets[i]!.id);
      else failed.push({ peer: targets[i]!.id, error: r.reason });
    });
    return { delivered, failed };
  }

  /** A conversation with one peer: `send` to it, and `for await` over what it sends to this node. */
  stream(
    peer: string,
    limit = 1000,
  ): {
    send: <T>(type: MessageType<T>, value: T) => Promise<void>;
    close: () => void;
  } & AsyncIterable<IncomingMessage> {
    const source = this.#openInbox(limit, peer);
    const own = async function* (): AsyncGenerator<IncomingMessage> {
      for await (const m of source) if (m.from === peer) yield m;
    };
    return {
      send: (type, value) => this.send(peer, type, value),
      close: () => void source.return?.(),
      [Symbol.asyncIterator]: own,
    };
  }

  /** Send a request to one of the nodes offering `service`: least outstanding requests first, then lowest RTT. */
  async sendToService<T>(
    service: string,
    type: MessageType<T>,
    value: T,
    options: SendOptions = {},
  ): Promise<IncomingMessage> {
    const offering = [...this.#peers.values()].filter((p) => p.info.services?.includes(service));
    if (offering.length === 0)
      throw tmeshError('E_NO_ROUTE', `no known node offers service ${JSON.stringify(service)}`);
    const rtt = (p: PeerState) =>
      p.transport?.rttMs() ?? this.monitor.linkCondition(p.info.id).rttMs ?? Number.POSITIVE_INFINITY;
    offering.sort(
      (a, b) => a.outstanding - b.outstanding || rtt(a) - rtt(b) || a.info.id.localeCompare(b.info.id),
    );
    return this.request(offering[0]!.info.id, type, value, options);
  }

  /** Known peers with the route in use (if any) and counters. */
  peers(): {
    info: NodeInfo;
    route?: string;
    strategy?: string;
    explanation?: string;
    resource?: string;
    /** The route in use is a fallback: the background retry of the preferred one. */
    upgrade?: { attempts: number; nextInMs: number; reason: string };
    sent: number;
    received: number;
    outstanding: number;
  }[] {
    return [...this.#peers.values()].map((p) => ({
      info: p.info,
      ...(p.transport
        ? {
            route: p.transport.route,
            strategy: p.transport.strategy.kind,
            explanation: p.transport.explanation,
            ...(p.transport.resource ? { resource: p.transport.resource } : {}),
          }
        : {}),
      ...(p.upgrade && p.upgrade.from === p.transport
        ? {
            upgrade: {
              attempts: p.upgrade.attempt,
              nextInMs: Math.max(0, p.upgrade.at - Date.now()),
              reason: p.upgrade.reason,
            },
          }
        : {}),
      sent: p.sent,
      received: p.received,
      outstanding: p.outstanding,
    }));
  }

  /** The monitor's report, the node's peers, messages held for a consumer, and its event log. */
  stats() {
    this.monitor.flush();
    return {
      node: this.info.id,
      shm: this.#factory.shm,
      peers: this.peers(),
      report: this.monitor.report(),
      /** Messages held because no `on()` handler or `messages()` iterator consumes their type yet. */
      held: [...this.#hold.counts()].map(([id, messages]) => ({
        type: this.registry.byId(id).name,
        messages,
      })),
      events: [...this.#events],
    };
  }

  /** Drain and close every transport, withdraw from discovery. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#tuner) clearInterval(this.#tuner);
    for (const q of this.#inboxes.keys()) q.end();
    for (const m of this.#hold.take(() => true))
      this.#refuse(
        m.from,
        `node closed with messages of ${m.type.name} held (no on() handler or messages() took them)`,
      );
    this.#flushRefusals();
    for (const p of this.#peers.values()) this.#cancelUpgrade(p);
    await Promise.allSettled([...this.#peers.values()].map((p) => p.transport?.close()));
    await Promise.allSettled(this.#discovery.map((d) => d.close()));
    await this.#factory.close();
    // An upgrade that was opening a transport ends now (its link closed with the factory); whatever it
    // opened is closed before close() resolves.
    await Promise.allSettled([...this.#upgrading]);
    this.monitor.close();
  }

  /** Add or update a peer by hand (discovery does this for announced nodes). */
  addPeer(info: NodeInfo): void {
    const state = this.#peers.get(info.id);
    if (state) {
      state.info = info;
      state.left = false;
    } else this.#peers.set(info.id, { info, outstanding: 0, sent: 0, received: 0, failures: 0, calls: 0 });
  }

  #log(peer: string, kind: NodeEvent['kind'], message: string, count?: number): void {
    const event: NodeEvent = {
      at: Date.now(),
      peer,
      kind,
      message,
      ...(count !== undefined ? { count } : {}),
    };
    this.#events.push(event);
    if (this.#events.length > 1000) this.#events.shift();
    this.#options.onEvent?.(event);
  }

  readonly #sink: IncomingSink = {
    message: (from, msg, via) => {
      const state = this.#peers.get(from);
      if (state) state.received++;
      this.#deliver(this.#incoming(from, msg, via), msg.header.payloadSize, false);
    },
    request: async (from, msg, via) => {
      const state = this.#peers.get(from);
      if (state) state.received++;
      const handler = this.#requestHandlers.get(msg.type.id);
      if (!handler)
        throw tmeshError(
          'E_UNKNOWN_MESSAGE_TYPE',
          `${this.info.id} has no request handler for ${msg.type.name}`,
        );
      return handler(this.#incoming(from, msg, via));
    },
    heartbeat: (peer, rttMs) => {
      if (!this.#closed) this.monitor.recordHeartbeat(peer, rttMs);
    },
    undelivered: (peer, via, error) => {
      // `send` resolves once a transport accepted a message; when the link later fails what it still
      // held (the peer restarted, or reconnecting gave up), this is where the sender hears about it.
      const count = (error as { details?: { count?: unknown } })?.details?.count;
      this.#log(
        peer,
        'undelivered',
        `${via.route}: ${(error as Error)?.message ?? String(error)}`,
        typeof count === 'number' ? count : undefined,
      );
    },
    closed: (peer, via, error) => {
      const state = this.#peers.get(peer);
      if (state?.transport === via) {
        state.transport = undefined;
        // The next call selects again from the first choice: no upgrade of a transport that is gone.
        this.#cancelUpgrade(state);
        if (state.left) this.#peers.delete(peer);
        this.#log(
          peer,
          'peer-gone',
          `${via.route} transport closed${error ? `: ${(error as Error).message}` : ''}`,
        );
      }
    },
  };

  /** Whether an `on()` handler or a `messages()` iterator takes this message now. */
  #claimed(typeId: number, from: string): boolean {
    if ((this.#handlers.get(typeId)?.size ?? 0) > 0) return true;
    for (const peer of this.#inboxes.values()) if (peer === undefined || peer === from) return true;
    return false;
  }

  /**
   * Hand a message to its consumers, or hold it until there is one. Returns why it was refused when
   * `acked` (the sender is told); a refused plain message is reported as a 'refused' event.
   */
  #deliver(incoming: IncomingMessage, bytes: number, acked: boolean): TmeshError | undefined {
    const id = incoming.type.id;
    // The common case first: handlers for the type, nothing held, no iterators.
    if (this.#hold.size === 0 && this.#inboxes.size === 0) {
      const handlers = this.#handlers.get(id);
      if (handlers !== undefined && handlers.size > 0) {
        this.#runHandlers(handlers, incoming);
        return undefined;
      }
    }
    const claimed = this.#claimed(id, incoming.from);
    if (claimed && this.#hold.count(id) > 0) {
      // Earlier messages of this type wait for the release that is queued: this one goes behind them.
      this.#hold.add(incoming, id, bytes, true);
      this.#queueRelease();
      return undefined;
    }
    if (claimed) return this.#hand(incoming, acked);
    if (acked) {
      return this.#refused(
        incoming.from,
        'E_UNKNOWN_MESSAGE_TYPE',
        `${this.info.id} has no on() handler or messages() iterator for ${incoming.type.name}: refused`,
      );
    }
    if (this.#closed || !this.#hold.add(incoming, id, bytes)) {
      this.#refuse(
        incoming.from,
        `no on() handler or messages() iterator for ${incoming.type.name}, and the hold for it is full`,
      );
    }
    return undefined;
  }

  /** Run the handlers of the message's type and queue it for every `messages()` iterator. */
  #hand(incoming: IncomingMessage, acked: boolean): TmeshError | undefined {
    const handlers = this.#handlers.get(incoming.type.id);
    let taken = false;
    if (handlers !== undefined && handlers.size > 0) {
      this.#runHandlers(handlers, incoming);
      taken = true;
    }
    let missed = 0;
    for (const [q, peer] of this.#inboxes) {
      if (peer !== undefined && peer !== incoming.from) continue;
      if (q.push(incoming)) taken = true;
      else missed++;
    }
    if (missed === 0) return undefined;
    const why = `${missed} messages() iterator(s) full (${incoming.type.name} not queued for them)`;
    if (acked && !taken)
      return this.#refused(incoming.from, 'E_BACKPRESSURE', `${this.info.id}: ${why}: refused`);
    this.#refuse(incoming.from, why);
    return undefined;
  }

  /** Handlers run now, in arrival order, so a later request's handler sees every earlier message. */
  #runHandlers(
    handlers: Set<(m: IncomingMessage<any>) => void | Promise<void>>,
    incoming: IncomingMessage,
  ): void {
    for (const h of handlers) {
      try {
        const r = h(incoming);
        if (r && typeof (r as Promise<void>).catch === 'function')
          (r as Promise<void>).catch((e: unknown) => this.#handlerFailed(incoming, e));
      } catch (e) {
        this.#handlerFailed(incoming, e);
      }
    }
  }

  #handlerFailed(incoming: IncomingMessage, e: unknown): void {
    this.#log(incoming.from, 'failure', `handler for ${incoming.type.name} threw: ${(e as Error)?.message}`);
  }

  /** Held messages whose type has a consumer now go to it, in arrival order (one job after `on()`). */
  #queueRelease(): void {
    if (this.#releaseQueued) return;
    this.#releaseQueued = true;
    queueMicrotask(() => {
      this.#releaseQueued = false;
      if (this.#closed) return;
      for (const m of this.#hold.take((id, held) => this.#claimed(id, held.from))) this.#hand(m, false);
    });
  }

  /** An acked message (an Echo request carrying one): deliver it, or throw why not (the sender's error). */
  #takeAcked(from: string, payload: Uint8Array, via: IncomingMessage['via']): void {
    const { type, value, bytes } = decodeAcked(payload, this.registry);
    const refused = this.#deliver({ from, type, value, via }, bytes, true);
    if (refused) throw refused;
  }

  #refused(peer: string, code: TmeshErrorCode, message: string): TmeshError {
    this.#refuse(peer, message);
    return tmeshError(code, message);
  }

  /** Count a refused message for the event log (one 'refused' event per peer and reason per burst). */
  #refuse(peer: string, why: string): void {
    const key = `${peer}\0${why}`;
    const entry = this.#refusals.get(key);
    if (entry) entry.count++;
    else this.#refusals.set(key, { peer, why, count: 1 });
    this.#refusalTimer ??= setImmediate(() => this.#flushRefusals());
  }

  #flushRefusals(): void {
    if (this.#refusalTimer) clearImmediate(this.#refusalTimer);
    this.#refusalTimer = undefined;
    for (const r of this.#refusals.values()) this.#log(r.peer, 'refused', r.why, r.count);
    this.#refusals.clear();
  }

  #incoming(from: string, msg: DecodedMessage, via: PeerTransport): IncomingMessage {
    return { from, type: msg.type, value: msg.value, via: { route: via.route, strategy: via.strategy.kind } };
  }

  async #withTransport<R>(peer: string, fn: (t: PeerTransport, s: PeerState) => Promise<R>): Promise<R> {
    if (this.#closed) throw tmeshError('E_CLOSED', `node ${this.info.id} is closed`);
    let state = this.#peers.get(peer);
    if (!state) {
      await Promise.allSettled(this.#discovery.map((d) => d.refresh?.()));
      state = this.#peers.get(peer);
      if (!state)
        throw tmeshError('E_NO_ROUTE', `node ${this.info.id} knows no peer ${JSON.stringify(peer)}`);
    }
    let transport: PeerTransport;
    for (;;) {
      if (state.switching) {
        await state.switching;
        if (this.#closed) throw tmeshError('E_CLOSED', `node ${this.info.id} is closed`);
        continue;
      }
      transport = await this.#transportFor(state);
      // Counted in the same job as the check: a switch that starts later waits for this call.
      if (!state.switching) break;
    }
    state.calls++;
    const recorder = this.monitor.recorder(peer, transport.strategy);
    const before = transport.bytesOut();
    const started = process.hrtime.bigint();
    try {
      const result = await fn(transport, state);
      recorder.record(transport.bytesOut() - before, Number(process.hrtime.bigint() - started), 'ok');
      return result;
    } catch (e) {
      const outcome = isTmeshError(e, 'E_TIMEOUT') ? 'timeout' : 'error';
      recorder.record(transport.bytesOut() - before, Number(process.hrtime.bigint() - started), outcome);
      if (isTmeshError(e) && TRANSPORT_FAILURES.has(e.code) && !transport.isOpen()) {
        // The transport died under this message: the caller hears about it (delivery unknown); the next
        // send selects again and falls back.
        if (state.transport === transport) state.transport = undefined;
        state.failures++;
        this.#log(peer, 'failure', `${transport.route} failed: ${e.message}`);
      }
      throw e;
    } finally {
      if (--state.calls === 0 && state.idle !== undefined) {
        const waiters = state.idle;
        state.idle = undefined;
        for (const w of waiters) w();
      }
    }
  }

  /**
   * Resolves true once no call to the peer runs, false if some still do after `ms`. While a switch waits
   * here no call starts, so the ones it waits for all run on the transport being replaced.
   */
  #whenIdle(state: PeerState, ms: number): Promise<boolean> {
    if (state.calls === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      state.idle ??= new Set();
      const waiters = state.idle;
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiters.delete(done);
        resolve(false);
      }, ms);
      waiters.add(done);
    });
  }

  #transportFor(state: PeerState): Promise<PeerTransport> {
    if (state.transport?.isOpen()) return Promise.resolve(state.transport);
    state.connecting ??= this.#open(state).finally(() => {
      state.connecting = undefined;
    });
    return state.connecting;
  }

  #select(peer: NodeInfo) {
    return selectTransport({
      source: this.info,
      destination: peer,
      messageSize: 0,
      link: this.monitor.linkCondition(peer.id),
      shmAvailable: this.#factory.shm.available,
      ...(this.#options.policy ? { policy: this.#options.policy } : {}),
    });
  }

  async #open(state: PeerState): Promise<PeerTransport> {
    const peer = state.info;
    const selection = this.#select(peer);
    const errors: string[] = [];
    for (const choice of [selection, ...selection.fallbacks]) {
      try {
        const transport = await this.#factory.open(peer, choice, this.#sink);
        state.transport = transport;
        this.#log(
          peer.id,
          errors.length ? 'fallback' : 'route',
          `${transport.strategy.kind} over ${transport.route}: ${transport.explanation}${errors.length ? ` (after: ${errors.join('; ')})` : ''}`,
        );
        this.#cancelUpgrade(state);
        // The first choice failed to open: retry it in the background rather than keep the fallback for
        // the life of the link.
        if (errors.length) this.#planUpgrade(state, transport, errors[0]!, 0);
        return transport;
      } catch (e) {
        const reason = isTmeshError(e) ? e.message : String(e);
        errors.push(`${choice.route} ${choice.strategy.kind}: ${reason}`);
      }
    }
    throw tmeshError('E_NO_ROUTE', `no transport reaches ${peer.id}: ${errors.join('; ')}`);
  }

  #cancelUpgrade(state: PeerState): void {
    if (state.upgrade) clearTimeout(state.upgrade.timer);
    state.upgrade = undefined;
  }

  /** Schedule retry number `attempt` (from 0) of the preferred route while `from` is a fallback. */
  #planUpgrade(state: PeerState, from: PeerTransport, reason: string, attempt: number): void {
    const opts = this.#upgradeOptions;
    this.#cancelUpgrade(state);
    if (!opts || this.#closed) return;
    if (attempt >= opts.maxAttempts) {
      if (attempt === 0) return;
      this.#log(
        state.info.id,
        'fallback',
        `staying on ${from.route}: the preferred route did not open in ${attempt} upgrade attempts`,
      );
      return;
    }
    const base = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30));
    const delay = Math.min(opts.maxMs, Math.round(base * (0.75 + Math.random() * 0.5)));
    const timer = setTimeout(() => {
      if (state.upgrade?.timer !== timer) return;
      const run: Promise<void> = this.#tryUpgrade(state, from, attempt)
        .catch((e: unknown) =>
          this.#log(state.info.id, 'failure', `route upgrade failed: ${(e as Error)?.message ?? String(e)}`),
        )
        .finally(() => this.#upgrading.delete(run));
      this.#upgrading.add(run);
    }, delay);
    timer.unref();
    state.upgrade = { timer, attempt, from, reason, at: Date.now() + delay };
  }

  /** Whether `from` is still the peer's transport, open, and the node and peer still here. */
  #current(state: PeerState, from: PeerTransport): boolean {
    return (
      !this.#closed && state.transport === from && from.isOpen() && this.#peers.get(state.info.id) === state
    );
  }

  /**
   * Open the preferred route beside the fallback `from`; if it opens, drain `from` (new calls wait, calls
   * in flight settle, the peer acknowledges all it was sent), switch, and close `from`.
   */
  async #tryUpgrade(state: PeerState, from: PeerTransport, attempt: number): Promise<void> {
    if (!this.#current(state, from)) return;
    const opts = this.#upgradeOptions!;
    const peer = state.info.id;
    const reason = state.upgrade?.reason ?? '';
    const preferred = this.#select(state.info);
    if (preferred.route === from.route && preferred.strategy.kind === from.strategy.kind) {
      // The selection changed (e.g. the peer no longer announces shm): the route in use is the choice now.
      this.#cancelUpgrade(state);
      return;
    }
    const label = `${preferred.strategy.kind} over ${preferred.route}`;
    let next: PeerTransport;
    try {
      next = await this.#factory.open(state.info, preferred, this.#sink);
    } catch (e) {
      if (!this.#current(state, from)) return;
      this.#log(
        peer,
        'fallback',
        `still on ${from.route}: upgrade attempt ${attempt + 1} to ${label} failed: ${isTmeshError(e) ? e.message : String(e)}`,
      );
      this.#planUpgrade(state, from, reason, attempt + 1);
      return;
    }
    if (!this.#current(state, from)) {
      await next.close().catch(() => {});
      return;
    }
    let release!: () => void;
    state.switching = new Promise<void>((r) => {
      release = r;
    });
    const started = Date.now();
    let why = '';
    try {
      if (!(await this.#whenIdle(state, opts.drainMs))) {
        why = `calls on ${from.route} still running after ${opts.drainMs} ms`;
      } else if (from.flush) {
        const left = Math.max(1, opts.drainMs - (Date.now() - started));
        let timer: NodeJS.Timeout | undefined;
        const flushed = await Promise.race([
          from.flush().then(() => true),
          new Promise<false>((r) => {
            timer = setTimeout(() => r(false), left);
          }),
        ]).finally(() => clearTimeout(timer));
        if (!flushed) why = `${from.route} not acknowledged within ${opts.drainMs} ms`;
      }
    } catch (e) {
      why = `${from.route} failed while draining: ${(e as Error)?.message ?? String(e)}`;
    }
    const switched = why === '' && this.#current(state, from);
    if (switched) {
      state.transport = next;
      this.#cancelUpgrade(state);
      this.#log(
        peer,
        'route',
        `upgraded from ${from.route} to ${next.route} after ${attempt + 1} attempt(s) (drained ${from.route} in ${Date.now() - started} ms; fallback since: ${reason}): ${next.strategy.kind} over ${next.route}: ${next.explanation}`,
      );
    }
    state.switching = undefined;
    release();
    if (switched) {
      // Everything sent over it is acknowledged and nothing runs on it: a graceful close loses nothing.
      await from.close().catch(() => {});
      return;
    }
    await next.close().catch(() => {});
    if (!this.#current(state, from)) return;
    this.#log(peer, 'fallback', `still on ${from.route}: upgrade to ${label} abandoned: ${why}`);
    this.#planUpgrade(state, from, reason, attempt + 1);
  }

  #tune(): void {
    for (const state of this.#peers.values()) {
      if (!state.transport) continue;
      this.optimizer.update(state.info.id, this.monitor.linkCondition(state.info.id), {
        sameMachine: state.info.machineId === this.info.machineId,
      });
    }
  }

  #applyConfig(change: ConfigChange): void {
    const transport = this.#peers.get(change.peer)?.transport;
    if (!transport) return;
    this.#factory.apply?.(transport, change);
    this.#log(change.peer, 'config', change.reasons.join('; '));
  }

  async #startDiscovery(): Promise<void> {
    const d = this.#options.discovery ?? {};
    if (d.runtimeDir !== false)
      this.#discovery.push(
        new RuntimeDirDiscovery(typeof d.runtimeDir === 'string' ? { dir: d.runtimeDir } : {}),
      );
    if (d.peers?.length) this.#discovery.push(new StaticDiscovery(d.peers));
    if (d.peersFile) this.#discovery.push(await StaticDiscovery.fromFile(d.peersFile));
    if (d.etcd) this.#discovery.push(new EtcdDiscovery(d.etcd));
    const join = (n: DiscoveredNode) => this.addPeer(n.info);
    const leave = (n: DiscoveredNode) => {
      const state = this.#peers.get(n.info.id);
      if (!state) return;
      if (state.transport?.isOpen()) state.left = true;
      else this.#peers.delete(n.info.id);
    };
    for (const source of this.#discovery) {
      source.on('join', join).on('leave', leave);
      await source.announce(this.info);
      for (const n of source.peers()) join(n);
    }
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw tmeshError('E_INVALID_ARGUMENT', `${name} must be a positive number of ms, got ${String(value)}`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0)
    throw tmeshError('E_INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${String(value)}`);
  return value;
}

/** Options of {@link createNode}: the node's own, plus where it listens and how it secures links. */
export interface CreateNodeOptions extends NodeOptions {
  transport?: TransportOptions;
}

/**
 * Start a tmesh node: it listens (Unix socket and TCP by default, gRPC when asked), announces itself to
 * discovery, and reaches each peer over the transport the selector picks (shared memory on the same
 * machine, the language's wire or protobuf across machines), falling back along the selector's order.
 */
export function createNode(options: CreateNodeOptions): Promise<TmeshNode> {
  const runtimeDir = options.discovery?.runtimeDir;
  const transport: TransportOptions = { ...options.transport };
  // The Unix socket lives beside the discovery records, so nodes of different runtime dirs never collide.
  if (transport.unix === undefined && typeof runtimeDir === 'string')
    transport.unix = join(runtimeDir, `${options.id}.sock`);
  return TmeshNode.start(options, createTransportFactory(transport));
}
