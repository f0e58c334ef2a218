import {
  type CompressionAlgorithm,
  DEFAULT_MAX_FRAME_SIZE,
  type MessageRegistry,
  type NodeInfo,
  PROTOCOL_VERSION,
  tmeshError,
  type WireId,
} from '@tmesh/core';
import { SUPPORTED_COMPRESSION } from './compression.js';
import { checkAuth, type LinkAuth, type LinkSecret, secretBytes } from './negotiate.js';

/** TLS 1.3 material: this side's certificate and key, and the CA that signs peers' certificates. */
export interface LinkTlsCertificates {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
}

/**
 * TLS 1.3 with pre-shared keys instead of certificates (sockets only, not gRPC). The PSK identity is the
 * node id: a connecting node offers its own `key` under its id; an accepting node looks the identity up
 * in `keys` and requires the Hello node id to equal it. A node that does both gives both.
 */
export interface LinkTlsPsk {
  psk: { key?: LinkSecret; keys?: Record<string, LinkSecret> };
}

/** TLS 1.3: mutual certificates, or pre-shared keys bound to node ids. */
export type LinkTlsOptions = LinkTlsCertificates | LinkTlsPsk;

/** Options shared by listen and connect (both transports). */
export interface LinkOptions {
  /** This node's identity, announced in the Hello. */
  self: NodeInfo;
  /** The application's message types. */
  registry: MessageRegistry;
  /** Wires this side accepts, in preference order (default `self.wires`). */
  wires?: WireId[];
  /**
   * HMAC challenge in the handshake: a `token` shared by all nodes, or per-node keys (`key` to connect
   * with, `keys` of the nodes allowed in, by id) that bind each peer to its node id.
   */
  auth?: LinkAuth;
  /**
   * TLS 1.3 (never lower): mutual certificates (the peer's certificate CN or a SAN must equal its Hello
   * node id) or pre-shared keys (the PSK identity must equal its Hello node id).
   */
  tls?: LinkTlsOptions;
  /** Compression algorithms offered; when given, this side compresses frames above the threshold. */
  compression?: CompressionAlgorithm[];
  /** Largest frame accepted (default 64 MiB); the smaller of both sides' limits applies. */
  maxFrameSize?: number;
  /** Bound of the send queue (unsent plus unacknowledged): default 32 MiB and 65536 messages. */
  sendQueue?: { maxBytes?: number; maxMessages?: number };
  /** Extra time frames may wait to be coalesced into one write (default 0: one write per event-loop turn). */
  batchDelayMs?: number;
  /** Heartbeat interval (default 1000 ms; 0 disables heartbeats and dead-peer detection). */
  heartbeatMs?: number;
  /**
   * A peer silent this long is declared gone and the connection dropped (default 5000 ms). Checked at
   * heartbeat ticks, which also note that bytes arrived: the silence acted on is deadAfterMs up to
   * deadAfterMs + 2 x heartbeatMs.
   */
  deadAfterMs?: number;
  /** Limit for the whole handshake (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** Default request timeout, and the bound of close()'s drain (default 30000 ms). */
  requestTimeoutMs?: number;
  /** Frames at least this large are compressed when compression is on (default 4096 bytes). */
  compressionThreshold?: number;
  /** How long an accepting side keeps a dropped link's state for the peer to come back (default 10000 ms). */
  resumeWindowMs?: number;
  /** Most live links one peer node id may hold on a server (default 16). */
  maxLinksPerPeer?: number;
  /** Most links (live or awaiting resumption) one server holds, all peers together (default 1024). */
  maxConnections?: number;
  /** Most connections one server handshakes at once, i.e. not yet authenticated (default 64). */
  maxHandshakes?: number;
  /** Protocol versions offered (default [PROTOCOL_VERSION]); for tests of version negotiation. */
  protocolVersions?: number[];
  /**
   * Reuse the buffer of a big received frame (64 KiB or more) for the next one once its message was
   * handed to the 'message' listeners and they returned (default false: every frame is a new buffer).
   * Bytes fields of such messages are views of that buffer, so with this on they are valid only until
   * the listener returns: copy what you keep. Messages that wait (in `messages()`, for a request handler
   * or as a response) are never reused. Saves the allocation and the garbage collections of a buffer
   * per big message (receiver CPU per MiB about halved in `packages/net/bench/net.bench.ts`).
   */
  reuseReceiveBuffers?: boolean;
}

/** LinkOptions with every default filled in. */
export interface ResolvedLinkOptions {
  self: NodeInfo;
  registry: MessageRegistry;
  wires: WireId[];
  auth: LinkAuth | undefined;
  /** Certificate TLS, when configured. */
  tls: LinkTlsCertificates | undefined;
  /** TLS with pre-shared keys, when configured. */
  tlsPsk: LinkTlsPsk['psk'] | undefined;
  compressionOffered: CompressionAlgorithm[];
  compressionApply: boolean;
  compressionThreshold: number;
  maxFrameSize: number;
  queueMaxBytes: number;
  queueMaxMessages: number;
  batchDelayMs: number;
  heartbeatMs: number;
  deadAfterMs: number;
  handshakeTimeoutMs: number;
  requestTimeoutMs: number;
  resumeWindowMs: number;
  maxLinksPerPeer: number;
  maxConnections: number;
  maxHandshakes: number;
  protocolVersions: number[];
  reuseReceiveBuffers: boolean;
}

function flag(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean')
    throw tmeshError('E_INVALID_ARGUMENT', `options.${name} must be a boolean, got ${typeof value}`);
  return value;
}

function checkTls(tls: LinkTlsOptions | undefined): Pick<ResolvedLinkOptions, 'tls' | 'tlsPsk'> {
  if (tls === undefined) return { tls: undefined, tlsPsk: undefined };
  if (typeof tls !== 'object' || tls === null)
    throw tmeshError('E_INVALID_ARGUMENT', 'options.tls must be an object');
  if ('psk' in tls && tls.psk !== undefined) {
    const t = tls as LinkTlsPsk & Partial<LinkTlsCertificates>;
    if (t.cert !== undefined || t.key !== undefined || t.ca !== undefined)
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        'options.tls takes certificates (cert, key, ca) or psk, not both',
      );
    const { key, keys } = t.psk;
    if (key === undefined && keys === undefined)
      throw tmeshError('E_INVALID_ARGUMENT', 'tls.psk needs a key (to connect) or keys (to accept), or both');
    if (key !== undefined) secretBytes('tls.psk.key', key);
    for (const [id, secret] of Object.entries(keys ?? {})) {
      if (Buffer.byteLength(id) > 128)
        throw tmeshError(
          'E_INVALID_ARGUMENT',
          `tls.psk.keys: node id ${id.slice(0, 40)}... exceeds the 128-byte PSK identity`,
        );
      secretBytes(`tls.psk.keys[${JSON.stringify(id)}]`, secret);
    }
    return { tls: undefined, tlsPsk: t.psk };
  }
  const c = tls as LinkTlsCertificates;
  if (!c.cert || !c.key || !c.ca)
    throw tmeshError('E_INVALID_ARGUMENT', 'options.tls needs cert, key and ca (or psk)');
  return { tls: c, tlsPsk: undefined };
}

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(value)}`,
    );
  }
  return value;
}

/** Check options and fill in defaults; throws E_INVALID_ARGUMENT. */
export function resolveOptions(options: LinkOptions): ResolvedLinkOptions {
  if (!options?.self?.id || typeof options.self.id !== 'string') {
    throw tmeshError('E_INVALID_ARGUMENT', 'options.self must be a NodeInfo with an id');
  }
  if (!options.registry || typeof options.registry.byId !== 'function') {
    throw tmeshError('E_INVALID_ARGUMENT', 'options.registry must be a MessageRegistry');
  }
  const wires = options.wires ?? options.self.wires;
  if (!Array.isArray(wires) || wires.length === 0) {
    throw tmeshError('E_INVALID_ARGUMENT', 'a link needs at least one wire (options.wires or self.wires)');
  }
  for (const c of options.compression ?? []) {
    if (c !== 'none' && !SUPPORTED_COMPRESSION.includes(c)) {
      throw tmeshError(
        'E_NOT_SUPPORTED',
        `compression ${c} is not available in this build (supported: ${SUPPORTED_COMPRESSION.join(', ')})`,
      );
    }
  }
  const offered = options.compression
    ? options.compression.filter((c) => c !== 'none')
    : [...SUPPORTED_COMPRESSION];
  const heartbeatMs = positive('heartbeatMs', options.heartbeatMs, 1000, true);
  const deadAfterMs = positive('deadAfterMs', options.deadAfterMs, Math.max(5000, heartbeatMs * 3));
  if (heartbeatMs > 0 && deadAfterMs <= heartbeatMs) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `deadAfterMs (${deadAfterMs}) must exceed heartbeatMs (${heartbeatMs})`,
    );
  }
  const maxFrameSize = positive('maxFrameSize', options.maxFrameSize, DEFAULT_MAX_FRAME_SIZE);
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < 1024 || maxFrameSize > DEFAULT_MAX_FRAME_SIZE) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `maxFrameSize must be an integer in 1024..${DEFAULT_MAX_FRAME_SIZE}, got ${maxFrameSize}`,
    );
  }
  return {
    self: options.self,
    registry: options.registry,
    wires: [...wires],
    auth: checkAuth(options.auth),
    ...checkTls(options.tls),
    compressionOffered: offered,
    compressionApply: options.compression !== undefined && offered.length > 0,
    compressionThreshold: positive('compressionThreshold', options.compressionThreshold, 4096, true),
    maxFrameSize,
    queueMaxBytes: positive('sendQueue.maxBytes', options.sendQueue?.maxBytes, 32 * 1024 * 1024),
    queueMaxMessages: positive('sendQueue.maxMessages', options.sendQueue?.maxMessages, 65536),
    batchDelayMs: positive('batchDelayMs', options.batchDelayMs, 0, true),
    heartbeatMs,
    deadAfterMs,
    handshakeTimeoutMs: positive('handshakeTimeoutMs', options.handshakeTimeoutMs, 5000),
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 30000),
    resumeWindowMs: positive('resumeWindowMs', options.resumeWindowMs, 10000),
    maxLinksPerPeer: positive('maxLinksPerPeer', options.maxLinksPerPeer, 16),
    maxConnections: positive('maxConnections', options.maxConnections, 1024),
    maxHandshakes: positive('maxHandshakes', options.maxHandshakes, 64),
    protocolVersions: options.protocolVersions ?? options.self.protocolVersions ?? [PROTOCOL_VERSION],
    reuseReceiveBuffers: flag('reuseReceiveBuffers', options.reuseReceiveBuffers),
  };
}
