import { describe, expect, it } from 'vitest';
import { parseBatch } from './channel.js';

/** Build a batch the way crates/ring `Consumer::recv_batch` writes it. */
function entry(data: number[], type: number, flags: number, seq: number, ts: number): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(data.length, 0);
  head[4] = type;
  head.writeUInt16LE(flags, 6);
  head.writeUInt32LE(seq, 8);
  head.writeUInt32LE(ts % 2 ** 32, 16);
  head.writeUInt32LE(Math.floor(ts / 2 ** 32), 20);
  const padded = Buffer.alloc((data.length + 7) & ~7);
  Buffer.from(data).copy(padded);
  return Buffer.concat([head, padded]);
}

describe('parseBatch', () => {
  it('splits entries with their metadata and 8-byte padding', () => {
    const ts = 1_764_300_000_123;
    const buf = Buffer.concat([
      entry([1, 2, 3], 7, 0xabc, 0, ts),
      entry([], 0, 0, 1, ts + 1),
      entry([9, 9, 9, 9, 9, 9, 9, 9, 9], 255, 0xfff, 0xffffffff, ts + 2),
    ]);
    const msgs = parseBatch(buf);
    expect(msgs.map((m) => [...m.data])).toEqual([[1, 2, 3], [], [9, 9, 9, 9, 9, 9, 9, 9, 9]]);
    expect(msgs.map((m) => [m.type, m.flags, m.sequence, m.timestamp])).toEqual([
      [7, 0xabc, 0, ts],
      [0, 0, 1, ts + 1],
      [255, 0xfff, 0xffffffff, ts + 2],
    ]);
    expect(Buffer.isBuffer(msgs[0]!.data)).toBe(true);
  });

  it('returns views into the batch, not copies', () => {
    const buf = entry([5, 6], 1, 0, 0, 0);
    const [m] = parseBatch(buf);
    buf[24] = 42;
    expect(m!.data[0]).toBe(42);
  });
});
