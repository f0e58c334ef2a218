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

/** A secret: a string (its UTF-8 bytes) or raw bytes. */
export type LinkSecret = string | Uint8Array;

/**
 * How a link proves who it is in the handshake. Either one `token` shared by every node (it proves
 * membership, not identity), or per-node keys: `key` is this node's own secret, used when it connects;
 * `keys` holds the secrets of the nodes allowed to connect here, by node id. With keys, a peer can only
 * claim the node id whose key it holds.
 */
export interface LinkAuth {
  token?: string;
  key?: LinkSecret;
  keys?: Record<string, LinkSecret>;
}

const KEY_LABEL = 'tmesh-link-key-v1';
/** Bounds of a per-node key in bytes: at least 128 bits of secret; TLS-PSK takes at most 64 bytes here. */
export const KEY_MIN_BYTES = 16;
export const KEY_MAX_BYTES = 64;

/** The bytes of a secret, or E_INVALID_ARGUMENT when it is not 16..64 bytes. */
export function secretBytes(name: string, secret: LinkSecret): Buffer {
  const bytes =
    typeof secret === 'string'
      ? Buffer.from(secret, 'utf8')
      : secret instanceof Uint8Array
        ? Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength)
        : undefined;
  if (!bytes || bytes.length < KEY_MIN_BYTES || bytes.length > KEY_MAX_BYTES) {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      `${name} must be a string or bytes of ${KEY_MIN_BYTES}..${KEY_MAX_BYTES} bytes, got ${bytes ? `${bytes.length} bytes` : typeof secret}`,
    );
  }
  return bytes;
}

/** Check a LinkAuth: a token or keys, not both; keys of the right size. Throws E_INVALID_ARGUMENT. */
export function checkAuth(auth: LinkAuth | undefined): LinkAuth | undefined {
  if (auth === undefined) return undefined;
  if (typeof auth !== 'object' || auth === null)
    throw tmeshError('E_INVALID_ARGUMENT', 'options.auth must be an object');
  const keyed = auth.key !== undefined || auth.keys !== undefined;
  if (keyed && auth.token !== undefined && auth.token !== '') {
    throw tmeshError(
      'E_INVALID_ARGUMENT',
      'options.auth takes a shared token or per-node keys (key, keys), not both',
    );
  }
  if (auth.token !== undefined && typeof auth.token !== 'string')
    throw tmeshError('E_INVALID_ARGUMENT', 'auth.token must be a string');
  if (auth.key !== undefined) secretBytes('auth.key', auth.key);
  if (auth.keys !== undefined) {
    if (typeof auth.keys !== 'object' || auth.keys === null)
      throw tmeshError('E_INVALID_ARGUMENT', 'auth.keys must map node ids to secrets');
    for (const [id, secret] of Object.entries(auth.keys))
      secretBytes(`auth.keys[${JSON.stringify(id)}]`, secret);
  }
  return auth;
}

function keyed(auth: LinkAuth | undefined): boolean {
  return auth !== undefined && (auth.key !== undefined || auth.keys !== undefined);
}

/**
 * HMAC-SHA256(key, JSON [label, role, senderId, receiverId] || senderNonce || receiverNonce): binds the
 * sender's node id, the receiver's, the sender's role and both fresh nonces, so a proof can be neither
 * replayed nor reflected nor reused under another node id. The JSON array keeps the ids apart whatever
 * bytes they contain.
 */
export function keyProof(
  key: LinkSecret,
  role: 'initiator' | 'acceptor',
  senderId: string,
  receiverId: string,
  senderNonce: Uint8Array,
  receiverNonce: Uint8Array,
): Buffer {
  return createHmac('sha256', secretBytes('key', key))
    .update(JSON.stringify([KEY_LABEL, role, senderId, receiverId]))
    .update(senderNonce)
    .update(receiverNonce)
    .digest();
}

/**
 * The key that authenticates this connection with per-node keys: the connecting side's own `key`; on
 * the accepting side the key registered for the peer's node id. Throws E_AUTH when there is none (an
 * unknown node id is refused before this side sends its Auth).
 */
function linkKey(auth: LinkAuth, role: 'initiator' | 'acceptor', peer: HelloValue): LinkSecret {
  if (role === 'initiator') {
    if (auth.key === undefined)
      throw tmeshError(
        'E_AUTH',
        'per-node keys are configured but this side has no auth.key to connect with',
      );
    return auth.key;
  }
  const key = auth.keys && Object.hasOwn(auth.keys, peer.nodeId) ? auth.keys[peer.nodeId] : undefined;
  if (key === undefined)
    throw tmeshError('E_AUTH', `node id ${peer.nodeId} has no key here: refused`, {
      details: { nodeId: peer.nodeId },
    });
  return key;
}

/** The proof this side puts in its Auth (empty without auth). Throws E_AUTH for an unknown peer id. */
export function ownProof(
  auth: LinkAuth | undefined,
  role: 'initiator' | 'acceptor',
  self: HelloValue,
  peer: HelloValue,
): Buffer {
  if (keyed(auth)) {
    const key = linkKey(auth!, role, peer);
    return keyProof(key, role, self.nodeId, peer.nodeId, self.nonce, peer.nonce);
  }
  return auth?.token ? authProof(auth.token, self.nodeId, self.nonce, peer.nonce) : Buffer.alloc(0);
}

/** Check the proof in the peer's Auth against this side's auth (token or per-node keys). Throws E_AUTH. */
export function verifyPeerProof(
  auth: LinkAuth | undefined,
  role: 'initiator' | 'acceptor',
  self: HelloValue,
  peer: HelloValue,
  proof: Uint8Array,
): void {
  if (!keyed(auth)) {
    verifyProof(auth?.token, peer, self.nonce, proof);
    return;
  }
  if (proof.length === 0) {
    throw tmeshError('E_AUTH', `peer ${peer.nodeId} sent no key proof; this side requires one`);
  }
  const peerRole = role === 'initiator' ? 'acceptor' : 'initiator';
  const expected = keyProof(
    linkKey(auth!, role, peer),
    peerRole,
    peer.nodeId,
    self.nodeId,
    peer.nonce,
    self.nonce,
  );
  if (proof.length !== expected.length || !timingSafeEqual(proof, expected)) {
    throw tmeshError(
      'E_AUTH',
      role === 'acceptor'
        ? `peer claiming node id ${peer.nodeId} sent a wrong key proof`
        : `peer ${peer.nodeId} does not hold this node's key (wrong key proof)`,
    );
  }
}
