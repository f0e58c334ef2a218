export type { IdleStrategy } from '@tmesh/core';
export type {
  LentMessage,
  ShmChannelOptions,
  ShmMessage,
  ShmOpenOptions,
  ShmPeerState,
  ShmRecvOptions,
  ShmSendOptions,
} from './channel.js';
export { createChannel, openChannel, ShmChannel } from './channel.js';
export { isAvailable, platformSuffix } from './native.js';
export type { ShmRegionInfo } from './regions.js';
export { cleanupStaleRegions, listRegions } from './regions.js';
