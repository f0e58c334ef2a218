import { createHmac, timingSafeEqual } from 'node:crypto';
import { type CompressionAlgorithm, tmeshError, type WireId } from '@tmesh/core';
import type { HelloValue } from './control.js';

/** What both ends of a link agreed on; computed identically on both sides from the two Hellos. */
export interface Agreement {
  version: number;
  wire: WireId;
  /** Algorithms both sides can read, in the initiator's preference order (never includes 'none'). */
  compressions: CompressionAlgorithm[];
  /** The algorithm applied by default above the threshold ('none' when nothing is shared). */
  compression: CompressionAlgorithm;
  maxFrameSize: number;
}

const KNOWN_WIRES: readonly string[] = ['rust', 'swift', 'universal'];
const KNOWN_COMPRESSION: readonly string[] = ['deflate', 'zstd', 'lz4'];

/**
 * Agree on version, wire, compression and frame size. The initiator's preference order decides among
 * common choices, so both sides (each knowing its own role) compute the same answer.
 * Throws E_VERSION_MISMATCH or E_NO_COMMON_WIRE.
 */
export function negotiate(initiator: HelloValue, acceptor: HelloValue): Agreement {
  const theirs = new Set(acceptor.protocolVersions);
  const common = initiator.protocolVersions.filter((v) => theirs.has(v));
  if (common.length === 0) {
    throw tmeshError(
      'E_VERSION_MISMATCH',
      `no common protocol version: ${initiator.nodeId} speaks [${initiator.protocolVersions.join(', ')}], ${acceptor.nodeId} speaks [${acceptor.protocolVersions.join(', ')}]`,
      { details: { initiator: initiator.protocolVersions, acceptor: acceptor.protocolVersions } },
    );
  }
  const version = Math.max(...common);
  const wire = initiator.wires.find((w) => KNOWN_WIRES.includes(w) && acceptor.wires.includes(w));
  if (!wire) {
    throw tmeshError(
      'E_NO_COMMON_WIRE',
      `no common wire: ${initiator.nodeId} speaks [${initiator.wires.join(', ')}], ${acceptor.nodeId} speaks [${acceptor.wires.join(', ')}]`,
      { details: { initiator: initiator.wires, acceptor: acceptor.wires } },
    );
  }
  const compressions = initiator.compression.filter(
    (c) => KNOWN_COMPRESSION.includes(c) && acceptor.compression.includes(c),
  ) as CompressionAlgorithm[];
  return {
    version,
    wire: wire as WireId,
    compressions,
    compression: compressions[0] ?? 'none',
    maxFrameSize: Math.min(initiator.maxFrameSize, acceptor.maxFrameSize),
  };
}

const AUTH_LABEL = 'tmesh-link-auth-v1';

/** HMAC-SHA256(token, label 0 nodeId 0 ownNonce peerNonce): proves the token without sending it. */
export function authProof(
  token: string,
  nodeId: string,
  ownNonce: Uint8Array,
  peerNonce: Uint8Array,
): Buffer {
  return createHmac('sha256', token)
    .update(`${AUTH_LABEL}\0${nodeId}\0`)
    .update(ownNonce)
    .update(peerNonce)
    .digest();
}

/**
 * Check the peer's proof. Symmetric by design: a side with a token refuses an empty or wrong proof, and a
 * side without one refuses a non-empty proof (the peer demands token auth it cannot give), so a
 * mismatch fails with E_AUTH on both ends. Throws E_AUTH.
 */
export function verifyProof(
  token: string | undefined,
  peer: HelloValue,
  ownNonce: Uint8Array,
  proof: Uint8Array,
): void {
  if (token === undefined || token === '') {
    if (proof.length > 0) {
      throw tmeshError('E_AUTH', `peer ${peer.nodeId} requires token authentication; this side has no token`);
    }
    return;
  }
  if (proof.length === 0) {
    throw tmeshError('E_AUTH', `peer ${peer.nodeId} sent no token proof; this side requires one`);
  }
  const expected = authProof(token, peer.nodeId, peer.nonce, ownNonce);
  if (proof.length !== expected.length || !timingSafeEqual(proof, expected)) {
    throw tmeshError('E_AUTH', `peer ${peer.nodeId} sent a wrong token proof`);
  }
}
