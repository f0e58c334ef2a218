import { EventEmitter } from 'node:events';
import { existsSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { type Endpoint, tmeshError } from '@tmesh/core';
import { Acceptor, type LinkServer } from './acceptor.js';
import { control, linkRegistry } from './control.js';
import { adoptDirect, connectDirect } from './direct-read.js';
import { codecFor } from './framing.js';
import { handshake, socketError } from './handshake.js';
import { type Dialer, type Link, LinkImpl, newSessionId, type ReconnectOptions } from './link.js';
import { type LinkOptions, type ResolvedLinkOptions, resolveOptions } from './options.js';

/** The names a verified peer certificate vouches for: its subject CN and every SAN value. */
export function certificateNames(cert: tls.PeerCertificate | undefined): string[] {
  if (!cert || Object.keys(cert).length === 0) return [];
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  else if (Array.isArray(cn)) names.push(...cn);
  for (const part of (cert.subjectaltname ?? '').split(',')) {
    const i = part.indexOf(':');
    if (i > 0) names.push(part.slice(i + 1).trim());
  }
  return names;
}

type SocketEndpoint = Extract<Endpoint, { kind: 'tcp' | 'unix' }>;

function checkEndpoint(endpoint: Endpoint, opts: ResolvedLinkOptions): asserts endpoint is SocketEndpoint {
  if (endpoint?.kind !== 'tcp' && endpoint?.kind !== 'unix') {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `listen/connect take a tcp or unix endpoint (grpc: listenGrpc/connectGrpc), got ${String(endpoint?.kind)}`,
    );
  }
  if (endpoint.kind === 'tcp' && endpoint.tls && !opts.tls && !opts.tlsPsk) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      'endpoint asks for TLS but options.tls (cert, key, ca or psk) is missing',
    );
  }
}

/** TLS 1.3 suites whose hash is SHA-256, the hash OpenSSL's PSK callbacks (used by node:tls) assume. */
const PSK_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256';

function tlsBase(
  opts: ResolvedLinkOptions,
): tls.SecureContextOptions & { minVersion: 'TLSv1.3'; maxVersion: 'TLSv1.3' } {
  if (opts.tlsPsk) return { ciphers: PSK_SUITES, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
  const t = opts.tls!;
  return { cert: t.cert, key: t.key, ca: t.ca, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
}

/** A PSK as node:tls takes it. */
function pskBuffer(secret: string | Uint8Array): Buffer {
  return typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
}

function open(
  endpoint: SocketEndpoint,
  opts: ResolvedLinkOptions,
): Promise<{ stream: Duplex; names: string[] | undefined }> {
  return new Promise((resolve, reject) => {
    const where = endpoint.kind === 'unix' ? `unix:${endpoint.path}` : `${endpoint.host}:${endpoint.port}`;
    if (endpoint.kind === 'tcp' && (opts.tls || opts.tlsPsk)) {
      const psk = opts.tlsPsk;
      if (psk && psk.key === undefined) {
        reject(tmeshError('E_INVALID_ARGUMENT', 'tls.psk.key is needed to connect (keys only accept)'));
        return;
      }
      const socket = tls.connect({
        ...tlsBase(opts),
        host: endpoint.host,
        port: endpoint.port,
        // Identity is the node id, checked against the peer's Hello; not the host name dialled.
        checkServerIdentity: () => undefined,
        // PSK: the identity offered is this node's id; the server proves it holds the same key.
        ...(psk ? { pskCallback: () => ({ identity: opts.self.id, psk: pskBuffer(psk.key!) }) } : {}),
      });
      socket.setNoDelay(true);
      socket.once('secureConnect', () => {
        socket.removeListener('error', onError);
        if (!socket.authorized) {
          socket.destroy();
          reject(
            tmeshError(
              'E_AUTH',
              `${where}: server certificate rejected: ${String(socket.authorizationError)}`,
            ),
          );
          return;
        }
        resolve({
          stream: socket,
          names: psk ? undefined : certificateNames(socket.getPeerCertificate()),
        });
      });
      const onError = (e: Error): void => reject(socketError(e, `connect ${where}`));
      socket.once('error', onError);
      return;
    }
    // Reads through onread: big frames land straight in the buffer they are assembled in (direct-read.ts).
    const socket =
      endpoint.kind === 'unix'
        ? connectDirect({ path: endpoint.path })
        : connectDirect({ host: endpoint.host, port: endpoint.port });
    if (endpoint.kind === 'tcp') socket.setNoDelay(true);
    const onError = (e: Error): void => reject(socketError(e, `connect ${where}`));
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.removeListener('error', onError);
      resolve({ stream: socket, names: undefined });
    });
  });
}

/** Options of {@link connect}. */
export type ConnectOptions = LinkOptions & { reconnect?: ReconnectOptions | false };

/**
 * Connect to a node over TCP, TLS 1.3 (endpoint.tls or options.tls) or a Unix socket. Resolves once the
 * handshake agreed on a wire; after a drop the link reconnects with exponential backoff and jitter.
 */
export async function connect(endpoint: Endpoint, options: ConnectOptions): Promise<Link> {
  const opts = resolveOptions(options);
  checkEndpoint(endpoint, opts);
  const dialer: Dialer = async (params) => {
    const { stream, names } = await open(endpoint, opts);
    params.peerCertificateNames = names;
    try {
      const result = await handshake(stream, params);
      return { stream, result };
    } catch (error) {
      stream.destroy();
      throw socketError(error as Error, 'handshake');
    }
  };
  const reconnect = options.reconnect === false ? { maxAttempts: 0 } : options.reconnect;
  const link = new LinkImpl(opts, 'initiator', newSessionId(), opts.wires, dialer, reconnect);
  await link.start();
  return link;
}

class SocketLinkServer extends EventEmitter implements LinkServer {
  readonly #server: net.Server;
  readonly #acceptor: Acceptor;
  readonly #endpoint: Endpoint;

  constructor(server: net.Server, acceptor: Acceptor, endpoint: Endpoint) {
    super();
    this.#server = server;
    this.#acceptor = acceptor;
    this.#endpoint = endpoint;
  }

  address(): Endpoint {
    if (this.#endpoint.kind === 'unix') return this.#endpoint;
    const a = this.#server.address() as net.AddressInfo;
    return { ...(this.#endpoint as Extract<Endpoint, { kind: 'tcp' }>), port: a.port };
  }

  links(): Link[] {
    return this.#acceptor.links();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#acceptor.close();
    await closed;
  }
}

/** Listen on a TCP port (TLS 1.3 when options.tls is given) or a Unix socket path; every accepted link goes to onLink. */
export async function listen(
  endpoint: Endpoint,
  options: LinkOptions & { onLink: (link: Link) => void },
): Promise<LinkServer> {
  const opts = resolveOptions(options);
  checkEndpoint(endpoint, opts);
  if (typeof options.onLink !== 'function')
    throw tmeshError('E_INVALID_ARGUMENT', 'listen needs an onLink callback');
  const emitter = new EventEmitter();
  let serverRef: SocketLinkServer | undefined;
  const useTls = endpoint.kind === 'tcp' && (opts.tls !== undefined || opts.tlsPsk !== undefined);
  const acceptor = new Acceptor(opts, opts.wires, emitter, options.onLink);
  const onStream = (stream: Duplex, names: string[] | undefined, remote: string): void => {
    void acceptor.accept(stream, names, remote);
  };
  let server: net.Server;
  if (useTls) {
    // Certificates are checked here rather than by rejectUnauthorized, so the refused peer is told why
    // (a Close frame with E_AUTH over the TLS channel) instead of seeing a bare hang-up.
    // With PSK, the identity the key was found under is remembered per socket: the Hello must carry it.
    const psk = opts.tlsPsk;
    const pskIdentities = new WeakMap<tls.TLSSocket, string>();
    const keys = psk?.keys ?? {};
    const tserver = tls.createServer({
      ...tlsBase(opts),
      // An unauthenticated peer may hold a connection for the handshake time at most, TLS included.
      handshakeTimeout: opts.handshakeTimeoutMs,
      ...(psk
        ? {
            pskCallback: (socket: tls.TLSSocket, identity: string) => {
              if (!Object.hasOwn(keys, identity)) return null;
              pskIdentities.set(socket, identity);
              return pskBuffer(keys[identity]!);
            },
          }
        : { requestCert: true, rejectUnauthorized: false }),
    });
    const closeCodec = codecFor('universal', linkRegistry(opts.registry));
    tserver.on('secureConnection', (socket: tls.TLSSocket) => {
      socket.setNoDelay(true);
      const remote = `${socket.remoteAddress}:${socket.remotePort}`;
      if (psk) {
        // No identity means no PSK was used (e.g. a resumed session): the Hello can match nothing.
        const identity = pskIdentities.get(socket);
        onStream(socket, identity === undefined ? [] : [identity], remote);
        return;
      }
      if (!socket.authorized) {
        const error = tmeshError(
          'E_AUTH',
          `client certificate refused: ${String(socket.authorizationError)}`,
        );
        socket.on('error', () => {});
        socket.end(closeCodec.encode(control.Close, { code: error.code, message: error.message }));
        setTimeout(() => socket.destroy(), 1000).unref();
        serverRef?.emit('handshakeError', error, remote);
        return;
      }
      onStream(socket, certificateNames(socket.getPeerCertificate()), remote);
    });
    tserver.on('tlsClientError', (error, socket) => {
      // With a listener here node:tls leaves the socket open (a silent peer would stay): close it.
      socket.destroy();
      serverRef?.emit(
        'handshakeError',
        socketError(error, 'TLS handshake'),
        `${socket.remoteAddress}:${socket.remotePort}`,
      );
    });
    server = tserver;
  } else {
    // Paused on accept so nothing is read before the socket is rewrapped with onread (direct-read.ts);
    // the handshake resumes it.
    server = net.createServer({ pauseOnConnect: true }, (accepted) => {
      const socket = adoptDirect(accepted);
      if (endpoint.kind === 'tcp') socket.setNoDelay(true);
      onStream(
        socket,
        undefined,
        endpoint.kind === 'unix' ? endpoint.path : `${socket.remoteAddress}:${socket.remotePort}`,
      );
    });
  }
  if (endpoint.kind === 'unix') await removeStaleSocket(endpoint.path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(socketError(e, 'listen')));
    if (endpoint.kind === 'unix') server.listen(endpoint.path, () => resolve());
    else server.listen(endpoint.port, endpoint.host, () => resolve());
  });
  server.on('error', (e) => serverRef?.emit('error', e));
  const linkServer = new SocketLinkServer(server, acceptor, endpoint);
  serverRef = linkServer;
  for (const name of ['handshakeError', 'link'])
    emitter.on(name, (...args) => linkServer.emit(name, ...args));
  return linkServer;
}

/** A socket file nobody listens on is left over from a dead process: remove it; a live one is E_CONNECTION. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw tmeshError('E_CONNECTION', `unix socket ${path} is in use by a live server`);
  unlinkSync(path);
}
