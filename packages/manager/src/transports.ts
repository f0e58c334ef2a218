import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compileRust } from '@tmesh/codec-rust';
import {
  type CompressionAlgorithm,
  type DecodedMessage,
  type Endpoint,
  FRAME_FLAGS,
  type IdleStrategy,
  isTmeshError,
  type MessageRegistry,
  type MessageType,
  type NodeInfo,
  type TmeshErrorCode,
  type TransportStrategy,
  tmeshError,
  type WireId,
} from '@tmesh/core';
import type { ConfigChange } from '@tmesh/monitor';
import {
  connect,
  connectGrpc,
  type Link,
  type LinkAuth,
  type LinkServer,
  type LinkTlsOptions,
  listen,
  listenGrpc,
} from '@tmesh/net';
import type { TransportChoice } from '@tmesh/selector';
import { isAvailable, ShmChannel, type ShmMessage } from '@tmesh/shm-native';
import { managerControl } from './control.js';
import { defaultRuntimeDir } from './discovery/runtime-dir.js';
import { probeSocket } from './discovery/socket-files.js';
import type { TransportFactory } from './node.js';
import type { IncomingSink, PeerTransport, SendOptions } from './transport.js';

/** Where and how a node accepts and opens connections. */
export interface TransportOptions {
  /** TCP listener (default 127.0.0.1 on a free port); false for none. */
  tcp?: { host?: string; port?: number } | false;
  /** Unix socket path (default `<runtime dir>/<id>.sock`); false for none. */
  unix?: string | false;
  /** gRPC fallback listener; off unless given. */
  grpc?: { host?: string; port?: number } | false;
  tls?: LinkTlsOptions;
  /** Handshake auth: a shared token, or per-node keys (`key` to connect, `keys` of nodes let in). */
  auth?: LinkAuth;
  compression?: CompressionAlgorithm[];
  /**
   * Shared memory: on when the addon loads, unless false. `accept` decides on each ShmOffer a peer makes
   * (default: accept every one): `true` opens the offered channel, a string declines with that reason
   * (the peer then keeps its network link, and may offer again later).
   */
  shm?:
    | false
    | {
        capacity?: number;
        idle?: IdleStrategy;
        accept?: (offer: { name: string; from: string }) => true | string | Promise<true | string>;
      };
  heartbeatMs?: number;
  deadAfterMs?: number;
}

/** Record flags of the manager's request/response protocol over shared memory (docs/PROTOCOL.md section 8). */
export const SHM_FLAGS = Object.freeze({
  RESPONSE: FRAME_FLAGS.RESPONSE,
  REQUEST: FRAME_FLAGS.REQUEST,
  ERROR: 0x0020,
});

const WIRES: WireId[] = ['rust', 'swift', 'universal'];

/** Wires in the order that makes the handshake agree on `first` (the connecting side's order wins). */
function wiresStartingWith(first: WireId, spoken: WireId[]): WireId[] {
  return [first, ...spoken.filter((w) => w !== first)];
}

function wireOf(strategy: TransportStrategy): WireId {
  return strategy.kind === 'rust' || strategy.kind === 'swift' ? strategy.kind : 'universal';
}

/** A network link (TCP, TLS, Unix socket or gRPC) used as a peer transport. */
export class NetTransport implements PeerTransport {
  readonly route: TransportChoice['route'];
  /** The wire and the compression in force (updated when the optimizer turns compression on or off). */
  strategy: TransportStrategy;
  readonly explanation: string;
  readonly link: Link;
  #open = true;

  constructor(
    link: Link,
    route: TransportChoice['route'],
    explanation: string,
    sink: IncomingSink,
    onShmOffer: (link: Link, msg: DecodedMessage) => Promise<{ type: MessageType<any>; value: unknown }>,
  ) {
    this.link = link;
    this.route = route;
    this.explanation = explanation;
    const compression = link.compression;
    this.strategy = route === 'grpc' ? { kind: 'grpc' } : { kind: link.wire, compression };
    const peer = link.peer.id;
    link.on('message', (msg: DecodedMessage) => sink.message(peer, msg, this));
    link.onRequest((msg) =>
      msg.type.id === managerControl.ShmOffer.id ? onShmOffer(link, msg) : sink.request(peer, msg, this),
    );
    link.on('heartbeat', (rtt: number) => sink.heartbeat(peer, rtt));
    link.on('undelivered', (error: unknown) => sink.undelivered?.(peer, this, error));
    link.on('error', () => {});
    link.once('close', (reason?: unknown) => {
      this.#open = false;
      sink.closed(peer, this, reason);
    });
  }

  send<T>(type: MessageType<T>, value: T, options: SendOptions = {}): Promise<void> {
    return this.link.send(type, value, options);
  }

  request<T>(type: MessageType<T>, value: T, options: SendOptions = {}): Promise<DecodedMessage> {
    return this.link.request(type, value, options);
  }

  /** Resolves when the peer acknowledged every frame queued so far (it has read them, in order). */
  flush(): Promise<void> {
    return this.link.flush();
  }

  bytesOut(): number {
    return this.link.stats().bytesOut;
  }

  rttMs(): number | undefined {
    return this.link.stats().rttMs;
  }

  isOpen(): boolean {
    return this.#open;
  }

  close(): Promise<void> {
    return this.link.close();
  }
}

interface Pending {
  resolve: (m: DecodedMessage) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  cleanup: () => void;
}

/**
 * A shared-memory channel used as a peer transport. Records carry the message type id, the flags and the
 * bincode payload (the Rust wire's payload, language-neutral by schema). Requests and replies prefix the
 * payload with a u32 correlation id (little-endian); an error reply carries "CODE: message" in UTF-8.
 */
/** Messages of at least this size arrive from the shm addon in a Buffer of their own (DIRECT_BATCH_MIN). */
const SHM_OWN_BUFFER_MIN = 64 * 1024;

export class ShmTransport implements PeerTransport {
  readonly route = 'shm' as const;
  readonly strategy: TransportStrategy;
  readonly resource: string;
  readonly explanation: string;
  readonly channel: ShmChannel;
  readonly #registry: MessageRegistry;
  readonly #sink: IncomingSink;
  readonly #peer: string;
  readonly #pending = new Map<number, Pending>();
  readonly #onClosed: (() => void) | undefined;
  #nextId = 1;
  #bytesOut = 0;
  #open = true;

  constructor(
    channel: ShmChannel,
    peer: string,
    registry: MessageRegistry,
    sink: IncomingSink,
    explanation: string,
    onClosed?: () => void,
  ) {
    this.#onClosed = onClosed;
    this.channel = channel;
    this.#peer = peer;
    this.#registry = registry;
    this.#sink = sink;
    this.explanation = explanation;
    this.strategy = { kind: 'shm', idle: channel.idle };
    this.resource = channel.name;
    void this.#receive();
  }

  send<T>(type: MessageType<T>, value: T, options: SendOptions = {}): Promise<void> {
    const payload = compileRust(type.schema).encode(value);
    this.#bytesOut += payload.length;
    return this.channel.send(payload, { type: type.id, ...shmDeadline(options) });
  }

  request<T>(type: MessageType<T>, value: T, options: SendOptions = {}): Promise<DecodedMessage> {
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    const payload = compileRust(type.schema).encode(value);
    const record = new Uint8Array(4 + payload.length);
    new DataView(record.buffer).setUint32(0, id, true);
    record.set(payload, 4);
    return new Promise<DecodedMessage>((resolve, reject) => {
      const onAbort = () =>
        settle(tmeshError('E_ABORTED', `request ${type.name} to ${this.#peer} was aborted`));
      const settle = (error: unknown) => {
        const p = this.#pending.get(id);
        if (!p) return;
        p.cleanup();
        p.reject(error);
      };
      const timer = options.timeoutMs
        ? setTimeout(
            () =>
              settle(
                tmeshError(
                  'E_TIMEOUT',
                  `no reply to ${type.name} from ${this.#peer} over shm within ${options.timeoutMs} ms`,
                ),
              ),
            options.timeoutMs,
          )
        : undefined;
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        resolve,
        reject,
        timer,
        cleanup: () => {
          this.#pending.delete(id);
          if (timer) clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
        },
      });
      if (options.signal?.aborted) return onAbort();
      this.#bytesOut += record.length;
      this.channel
        .send(record, { type: type.id, flags: SHM_FLAGS.REQUEST, ...shmDeadline(options) })
        .catch(settle);
    });
  }

  bytesOut(): number {
    return this.#bytesOut;
  }

  rttMs(): number | undefined {
    return undefined;
  }

  isOpen(): boolean {
    return this.#open && !this.channel.closed;
  }

  async close(): Promise<void> {
    this.channel.close();
  }

  async #receive(): Promise<void> {
    let failure: unknown;
    try {
      for await (const m of this.channel.messages()) this.#dispatch(m);
    } catch (e) {
      failure = e;
    }
    this.#open = false;
    // Our end closes too: when the peer closed or died, that unlinks the region and its doorbells now,
    // not when this node closes (a long-running node would otherwise keep one dead region per restart).
    this.channel.close();
    this.#onClosed?.();
    const error =
      failure ?? tmeshError('E_CLOSED', `shm channel ${this.channel.name} to ${this.#peer} closed`);
    for (const p of [...this.#pending.values()]) {
      p.cleanup();
      p.reject(error);
    }
    this.#sink.closed(this.#peer, this, error);
  }

  #dispatch(m: ShmMessage): void {
    try {
      if (m.flags & SHM_FLAGS.RESPONSE) {
        this.#settle(m);
        return;
      }
      const type = this.#registry.byId(m.type);
      if (m.flags & SHM_FLAGS.REQUEST) {
        const id = m.data.readUInt32LE(0);
        const msg = this.#decoded(type, m, m.data.subarray(4));
        void this.#answer(id, msg);
        return;
      }
      this.#sink.message(this.#peer, this.#decoded(type, m, m.data), this);
    } catch (e) {
      // A record we cannot decode is dropped with a reason, never delivered half-read.
      this.#sink.closed(this.#peer, this, e);
    }
  }

  #decoded(type: MessageType<unknown>, m: ShmMessage, payload: Uint8Array): DecodedMessage {
    // Every ShmMessage's bytes are ours (the addon copies out of the ring), so a large payload's bytes
    // fields can stay views of it: it has a Buffer of its own. A small one sits in a batch buffer shared
    // with other messages, so its bytes are copied rather than keeping the whole batch alive.
    const value = compileRust(type.schema).decode(payload, { copy: payload.length < SHM_OWN_BUFFER_MIN });
    return {
      type,
      value,
      header: {
        version: 1,
        messageType: m.type,
        flags: m.flags,
        payloadSize: payload.length,
        sequence: m.sequence,
        timestamp: m.timestamp,
        checksum: 0,
      },
    };
  }

  async #answer(id: number, msg: DecodedMessage): Promise<void> {
    let record: Uint8Array;
    let type: number;
    let flags = SHM_FLAGS.RESPONSE;
    try {
      const reply = await this.#sink.request(this.#peer, msg, this);
      const payload = compileRust(reply.type.schema).encode(reply.value);
      record = new Uint8Array(4 + payload.length);
      record.set(payload, 4);
      type = reply.type.id;
    } catch (e) {
      const text = Buffer.from(
        isTmeshError(e) ? e.message : `E_INTERNAL: ${String((e as Error)?.message ?? e)}`,
      );
      record = new Uint8Array(4 + text.length);
      record.set(text, 4);
      type = msg.type.id;
      flags |= SHM_FLAGS.ERROR;
    }
    new DataView(record.buffer).setUint32(0, id, true);
    this.#bytesOut += record.length;
    await this.channel.send(record, { type, flags }).catch(() => {});
  }

  #settle(m: ShmMessage): void {
    const id = m.data.readUInt32LE(0);
    const p = this.#pending.get(id);
    if (!p) return;
    p.cleanup();
    if (m.flags & SHM_FLAGS.ERROR) {
      const text = m.data.subarray(4).toString('utf8');
      const match = /^(E_[A-Z_]+): ([\s\S]*)$/.exec(text);
      const code = (match?.[1] ?? 'E_INTERNAL') as TmeshErrorCode;
      p.reject(tmeshError(code, `${this.#peer} answered: ${match?.[2] ?? text}`));
      return;
    }
    try {
      p.resolve(this.#decoded(this.#registry.byId(m.type), m, m.data.subarray(4)));
    } catch (e) {
      p.reject(e);
    }
  }
}

function shmDeadline(options: SendOptions): { timeout?: number; signal?: AbortSignal } {
  return {
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

/**
 * The real transports: network links from @tmesh/net and shared-memory channels from @tmesh/shm-native.
 * Shared memory is set up over a network link first: the dialing node creates a channel and offers its
 * name and token in a ShmOffer request; the peer opens it and answers. The link stays as the control path.
 */
export function createTransportFactory(options: TransportOptions = {}): TransportFactory {
  let host: { info: NodeInfo; registry: MessageRegistry } | undefined;
  const self = () => host!.info;
  const registry = () => host!.registry;
  const probe =
    options.shm === false ? { available: false, reason: 'disabled by configuration' } : isAvailable();
  const servers: LinkServer[] = [];
  const channels = new Set<ShmChannel>();
  const links = new Set<Link>();
  let unixPath: string | undefined;
  let sinkRef: IncomingSink | undefined;

  const linkOptions = (wires?: WireId[]) => ({
    self: self(),
    registry: registry(),
    ...(wires ? { wires } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.compression ? { compression: options.compression } : {}),
    ...(options.heartbeatMs !== undefined ? { heartbeatMs: options.heartbeatMs } : {}),
    ...(options.deadAfterMs !== undefined ? { deadAfterMs: options.deadAfterMs } : {}),
  });

  const onShmOffer = async (link: Link, msg: DecodedMessage) => {
    const offer = msg.value as { name: string; token: Uint8Array; ringBytes: number };
    if (!probe.available)
      return {
        type: managerControl.ShmAnswer,
        value: { accepted: false, reason: probe.reason ?? 'shared memory unavailable' },
      };
    try {
      const shmOpts = options.shm || {};
      if (shmOpts.accept) {
        const verdict = await shmOpts.accept({ name: offer.name, from: link.peer.id });
        if (verdict !== true)
          return {
            type: managerControl.ShmAnswer,
            value: { accepted: false, reason: String(verdict) || 'declined' },
          };
      }
      const channel = ShmChannel.open(offer.name, {
        token: Buffer.from(offer.token).toString('hex'),
        ...(shmOpts.idle ? { idle: shmOpts.idle } : {}),
      });
      channels.add(channel);
      new ShmTransport(
        channel,
        link.peer.id,
        registry(),
        sinkRef!,
        `accepted shm channel ${offer.name} offered by ${link.peer.id}`,
        () => channels.delete(channel),
      );
      return { type: managerControl.ShmAnswer, value: { accepted: true, reason: '' } };
    } catch (e) {
      return {
        type: managerControl.ShmAnswer,
        value: { accepted: false, reason: isTmeshError(e) ? e.message : String(e) },
      };
    }
  };

  const dial = async (
    peer: NodeInfo,
    endpoint: Endpoint,
    route: TransportChoice['route'],
    wire: WireId,
  ): Promise<Link> => {
    const opts = {
      ...linkOptions(
        wiresStartingWith(
          wire,
          self().wires.filter((w) => WIRES.includes(w)),
        ),
      ),
      reconnect: { maxAttempts: 5 },
    };
    const link = route === 'grpc' ? await connectGrpc(endpoint, opts) : await connect(endpoint, opts);
    if (link.peer.id !== peer.id) {
      await link.close();
      throw tmeshError('E_AUTH', `endpoint of ${peer.id} answered as ${link.peer.id}`);
    }
    links.add(link);
    link.once('close', () => links.delete(link));
    return link;
  };

  return {
    shm: probe,

    async listen(
      sink: IncomingSink,
      owner: { info: NodeInfo; registry: MessageRegistry },
    ): Promise<Endpoint[]> {
      host = owner;
      sinkRef = sink;
      const endpoints: Endpoint[] = [];
      const onLink = (link: Link) => {
        links.add(link);
        link.once('close', () => links.delete(link));
        new NetTransport(link, 'tcp', `accepted from ${link.peer.id}`, sink, onShmOffer);
      };
      if (options.unix !== false) {
        const path = options.unix ?? join(defaultRuntimeDir(), `${self().id}.sock`);
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        if ((await probeSocket(path)).state === 'live') {
          throw tmeshError(
            'E_CONFIG',
            `another process already listens at ${path}: is node id ${self().id} running twice?`,
          );
        }
        rmSync(path, { force: true }); // a socket file left by a process that died
        unixPath = path;
        const server = await listen({ kind: 'unix', path: unixPath }, { ...linkOptions(), onLink });
        servers.push(server);
        endpoints.push(server.address());
      }
      if (options.tcp !== false) {
        const server = await listen(
          {
            kind: 'tcp',
            host: options.tcp?.host ?? '127.0.0.1',
            port: options.tcp?.port ?? 0,
            ...(options.tls ? { tls: true } : {}),
          },
          { ...linkOptions(), onLink },
        );
        servers.push(server);
        endpoints.push(server.address());
      }
      if (options.grpc) {
        const server = await listenGrpc(
          { kind: 'grpc', host: options.grpc.host ?? '127.0.0.1', port: options.grpc.port ?? 0 },
          { ...linkOptions(), onLink },
        );
        servers.push(server);
        endpoints.push(server.address());
      }
      if (probe.available) endpoints.push({ kind: 'shm', name: self().id });
      return endpoints;
    },

    async open(peer: NodeInfo, choice: TransportChoice, sink: IncomingSink): Promise<PeerTransport> {
      if (choice.route !== 'shm') {
        const link = await dial(peer, choice.endpoint, choice.route, wireOf(choice.strategy));
        return new NetTransport(link, choice.route, choice.explanation, sink, onShmOffer);
      }
      if (!probe.available)
        throw tmeshError('E_NATIVE_UNAVAILABLE', probe.reason ?? 'shared memory unavailable');
      const control =
        peer.endpoints.find((e) => e.kind === 'unix') ?? peer.endpoints.find((e) => e.kind === 'tcp');
      if (!control)
        throw tmeshError(
          'E_NO_ROUTE',
          `${peer.id} announces no unix or tcp endpoint to set up shared memory over`,
        );
      // The control link is a connection of its own (never the one a unix/tcp transport to the same peer
      // uses): it stays open beside the channel, and is closed here when the offer fails, so a failed
      // setup (and every retry of a route upgrade) leaves no connection behind.
      const link = await dial(peer, control, control.kind === 'unix' ? 'unix' : 'tcp', 'rust');
      new NetTransport(link, control.kind === 'unix' ? 'unix' : 'tcp', 'shm control link', sink, onShmOffer);
      const shmOpts = options.shm || {};
      const name = `tm${randomBytes(6).toString('hex')}`;
      let channel: ShmChannel;
      try {
        channel = ShmChannel.create(name, {
          ...(shmOpts.capacity ? { capacity: shmOpts.capacity } : {}),
          ...(shmOpts.idle ? { idle: shmOpts.idle } : {}),
        });
      } catch (e) {
        void link.close().catch(() => {});
        throw e;
      }
      channels.add(channel);
      try {
        const answer = await link.request(
          managerControl.ShmOffer,
          { name, token: Buffer.from(channel.token, 'hex'), ringBytes: channel.capacity },
          { timeoutMs: 5000 },
        );
        const value = answer.value as { accepted: boolean; reason: string };
        if (!value.accepted)
          throw tmeshError('E_NOT_SUPPORTED', `${peer.id} declined shared memory: ${value.reason}`);
      } catch (e) {
        channel.close();
        channels.delete(channel);
        void link.close().catch(() => {});
        throw e;
      }
      return new ShmTransport(channel, peer.id, registry(), sink, choice.explanation, () =>
        channels.delete(channel),
      );
    },

    apply(transport: PeerTransport, change: ConfigChange): void {
      if (transport instanceof NetTransport) {
        const link = transport.link;
        link.applyConfig({
          batchDelayMs: change.config.batchDelayMs,
          requestTimeoutMs: change.config.timeoutMs,
        });
        // The optimizer names an algorithm or 'best'/'fast'; one the link did not negotiate gives way to
        // the best one it did (off when the peer reads no compression).
        const compression = change.config.compression === 'none' ? 'off' : change.config.compression;
        try {
          link.applyConfig({ compression });
        } catch (error) {
          if (!isTmeshError(error, 'E_NOT_SUPPORTED')) throw error;
          link.applyConfig({ compression: 'best' });
        }
        // The monitor records what follows under the new label (e.g. rust+zstd).
        if (transport.route !== 'grpc')
          transport.strategy = { kind: link.wire, compression: link.compression };
      } else if (transport instanceof ShmTransport) {
        transport.channel.idle = change.config.shmIdle;
      }
    },

    async close(): Promise<void> {
      // Channels first: closing them is immediate and lets the last end unlink its region, while a link's
      // graceful close may wait for acknowledgements.
      for (const c of channels) c.close();
      await Promise.allSettled([...links].map((l) => l.close()));
      await Promise.allSettled(servers.map((s) => s.close()));
      if (unixPath) rmSync(unixPath, { force: true });
    },
  };
}
