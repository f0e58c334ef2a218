// Per-node key proofs (negotiate.ts): what each proof binds, so it cannot be reused elsewhere.
import { describe, expect, it } from 'vitest';
import type { HelloValue } from './control.js';
import { checkAuth, keyProof, ownProof, verifyPeerProof } from './negotiate.js';

const nonce = (b: number) => new Uint8Array(16).fill(b);
const hello = (nodeId: string, n: number) => ({ nodeId, nonce: nonce(n) }) as HelloValue;
const KEY_A = 'a'.repeat(32);
const KEY_B = 'b'.repeat(32);

describe('per-node key proofs', () => {
  const a = hello('alice', 1);
  const s = hello('server', 2);
  const client = { key: KEY_A };
  const server = { keys: { alice: KEY_A, bob: KEY_B } };

  it('verify both ways when both sides hold alice key', () => {
    const fromA = ownProof(client, 'initiator', a, s);
    const fromS = ownProof(server, 'acceptor', s, a);
    expect(() => verifyPeerProof(server, 'acceptor', s, a, fromA)).not.toThrow();
    expect(() => verifyPeerProof(client, 'initiator', a, s, fromS)).not.toThrow();
    expect(fromA.length).toBe(32);
  });

  it('bind the node ids, the role, both nonces and the key', () => {
    const base = keyProof(KEY_A, 'initiator', 'alice', 'server', nonce(1), nonce(2));
    const variants = [
      keyProof(KEY_B, 'initiator', 'alice', 'server', nonce(1), nonce(2)),
      keyProof(KEY_A, 'acceptor', 'alice', 'server', nonce(1), nonce(2)),
      keyProof(KEY_A, 'initiator', 'bob', 'server', nonce(1), nonce(2)),
      keyProof(KEY_A, 'initiator', 'alice', 'other', nonce(1), nonce(2)),
      keyProof(KEY_A, 'initiator', 'alice', 'server', nonce(3), nonce(2)),
      keyProof(KEY_A, 'initiator', 'alice', 'server', nonce(1), nonce(3)),
    ];
    for (const v of variants) expect(v.equals(base)).toBe(false);
    // Ids are kept apart whatever they contain: ("a\0b", "c") is not ("a", "b\0c").
    expect(
      keyProof(KEY_A, 'initiator', 'a\0b', 'c', nonce(1), nonce(2)).equals(
        keyProof(KEY_A, 'initiator', 'a', 'b\0c', nonce(1), nonce(2)),
      ),
    ).toBe(false);
    expect(keyProof(KEY_A, 'initiator', 'alice', 'server', nonce(1), nonce(2)).equals(base)).toBe(true);
  });

  it('refuse a replayed proof (fresh nonce), a reflected one (role) and one made under another id', () => {
    const fromA = ownProof(client, 'initiator', a, s);
    const E_AUTH = expect.objectContaining({ code: 'E_AUTH' });
    // Replay on a new connection: the server's nonce changed.
    expect(() => verifyPeerProof(server, 'acceptor', hello('server', 9), a, fromA)).toThrow(E_AUTH);
    // Reflection: the server's own proof sent back to it as the client's.
    const fromS = ownProof(server, 'acceptor', s, a);
    expect(() => verifyPeerProof(server, 'acceptor', s, a, fromS)).toThrow(E_AUTH);
    // Bob's key, claiming alice.
    const asBob = ownProof({ key: KEY_B }, 'initiator', a, s);
    expect(() => verifyPeerProof(server, 'acceptor', s, a, asBob)).toThrow(E_AUTH);
    // An unknown node id is refused before any proof is made, and an empty proof never passes.
    expect(() => ownProof(server, 'acceptor', s, hello('mallory', 1))).toThrow(E_AUTH);
    expect(() => verifyPeerProof(server, 'acceptor', s, a, new Uint8Array(0))).toThrow(E_AUTH);
    // A keyed side and a token side never agree.
    expect(() => verifyPeerProof({ token: 't' }, 'acceptor', s, a, fromA)).toThrow(E_AUTH);
    // A connecting side without its own key cannot prove anything.
    expect(() => ownProof({ keys: { server: KEY_A } }, 'initiator', a, s)).toThrow(E_AUTH);
  });

  it('does not look up inherited properties as node ids', () => {
    expect(() => ownProof(server, 'acceptor', s, hello('__proto__', 1))).toThrow(
      expect.objectContaining({ code: 'E_AUTH' }),
    );
    expect(() => ownProof(server, 'acceptor', s, hello('toString', 1))).toThrow(
      expect.objectContaining({ code: 'E_AUTH' }),
    );
  });

  it('checkAuth accepts bytes and strings of 16..64 bytes', () => {
    expect(checkAuth({ key: new Uint8Array(16) })).toBeTruthy();
    expect(checkAuth({ keys: { x: 'y'.repeat(64) } })).toBeTruthy();
    expect(checkAuth(undefined)).toBeUndefined();
    expect(() => checkAuth({ keys: { x: 'y'.repeat(65) } })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
    );
  });
});
