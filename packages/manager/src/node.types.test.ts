// Types flow from the schemas: a wrong payload or a wrong handler is a compile error. `tsc` (the
// typecheck task) checks every @ts-expect-error below; the runtime part only keeps vitest honest.
import { defineMessage, t } from '@tmesh/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { IncomingMessage, TmeshNode } from './node.js';

const Chunk = defineMessage(
  'types.Chunk',
  1,
  t.struct('Chunk', { path: t.string(), size: t.u64(), note: t.optional(t.string()) }),
);

describe('facade types', () => {
  it('payloads, handlers and replies are typed by the message schema', () => {
    const check = (node: TmeshNode) => {
      void node.send('peer', Chunk, { path: 'a', size: 1n });
      void node.send('peer', Chunk, { path: 'a', size: 1n, note: 'n' });
      // @ts-expect-error size is a u64: bigint, not number
      void node.send('peer', Chunk, { path: 'a', size: 1 });
      // @ts-expect-error path is required
      void node.send('peer', Chunk, { size: 1n });
      // @ts-expect-error no such field
      void node.send('peer', Chunk, { path: 'a', size: 1n, extra: true });
      node.on(Chunk, (m) => {
        expectTypeOf(m).toEqualTypeOf<IncomingMessage<{ path: string; size: bigint; note?: string }>>();
        expectTypeOf(m.value.size).toEqualTypeOf<bigint>();
      });
      node.handle(Chunk, (m) => ({ type: Chunk, value: { path: m.value.path, size: m.value.size } }));
      // @ts-expect-error the reply value must match the reply type
      node.handle(Chunk, () => ({ type: Chunk, value: { path: 1 } }));
    };
    expect(typeof check).toBe('function');
  });
});
