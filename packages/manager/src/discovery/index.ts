export type { EtcdDiscoveryOptions } from './etcd.js';
export { EtcdDiscovery } from './etcd.js';
export type { RuntimeDirOptions } from './runtime-dir.js';
export { defaultRuntimeDir, pidAlive, RuntimeDirDiscovery } from './runtime-dir.js';
export { parseNodeInfo, StaticDiscovery } from './static.js';
export type { DiscoveredNode, Discovery, DiscoveryEvents } from './types.js';
