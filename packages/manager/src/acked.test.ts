import { defineMessage, MessageRegistry, sampleMessages, t } from '@tmesh/core';
import { describe, expect, it } from 'vitest';
import { ACKED_MARKER, decodeAcked, encodeAcked, isAcked } from './acked.js';
import { managerControl } from './control.js';

const Ping = defineMessage('test.AckedPing', 7, t.struct('AckedPing', { n: t.u32(), note: t.string() }));
const registry = new MessageRegistry([Ping, sampleMessages.FileChunk, ...Object.values(managerControl)]);

describe('acked messages on Echo', () => {
  it('lays out marker, u32 LE type id, then the bincode payload (known answer)', () => {
    const bytes = encodeAcked(Ping, { n: 0x01020304, note: 'hi' });
    expect(Buffer.from(bytes).toString('hex')).toBe(
      [
        Buffer.from('tmesh:acked\0').toString('hex'),
        '07000000', // type id 7
        '04030201', // n: u32 LE
        '0200000000000000', // note: u64 LE length
        '6869', // "hi"
      ].join(''),
    );
    expect(isAcked(bytes)).toBe(true);
    expect(decodeAcked(bytes, registry)).toEqual({
      type: Ping,
      value: { n: 0x01020304, note: 'hi' },
      bytes: 14,
    });
  });

  it('round-trips a message with bytes and a u64', () => {
    const value = {
      path: 'a/b',
      offset: 2n ** 63n,
      sequence: 9,
      last: true,
      data: new Uint8Array([1, 2, 3]),
    };
    const decoded = decodeAcked(encodeAcked(sampleMessages.FileChunk, value), registry);
    expect(decoded.type).toBe(sampleMessages.FileChunk);
    expect(decoded.value).toEqual(value);
  });

  it.each([
    ['a ping payload (zeros)', new Uint8Array(64)],
    ['the marker alone, no type id', ACKED_MARKER],
    ['empty', new Uint8Array(0)],
    ['one byte off', Uint8Array.from([...ACKED_MARKER.subarray(0, 11), 1, 7, 0, 0, 0])],
  ])('is not an acked message: %s', (_, payload) => {
    expect(isAcked(payload)).toBe(false);
  });

  const withId = (id: number, body: number[] = []) => {
    const out = new Uint8Array(ACKED_MARKER.length + 4 + body.length);
    out.set(ACKED_MARKER);
    new DataView(out.buffer).setUint32(ACKED_MARKER.length, id, true);
    out.set(body, ACKED_MARKER.length + 4);
    return out;
  };
  it.each([
    ['type id 0', withId(0), 'E_INVALID_ARGUMENT'],
    ['a control id (Echo, 250)', withId(250), 'E_INVALID_ARGUMENT'],
    ['an unregistered id', withId(99), 'E_UNKNOWN_MESSAGE_TYPE'],
    ['a payload cut short', withId(7, [1, 2]), 'E_FRAME_TRUNCATED'],
    ['trailing bytes', withId(7, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]), 'E_TRAILING_BYTES'],
  ])('refuses %s with a stable code', (_, payload, code) => {
    expect(() => decodeAcked(payload, registry)).toThrow(expect.objectContaining({ code }));
  });
});
