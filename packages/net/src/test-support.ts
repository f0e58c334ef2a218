// Helpers shared by the integration tests (not exported from the package).
import { once } from 'node:events';
import { MessageRegistry, type NodeInfo, sampleMessages, type WireId } from '@tmesh/core';
import type { LinkServer } from './acceptor.js';
import type { Link } from './link.js';
import type { LinkOptions } from './options.js';
import { type ConnectOptions, connect, listen } from './socket.js';

/** The registry the tests use: the sample FileChunk and Metrics messages. */
export const registry = new MessageRegistry([sampleMessages.FileChunk, sampleMessages.Metrics]);
/** The sample FileChunk type. */
export const FileChunk = sampleMessages.FileChunk;

/** A NodeInfo for tests. */
export function node(
  id: string,
  wires: WireId[] = ['rust', 'swift', 'universal'],
  protocolVersions = [1],
): NodeInfo {
  return { id, machineId: `machine-${id}`, language: 'typescript', endpoints: [], wires, protocolVersions };
}

/** A FileChunk value numbered i. */
export function chunk(i: number, data: Uint8Array = new Uint8Array(0)) {
  return { path: `file-${i}`, offset: BigInt(i), sequence: i, last: false, data };
}

/** Resolve with the next emission of an event, or reject after ms. */
export async function nextEvent<T = unknown>(
  emitter: NodeJS.EventEmitter,
  name: string,
  ms = 5000,
): Promise<T> {
  const [value] = (await once(emitter, name, { signal: AbortSignal.timeout(ms) })) as [T];
  return value;
}

/** Poll until cond() holds, or throw after ms. */
export async function waitUntil(cond: () => boolean, ms = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A server on a free loopback TCP port (node 'server', no heartbeats, plus `server`) and a link to it
 * (node 'client', no heartbeats, plus `client`); `accepted()` is the server's side of it once accepted.
 * `close()` closes the link, then the server.
 */
export async function tcpPair(
  /** Server options; its `onLink`, if any, also sees the accepted link. */
  server: Partial<LinkOptions> & { onLink?: (link: Link) => void } = {},
  client: Partial<ConnectOptions> = {},
): Promise<{ server: LinkServer; link: Link; accepted: () => Link | undefined; close: () => Promise<void> }> {
  let accepted: Link | undefined;
  const srv = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    {
      self: node('server'),
      registry,
      heartbeatMs: 0,
      ...server,
      onLink: (l) => {
        accepted = l;
        server.onLink?.(l);
      },
    },
  );
  let link: Link;
  try {
    link = await connect(
      { kind: 'tcp', host: '127.0.0.1', port: (srv.address() as { port: number }).port },
      { self: node('client'), registry, heartbeatMs: 0, ...client },
    );
  } catch (error) {
    await srv.close();
    throw error;
  }
  return {
    server: srv,
    link,
    accepted: () => accepted,
    close: async () => {
      await link.close();
      await srv.close();
    },
  };
}
