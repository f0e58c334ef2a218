import type {
  CompressionAlgorithm,
  Endpoint,
  IdleStrategy,
  LinkCondition,
  NodeInfo,
  StrategyKind,
  TransportStrategy,
  WireId,
} from '@tmesh/core';

/**
 * Which kind of connection carries a choice. Core's TransportStrategy says how bytes are encoded
 * (shm record, swift/rust/universal wire, gRPC); the route says over what they travel, so a
 * same-machine fallback "rust wire over a Unix socket" is `{ strategy: { kind: 'rust' }, route: 'unix' }`.
 */
export type Route = 'shm' | 'unix' | 'tcp' | 'grpc';

/** What has been measured about the link to the destination (defined in @tmesh/core, shared with the monitor). */
export type { LinkCondition } from '@tmesh/core';

/** Overrides a caller or operator may set; every field is optional and has a documented default. */
export interface SelectionPolicy {
  /** Use this strategy kind first (E_NO_ROUTE / E_NO_COMMON_WIRE when it cannot reach the destination). */
  force?: StrategyKind;
  /** Never choose shared memory (default false). */
  disableShm?: boolean;
  /** Prefer this wire over the matrix's choice whenever both nodes speak it. */
  preferWire?: WireId;
  /** 'auto' applies the adaptive rule; 'never' and 'always' override it (default 'auto'). */
  compression?: 'auto' | 'never' | 'always';
  /** Algorithm used when compression is on (default 'deflate', the one Node has built in). */
  compressionAlgorithm?: CompressionAlgorithm;
  /** A message larger than this many bytes counts as large (default DEFAULT_THRESHOLDS.largeMessageBytes). */
  compressionThreshold?: number;
  /** A link slower than this many bytes per second counts as slow (default DEFAULT_THRESHOLDS.lowBandwidthBytesPerSec). */
  lowBandwidthThreshold?: number;
  /** Idle strategy written into a shm strategy (default 'adaptive'). */
  shmIdle?: IdleStrategy;
}

/** Everything the selector looks at. The selector is a pure function of this value. */
export interface SelectionInput {
  source: NodeInfo;
  destination: NodeInfo;
  /** Size of the encoded message in bytes. */
  messageSize: number;
  /** Measured link to the destination (from @tmesh/monitor); omitted or empty when nothing is measured. */
  link?: LinkCondition;
  /** Whether the local shared-memory addon loaded (the manager checks once). */
  shmAvailable: boolean;
  policy?: SelectionPolicy;
}

/** One way to send: how the bytes are encoded, what carries them, where to, and why. */
export interface TransportChoice {
  strategy: TransportStrategy;
  route: Route;
  /** The destination endpoint this choice connects to (of the route's kind). */
  endpoint: Endpoint;
  /** A sentence a person can read, e.g. "same machine id -> shm". */
  explanation: string;
}

/** The selector's answer: the choice to use now and, in order, what to try when it fails. */
export interface Selection extends TransportChoice {
  /** Next choices to try, in order, each explaining what failed before it. */
  fallbacks: TransportChoice[];
}
