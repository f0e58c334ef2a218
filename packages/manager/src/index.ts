/** @tmesh/manager: the tmesh facade, discovery and the CLI. */
export { managerControl } from './control.js';
export { GrpcBaselineClient, startGrpcBaselineServer } from './demo/grpc-baseline.js';
export type { BaselineResult, DemoReport, RouteResult } from './demo/report.js';
export { renderHtml, renderRouteTable } from './demo/report.js';
export type { DemoOptions } from './demo/run.js';
export { runDemo } from './demo/run.js';
export type { SinkNodeOptions } from './demo/sink.js';
export { startSinkNode } from './demo/sink.js';
export type {
  DiscoveredNode,
  Discovery,
  DiscoveryEvents,
  EtcdDiscoveryOptions,
  RuntimeDirOptions,
} from './discovery/index.js';
export {
  defaultRuntimeDir,
  EtcdDiscovery,
  parseNodeInfo,
  pidAlive,
  RuntimeDirDiscovery,
  StaticDiscovery,
} from './discovery/index.js';
export { jsonToValue, valueToJson } from './json-values.js';
export type {
  CreateNodeOptions,
  IncomingMessage,
  NodeEvent,
  NodeOptions,
  Reply,
  TransportFactory,
  TypedReply,
} from './node.js';
export { createNode, TmeshNode } from './node.js';
export type { IncomingSink, PeerTransport, SendOptions } from './transport.js';
export type { TransportOptions } from './transports.js';
export { createTransportFactory, NetTransport, SHM_FLAGS, ShmTransport } from './transports.js';
