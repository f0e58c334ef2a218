// What bench/run.ts and its peer processes (bench/peer.ts) say to each other.
import type { IdleStrategy } from '@tmesh/core';
import type { CreateNodeOptions } from '@tmesh/manager';

/** The kind of process on each side: a tmesh node, a bare ShmChannel (no facade), a raw socket, zeromq.js or grpc-js. */
export type PeerKind = 'tmesh' | 'shm-channel' | 'raw-unix' | 'raw-tcp' | 'zmq-ipc' | 'zmq-tcp' | 'grpc';

/** Options a peer process gets as JSON on its command line. */
export interface PeerOptions {
  /** Client: the server addresses (node ids for tmesh). */
  targets: string[];
  /** tmesh: this node's id (server), the runtime directory both sides discover each other in. */
  id?: string;
  runtimeDir?: string;
  machineId?: string;
  idle?: IdleStrategy;
  policy?: CreateNodeOptions['policy'];
  grpc?: boolean;
  /** Raw Unix socket path or zeromq ipc path prefix. */
  path?: string;
}

/** A command on a peer's stdin. */
export type Command =
  | { cmd: 'rss' }
  | { cmd: 'rtt'; size: number; seed: number; count: number; warm: number; variant?: string }
  | { cmd: 'oneway'; size: number; seed: number; ms: number; warmMs: number };

/** A client's answer to `rtt` (microseconds per round trip) or `oneway` (receiver-confirmed totals). */
export type WorkloadResult = { rttUs: number[] } | { msgs: number; bytes: number; seconds: number };

/** Deterministic payload bytes (mulberry32 seeded with `seed`), so every run sends the same data. */
export function seededPayload(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let a = seed >>> 0;
  for (let i = 0; i < size; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}
