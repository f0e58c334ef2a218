/** The protocol version this build speaks on every wire and in the handshake. */
export const PROTOCOL_VERSION = 1;

/** A node's implementation language. The three known ones drive wire choice; others speak universal. */
export type Language = 'swift' | 'rust' | 'typescript' | (string & {});

/** The wire formats tmesh knows. */
export type WireId = 'swift' | 'rust' | 'universal';

/** All wires, in the order a TypeScript node offers them. */
export const ALL_WIRES: readonly WireId[] = ['rust', 'swift', 'universal'];

/** The wire a language speaks natively across machines, if it has one. */
export function nativeWireOf(language: Language): WireId | undefined {
  if (language === 'swift') return 'swift';
  if (language === 'rust') return 'rust';
  return undefined;
}

/** Wires a node of the given language speaks by default (a TypeScript node speaks all of them). */
export function defaultWiresFor(language: Language): WireId[] {
  if (language === 'typescript') return [...ALL_WIRES];
  const native = nativeWireOf(language);
  return native ? [native, 'universal'] : ['universal'];
}

/** One way to reach a node. */
export type Endpoint =
  | { kind: 'tcp'; host: string; port: number; tls?: boolean }
  | { kind: 'unix'; path: string }
  | { kind: 'shm'; name: string }
  | { kind: 'grpc'; host: string; port: number; tls?: boolean };

/** Who a node is and how to reach it, as it announces itself in discovery and the handshake. */
export interface NodeInfo {
  /** Unique node id within the mesh. */
  id: string;
  /** Identity of the machine the node runs on (see `getMachineId`). Equal ids mean shared memory is possible. */
  machineId: string;
  language: Language;
  endpoints: Endpoint[];
  /** Wires this node can read and write. */
  wires: WireId[];
  /** Protocol versions spoken, newest first. */
  protocolVersions: number[];
  /** Services offered, for load-balanced `sendToService`. */
  services?: string[];
}

/** Compression algorithms a link may negotiate. */
export type CompressionAlgorithm = 'none' | 'zstd' | 'lz4' | 'deflate';

/** Idle strategy of a shared-memory receiver. */
export type IdleStrategy = 'spin' | 'park' | 'adaptive';

/** How one message travels: the selector's output, a discriminated union on `kind`. */
export type TransportStrategy =
  | { kind: 'shm'; idle: IdleStrategy }
  | { kind: 'swift'; compression: CompressionAlgorithm }
  | { kind: 'rust'; compression: CompressionAlgorithm }
  | { kind: 'universal'; compression: CompressionAlgorithm }
  | { kind: 'grpc' };

/** The `kind` of a TransportStrategy. */
export type StrategyKind = TransportStrategy['kind'];

/**
 * What has been measured about the link to a peer: the monitor produces it, the selector reads it.
 * Every field is optional; an unmeasured link is `{}`.
 */
export interface LinkCondition {
  /** Smoothed round-trip time in milliseconds. */
  rttMs?: number;
  /** Estimated bottleneck bandwidth in bytes per second. */
  bandwidthBytesPerSec?: number;
  /** Share of recent transmissions that failed, 0..1. */
  errorRate?: number;
  /** Measured throughput per wire in bytes per second (large messages only). */
  wireThroughput?: Partial<Record<WireId, number>>;
}
