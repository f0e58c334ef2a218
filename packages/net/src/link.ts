import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  type CompressionAlgorithm,
  type DecodedMessage,
  ERROR_CODES,
  FRAME_FLAGS,
  isTmeshError,
  type MessageRegistry,
  type MessageType,
  type NodeInfo,
  type TmeshError,
  type TmeshErrorCode,
  tmeshError,
  type WireId,
} from '@tmesh/core';
import { type CompressionChoice, pickCompression } from './compression.js';
import { control, type HelloValue, isNumbered, linkRegistry } from './control.js';
import { directReadsOf } from './direct-read.js';
import type { FrameReader, WireAdapter } from './framing.js';
import { wireAdapter } from './framing.js';
import type { HandshakeParams, HandshakeResult, ResumePoint } from './handshake.js';
import { newNonce } from './handshake.js';
import type { ResolvedLinkOptions } from './options.js';

/** What a request handler returns: the response's type and value. */
export interface Reply {
  type: MessageType<any>;
  value: unknown;
}

/** Handles requests arriving on a link; a thrown TmeshError's code reaches the requester. */
export type RequestHandler = (msg: DecodedMessage) => Promise<Reply> | Reply;

/** Options of {@link Link.send}. */
export interface SendOptions {
  signal?: AbortSignal;
  /** How long to wait for queue space; default: the link's requestTimeoutMs. */
  timeoutMs?: number;
  /**
   * 'queued' (default): resolve once the message is in the send queue (a later failure is reported by
   * 'undelivered' and `flush()`). 'acked': resolve when the peer acknowledged it, reject if it is failed.
   */
  delivery?: 'queued' | 'acked';
}

/** Counters of one link. */
export interface LinkStats {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  rttMs?: number;
  queuedBytes: number;
  reconnects: number;
  compressedBytesSaved?: number;
  /** Numbered frames received twice (after a retransmission) and dropped. */
  duplicatesDropped: number;
  /** Messages in the send queue (not yet acknowledged). */
  queuedMessages: number;
}

/** Live tuning, typically by the adaptive optimizer. */
export interface LinkConfig {
  batchDelayMs?: number;
  /**
   * Compress frames above the threshold with an algorithm negotiated on this link, or with `'best'`
   * (best ratio: zstd, deflate, lz4) or `'fast'` (least CPU: lz4, zstd, deflate) among those; `'off'`.
   */
  compression?: CompressionChoice;
  compressionThreshold?: number;
  requestTimeoutMs?: number;
}

/** A connection to one peer node, surviving reconnects; see docs/PROTOCOL.md section 7. */
export interface Link extends EventEmitter {
  readonly peer: NodeInfo;
  readonly wire: WireId;
  readonly version: number;
  readonly compression: CompressionAlgorithm;
  /** Queue a message; awaits queue space (backpressure). */
  send<T>(type: MessageType<T>, value: T, opts?: SendOptions): Promise<void>;
  /** Queue a message if there is room now; false when the queue is full. */
  trySend<T>(type: MessageType<T>, value: T): boolean;
  /** Send a request and await its response (E_TIMEOUT, E_ABORTED, or the handler's error code). */
  request<T>(
    type: MessageType<T>,
    value: T,
    opts?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<DecodedMessage>;
  /** Set the handler answering the peer's requests. */
  onRequest(handler: RequestHandler): void;
  /** Incoming messages as a backpressured async iterator (the socket pauses above a high-water mark). */
  messages(): AsyncIterableIterator<DecodedMessage>;
  /** Resolves when every message queued so far is acknowledged; rejects if one of them was failed. */
  flush(): Promise<void>;
  stats(): LinkStats;
  applyConfig(config: LinkConfig): void;
  /** Graceful close: drains the queue (bounded by requestTimeoutMs), then closes. */
  close(): Promise<void>;
}

/** The frame of a retained message, or its parts (a gather encode kept big bytes fields as the caller's arrays). */
type RetainedFrame = Uint8Array | Uint8Array[];

/** Callbacks of a message sent with delivery 'acked' or as a request. */
interface Settle {
  onAck: (() => void) | undefined;
  onFail: ((error: TmeshError) => void) | undefined;
}

/** Copy a small frame into a send block (a loop beats TypedArray#set's call cost below ~128 bytes). */
function copyInto(block: Uint8Array, at: number, frame: Uint8Array): void {
  const n = frame.length;
  if (n > 96) block.set(frame, at);
  else for (let i = 0; i < n; i++) block[at + i] = frame[i]!;
}

function frameBytes(frame: RetainedFrame): number {
  if (!Array.isArray(frame)) return frame.length;
  let n = 0;
  for (const part of frame) n += part.length;
  return n;
}

interface Waiter {
  commit: () => void;
  reject: (error: TmeshError) => void;
  cleanup: () => void;
}

/**
 * A request sent (or waiting for queue space) and awaiting its response. One object per request with
 * its methods on the prototype: the common case (no signal, sent at once) makes no closures, no timer
 * and no settle entry (a lost request frame is failed by #failRetained from #pending).
 */
class PendingRequest {
  seq = 0;
  done = false;
  timer: NodeJS.Timeout | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  /** Set while it waits for queue space. */
  waiter: Waiter | undefined = undefined;

  constructor(
    private readonly pending: Map<number, PendingRequest>,
    private readonly ok: (msg: DecodedMessage) => void,
    private readonly fail: (error: TmeshError) => void,
    readonly typeName: string,
    readonly timeoutMs: number,
    /** performance.now() past which the link's request sweep fails it (Infinity: no deadline). */
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
  ) {}

  resolve(msg: DecodedMessage): void {
    if (this.finish()) this.ok(msg);
  }

  reject(error: TmeshError): void {
    if (this.finish()) this.fail(error);
  }

  /** Drop its timer, abort listener and map entry; false when it was already settled. */
  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort);
    if (this.seq) this.pending.delete(this.seq);
    return true;
  }
}

/** Dials a new connection and runs the handshake on it (the initiator's way back after a drop). */
export type Dialer = (params: HandshakeParams) => Promise<{ stream: Duplex; result: HandshakeResult }>;

/** Reconnect policy of an initiating link. */
export interface ReconnectOptions {
  initialMs?: number;
  maxMs?: number;
  maxAttempts?: number;
}

const TWO32 = 0x100000000;
const WRITE_NOW_BYTES = 256 * 1024;
const BLOCK_BYTES = 64 * 1024;
/** Frames up to this size (with their ReplyTo prefix) are copied into the link's send blocks. */
const INLINE_MAX = 16 * 1024;
/** Slots of the retained-message ring (a power of two; it doubles when full). */
const RING_MIN = 1024;
/** A ring grown past this many slots shrinks back once everything in it is acknowledged. */
const RING_SHRINK_ABOVE = 16 * 1024;
/** A frame is encoded into the current send block only if this much room is left, else into a new one. */
const MIN_BLOCK_ROOM = 256;
/** In a write, pieces below this size are copied together; larger ones go as their own iovec. */
const COPY_BELOW = 1024;
const BUSY_WITHIN_MS = 0.05;
/** An ack leaves at once after this many frames, or this many payload bytes, since the last one. */
const ACK_EVERY = 512;
const ACK_EVERY_BYTES = 1024 * 1024;
/**
 * Otherwise an ack rides along with every write that carries data (written into the send block with
 * it, no frame array of its own), and leaves on its own ACK_DELAY_MS after a write without data left
 * frames unacknowledged. In request/response traffic every write carries data, so no ack timer is armed
 * at all: a timer re-armed every few messages made ~10 % of 64 B round trips ~15 µs slower here, in
 * runs (rust wire, one CPU, before and after: p90 27.4-32.5 µs against 24.4-25.1, p99 48.9-78.8
 * against 42.2-48.7; BENCHMARKS.md, @tmesh/net, fifth session).
 */
const ACK_DELAY_MS = 20;
const INBOX_HIGH_MESSAGES = 8192;
const INBOX_HIGH_BYTES = 16 * 1024 * 1024;
const PERMANENT: readonly string[] = ['E_VERSION_MISMATCH', 'E_NO_COMMON_WIRE', 'E_AUTH'];
const RESOLVED = Promise.resolve();
/** The request sweep runs at most this often: a request times out up to this much after its deadline. */
const SWEEP_MIN_MS = 5;

function nodeInfoOf(hello: HelloValue): NodeInfo {
  return {
    id: hello.nodeId,
    machineId: hello.machineId,
    language: hello.language,
    endpoints: [],
    wires: hello.wires as WireId[],
    protocolVersions: [...hello.protocolVersions],
  };
}

function toCode(code: string): TmeshErrorCode {
  return code in ERROR_CODES ? (code as TmeshErrorCode) : 'E_INTERNAL';
}

/**
 * Group the pieces of one write: runs of small pieces (control frames between send-block ranges)
 * concatenated, larger pieces (send-block ranges, big frames and their parts) alone, for one writev.
 */
function coalesce(frames: Uint8Array[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let group: Uint8Array[] = [];
  let groupBytes = 0;
  const close = (): void => {
    if (group.length === 1) pieces.push(group[0]!);
    else if (group.length > 1) pieces.push(Buffer.concat(group, groupBytes));
    group = [];
    groupBytes = 0;
  };
  for (const frame of frames) {
    if (frame.length >= COPY_BELOW) {
      close();
      pieces.push(frame);
      continue;
    }
    group.push(frame);
    groupBytes += frame.length;
    if (groupBytes >= BLOCK_BYTES) close();
  }
  close();
  return pieces;
}

/** Destroy a socket, or cancel a gRPC call (whose destroy alone leaves the RPC open). */
function destroyStream(stream: Duplex): void {
  (stream as { cancel?: () => void }).cancel?.();
  stream.destroy();
}

/** A random session id: names one side's stream state, so a restarted peer is recognised. */
export function newSessionId(): string {
  return randomBytes(12).toString('hex');
}

/** The Hello this side sends. */
export function localHello(opts: ResolvedLinkOptions, sessionId: string, wires: WireId[]): HelloValue {
  return {
    nodeId: opts.self.id,
    language: String(opts.self.language),
    machineId: opts.self.machineId,
    protocolVersions: [...opts.protocolVersions],
    wires: [...wires],
    compression: [...opts.compressionOffered],
    maxFrameSize: opts.maxFrameSize,
    sessionId,
    nonce: newNonce(),
  };
}

/**
 * The link: numbered frames with cumulative acks, a bounded send queue, batching, compression,
 * request/response, heartbeats and resumption of both streams after a reconnect.
 */
export class LinkImpl extends EventEmitter implements Link {
  readonly role: 'initiator' | 'acceptor';
  /** This side's session id as announced in its Hello (a LinkServer's id for accepted links). */
  readonly sessionId: string;
  readonly #opts: ResolvedLinkOptions;
  readonly #registry: MessageRegistry;
  readonly #dialer: Dialer | undefined;
  readonly #reconnect: Required<ReconnectOptions>;
  readonly #wires: WireId[];

  #state: 'connecting' | 'open' | 'disconnected' | 'closing' | 'closed' = 'connecting';
  #peerHello: HelloValue | undefined;
  #peerSession = '';
  #wire: WireId = 'universal';
  #version = 0;
  #compressions: CompressionAlgorithm[] = [];
  #compression: CompressionAlgorithm = 'none';
  #compressionOn: boolean;
  #compressionThreshold: number;
  #batchDelayMs: number;
  #requestTimeoutMs: number;
  #adapter: WireAdapter | undefined;
  #stream: Duplex | undefined;
  #reader: FrameReader | undefined;
  /** A message of the batch being dispatched is held past its dispatch (see #onMessages). */
  #kept = false;
  /** Depth of #onMessages calls (a listener could make one dispatch inside another). */
  #dispatching = 0;

  // sending
  #nextSeq = 1;
  readonly #replyToScratch = { request: 0n };
  readonly #ackScratch = { received: 0n };
  // Starts as a non-number so the field holds a reference to the number Date.now() returned: handing it
  // to the encoder then boxes nothing per frame (a field of plain numbers is unboxed, and re-boxed in a
  // new object at every call that takes it).
  #clock: number = undefined as unknown as number;
  #clockLeft = 0;
  // The unacknowledged numbered frames, oldest first, in parallel ring arrays with no object per
  // message: sequence numbers are consecutive, so position i (from #retainedHead up to #retainedTail)
  // holds sequence #retainedBase + i, in slot i & #retainedMask. The ring doubles when full (bounded by
  // the send queue's message limit) and shrinks back once a large one is empty. The rare extras live in maps keyed by sequence: the ReplyTo frame written before
  // a response, the callbacks of 'acked' sends and requests.
  #retained: (RetainedFrame | undefined)[] = new Array(RING_MIN).fill(undefined);
  #retainedTypes: (MessageType<any> | undefined)[] = new Array(RING_MIN).fill(undefined);
  #retainedHead = 0;
  #retainedTail = 0;
  #retainedMask = RING_MIN - 1;
  #retainedBase = 1;
  // A small frame is copied into the current send block (64 KiB) and retained as a range of it:
  // #retained[i] is then the block, [#retainedStart[i], #retainedEnd[i]) its bytes (the ReplyTo prefix
  // included). Frames that did not go into a block have start -1. Bytes of the block from #blockSent
  // to #blockFill are not yet in #out (they count in #outBytes already).
  #retainedStart = new Int32Array(RING_MIN);
  #retainedEnd = new Int32Array(RING_MIN);
  #block: Uint8Array | undefined;
  #blockFill = 0;
  /** Set while a frame is encoded into the send block. */
  #encoding = false;
  /** A type whose last frame was too big for a send block: the next one is not tried there first. */
  #bigType: MessageType<any> | undefined;
  #blockSent = 0;
  #prefixes = new Map<number, Uint8Array>();
  #settles = new Map<number, Settle>();
  #queuedBytes = 0;
  #waiters: Waiter[] = [];
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #flushScheduled = false;
  #lastFlushAt = 0;
  /** Bytes arrived since the last flush: whatever is sent now answers them (request/response). */
  #readSinceFlush = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #blocked = false;
  #flushWaiters: {
    upTo: number;
    resolve: () => void;
    reject: (e: TmeshError) => void;
    failed?: TmeshError;
  }[] = [];

  // receiving
  #received = 0;
  #ackSent = 0;
  #ackTimer: NodeJS.Timeout | undefined;
  /** Payload bytes of numbered frames received since the last ack sent. */
  #rxSinceAck = 0;
  #replyTo: number | undefined;
  #pending = new Map<number, PendingRequest>();
  // One timer for the deadlines of every request sent at once (instead of a timer per request): armed
  // for the earliest deadline, it fails what expired and re-arms for the next.
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweepAt = Number.POSITIVE_INFINITY;
  #handler: RequestHandler | undefined;
  #inbox: DecodedMessage[] = [];
  #inboxHead = 0;
  #inboxBytes = 0;
  #pullers: ((r: IteratorResult<DecodedMessage>) => void)[] = [];
  #paused = false;

  // liveness
  #heartbeatTimer: NodeJS.Timeout | undefined;
  /** When the heartbeat last saw bytes arrive (Date.now()), and #bytesIn then. */
  #lastRx = 0;
  #lastRxBytes = 0;
  #pingId = 0;
  #pings = new Map<number, bigint>();
  #rttMs: number | undefined;
  #resumeTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #attempts = 0;
  #closePromise: Promise<void> | undefined;

  // stats
  #bytesIn = 0;
  #bytesOut = 0;
  #messagesIn = 0;
  #messagesOut = 0;
  #reconnects = 0;
  #saved = 0;
  #duplicates = 0;

  constructor(
    opts: ResolvedLinkOptions,
    role: 'initiator' | 'acceptor',
    sessionId: string,
    wires: WireId[],
    dialer?: Dialer,
    reconnect?: ReconnectOptions,
  ) {
    super();
    this.#opts = opts;
    this.role = role;
    this.sessionId = sessionId;
    this.#wires = wires;
    this.#registry = linkRegistry(opts.registry);
    this.#dialer = dialer;
    this.#reconnect = {
      initialMs: reconnect?.initialMs ?? 100,
      maxMs: reconnect?.maxMs ?? 5000,
      maxAttempts: reconnect?.maxAttempts ?? Number.POSITIVE_INFINITY,
    };
    this.#compressionOn = opts.compressionApply;
    this.#compressionThreshold = opts.compressionThreshold;
    this.#batchDelayMs = opts.batchDelayMs;
    this.#requestTimeoutMs = opts.requestTimeoutMs;
    this.on('newListener', this.#onNewListener);
  }

  /** Messages that waited in the inbox go to a 'message' listener as soon as one is added. */
  readonly #onNewListener = (event: string | symbol): void => {
    if (event === 'message' && this.#inboxHead < this.#inbox.length) queueMicrotask(() => this.#drainInbox());
  };

  #drainInbox(): void {
    while (this.listenerCount('message') > 0 && this.#inboxHead < this.#inbox.length) {
      const msg = this.#inbox[this.#inboxHead]!;
      this.#inbox[this.#inboxHead++] = undefined as unknown as DecodedMessage;
      this.#inboxBytes -= msg.header.payloadSize;
      this.emit('message', msg);
    }
    if (this.#inboxHead === this.#inbox.length) {
      this.#inbox = [];
      this.#inboxHead = 0;
    }
    if (this.#paused && this.#inbox.length === 0) {
      this.#paused = false;
      this.#stream?.resume();
    }
  }

  get peer(): NodeInfo {
    if (!this.#peerHello) throw tmeshError('E_CLOSED', 'link has not completed a handshake');
    return nodeInfoOf(this.#peerHello);
  }
  get wire(): WireId {
    return this.#wire;
  }
  get version(): number {
    return this.#version;
  }
  get compression(): CompressionAlgorithm {
    return this.#compressionOn ? this.#compression : 'none';
  }
  /** The peer's session id (its Hello's sessionId). */
  get peerSession(): string {
    return this.#peerSession;
  }
  /** Whether the link is closed for good. */
  get closed(): boolean {
    return this.#state === 'closed';
  }

  // ---------------------------------------------------------------- handshake and attach

  /** The handshake parameters for a new connection of this link. */
  handshakeParams(peerCertificateNames?: HandshakeParams['peerCertificateNames']): HandshakeParams {
    return {
      role: this.role,
      hello: localHello(this.#opts, this.sessionId, this.#wires),
      auth: this.#opts.auth,
      registry: this.#registry,
      timeoutMs: this.#opts.handshakeTimeoutMs,
      peerCertificateNames,
      onPeerHello: (peer) => this.resumePointFor(peer),
    };
  }

  /** Where this link would resume the stream of a peer with that Hello. */
  resumePointFor(peer: HelloValue): ResumePoint {
    if (this.#peerSession !== '' && peer.sessionId === this.#peerSession) {
      return { resumeSession: peer.sessionId, resumeReceived: this.#received };
    }
    return { resumeSession: '', resumeReceived: 0 };
  }

  /** Start an initiating link: dial, handshake, attach. Rejects with the handshake's error. */
  async start(): Promise<void> {
    const { stream, result } = await this.#dialer!(this.handshakeParams());
    this.attach(stream, result, this.resumePointFor(result.peer));
  }

  /**
   * Take over a connection whose handshake finished. `mine` is the resume point this side sent in its Auth.
   * Both sides resume only when both Auths named the other's session; otherwise both streams restart.
   */
  attach(stream: Duplex, result: HandshakeResult, mine: ResumePoint): void {
    if (this.#state === 'closed') {
      stream.destroy();
      return;
    }
    const first = this.#peerHello === undefined;
    if (this.#stream) this.#detach(this.#stream);
    clearTimeout(this.#resumeTimer);
    this.#resumeTimer = undefined;
    const { peer, agreement, peerAuth } = result;
    const resumed =
      mine.resumeSession === peer.sessionId && peerAuth.resumeSession === this.sessionId && !first;
    const wireChanged = this.#adapter !== undefined && agreement.wire !== this.#wire;
    if (!resumed || wireChanged) {
      if (!first) {
        const why = !resumed
          ? `peer ${peer.nodeId} has a new session (restarted or expired our state)`
          : `the wire changed from ${this.#wire} to ${agreement.wire}`;
        this.#failRetained('E_PEER_GONE', `${why}: delivery unknown`);
        this.#failPending('E_PEER_GONE', `${why}: no response will come`);
      }
      this.#nextSeq = 1;
      this.#received = 0;
      this.#ackSent = 0;
      this.#rxSinceAck = 0;
      this.#clearRetained();
    } else {
      this.#release(Number(peerAuth.resumeReceived));
    }
    this.#peerHello = peer;
    this.#peerSession = peer.sessionId;
    this.#wire = agreement.wire;
    this.#version = agreement.version;
    this.#compressions = agreement.compressions;
    if (!this.#compressions.includes(this.#compression)) this.#compression = agreement.compression;
    this.#adapter = wireAdapter(agreement.wire, this.#registry);
    this.#reader = this.#adapter.createReader(
      Math.min(agreement.maxFrameSize, this.#opts.maxFrameSize),
      this.#compressions, // a peer may compress only with what both sides offered
    );
    this.#stream = stream;
    this.#blocked = false;
    this.#out = [];
    this.#outBytes = 0;
    this.#replyTo = undefined;
    this.#lastRx = Date.now();
    this.#lastRxBytes = this.#bytesIn;
    this.#state = this.#state === 'closing' ? 'closing' : 'open';
    stream.on('data', this.#onData);
    // A socket with onread: big frames are read straight into the buffer they are assembled in.
    const direct = this.#reader.direct;
    if (direct) directReadsOf(stream)?.attach(direct, this.#onFilled);
    stream.on('drain', this.#onDrain);
    stream.on('error', this.#onStreamError);
    stream.on('close', this.#onStreamClose);
    // Retransmit what the peer has not acknowledged (everything, on a fresh stream nothing is left).
    // That includes every message of the send block not written yet.
    this.#blockSent = this.#blockFill;
    const r = this.#retained;
    const starts = this.#retainedStart;
    const ends = this.#retainedEnd;
    const m = this.#retainedMask;
    const tail = this.#retainedTail;
    for (let i = this.#retainedHead; i < tail; i++) {
      const frame = r[i & m]!;
      const start = starts[i & m]!;
      if (start >= 0) {
        // Messages one after another in a block leave as one range.
        let end = ends[i & m]!;
        while (i + 1 < tail && r[(i + 1) & m] === frame && starts[(i + 1) & m] === end) end = ends[++i & m]!;
        this.#push((frame as Uint8Array).subarray(start, end));
        continue;
      }
      const prefix = this.#prefixes.size > 0 ? this.#prefixes.get(this.#retainedBase + i) : undefined;
      if (prefix) this.#push(prefix);
      // A referenced array its owner changed after sending goes out as it is now, with a checksum
      // that matches it (rather than one the peer would reject, again on every reconnect).
      if (!Array.isArray(frame)) this.#push(frame);
      else {
        this.#adapter!.reseal(frame);
        this.#pushParts(frame);
      }
    }
    if (this.#received > this.#ackSent) this.#scheduleFlush();
    if (this.#out.length > 0) this.#flush();
    this.#startHeartbeat();
    // Bytes that came with the peer's Auth are read after the caller has attached its listeners.
    const leftover = result.leftover;
    queueMicrotask(() => {
      if (this.#stream !== stream) return;
      if (leftover) this.#onData(leftover);
      if (!this.#paused) stream.resume();
    });
    if (!first) {
      this.#reconnects++;
      this.emit('reconnect', { resumed, wire: this.#wire });
    }
    this.#admitWaiters();
  }

  #detach(stream: Duplex): void {
    stream.removeListener('data', this.#onData);
    directReadsOf(stream)?.detach();
    stream.removeListener('drain', this.#onDrain);
    stream.removeListener('error', this.#onStreamError);
    stream.removeListener('close', this.#onStreamClose);
    stream.on('error', () => {});
    destroyStream(stream);
    if (this.#stream === stream) this.#stream = undefined;
  }

  // ---------------------------------------------------------------- sending

  #hasSpace(): boolean {
    const count = this.#retainedTail - this.#retainedHead;
    if (count === 0) return true;
    return count < this.#opts.queueMaxMessages && this.#queuedBytes < this.#opts.queueMaxBytes;
  }

  #checkOpen(): void {
    if (this.#state === 'closing' || this.#state === 'closed') {
      throw tmeshError('E_CLOSED', `link to ${this.#peerHello?.nodeId ?? '?'} is ${this.#state}`);
    }
  }

  /**
   * Encode and queue one numbered frame; a response (`replyTo`: the request's sequence number) is
   * preceded by its unnumbered ReplyTo frame.
   */
  #commit<T>(
    type: MessageType<T>,
    value: T,
    flags: number,
    replyTo: number | undefined,
    onAck?: () => void,
    onFail?: (e: TmeshError) => void,
  ): number {
    // A send from a getter of the value would take the same sequence number (and, for the send block,
    // write over the frame being encoded there).
    if (this.#encoding) this.#reentered(type);
    this.#encoding = true;
    let frame: RetainedFrame;
    try {
      const adapter = this.#adapter!;
      // The sequence modulo 2^32 (`>>> 0` is exact below 2^53), without a float modulo (~5 ns).
      const wireSeq = this.#nextSeq >>> 0;
      if (this.#compressing()) frame = this.#encodeCompressed(adapter, type, value, wireSeq, flags);
      else {
        if (adapter.encodeInto !== undefined && type !== this.#bigType) {
          // Straight into the send block: no frame array per message, no copy.
          const end = this.#encodeInBlock(adapter, type, value, wireSeq, flags, replyTo);
          if (end >= 0) {
            this.#encoding = false;
            return this.#retainRange(this.#nextSeq, this.#blockFill, end, type, onAck, onFail);
          }
        }
        // A gather encode, so big bytes fields are written from the caller's arrays.
        frame = adapter.encodeParts(type, value, wireSeq, flags, this.#now());
        if (type === this.#bigType && !Array.isArray(frame) && frame.length <= INLINE_MAX) {
          this.#bigType = undefined;
        }
      }
    } finally {
      this.#encoding = false;
    }
    const prefix =
      replyTo === undefined
        ? undefined
        : this.#adapter!.encode(control.ReplyTo, this.#replyToValue(replyTo), 0, 0);
    return this.#retain(this.#nextSeq, frame, prefix, type, onAck, onFail);
  }

  /** The value of the ReplyTo frame before a response (one object, refilled). */
  #replyToValue(request: number): { request: bigint } {
    this.#replyToScratch.request = BigInt(request);
    return this.#replyToScratch;
  }

  /** One frame, its payload compressed when that is on, above the threshold and shrinks it. */
  #encodeCompressed<T>(
    adapter: WireAdapter,
    type: MessageType<T>,
    value: T,
    wireSeq: number,
    flags: number,
  ): Uint8Array {
    const frame = adapter.encode(type, value, wireSeq, flags);
    if (frame.length < this.#compressionThreshold) return frame;
    const packed = adapter.encodeCompressed(type, value, frame, wireSeq, flags, this.#compression);
    if (!packed) return frame;
    this.#saved += frame.length - packed.length;
    return packed;
  }

  /**
   * The header timestamp (ms since the epoch): Date.now() read once per 64 frames, and again for the first
   * frame after each write (the stamp is kept only while a flush is scheduled), not per frame: frames
   * that leave in one write share a millisecond stamp.
   */
  #now(): number {
    if (this.#clockLeft-- > 0 && this.#flushScheduled) return this.#clock;
    this.#clock = Date.now();
    this.#clockLeft = 63;
    return this.#clock;
  }

  #compressing(): boolean {
    return this.#compressionOn && this.#compression !== 'none';
  }

  /**
   * Encode a frame (after the ReplyTo frame of `replyTo`, if any) into the send block from #blockFill
   * on, starting a new block when it does not fit the current one. Returns its end, or -1 when it goes
   * the other way (bigger than INLINE_MAX: written from its own array; its type then skips this attempt
   * until one of its frames is small again, so a stream of big frames does not encode twice). Nothing is
   * retained yet.
   */
  #encodeInBlock<T>(
    adapter: WireAdapter,
    type: MessageType<T>,
    value: T,
    wireSeq: number,
    flags: number,
    replyTo: number | undefined,
  ): number {
    const timestamp = this.#now();
    let block = this.#block;
    let fresh = false;
    if (block === undefined || block.length - this.#blockFill < MIN_BLOCK_ROOM) {
      block = this.#newBlock(this.#writing());
      fresh = true;
    }
    for (;;) {
      const start = this.#blockFill;
      let at = start;
      if (replyTo !== undefined) {
        const rt = this.#replyToValue(replyTo);
        at = adapter.encodeInto!(control.ReplyTo, rt, 0, 0, timestamp, block, start);
      }
      const end = at < 0 ? at : adapter.encodeInto!(type, value, wireSeq, flags, timestamp, block, at);
      if (end >= 0) return end;
      // -end: the room the encoder asked for, an estimate of the frame's size (after the ReplyTo frame).
      if (fresh || Math.max(at - start, 0) - end > INLINE_MAX) {
        this.#bigType = type;
        return -1;
      }
      block = this.#newBlock(this.#writing());
      fresh = true;
    }
  }

  /**
   * A send from inside the encoding of another message (a getter of its value): the outer frame is
   * being written at the send block's end and has not taken its sequence number yet.
   */
  #reentered(type: MessageType<any>): never {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `send ${type.name}: called while a message of this link is being encoded (from a getter of its value?)`,
    );
  }

  /** Whether queued frames are written now (else they wait in #retained for a reconnect). */
  #writing(): boolean {
    return this.#state === 'open' || (this.#state === 'closing' && this.#stream !== undefined);
  }

  /**
   * Keep the frame (with its prefix) that lies at `[start, end)` of the current send block for
   * retransmission until acknowledged, and write it if connected: no object kept per message, and the
   * block leaves as one piece.
   */
  #retainRange(
    seq: number,
    start: number,
    end: number,
    type: MessageType<any>,
    onAck: (() => void) | undefined,
    onFail: ((e: TmeshError) => void) | undefined,
  ): number {
    this.#nextSeq = seq + 1;
    if (onAck !== undefined || onFail !== undefined) this.#settles.set(seq, { onAck, onFail });
    this.#messagesOut++;
    this.#blockFill = end;
    const i = this.#retainSlot(type);
    this.#retained[i] = this.#block!;
    this.#retainedStart[i] = start;
    this.#retainedEnd[i] = end;
    const bytes = end - start;
    this.#queuedBytes += bytes;
    if (this.#writing()) {
      this.#outBytes += bytes;
      if (this.#outBytes >= WRITE_NOW_BYTES && !this.#blocked) this.#flush();
      else this.#scheduleFlush();
    } else this.#blockSent = end; // retransmitted from #retained after the reconnect
    return seq;
  }

  /** Keep an encoded frame for retransmission until acknowledged, and write it if connected. */
  #retain(
    seq: number,
    frame: RetainedFrame,
    prefix: Uint8Array | undefined,
    type: MessageType<any>,
    onAck: (() => void) | undefined,
    onFail: ((e: TmeshError) => void) | undefined,
  ): number {
    if (!Array.isArray(frame)) {
      const bytes = frame.length + (prefix ? prefix.length : 0);
      if (bytes <= INLINE_MAX) {
        // Copied into the send block.
        let block = this.#block;
        if (block === undefined || this.#blockFill + bytes > block.length) {
          block = this.#newBlock(this.#writing());
        }
        const start = this.#blockFill;
        let at = start;
        if (prefix) {
          copyInto(block, at, prefix);
          at += prefix.length;
        }
        copyInto(block, at, frame);
        return this.#retainRange(seq, start, at + frame.length, type, onAck, onFail);
      }
    }
    this.#nextSeq = seq + 1;
    if (onAck || onFail) this.#settles.set(seq, { onAck, onFail });
    this.#messagesOut++;
    const writing = this.#writing();
    const i = this.#retainSlot(type);
    this.#retained[i] = frame;
    this.#retainedStart[i] = -1;
    this.#retainedEnd[i] = 0;
    let bytes = Array.isArray(frame) ? frameBytes(frame) : frame.length;
    if (prefix) {
      this.#prefixes.set(seq, prefix);
      bytes += prefix.length;
    }
    this.#queuedBytes += bytes;
    if (writing) {
      if (prefix) this.#push(prefix);
      if (Array.isArray(frame)) this.#pushParts(frame);
      else this.#push(frame);
    }
    return seq;
  }

  /** The ring slot of the next retained message (its type set), growing the ring when it is full. */
  #retainSlot(type: MessageType<any>): number {
    if (this.#retainedTail - this.#retainedHead > this.#retainedMask) this.#growRing();
    const i = this.#retainedTail++ & this.#retainedMask;
    this.#retainedTypes[i] = type;
    return i;
  }

  #growRing(): void {
    const m = this.#retainedMask;
    const size = (m + 1) * 2;
    const r: (RetainedFrame | undefined)[] = new Array(size).fill(undefined);
    const types: (MessageType<any> | undefined)[] = new Array(size).fill(undefined);
    const starts = new Int32Array(size);
    const ends = new Int32Array(size);
    for (let k = this.#retainedHead; k < this.#retainedTail; k++) {
      const from = k & m;
      const to = k & (size - 1);
      r[to] = this.#retained[from];
      types[to] = this.#retainedTypes[from];
      starts[to] = this.#retainedStart[from]!;
      ends[to] = this.#retainedEnd[from]!;
    }
    this.#retained = r;
    this.#retainedTypes = types;
    this.#retainedStart = starts;
    this.#retainedEnd = ends;
    this.#retainedMask = size - 1;
  }

  /** Start a new send block (the unwritten end of the current one goes to #out first). */
  #newBlock(writing: boolean): Uint8Array {
    if (writing) this.#cutBlock();
    const block = Buffer.allocUnsafeSlow(BLOCK_BYTES);
    this.#block = block;
    this.#blockFill = 0;
    this.#blockSent = 0;
    return block;
  }

  /** Move the send-block bytes not yet written into #out, keeping the order of the stream. */
  #cutBlock(): void {
    if (this.#blockFill > this.#blockSent) {
      this.#out.push(this.#block!.subarray(this.#blockSent, this.#blockFill));
      this.#blockSent = this.#blockFill;
    }
  }

  send<T>(type: MessageType<T>, value: T, opts: SendOptions = {}): Promise<void> {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (opts.signal?.aborted) {
      return Promise.reject(
        tmeshError('E_ABORTED', `send ${type.name}: aborted before it was queued`, {
          cause: opts.signal.reason,
        }),
      );
    }
    const acked = opts.delivery === 'acked';
    if (this.#waiters.length === 0 && this.#hasSpace() && this.#adapter) {
      if (!acked) {
        try {
          this.#commit(type, value, 0, undefined);
          return RESOLVED;
        } catch (error) {
          return Promise.reject(error);
        }
      }
      return new Promise<void>((resolve, reject) => {
        try {
          this.#commit(type, value, 0, undefined, resolve, reject);
        } catch (error) {
          reject(error);
        }
      });
    }
    return new Promise<void>((resolve, reject) => {
      this.#wait(
        () => {
          if (acked) this.#commit(type, value, 0, undefined, resolve, reject);
          else {
            this.#commit(type, value, 0, undefined);
            resolve();
          }
        },
        reject,
        opts.signal,
        opts.timeoutMs ?? this.#requestTimeoutMs,
        `send ${type.name}`,
      );
    });
  }

  trySend<T>(type: MessageType<T>, value: T): boolean {
    this.#checkOpen();
    if (this.#waiters.length > 0 || !this.#hasSpace() || !this.#adapter) return false;
    this.#commit(type, value, 0, undefined);
    return true;
  }

  /** Queue a waiter for space; `commit` runs when admitted (its throw rejects). */
  #wait(
    commit: () => void,
    reject: (e: TmeshError) => void,
    signal: AbortSignal | undefined,
    timeoutMs: number,
    what: string,
  ): void {
    if (signal?.aborted) {
      reject(tmeshError('E_ABORTED', `${what}: aborted before it was queued`, { cause: signal.reason }));
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const waiter: Waiter = {
      commit: () => {
        waiter.cleanup();
        commit();
      },
      reject: (e) => {
        waiter.cleanup();
        reject(e);
      },
      cleanup: () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      },
    };
    const drop = (e: TmeshError): void => {
      const i = this.#waiters.indexOf(waiter);
      if (i >= 0) this.#waiters.splice(i, 1);
      waiter.reject(e);
    };
    const onAbort = (): void =>
      drop(
        tmeshError('E_ABORTED', `${what}: aborted while waiting for queue space`, { cause: signal?.reason }),
      );
    signal?.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
      timer = setTimeout(
        () => drop(tmeshError('E_TIMEOUT', `${what}: no queue space within ${timeoutMs} ms`)),
        timeoutMs,
      );
    }
    this.#waiters.push(waiter);
  }

  #admitWaiters(): void {
    while (this.#waiters.length > 0 && this.#hasSpace() && this.#adapter && this.#state !== 'closed') {
      const w = this.#waiters.shift()!;
      try {
        w.commit();
      } catch (error) {
        w.reject(isTmeshError(error) ? error : tmeshError('E_INTERNAL', String(error), { cause: error }));
      }
    }
  }

  request<T>(
    type: MessageType<T>,
    value: T,
    opts: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<DecodedMessage> {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    const timeoutMs = opts.timeoutMs ?? this.#requestTimeoutMs;
    const signal = opts.signal;
    return new Promise<DecodedMessage>((resolve, reject) => {
      if (signal?.aborted) {
        reject(
          tmeshError('E_ABORTED', `request ${type.name}: aborted before it was sent`, {
            cause: signal.reason,
          }),
        );
        return;
      }
      const finite = Number.isFinite(timeoutMs) && timeoutMs > 0;
      const p = new PendingRequest(
        this.#pending,
        resolve,
        reject,
        type.name,
        timeoutMs,
        finite ? performance.now() + timeoutMs : Number.POSITIVE_INFINITY,
        signal,
      );
      if (signal) {
        p.onAbort = () => {
          if (p.done) return;
          this.#dropWaiter(p);
          p.reject(tmeshError('E_ABORTED', `request ${type.name}: aborted`, { cause: signal.reason }));
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      if (this.#waiters.length === 0 && this.#hasSpace() && this.#adapter) {
        try {
          this.#commitRequest(type, value, p);
        } catch (error) {
          p.reject(error as TmeshError);
          return;
        }
        // Sent at once: the link's sweep watches the deadline, no timer of its own.
        if (finite) this.#watchDeadline(p.deadline);
      } else {
        // Waiting for queue space: its own timer also takes it out of the waiters.
        p.waiter = {
          commit: () => this.#commitRequest(type, value, p),
          reject: (e) => p.reject(e),
          cleanup: () => {},
        };
        if (finite) p.timer = setTimeout(() => this.#expire(p), timeoutMs);
        this.#waiters.push(p.waiter);
      }
    });
  }

  #commitRequest<T>(type: MessageType<T>, value: T, p: PendingRequest): void {
    p.seq = this.#commit(type, value, FRAME_FLAGS.REQUEST, undefined);
    this.#pending.set(p.seq, p);
  }

  #dropWaiter(p: PendingRequest): void {
    if (p.waiter === undefined) return;
    const i = this.#waiters.indexOf(p.waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
  }

  /** Fail a request with E_TIMEOUT (and take it out of the waiters if it never left). */
  #expire(p: PendingRequest): void {
    this.#dropWaiter(p);
    p.reject(
      tmeshError(
        'E_TIMEOUT',
        `request ${p.typeName} to ${this.#peerHello?.nodeId}: no response within ${p.timeoutMs} ms`,
      ),
    );
  }

  /** Make sure the request sweep runs by `deadline` (performance.now() time). */
  #watchDeadline(deadline: number): void {
    if (this.#sweepTimer !== undefined && this.#sweepAt <= deadline) return;
    clearTimeout(this.#sweepTimer);
    this.#sweepAt = deadline;
    this.#sweepTimer = setTimeout(this.#sweep, Math.max(1, Math.ceil(deadline - performance.now())));
  }

  /** Fail the requests whose deadline passed; re-arm for the earliest one left. */
  readonly #sweep = (): void => {
    this.#sweepTimer = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    const expired: PendingRequest[] = [];
    for (const p of this.#pending.values()) {
      if (p.deadline <= now + 0.5) expired.push(p);
      else if (p.deadline < next) next = p.deadline;
    }
    for (const p of expired) this.#expire(p);
    if (next !== Number.POSITIVE_INFINITY) this.#watchDeadline(Math.max(next, now + SWEEP_MIN_MS));
  };

  onRequest(handler: RequestHandler): void {
    this.#handler = handler;
  }

  #respond(request: number, reply: Reply): void {
    if (!reply || typeof reply !== 'object' || !reply.type) {
      this.#respondError(
        request,
        tmeshError('E_INVALID_ARGUMENT', 'the request handler returned no { type, value }'),
      );
      return;
    }
    if (this.#state === 'closed') return;
    if (this.#waiters.length === 0 && this.#hasSpace()) {
      // The common case, sent at once: no closures.
      try {
        this.#commit(reply.type, reply.value, FRAME_FLAGS.RESPONSE, request);
      } catch (error) {
        this.#respondError(request, error);
      }
      return;
    }
    const commit = (): void => {
      this.#commit(reply.type, reply.value, FRAME_FLAGS.RESPONSE, request);
    };
    this.#queueControlReply(commit, request);
  }

  #respondError(request: number, error: unknown): void {
    const code = isTmeshError(error) ? error.code : 'E_INTERNAL';
    const message = isTmeshError(error) ? error.message : String((error as Error)?.message ?? error);
    this.#queueControlReply(
      () => {
        this.#commit(
          control.ErrorReply,
          { request: BigInt(request), code, message: message.slice(0, 4096) },
          FRAME_FLAGS.RESPONSE,
          undefined,
        );
      },
      request,
      true,
    );
  }

  #queueControlReply(commit: () => void, request: number, isErrorReply = false): void {
    if (this.#state === 'closed') return;
    const run = (): void => {
      try {
        commit();
      } catch (error) {
        // The reply itself could not be encoded: tell the requester why instead.
        if (!isErrorReply) this.#respondError(request, error);
      }
    };
    if (this.#waiters.length === 0 && this.#hasSpace() && this.#adapter) run();
    else this.#waiters.push({ commit: run, reject: () => {}, cleanup: () => {} });
  }

  // ---------------------------------------------------------------- writing

  #push(frame: Uint8Array): void {
    this.#cutBlock();
    this.#out.push(frame);
    this.#outBytes += frame.length;
    if (this.#outBytes >= WRITE_NOW_BYTES && !this.#blocked) this.#flush();
    else this.#scheduleFlush();
  }

  /** Queue the parts of one frame (they leave together, in one writev with what is queued around them). */
  #pushParts(parts: Uint8Array[]): void {
    this.#cutBlock();
    for (const part of parts) {
      this.#out.push(part);
      this.#outBytes += part.length;
    }
    if (this.#outBytes >= WRITE_NOW_BYTES && !this.#blocked) this.#flush();
    else this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    if (this.#batchDelayMs > 0) {
      this.#flushTimer = setTimeout(this.#flush, this.#batchDelayMs);
      return;
    }
    // A link that flushed moments ago and read nothing since is streaming: wait for the event-loop turn
    // so frames coalesce. One that read since (request/response: what it sends answers what came) or
    // is idle writes at the end of the current job, saving a loop turn of latency.
    if (!this.#readSinceFlush && performance.now() - this.#lastFlushAt < BUSY_WITHIN_MS) {
      setImmediate(this.#flush);
    } else RESOLVED.then(this.#flush); // a promise reaction: queueMicrotask adds an AsyncResource and a bind
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    clearTimeout(this.#flushTimer);
    const stream = this.#stream;
    if (!stream || this.#blocked || stream.destroyed) return;
    const unacked = this.#received - this.#ackSent;
    const data = this.#out.length > 0 || this.#blockFill > this.#blockSent;
    if (unacked > 0 && (data || unacked >= ACK_EVERY || this.#rxSinceAck >= ACK_EVERY_BYTES)) {
      this.#appendAck(data);
    } else if (unacked > 0 && !this.#ackTimer) {
      this.#ackTimer = setTimeout(() => {
        this.#ackTimer = undefined;
        if (this.#received > this.#ackSent && this.#stream) {
          this.#appendAck();
          this.#flush();
        }
      }, ACK_DELAY_MS);
    }
    this.#cutBlock();
    const out = this.#out;
    if (out.length === 0) return;
    this.#lastFlushAt = performance.now();
    this.#readSinceFlush = false;
    const bytes = this.#outBytes;
    this.#out = [];
    this.#outBytes = 0;
    let ok: boolean;
    if (out.length === 1) ok = stream.write(out[0]!);
    else {
      // Small frames are copied together into blocks of about 64 KiB; large frames go as they are. The
      // blocks then leave in one writev.
      const pieces = coalesce(out);
      if (pieces.length === 1) ok = stream.write(pieces[0]!);
      else {
        stream.cork();
        ok = true;
        for (const piece of pieces) ok = stream.write(piece) && ok;
        stream.uncork();
      }
    }
    this.#bytesOut += bytes;
    if (!ok) this.#blocked = true;
  };

  #appendAck(withData = false): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#ackScratch.received = BigInt(this.#received);
    this.#ackSent = this.#received;
    this.#rxSinceAck = 0;
    const adapter = this.#adapter!;
    // Into the send block after the frames queued there (never while a frame is being encoded at its
    // end): the ack leaves in the same piece as the data, with no array of its own.
    if (adapter.encodeInto !== undefined && !this.#encoding) {
      let block = this.#block;
      if (block === undefined || block.length - this.#blockFill < MIN_BLOCK_ROOM) {
        block = this.#newBlock(this.#writing());
      }
      const start = this.#blockFill;
      // The stamp of the frames it rides with, else the time now.
      const stamp = withData && typeof this.#clock === 'number' ? this.#clock : Date.now();
      const end = adapter.encodeInto(control.Ack, this.#ackScratch, 0, 0, stamp, block, start);
      if (end >= 0) {
        this.#blockFill = end;
        this.#outBytes += end - start;
        return;
      }
    }
    const frame = adapter.encode(control.Ack, this.#ackScratch, 0, 0);
    this.#cutBlock();
    this.#out.push(frame);
    this.#outBytes += frame.length;
  }

  #sendControl<T>(type: MessageType<T>, value: T): void {
    if (!this.#stream || !this.#adapter) return;
    this.#push(this.#adapter.encode(type, value, 0, 0));
  }

  readonly #onDrain = (): void => {
    this.#blocked = false;
    if (this.#out.length > 0 || this.#received > this.#ackSent) this.#flush();
  };

  /** Forget every retained message (a new session: nothing is retransmitted). */
  #clearRetained(): void {
    this.#retained = new Array(RING_MIN).fill(undefined);
    this.#retainedTypes = new Array(RING_MIN).fill(undefined);
    this.#retainedStart = new Int32Array(RING_MIN);
    this.#retainedEnd = new Int32Array(RING_MIN);
    this.#retainedMask = RING_MIN - 1;
    this.#retainedTail = 0;
    this.#block = undefined;
    this.#blockFill = 0;
    this.#blockSent = 0;
    this.#retainedHead = 0;
    this.#retainedBase = this.#nextSeq;
    this.#prefixes.clear();
    this.#settles.clear();
    this.#queuedBytes = 0;
  }

  /** Drop acknowledged entries up to `upTo` (inclusive). */
  #release(upTo: number): void {
    const r = this.#retained;
    const types = this.#retainedTypes;
    const starts = this.#retainedStart;
    const ends = this.#retainedEnd;
    const base = this.#retainedBase;
    const m = this.#retainedMask;
    let h = this.#retainedHead;
    const stop = Math.min(this.#retainedTail, upTo - base + 1);
    const extras = this.#prefixes.size > 0 || this.#settles.size > 0;
    let settled: Settle[] | undefined;
    while (h < stop) {
      const j = h & m;
      const frame = r[j]!;
      const start = starts[j]!;
      this.#queuedBytes -=
        start >= 0 ? ends[j]! - start : Array.isArray(frame) ? frameBytes(frame) : frame.length;
      r[j] = undefined;
      types[j] = undefined;
      if (extras) {
        const seq = base + h;
        const prefix = this.#prefixes.get(seq);
        if (prefix) {
          this.#queuedBytes -= prefix.length;
          this.#prefixes.delete(seq);
        }
        const settle = this.#settles.get(seq);
        if (settle) {
          this.#settles.delete(seq);
          if (settled === undefined) settled = [];
          settled.push(settle);
        }
      }
      h++;
    }
    this.#retainedHead = h;
    if (h === this.#retainedTail && m >= RING_SHRINK_ABOVE) {
      // Everything acknowledged after a burst that grew the ring: give its memory back.
      this.#retainedBase = base + h;
      this.#retainedHead = 0;
      this.#retainedTail = 0;
      this.#retained = new Array(RING_MIN).fill(undefined);
      this.#retainedTypes = new Array(RING_MIN).fill(undefined);
      this.#retainedStart = new Int32Array(RING_MIN);
      this.#retainedEnd = new Int32Array(RING_MIN);
      this.#retainedMask = RING_MIN - 1;
    }
    if (settled) for (const s of settled) s.onAck?.();
    if (this.#flushWaiters.length > 0) this.#checkFlushWaiters();
    if (this.#waiters.length > 0) this.#admitWaiters();
  }

  /** The sequence of the oldest unacknowledged message (#nextSeq when there is none). */
  #oldestRetained(): number {
    return this.#retainedHead < this.#retainedTail ? this.#retainedBase + this.#retainedHead : this.#nextSeq;
  }

  #checkFlushWaiters(): void {
    const oldest = this.#oldestRetained();
    this.#flushWaiters = this.#flushWaiters.filter((w) => {
      if (w.upTo >= oldest) return true;
      if (w.failed) w.reject(w.failed);
      else w.resolve();
      return false;
    });
  }

  /** Fail every unacknowledged message: its sender learns it may or may not have arrived. */
  #failRetained(code: TmeshErrorCode, message: string): void {
    const count = this.#retainedTail - this.#retainedHead;
    if (count === 0) {
      this.#checkFlushWaiters();
      return;
    }
    const first = this.#retainedBase + this.#retainedHead;
    const types: MessageType<any>[] = [];
    for (let k = this.#retainedHead; k < this.#retainedTail; k++) {
      types.push(this.#retainedTypes[k & this.#retainedMask]!);
    }
    const settles = [...this.#settles.values()];
    // Requests keep no settle entry: the ones whose frame was not acknowledged fail here too.
    const requests: PendingRequest[] = [];
    for (const p of this.#pending.values()) if (p.seq >= first) requests.push(p);
    this.#clearRetained();
    const error = tmeshError(
      code,
      `${count} unacknowledged message(s) to ${this.#peerHello?.nodeId ?? '?'}: ${message}`,
      {
        details: {
          delivery: 'unknown',
          count,
          firstSequence: first,
          lastSequence: first + count - 1,
          messages: types.map((type, i) => ({ sequence: first + i, type: type.name })),
        },
      },
    );
    for (const w of this.#flushWaiters) if (w.upTo >= first) w.failed ??= error;
    for (const settle of settles) settle.onFail?.(error);
    for (const p of requests) p.reject(error);
    this.#checkFlushWaiters();
    // Emitted after the caller's state change is complete (a listener may send again right away).
    if (this.listenerCount('undelivered') > 0) queueMicrotask(() => this.emit('undelivered', error));
  }

  #failPending(code: TmeshErrorCode, message: string): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of all) p.reject(tmeshError(code, message));
  }

  flush(): Promise<void> {
    const upTo = this.#nextSeq - 1;
    const oldest = this.#oldestRetained();
    if (upTo < oldest) return RESOLVED;
    return new Promise((resolve, reject) => this.#flushWaiters.push({ upTo, resolve, reject }));
  }

  // ---------------------------------------------------------------- receiving

  readonly #onData = (chunk: Buffer): void => {
    this.#readSinceFlush = true;
    this.#bytesIn += chunk.length;
    let msgs: DecodedMessage[];
    try {
      msgs = this.#reader!(chunk);
    } catch (error) {
      this.#protocolError(error);
      return;
    }
    this.#onMessages(msgs);
  };

  /** A read that landed in the buffer of the frame the reader is assembling (see direct-read.ts). */
  readonly #onFilled = (buf: Uint8Array, n: number): void => {
    this.#readSinceFlush = true;
    this.#bytesIn += n;
    let msgs: DecodedMessage[];
    try {
      msgs = this.#reader!.direct!.filled(buf, n);
    } catch (error) {
      this.#protocolError(error);
      return;
    }
    if (msgs.length > 0) this.#onMessages(msgs);
  };

  #onMessages(msgs: DecodedMessage[]): void {
    const stream = this.#stream;
    const reader = this.#reader;
    const nested = this.#dispatching++ > 0;
    let done = false;
    if (!nested) this.#kept = false;
    try {
      for (let i = 0; i < msgs.length; i++) {
        if (this.#stream !== stream) return; // a Close in this chunk dropped the connection
        try {
          this.#onMessage(msgs[i]!);
        } catch (error) {
          this.#protocolError(error);
          return;
        }
      }
      done = true;
    } finally {
      // With reuseReceiveBuffers, when every message went to 'message' listeners that returned (or was
      // read and dropped), the buffer of a big frame among them is free for the next one; otherwise the
      // reader just forgets it. A batch dispatched from inside a listener of another frees nothing.
      if (--this.#dispatching === 0)
        reader?.release(this.#opts.reuseReceiveBuffers && done && !nested && !this.#kept);
    }
    if (this.#received > this.#ackSent) {
      if (this.#received - this.#ackSent >= ACK_EVERY || this.#rxSinceAck >= ACK_EVERY_BYTES) {
        this.#appendAck();
        this.#flush();
      } else this.#scheduleFlush();
    }
  }

  #onMessage(msg: DecodedMessage): void {
    const id = msg.type.id;
    if (!isNumbered(id)) {
      this.#onControl(msg);
      return;
    }
    const expected = this.#received + 1;
    const full = expected + ((msg.header.sequence - (expected % TWO32)) | 0);
    if (full <= this.#received) {
      this.#duplicates++;
      this.#replyTo = undefined;
      return;
    }
    if (full !== expected) {
      throw tmeshError(
        'E_INTERNAL',
        `frame sequence ${full} skips ahead of ${expected}: the stream lost frames`,
      );
    }
    this.#received = full;
    this.#rxSinceAck += msg.header.payloadSize;
    const flags = msg.header.flags;
    if (id === control.ErrorReply.id) {
      const v = msg.value as { request: bigint; code: string; message: string };
      const p = this.#pending.get(Number(v.request));
      p?.reject(
        tmeshError(toCode(v.code), `remote handler failed: ${v.message}`, {
          details: { remote: true, remoteCode: v.code },
        }),
      );
      return;
    }
    this.#messagesIn++;
    if (flags & (FRAME_FLAGS.RESPONSE | FRAME_FLAGS.REQUEST)) this.#kept = true; // read later by its awaiter
    if (flags & FRAME_FLAGS.RESPONSE) {
      const request = this.#replyTo;
      this.#replyTo = undefined;
      if (request !== undefined) this.#pending.get(request)?.resolve(msg);
      return;
    }
    if (flags & FRAME_FLAGS.REQUEST) {
      this.#onRequestFrame(full, msg);
      return;
    }
    this.#deliver(msg);
  }

  #onRequestFrame(seq: number, msg: DecodedMessage): void {
    const handler = this.#handler;
    if (!handler) {
      this.#respondError(seq, tmeshError('E_NOT_SUPPORTED', `${this.#opts.self.id} has no request handler`));
      return;
    }
    let result: Promise<Reply> | Reply;
    try {
      result = handler(msg);
    } catch (error) {
      this.#respondError(seq, error);
      return;
    }
    if (result && typeof (result as Promise<Reply>).then === 'function') {
      (result as Promise<Reply>).then(
        (reply) => this.#respond(seq, reply),
        (error) => this.#respondError(seq, error),
      );
    } else this.#respond(seq, result as Reply);
  }

  #onControl(msg: DecodedMessage): void {
    switch (msg.type.id) {
      case control.Ack.id:
        this.#release(Number((msg.value as { received: bigint }).received));
        return;
      case control.Ping.id:
        this.#sendControl(control.Pong, { id: (msg.value as { id: number }).id });
        return;
      case control.Pong.id: {
        const id = (msg.value as { id: number }).id;
        const sent = this.#pings.get(id);
        if (sent !== undefined) {
          this.#pings.delete(id);
          this.#rttMs = Number(process.hrtime.bigint() - sent) / 1e6;
          this.emit('heartbeat', this.#rttMs);
        }
        return;
      }
      case control.ReplyTo.id:
        this.#replyTo = Number((msg.value as { request: bigint }).request);
        return;
      case control.Close.id: {
        const v = msg.value as { code: string; message: string };
        if (v.code) {
          // The peer dropped this connection over an error (a protocol error on its side): like any
          // drop, the link reconnects and resumes.
          this.#lost(
            tmeshError(toCode(v.code), `peer dropped the connection: ${v.message}`, {
              details: { remote: true },
            }),
          );
          return;
        }
        this.#finish('E_CLOSED', `peer ${this.#peerHello?.nodeId} closed the link`);
        return;
      }
      default:
        throw tmeshError('E_DECODE', `unexpected control message ${msg.type.name} after the handshake`);
    }
  }

  #deliver(msg: DecodedMessage): void {
    if (this.listenerCount('message') > 0) {
      this.emit('message', msg);
      return;
    }
    this.#kept = true; // read later, by the iterator
    const puller = this.#pullers.shift();
    if (puller) {
      puller({ value: msg, done: false });
      return;
    }
    this.#inbox.push(msg);
    this.#inboxBytes += msg.header.payloadSize;
    if (
      !this.#paused &&
      (this.#inbox.length - this.#inboxHead > INBOX_HIGH_MESSAGES || this.#inboxBytes > INBOX_HIGH_BYTES)
    ) {
      this.#paused = true;
      this.#stream?.pause();
    }
  }

  messages(): AsyncIterableIterator<DecodedMessage> {
    const next = (): Promise<IteratorResult<DecodedMessage>> => {
      if (this.#inboxHead < this.#inbox.length) {
        const msg = this.#inbox[this.#inboxHead]!;
        this.#inbox[this.#inboxHead++] = undefined as unknown as DecodedMessage;
        this.#inboxBytes -= msg.header.payloadSize;
        if (this.#inboxHead === this.#inbox.length) {
          this.#inbox = [];
          this.#inboxHead = 0;
        }
        if (
          this.#paused &&
          this.#inbox.length - this.#inboxHead <= INBOX_HIGH_MESSAGES / 2 &&
          this.#inboxBytes <= INBOX_HIGH_BYTES / 2
        ) {
          this.#paused = false;
          this.#stream?.resume();
        }
        return Promise.resolve({ value: msg, done: false });
      }
      if (this.#state === 'closed') return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => this.#pullers.push(resolve));
    };
    const iterator: AsyncIterableIterator<DecodedMessage> = {
      next,
      return: () => Promise.resolve({ value: undefined, done: true }),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // ---------------------------------------------------------------- liveness and failure

  #startHeartbeat(): void {
    clearInterval(this.#heartbeatTimer);
    const every = this.#opts.heartbeatMs;
    if (!(every > 0)) return;
    this.#heartbeatTimer = setInterval(() => {
      if (!this.#stream) return;
      // Reads do not look at the clock (two clock reads per round trip were measurable): the tick that
      // sees new bytes takes its own time as the last receipt (up to heartbeatMs late), so a silent peer
      // is declared gone after deadAfterMs to deadAfterMs + 2 x heartbeatMs of silence.
      const now = Date.now();
      if (this.#bytesIn !== this.#lastRxBytes) {
        this.#lastRxBytes = this.#bytesIn;
        this.#lastRx = now;
      }
      // A side that paused its own reading cannot judge the peer; a peer that reads nothing still pings.
      if (!this.#paused && now - this.#lastRx > this.#opts.deadAfterMs) {
        this.#lost(
          tmeshError(
            'E_PEER_GONE',
            `no data from ${this.#peerHello?.nodeId} for ${this.#opts.deadAfterMs} ms`,
          ),
        );
        return;
      }
      this.#pingId = (this.#pingId + 1) >>> 0;
      const id = this.#pingId;
      this.#pings.set(id, process.hrtime.bigint());
      if (this.#pings.size > 64) this.#pings.delete(this.#pings.keys().next().value!);
      this.#sendControl(control.Ping, { id });
    }, every);
    this.#heartbeatTimer.unref();
  }

  #protocolError(error: unknown): void {
    const err = isTmeshError(error) ? error : tmeshError('E_DECODE', String(error), { cause: error });
    if (this.#stream && this.#adapter) {
      // Best effort: tell the peer why before dropping the connection.
      try {
        this.#stream.write(
          this.#adapter.encode(control.Close, { code: err.code, message: err.message.slice(0, 512) }, 0, 0),
        );
      } catch {}
    }
    this.#lost(err);
  }

  readonly #onStreamError = (error: Error): void => {
    this.#lost(
      tmeshError('E_CONNECTION', `connection to ${this.#peerHello?.nodeId}: ${error.message}`, {
        cause: error,
      }),
    );
  };

  readonly #onStreamClose = (): void => {
    this.#lost(tmeshError('E_CONNECTION', `connection to ${this.#peerHello?.nodeId} closed`));
  };

  /** The connection is gone; the link waits for a reconnect (initiator dials, acceptor waits). */
  #lost(error: TmeshError): void {
    const stream = this.#stream;
    if (!stream) return;
    this.#detach(stream);
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#out = [];
    this.#outBytes = 0;
    this.#blockSent = this.#blockFill; // retransmitted from #retained after the reconnect
    this.#pings.clear();
    if (this.#state === 'closed') return;
    if (this.#state === 'closing') {
      // close() was waiting for acknowledgements that cannot come now: no reconnect, what is left fails.
      this.#finish(
        'E_CLOSED',
        `link closed; the connection to ${this.#peerHello?.nodeId} dropped while closing`,
      );
      return;
    }
    if (this.#state === 'open') this.#state = 'disconnected';
    // A drop is recoverable: 'disconnect' reports it; 'error' is kept for failures that close the link.
    this.emit('disconnect', error);
    if (this.#dialer) this.#scheduleReconnect();
    else {
      this.#resumeTimer = setTimeout(
        () =>
          this.#finish(
            'E_PEER_GONE',
            `peer ${this.#peerHello?.nodeId} did not come back within ${this.#opts.resumeWindowMs} ms`,
          ),
        this.#opts.resumeWindowMs,
      );
      this.#resumeTimer.unref();
    }
  }

  #scheduleReconnect(): void {
    if (this.#state === 'closed') return;
    this.#attempts++;
    if (this.#attempts > this.#reconnect.maxAttempts) {
      this.#finish(
        'E_CONNECTION',
        `gave up reconnecting to ${this.#peerHello?.nodeId} after ${this.#reconnect.maxAttempts} attempts`,
      );
      return;
    }
    const base = Math.min(this.#reconnect.maxMs, this.#reconnect.initialMs * 2 ** (this.#attempts - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    this.#reconnectTimer = setTimeout(async () => {
      this.#reconnectTimer = undefined;
      if (this.#state === 'closed') return;
      try {
        const { stream, result } = await this.#dialer!(this.handshakeParams());
        if (this.closed) {
          stream.destroy();
          return;
        }
        this.#attempts = 0;
        this.attach(stream, result, this.resumePointFor(result.peer));
      } catch (error) {
        if (isTmeshError(error) && PERMANENT.includes(error.code)) {
          this.#finish(error.code, error.message, error);
          return;
        }
        this.#scheduleReconnect();
      }
    }, delay);
  }

  close(): Promise<void> {
    if (this.#closePromise) return this.#closePromise;
    if (this.#state === 'closed') return RESOLVED;
    if (!this.#stream) {
      // The connection is down (reconnecting, or waiting for the peer to resume): nothing more can be
      // acknowledged, so close now instead of after the resume window or the last reconnect attempt.
      this.#finish(
        'E_CLOSED',
        `link closed while the connection to ${this.#peerHello?.nodeId ?? '?'} was down`,
      );
      return RESOLVED;
    }
    this.#state = 'closing';
    for (const w of this.#waiters.splice(0)) w.reject(tmeshError('E_CLOSED', 'link is closing'));
    this.#closePromise = new Promise<void>((resolve) => {
      let called = false;
      const done = (): void => {
        if (called) return;
        called = true;
        clearTimeout(timer);
        if (this.#stream && this.#adapter) {
          const stream = this.#stream;
          if (this.#received > this.#ackSent) this.#appendAck();
          this.#cutBlock();
          this.#out.push(this.#adapter.encode(control.Close, { code: '', message: 'closed' }, 0, 0));
          this.#flushNowAndEnd(stream);
        }
        this.#finish('E_CLOSED', 'link closed');
        resolve();
      };
      const timer = setTimeout(done, this.#requestTimeoutMs);
      this.flush().then(done, done);
    });
    return this.#closePromise;
  }

  #flushNowAndEnd(stream: Duplex): void {
    this.#cutBlock();
    const out = this.#out;
    this.#out = [];
    this.#outBytes = 0;
    stream.removeListener('close', this.#onStreamClose);
    stream.removeListener('error', this.#onStreamError);
    stream.removeListener('data', this.#onData);
    directReadsOf(stream)?.detach();
    stream.removeListener('drain', this.#onDrain);
    stream.on('error', () => {});
    stream.resume(); // discard what still arrives, so the peer's end is seen
    // write then end: a gRPC server call's end() takes metadata, not a last chunk.
    if (out.length > 0) stream.write(Buffer.concat(out));
    stream.end();
    setTimeout(() => destroyStream(stream), 1000).unref();
    this.#stream = undefined;
  }

  /** Close for good: fail what is left, end iterators, emit 'close'. */
  #finish(code: TmeshErrorCode, message: string, cause?: TmeshError): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#resumeTimer);
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#ackTimer);
    clearTimeout(this.#flushTimer);
    clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
    if (this.#stream) {
      const stream = this.#stream;
      if (this.#received > this.#ackSent && this.#adapter) this.#appendAck();
      this.#flushNowAndEnd(stream);
    }
    this.#failRetained(cause?.code ?? code, `${message}: delivery unknown`);
    for (const w of this.#waiters.splice(0)) w.reject(tmeshError(cause?.code ?? code, message));
    this.#failPending(cause?.code ?? code, message);
    for (const p of this.#pullers.splice(0)) p({ value: undefined, done: true });
    // 'close' carries the reason when the link failed; a graceful close (either side) has none.
    const reason = cause ?? (code === 'E_CLOSED' ? undefined : tmeshError(code, message));
    if (reason && this.listenerCount('error') > 0) this.emit('error', reason);
    this.emit('close', reason);
  }

  // ---------------------------------------------------------------- stats and tuning

  stats(): LinkStats {
    return {
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      messagesIn: this.#messagesIn,
      messagesOut: this.#messagesOut,
      rttMs: this.#rttMs,
      queuedBytes: this.#queuedBytes,
      queuedMessages: this.#retainedTail - this.#retainedHead,
      reconnects: this.#reconnects,
      compressedBytesSaved: this.#saved,
      duplicatesDropped: this.#duplicates,
    };
  }

  applyConfig(config: LinkConfig): void {
    if (config.batchDelayMs !== undefined) {
      if (!(config.batchDelayMs >= 0 && config.batchDelayMs <= 1000)) {
        throw tmeshError('E_INVALID_ARGUMENT', `batchDelayMs must be in 0..1000, got ${config.batchDelayMs}`);
      }
      this.#batchDelayMs = config.batchDelayMs;
    }
    if (config.compression !== undefined) {
      const choice = config.compression;
      const algorithm =
        choice === 'best' || choice === 'fast'
          ? pickCompression(choice, this.#compressions)
          : choice === 'off'
            ? undefined
            : choice;
      // 'best' / 'fast' with nothing negotiated (a peer that reads no compression) turn it off.
      if (choice === 'off' || choice === 'none' || algorithm === undefined) this.#compressionOn = false;
      else if (this.#compressions.includes(algorithm)) {
        this.#compression = algorithm;
        this.#compressionOn = true;
      } else {
        throw tmeshError(
          'E_NOT_SUPPORTED',
          `compression ${config.compression} was not negotiated on this link (have: ${this.#compressions.join(', ') || 'none'})`,
        );
      }
    }
    if (config.compressionThreshold !== undefined) {
      if (!(Number.isInteger(config.compressionThreshold) && config.compressionThreshold >= 0)) {
        throw tmeshError('E_INVALID_ARGUMENT', `compressionThreshold must be a non-negative integer`);
      }
      this.#compressionThreshold = config.compressionThreshold;
    }
    if (config.requestTimeoutMs !== undefined) {
      if (!(config.requestTimeoutMs > 0))
        throw tmeshError('E_INVALID_ARGUMENT', 'requestTimeoutMs must be > 0');
      this.#requestTimeoutMs = config.requestTimeoutMs;
    }
  }
}
