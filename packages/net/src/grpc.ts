import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { type Endpoint, tmeshError } from '@tmesh/core';
import { Acceptor, type LinkServer } from './acceptor.js';
import { handshake, socketError } from './handshake.js';
import { type Dialer, type Link, LinkImpl, newSessionId, type ReconnectOptions } from './link.js';
import { type LinkOptions, type ResolvedLinkOptions, resolveOptions } from './options.js';
import { certificateNames } from './socket.js';

const identity = (b: Buffer): Buffer => b;

/**
 * The gRPC fallback service: one bidirectional stream of bytes per link, each gRPC message holding one or
 * more universal-wire frames (varint-delimited envelopes), so the link protocol is the same as on a socket.
 */
export const LINK_SERVICE: grpc.ServiceDefinition = {
  connect: {
    path: '/tmesh.link.Link/Connect',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

type GrpcEndpoint = Extract<Endpoint, { kind: 'grpc' }>;

function checkGrpcEndpoint(endpoint: Endpoint, opts: ResolvedLinkOptions): GrpcEndpoint {
  if (endpoint?.kind !== 'grpc') {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `listenGrpc/connectGrpc take a grpc endpoint, got ${String(endpoint?.kind)}`,
    );
  }
  if (opts.tlsPsk) throw tmeshError('E_NOT_SUPPORTED', 'gRPC takes TLS with certificates only, not tls.psk');
  if (endpoint.tls && !opts.tls)
    throw tmeshError('E_INVALID_ARGUMENT', 'endpoint asks for TLS but options.tls is missing');
  return endpoint;
}

function channelOptions(opts: ResolvedLinkOptions): grpc.ChannelOptions {
  // One gRPC message holds at most one large frame or 256 KiB of coalesced small ones.
  const limit = opts.maxFrameSize + 1024 * 1024;
  return { 'grpc.max_receive_message_length': limit, 'grpc.max_send_message_length': limit };
}

function toBuffer(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v) : v;
}

class GrpcLinkServer extends EventEmitter implements LinkServer {
  readonly #server: grpc.Server;
  readonly #acceptor: Acceptor;
  readonly #endpoint: GrpcEndpoint;

  constructor(server: grpc.Server, acceptor: Acceptor, endpoint: GrpcEndpoint) {
    super();
    this.#server = server;
    this.#acceptor = acceptor;
    this.#endpoint = endpoint;
  }
  address(): Endpoint {
    return this.#endpoint;
  }
  links(): Link[] {
    return this.#acceptor.links();
  }
  async close(): Promise<void> {
    await this.#acceptor.close();
    // Links are closed by now; a client that keeps its HTTP/2 session open must not hold the close forever.
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, 1000);
      this.#server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

/** Listen for links over gRPC (HTTP/2): the universal wire on a bidirectional stream. */
export async function listenGrpc(
  endpoint: Endpoint,
  options: LinkOptions & { onLink: (link: Link) => void },
): Promise<LinkServer> {
  const opts = resolveOptions(options);
  const ep = checkGrpcEndpoint(endpoint, opts);
  const emitter = new EventEmitter();
  const acceptor = new Acceptor(opts, ['universal'], emitter, options.onLink);
  const server = new grpc.Server(channelOptions(opts));
  server.addService(LINK_SERVICE, {
    connect: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const names = opts.tls ? () => certificateNames(call.getAuthContext().sslPeerCertificate) : undefined;
      void acceptor.accept(call as unknown as Duplex, names, call.getPeer());
    },
  });
  const creds = opts.tls
    ? grpc.ServerCredentials.createSsl(
        toBuffer(opts.tls.ca),
        [{ cert_chain: toBuffer(opts.tls.cert), private_key: toBuffer(opts.tls.key) }],
        true,
      )
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${ep.host}:${ep.port}`, creds, (error, p) =>
      error ? reject(socketError(error, `grpc bind ${ep.host}:${ep.port}`)) : resolve(p),
    ),
  );
  const linkServer = new GrpcLinkServer(server, acceptor, { ...ep, port });
  for (const name of ['handshakeError', 'link'])
    emitter.on(name, (...args) => linkServer.emit(name, ...args));
  return linkServer;
}

/** Connect over gRPC; the same Link as over a socket, always in the universal wire. */
export async function connectGrpc(
  endpoint: Endpoint,
  options: LinkOptions & { reconnect?: ReconnectOptions | false },
): Promise<Link> {
  const opts = resolveOptions(options);
  const ep = checkGrpcEndpoint(endpoint, opts);
  // TLS 1.3 only; identity is the node id in the certificate (checked against the Hello), not the host name.
  const creds = opts.tls
    ? grpc.credentials.createFromSecureContext(
        tls.createSecureContext({ ...opts.tls, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }),
        { checkServerIdentity: () => undefined },
      )
    : grpc.credentials.createInsecure();
  const Client = grpc.makeGenericClientConstructor(LINK_SERVICE, 'Link');
  const client = new Client(`${ep.host}:${ep.port}`, creds, channelOptions(opts));
  const dialer: Dialer = async (params) => {
    const call = (client as unknown as { connect(): grpc.ClientDuplexStream<Buffer, Buffer> }).connect();
    const stream = call as unknown as Duplex;
    if (opts.tls)
      params.peerCertificateNames = () => certificateNames(call.getAuthContext()?.sslPeerCertificate);
    try {
      const result = await handshake(stream, params);
      return { stream, result };
    } catch (error) {
      call.cancel();
      throw socketError(error as Error, 'grpc handshake');
    }
  };
  const reconnect = options.reconnect === false ? { maxAttempts: 0 } : options.reconnect;
  const link = new LinkImpl(opts, 'initiator', newSessionId(), ['universal'], dialer, reconnect);
  link.once('close', () => client.close());
  try {
    await link.start();
  } catch (error) {
    client.close();
    throw error;
  }
  return link;
}
