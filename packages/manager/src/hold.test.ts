import { describe, expect, it } from 'vitest';
import { MessageHold } from './hold.js';

describe('MessageHold', () => {
  it('keeps arrival order and hands out only what is wanted', () => {
    const hold = new MessageHold<string>({ maxMessages: 10, maxBytes: 1000 });
    for (const [m, type] of [
      ['a1', 1],
      ['b1', 2],
      ['a2', 1],
      ['b2', 2],
      ['a3', 1],
    ] as const)
      expect(hold.add(m, type, 10)).toBe(true);
    expect(hold.take((type) => type === 2)).toEqual(['b1', 'b2']);
    expect([hold.size, hold.count(1), hold.count(2)]).toEqual([3, 3, 0]);
    expect(hold.take((_, m) => m !== 'a2')).toEqual(['a1', 'a3']);
    expect(hold.take(() => true)).toEqual(['a2']);
    expect(hold.counts()).toEqual(new Map());
  });

  it.each([
    ['per-type count', { maxMessages: 2, maxBytes: 1000 }, [10, 10, 10], [true, true, false]],
    ['bytes over all types', { maxMessages: 10, maxBytes: 25 }, [10, 10, 10], [true, true, false]],
    ['one message larger than the byte limit', { maxMessages: 10, maxBytes: 5 }, [6], [false]],
    ['nothing held (limits 0)', { maxMessages: 0, maxBytes: 0 }, [0], [false]],
  ])('refuses past the %s', (_, limits, sizes, expected) => {
    const hold = new MessageHold<number>(limits);
    expect(sizes.map((bytes, i) => hold.add(i, 7, bytes))).toEqual(expected);
    expect(hold.count(7)).toBe(expected.filter(Boolean).length);
  });

  it('counts per type: a full type does not block another; taking frees room', () => {
    const hold = new MessageHold<string>({ maxMessages: 1, maxBytes: 100 });
    expect([hold.add('x', 1, 1), hold.add('y', 1, 1), hold.add('z', 2, 1)]).toEqual([true, false, true]);
    hold.take((type) => type === 1);
    expect(hold.add('y', 1, 1)).toBe(true);
    // force: behind earlier messages of a type whose release is pending, past the limit
    expect(hold.add('w', 1, 1, true)).toBe(true);
    expect(hold.count(1)).toBe(2);
  });
});
