import type { CompressionAlgorithm, Endpoint, NodeInfo, TransportStrategy, WireId } from '@tmesh/core';
import { tmeshError } from '@tmesh/core';
import type {
  LinkCondition,
  Route,
  Selection,
  SelectionInput,
  SelectionPolicy,
  TransportChoice,
} from './selection.js';
import { DEFAULT_THRESHOLDS } from './thresholds.js';
import { chooseWire, commonWires, formatBytes, formatRate } from './wire.js';

const WIRE_KINDS: ReadonlySet<string> = new Set<WireId>(['swift', 'rust', 'universal']);

interface Candidate {
  strategy: TransportStrategy;
  route: Route;
  endpoint: Endpoint;
}

interface CompressionDecision {
  algorithm: CompressionAlgorithm;
  /** Why compression is on; empty when it is off. */
  reason: string;
}

function findEndpoint<K extends Endpoint['kind']>(
  node: NodeInfo,
  kind: K,
): Extract<Endpoint, { kind: K }> | undefined {
  for (const endpoint of node.endpoints) {
    if (endpoint.kind === kind) return endpoint as Extract<Endpoint, { kind: K }>;
  }
  return undefined;
}

function checkNonNegative(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `selectTransport: ${name} must be a finite number >= 0, got ${String(value)}`,
    );
  }
}

function validate(input: SelectionInput): void {
  const { source, destination, messageSize, link, policy } = input;
  for (const [name, node] of [
    ['source', source],
    ['destination', destination],
  ] as const) {
    if (
      typeof node !== 'object' ||
      node === null ||
      typeof node.machineId !== 'string' ||
      !Array.isArray(node.wires) ||
      !Array.isArray(node.endpoints)
    ) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        `selectTransport: ${name} is not a NodeInfo (machineId, wires, endpoints)`,
      );
    }
  }
  if (!Number.isSafeInteger(messageSize) || messageSize < 0) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `selectTransport: messageSize must be an integer >= 0, got ${String(messageSize)}`,
    );
  }
  checkNonNegative('link.rttMs', link?.rttMs);
  checkNonNegative('link.bandwidthBytesPerSec', link?.bandwidthBytesPerSec);
  checkNonNegative('link.errorRate', link?.errorRate);
  for (const [wire, rate] of Object.entries(link?.wireThroughput ?? {}))
    checkNonNegative(`link.wireThroughput.${wire}`, rate);
  checkNonNegative('policy.compressionThreshold', policy?.compressionThreshold);
  checkNonNegative('policy.lowBandwidthThreshold', policy?.lowBandwidthThreshold);
  if (
    policy?.force !== undefined &&
    policy.force !== 'shm' &&
    policy.force !== 'grpc' &&
    !WIRE_KINDS.has(policy.force)
  ) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `selectTransport: policy.force ${String(policy.force)} is not a strategy kind`,
    );
  }
}

/**
 * The seed's adaptive rule: a large message on a slow link between two machines is compressed. Same
 * machine links never compress (the seed's `should_enable_compression` checks the machine id too).
 */
function decideCompression(
  sameMachine: boolean,
  messageSize: number,
  link: LinkCondition | undefined,
  policy: SelectionPolicy,
): CompressionDecision {
  const algorithm = policy.compressionAlgorithm ?? 'deflate';
  const mode = policy.compression ?? 'auto';
  if (mode === 'never' || algorithm === 'none') return { algorithm: 'none', reason: '' };
  if (mode === 'always') return { algorithm, reason: 'policy forces compression' };
  if (sameMachine) return { algorithm: 'none', reason: '' };
  const bandwidth = link?.bandwidthBytesPerSec;
  const largeBytes = policy.compressionThreshold ?? DEFAULT_THRESHOLDS.largeMessageBytes;
  const lowBandwidth = policy.lowBandwidthThreshold ?? DEFAULT_THRESHOLDS.lowBandwidthBytesPerSec;
  if (bandwidth === undefined || messageSize <= largeBytes || bandwidth >= lowBandwidth) {
    return { algorithm: 'none', reason: '' };
  }
  return {
    algorithm,
    reason: `${formatBytes(messageSize)} message on a ${formatRate(bandwidth)} link (< ${formatRate(lowBandwidth)})`,
  };
}

/** A short name for a choice as it appears in explanations: "shm", "rust wire over unix socket", "grpc". */
export function describeChoice(choice: Pick<TransportChoice, 'strategy' | 'route'>): string {
  const { strategy, route } = choice;
  if (strategy.kind === 'shm') return 'shm';
  if (strategy.kind === 'grpc') return 'grpc';
  const over = route === 'unix' ? 'unix socket' : 'tcp';
  const compressed = strategy.compression === 'none' ? '' : ` with ${strategy.compression}`;
  return `${strategy.kind} wire over ${over}${compressed}`;
}

/** What a fallback step replaces: the route when the wire stays the same, else the strategy. */
function failedPart(previous: Candidate, next: Candidate): string {
  if (previous.route === 'shm') return 'shm';
  if (previous.route === 'grpc') return 'grpc';
  if (next.route !== 'grpc' && next.strategy.kind === previous.strategy.kind) {
    return previous.route === 'unix' ? 'unix socket' : 'tcp';
  }
  return `${previous.strategy.kind} wire`;
}

/**
 * Picks how to send one message from `source` to `destination`: a TransportStrategy from core, the route
 * that carries it, the destination endpoint, a readable explanation and the ordered fallbacks
 * (shm -> unix socket -> tcp; chosen wire -> universal -> grpc). Pure and deterministic: same input,
 * same output. Throws E_NO_COMMON_WIRE or E_NO_ROUTE when nothing can reach the destination, and
 * E_INVALID_ARGUMENT on malformed input.
 */
export function selectTransport(input: SelectionInput): Selection {
  validate(input);
  const { source, destination, messageSize, link, shmAvailable } = input;
  const policy = input.policy ?? {};
  const sameMachine = source.machineId === destination.machineId;
  const where = sameMachine ? 'on the same machine' : 'on another machine';
  const force = policy.force;

  // 1. Shared memory: same machine id, addon loaded, not disabled, and the destination listens on a ring.
  const shmEndpoint = findEndpoint(destination, 'shm');
  let shmSkipped = '';
  if (!sameMachine) shmSkipped = 'another machine';
  else if (policy.disableShm) shmSkipped = 'shm disabled by policy';
  else if (!shmAvailable) shmSkipped = 'shm unavailable';
  else if (!shmEndpoint) shmSkipped = 'destination has no shm endpoint';
  if (force === 'shm' && shmSkipped) {
    throw tmeshError(
      'E_NO_ROUTE',
      `selectTransport: policy forces shm to ${destination.id} but ${shmSkipped}`,
    );
  }

  // 2. The network wire: forced, or the seed's matrix.
  let wire: WireId | undefined;
  let wireReason = '';
  if (force !== undefined && WIRE_KINDS.has(force)) {
    wire = force as WireId;
    if (!commonWires(source, destination).includes(wire)) {
      throw tmeshError(
        'E_NO_COMMON_WIRE',
        `selectTransport: policy forces ${wire} wire but ${destination.id} does not speak it`,
      );
    }
    wireReason = `policy forces ${wire} wire`;
  } else {
    const decision = chooseWire(source, destination, link, policy.preferWire, where);
    wire = decision?.wire;
    wireReason = decision?.reason ?? '';
  }
  const compression = decideCompression(sameMachine, messageSize, link, policy);

  // 3. The chain: shm, then each wire (chosen, then universal) over unix (same machine) then tcp, then grpc.
  const chain: Candidate[] = [];
  if (!shmSkipped && (force === undefined || force === 'shm')) {
    chain.push({
      strategy: { kind: 'shm', idle: policy.shmIdle ?? 'adaptive' },
      route: 'shm',
      endpoint: shmEndpoint!,
    });
  }
  if (force !== 'grpc' && wire !== undefined) {
    const wires: WireId[] = [wire];
    if (wire !== 'universal' && commonWires(source, destination).includes('universal'))
      wires.push('universal');
    const unix = sameMachine ? findEndpoint(destination, 'unix') : undefined;
    const tcp = findEndpoint(destination, 'tcp');
    for (const w of wires) {
      const strategy = { kind: w, compression: compression.algorithm } as TransportStrategy;
      if (unix) chain.push({ strategy, route: 'unix', endpoint: unix });
      if (tcp) chain.push({ strategy, route: 'tcp', endpoint: tcp });
    }
  }
  const grpc = findEndpoint(destination, 'grpc');
  if (grpc) chain.push({ strategy: { kind: 'grpc' }, route: 'grpc', endpoint: grpc });
  if (force === 'grpc' && !grpc) {
    throw tmeshError(
      'E_NO_ROUTE',
      `selectTransport: policy forces grpc but ${destination.id} has no grpc endpoint`,
    );
  }

  if (chain.length === 0) {
    if (wire === undefined) {
      throw tmeshError(
        'E_NO_COMMON_WIRE',
        `selectTransport: ${source.id} [${source.wires.join(', ')}] and ${destination.id} [${destination.wires.join(', ')}] share no wire and ${shmSkipped || 'shm is not possible'}`,
      );
    }
    throw tmeshError(
      'E_NO_ROUTE',
      `selectTransport: ${destination.id} announces no endpoint reachable ${where}`,
    );
  }

  const first = chain[0]!;
  let why: string;
  if (first.route === 'shm') {
    why = force === 'shm' ? 'policy forces shm' : 'same machine id';
  } else if (first.route === 'grpc') {
    why =
      force === 'grpc'
        ? 'policy forces grpc'
        : wire === undefined
          ? 'no common wire'
          : `${wireReason}, destination has no socket endpoint`;
  } else {
    why = sameMachine && force === undefined ? `${wireReason}, ${shmSkipped}` : wireReason;
    if (compression.reason) why += `; ${compression.reason}`;
  }
  const fallbacks: TransportChoice[] = [];
  for (let i = 1; i < chain.length; i++) {
    const c = chain[i]!;
    fallbacks.push({
      strategy: c.strategy,
      route: c.route,
      endpoint: c.endpoint,
      explanation: `${failedPart(chain[i - 1]!, c)} failed -> ${describeChoice(c)}`,
    });
  }
  // Explicit fields, not a spread: spreading these differently shaped objects cost ~1 µs each in V8.
  return {
    strategy: first.strategy,
    route: first.route,
    endpoint: first.endpoint,
    explanation: `${why} -> ${describeChoice(first)}`,
    fallbacks,
  };
}
