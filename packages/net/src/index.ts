/** @tmesh/net: links over TCP, TLS 1.3, Unix sockets and gRPC, with handshake, acks, backpressure and reconnect. */
export type { LinkServer } from './acceptor.js';
export type { CompressionChoice } from './compression.js';
export {
  COMPRESSION_UNAVAILABLE_REASON,
  compress,
  decompress,
  pickCompression,
  SUPPORTED_COMPRESSION,
} from './compression.js';
export type { AuthValue, HelloValue } from './control.js';
export { control } from './control.js';
export { connectGrpc, LINK_SERVICE, listenGrpc } from './grpc.js';
export { MAX_HANDSHAKE_FRAME } from './handshake.js';
export type {
  Link,
  LinkConfig,
  LinkStats,
  ReconnectOptions,
  Reply,
  RequestHandler,
  SendOptions,
} from './link.js';
export type { Agreement, LinkAuth, LinkSecret } from './negotiate.js';
export { negotiate } from './negotiate.js';
export type { LinkOptions, LinkTlsCertificates, LinkTlsOptions, LinkTlsPsk } from './options.js';
export type { ConnectOptions } from './socket.js';
export { connect, listen } from './socket.js';
