import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { DirectFrameReader } from './framing.js';

/**
 * Socket reads that choose where the kernel writes (Node's `onread` socket option), so a big frame is
 * copied once, by the kernel, into the buffer it is assembled in, instead of into a fresh 64 KiB chunk
 * per read and then again into the frame.
 *
 * Reads land in one of two places:
 * - the unfilled rest of the frame a link's reader is assembling, when a reader is attached and at least
 *   DIRECT_MIN bytes of that frame are missing; the link hears of them through its sink;
 * - otherwise a 64 KiB read buffer shared by every socket of the process. The bytes read are copied out
 *   at once into a Buffer of their size (Node's pool below 4 KiB), which is pushed into the socket's
 *   readable side exactly as Node pushes its own reads ('data' events, pause and resume as usual: the
 *   handshake and a link's `#onData` read them). Sharing is safe because a read and its callback run
 *   together on the one JS thread; an idle socket holds no read memory (a slab per socket would hold
 *   64 KiB each), and the chunk owns its bytes as Node's own chunks do.
 *
 * Node asks for the next buffer right after each read, not when it reads again; a chunk the reader gets
 * in between (one the stream held while paused) would make that buffer stale: the reader then moves the
 * frame to a new buffer (see `FixedStreamReader.target`), so a late read never lands in a payload.
 *
 * TLS sockets have no `onread`: they keep Node's 'data' chunks.
 */

/** The size of the shared read buffer (Node's own read size). */
export const READ_BUFFER_SIZE = 64 * 1024;
/** A frame with fewer bytes missing is finished through the shared buffer (one read may then take more frames). */
export const DIRECT_MIN = 32 * 1024;

/** The read buffer of every socket's reads that do not go into a frame; emptied by each read's callback. */
const shared = Buffer.allocUnsafe(READ_BUFFER_SIZE);

/**
 * Where a link takes the reads that landed in its reader's frame: it passes them on to the reader's
 * `filled` and handles what that returns or throws (it must not throw: it runs inside Node's read).
 */
export type DirectSink = (buf: Uint8Array, n: number) => void;

let enabled = true;

/**
 * Bytes of the buffer allocated and dropped once per process before its first read into a frame (see
 * {@link primeAllocator}): just under glibc's 32 MiB ceiling for its adaptive mmap threshold.
 */
const ALLOCATOR_PRIME_BYTES = 31 * 1024 * 1024;
/** On by default on Linux; `TMESH_ALLOCATOR_PRIMING=0` turns it off (see {@link primeAllocator}). */
let priming = process.platform === 'linux' && process.env.TMESH_ALLOCATOR_PRIMING !== '0';
let primed = false;

/**
 * Tune glibc's malloc for a process that receives big frames, once: allocate one uninitialized buffer of
 * ALLOCATOR_PRIME_BYTES (its pages are never touched) and drop it.
 *
 * Every big frame is a fresh malloc'd buffer that V8 frees only when it collects it, often 15-30 at once.
 * glibc returns free memory at the top of its heap to the kernel once more than its trim threshold is free,
 * and that threshold adapts to twice the largest mmapped block freed so far: ~2 MiB after 1 MiB frames. So
 * each batch of freed frames went back to the kernel and the next frames were built in fresh pages, which
 * the kernel zero-fills on first touch, inside the socket read (measured: up to ~200 page faults and
 * ~300 µs of system time per MiB received, varying with V8's GC rhythm). When the dropped 31 MiB block
 * (mmapped, being above the threshold) is freed, glibc raises its mmap threshold to 31 MiB and its trim
 * threshold to 62 MiB: frames then reuse the heap's freed memory, and the process keeps up to 62 MiB of
 * freed heap instead of returning it at once. Elsewhere (musl, macOS) this costs one transient mapping.
 * It changes nothing when MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ fix glibc's thresholds.
 */
function primeAllocator(): void {
  primed = true;
  Buffer.allocUnsafeSlow(ALLOCATOR_PRIME_BYTES); // uninitialized: address space only, freed by the next GC
}

/**
 * Turn the one-time allocator tuning before the first read into a frame on or off (on by default on
 * Linux); either way the next direct read counts as the first. For tests and A/B benchmarks.
 */
export function setAllocatorPriming(on: boolean): void {
  priming = on;
  primed = false;
}

/** Whether this process has tuned the allocator for big frames (see {@link setAllocatorPriming}). */
export function allocatorPrimed(): boolean {
  return primed;
}

/**
 * Turn `onread` on or off for sockets created from now on (on by default; off: Node's 'data' chunks).
 * For tests and A/B benchmarks of both paths; not part of the public API.
 */
export function setDirectReads(on: boolean): void {
  enabled = on;
}

const byStream = new WeakMap<Duplex, DirectReads>();

/** The direct reads of a socket made by `connectDirect` or `adoptDirect`, if it is one. */
export function directReadsOf(stream: Duplex): DirectReads | undefined {
  return byStream.get(stream);
}

/** The buffer generator and callback of one socket's `onread` option. */
export class DirectReads {
  #socket: net.Socket | undefined;
  /** The reader whose frame the buffer last handed out belongs to (undefined: the shared buffer). */
  #givenTo: DirectFrameReader | undefined;
  #reader: DirectFrameReader | undefined;
  #sink: DirectSink | undefined;

  /** The `onread` option of a socket using these reads. */
  get onread(): { buffer: () => Uint8Array; callback: (n: number, buf: Uint8Array) => boolean } {
    return { buffer: this.#buffer, callback: this.#callback };
  }

  /** Bind to the socket created with {@link onread}. */
  bind(socket: net.Socket): void {
    this.#socket = socket;
    byStream.set(socket, this);
  }

  /** From the next read on, let reads land in `reader`'s frames; `sink` gets what they complete. */
  attach(reader: DirectFrameReader, sink: DirectSink): void {
    this.#reader = reader;
    this.#sink = sink;
  }

  /** Back to shared-buffer reads only ('data' events); a read already aimed at a frame is dropped. */
  detach(): void {
    this.#reader = undefined;
    this.#sink = undefined;
  }

  readonly #buffer = (): Uint8Array => {
    const reader = this.#reader;
    const direct = reader?.target(DIRECT_MIN);
    if (direct !== undefined) {
      if (priming && !primed) primeAllocator();
      this.#givenTo = reader;
      return direct;
    }
    this.#givenTo = undefined;
    return shared;
  };

  readonly #callback = (n: number, buf: Uint8Array): boolean => {
    const reader = this.#givenTo;
    if (reader !== undefined) {
      // Read into a reader's frame. If that reader was detached since (its link let go of the socket),
      // the bytes are discarded, as a detached link discards what still arrives.
      if (reader === this.#reader) this.#sink!(buf, n);
      return true;
    }
    // Copied out before any other read can reuse the shared buffer.
    const chunk = Buffer.allocUnsafe(n);
    chunk.set(buf.subarray(0, n));
    // false (a paused stream or a full buffer) makes Node stop reading, as for its own chunks.
    return this.#socket === undefined ? true : this.#socket.push(chunk);
  };
}

/** `net.connect` whose reads go through a new {@link DirectReads} (or plain `net.connect` when disabled). */
export function connectDirect(options: net.NetConnectOpts): net.Socket {
  if (!enabled) return net.connect(options);
  const reads = new DirectReads();
  const socket = net.connect({ ...options, onread: reads.onread });
  reads.bind(socket);
  return socket;
}

/** A socket handle as node:net holds it: what {@link adoptDirect} needs of it. */
interface StreamHandle {
  useUserBuffer?: unknown;
  reading?: boolean;
}

/** What node:net keeps on an accepted socket (internals, see {@link adoptDirect}). */
interface AcceptedSocket {
  _handle?: StreamHandle | null;
  _server?: net.Server | null;
  server?: net.Server | null;
}

/**
 * An accepted socket (from a server created with `pauseOnConnect: true`, before anything read from it)
 * rewrapped in a socket with `onread`, or the socket itself when that cannot be done.
 *
 * Node 20 has no public way to give accepted sockets `onread` (`net.Server` builds them itself, see
 * `onconnection` in lib/net.js). `new net.Socket({ handle, onread })` is what `onconnection` itself does,
 * with the `onread` option `net.connect` takes; `handle` is not documented, so it is used only when the
 * handle looks as expected (a stream handle with `useUserBuffer`, not reading yet) and the rewrap does
 * not throw. The new socket takes over the server's count of the connection (`_server`), so
 * `server.close()` still waits for it; the old socket object is dropped unclosed, holding no handle.
 */
export function adoptDirect(socket: net.Socket): net.Socket {
  if (!enabled) return socket;
  const old = socket as unknown as AcceptedSocket;
  const handle = old._handle;
  if (
    handle == null ||
    typeof handle.useUserBuffer !== 'function' ||
    handle.reading === true ||
    socket.readableLength > 0 ||
    socket.destroyed
  ) {
    return socket;
  }
  const reads = new DirectReads();
  let adopted: net.Socket;
  try {
    adopted = new net.Socket({
      handle,
      onread: reads.onread,
      readable: true,
      writable: true,
      allowHalfOpen: socket.allowHalfOpen,
      pauseOnCreate: true,
    } as net.SocketConstructorOpts);
  } catch {
    return socket;
  }
  const server = old._server;
  old._handle = null;
  old._server = null;
  old.server = null;
  const taken = adopted as unknown as AcceptedSocket;
  taken._server = server ?? null;
  taken.server = server ?? null;
  reads.bind(adopted);
  return adopted;
}
