import { crc32, type IdleStrategy, type NodeInfo, sampleMessages } from '@tmesh/core';
import { createNode, type TmeshNode } from '../node.js';

/** Options of {@link startSinkNode}. */
export interface SinkNodeOptions {
  id: string;
  runtimeDir?: string;
  /** Address of the TCP (and gRPC) listener; default 127.0.0.1. */
  host?: string;
  grpc?: boolean;
  machineId?: string;
  services?: string[];
  shmIdle?: IdleStrategy;
  /** Refuse shared memory (ShmOffers are declined; no shm endpoint is announced). */
  noShm?: boolean;
  peers?: NodeInfo[];
  /** Decides on each ShmOffer (see `TransportOptions.shm.accept`); tests decline or hold offers with it. */
  shmAccept?: (offer: { name: string; from: string }) => true | string | Promise<true | string>;
}

/**
 * A node that receives the sample FileChunk messages, keeps a count, a byte total and a running CRC-32
 * of their data, and answers FileChunk requests with a Metrics reply carrying those counters (a request
 * whose path is "report" only reports). The demo, `tmesh bench` and the end-to-end tests measure
 * against it; `tmesh node --sink` runs one.
 */
export async function startSinkNode(options: SinkNodeOptions): Promise<TmeshNode> {
  const host = options.host ?? '127.0.0.1';
  const node = await createNode({
    id: options.id,
    types: [sampleMessages.FileChunk, sampleMessages.Metrics],
    ...(options.machineId ? { machineId: options.machineId } : {}),
    ...(options.services ? { services: options.services } : {}),
    discovery: {
      ...(options.runtimeDir ? { runtimeDir: options.runtimeDir } : {}),
      ...(options.peers ? { peers: options.peers } : {}),
    },
    transport: {
      tcp: { host, port: 0 },
      ...(options.grpc ? { grpc: { host, port: 0 } } : {}),
      ...(options.noShm
        ? { shm: false as const }
        : options.shmIdle || options.shmAccept
          ? {
              shm: {
                ...(options.shmIdle ? { idle: options.shmIdle } : {}),
                ...(options.shmAccept ? { accept: options.shmAccept } : {}),
              },
            }
          : {}),
    },
  });
  let count = 0n;
  let bytes = 0n;
  let crc = 0;
  const take = (data: Uint8Array) => {
    count++;
    bytes += BigInt(data.length);
    crc = crc32(data, crc);
  };
  const report = () => ({
    type: sampleMessages.Metrics,
    value: {
      node: options.id,
      at: BigInt(Date.now()),
      throughput: 0,
      latencyMicros: 0,
      counters: new Map([
        ['count', count],
        ['bytes', bytes],
        ['crc', BigInt(crc)],
      ]),
    },
  });
  node.on(sampleMessages.FileChunk, (m) => take(m.value.data));
  node.handle(sampleMessages.FileChunk, (m) => {
    if (m.value.path !== 'report') take(m.value.data);
    return report();
  });
  return node;
}
