import { describe, expect, it } from 'vitest';
import type { HelloValue } from './control.js';
import { authProof, negotiate, verifyProof } from './negotiate.js';

function hello(over: Partial<HelloValue>): HelloValue {
  return {
    nodeId: 'n',
    language: 'typescript',
    machineId: 'm',
    protocolVersions: [1],
    wires: ['rust', 'swift', 'universal'],
    compression: ['deflate'],
    maxFrameSize: 1 << 20,
    sessionId: 's',
    nonce: new Uint8Array(16),
    ...over,
  };
}

describe('negotiate', () => {
  it('takes the highest common version and the initiator preference among common wires', () => {
    const a = hello({ nodeId: 'a', protocolVersions: [3, 2, 1], wires: ['swift', 'rust', 'universal'] });
    const b = hello({
      nodeId: 'b',
      protocolVersions: [1, 2],
      wires: ['rust', 'universal', 'swift'],
      maxFrameSize: 4096,
    });
    expect(negotiate(a, b)).toEqual({
      version: 2,
      wire: 'swift',
      compressions: ['deflate'],
      compression: 'deflate',
      maxFrameSize: 4096,
    });
    expect(negotiate(b, a).wire).toBe('rust');
  });

  it('refuses disjoint versions with E_VERSION_MISMATCH and disjoint wires with E_NO_COMMON_WIRE', () => {
    expect(() => negotiate(hello({ protocolVersions: [2] }), hello({ protocolVersions: [1] }))).toThrow(
      expect.objectContaining({ code: 'E_VERSION_MISMATCH' }),
    );
    expect(() => negotiate(hello({ wires: ['rust'] }), hello({ wires: ['swift', 'universal'] }))).toThrow(
      expect.objectContaining({ code: 'E_NO_COMMON_WIRE' }),
    );
    expect(() =>
      negotiate(hello({ wires: ['carrier-pigeon'] }), hello({ wires: ['carrier-pigeon'] })),
    ).toThrow(expect.objectContaining({ code: 'E_NO_COMMON_WIRE' }));
  });

  it('agrees on no compression when nothing is shared', () => {
    const r = negotiate(hello({ compression: ['zstd'] }), hello({ compression: ['deflate'] }));
    expect(r.compression).toBe('none');
    expect(r.compressions).toEqual([]);
  });
});

describe('token proof', () => {
  const na = new Uint8Array(16).fill(1);
  const nb = new Uint8Array(16).fill(2);
  const a = hello({ nodeId: 'a', nonce: na });

  it('accepts the right proof and refuses a wrong, missing or unexpected one', () => {
    const proof = authProof('secret', 'a', na, nb);
    expect(proof.length).toBe(32);
    expect(() => verifyProof('secret', a, nb, proof)).not.toThrow();
    expect(() => verifyProof('other', a, nb, proof)).toThrow(expect.objectContaining({ code: 'E_AUTH' }));
    expect(() => verifyProof('secret', a, nb, new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: 'E_AUTH' }),
    );
    expect(() => verifyProof(undefined, a, nb, proof)).toThrow(expect.objectContaining({ code: 'E_AUTH' }));
    expect(() => verifyProof(undefined, a, nb, new Uint8Array(0))).not.toThrow();
    // A proof replayed for another nonce (another connection) fails.
    expect(() => verifyProof('secret', a, new Uint8Array(16).fill(3), proof)).toThrow(
      expect.objectContaining({ code: 'E_AUTH' }),
    );
  });
});
