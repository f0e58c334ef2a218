// Messages that reach a node before (or without) a consumer for their type: held in a bounded hold until
// on() or messages() takes them, refused past it with a 'refused' event, and for a sender that asked for
// acked delivery, refused to its face. Two real nodes in this process, over shared memory (when the addon
// loads) and over the Unix socket.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTmeshError, sampleMessages } from '@tmesh/core';
import type { SelectionPolicy } from '@tmesh/selector';
import { isAvailable } from '@tmesh/shm-native';
import { afterEach, describe, expect, it } from 'vitest';
import { managerControl } from './control.js';
import { createNode, type NodeEvent, type NodeOptions, type TmeshNode } from './node.js';

const { FileChunk, Metrics } = sampleMessages;
const types = [FileChunk, Metrics];
const open: TmeshNode[] = [];

afterEach(async () => {
  for (const n of open.splice(0)) await n.close();
});

function chunk(sequence: number) {
  return { path: `c${sequence}`, offset: BigInt(sequence), sequence, last: false, data: new Uint8Array(32) };
}

function metrics(n: number) {
  return {
    node: `m${n}`,
    at: BigInt(n),
    throughput: n,
    latencyMicros: 0,
    counters: new Map<string, bigint>(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A sender and a receiver; `receiver` options on top of the defaults. */
async function pair(
  name: string,
  policy: SelectionPolicy | undefined,
  receiver: Partial<NodeOptions> = {},
): Promise<{ a: TmeshNode; b: TmeshNode; bId: string; events: NodeEvent[] }> {
  const dir = mkdtempSync(join(tmpdir(), `tmesh-unclaimed-${name}-`));
  const events: NodeEvent[] = [];
  const bId = `${name}-b`;
  const b = await createNode({
    id: bId,
    types,
    discovery: { runtimeDir: dir },
    onEvent: (e) => events.push(e),
    ...receiver,
  });
  open.push(b);
  const a = await createNode({
    id: `${name}-a`,
    types,
    discovery: { runtimeDir: dir },
    ...(policy ? { policy } : {}),
  });
  open.unshift(a);
  return { a, b, bId, events };
}

/** Returns once the receiver has handled everything `a` sent before (same transport, in order). */
async function barrier(a: TmeshNode, peer: string): Promise<void> {
  await a.request(peer, managerControl.Echo, { payload: new Uint8Array(4) });
}

const routes: [string, SelectionPolicy | undefined, string][] = [
  ...(isAvailable().available ? [['shm', undefined, 'shm'] as [string, undefined, string]] : []),
  ['unix', { disableShm: true }, 'unix'],
];

describe.each(routes)('messages nobody consumes yet, over %s', (name, policy, route) => {
  it('are held until on() is registered, then handed over in order before newer ones', async () => {
    const { a, b, bId } = await pair(`held-${name}`, policy);
    for (let i = 0; i < 20; i++) await a.send(bId, FileChunk, chunk(i));
    await barrier(a, bId);
    expect(a.peers().find((p) => p.info.id === bId)?.route).toBe(route);
    expect(b.stats().held).toEqual([{ type: FileChunk.name, messages: 20 }]);
    const first: number[] = [];
    const second: number[] = [];
    b.on(FileChunk, (m) => {
      first.push(m.value.sequence);
    });
    b.on(FileChunk, (m) => {
      second.push(m.value.sequence);
    }); // registered in the same job: it gets the held messages too
    for (let i = 20; i < 25; i++) await a.send(bId, FileChunk, chunk(i));
    await barrier(a, bId);
    const all = Array.from({ length: 25 }, (_, i) => i);
    expect(first).toEqual(all);
    expect(second).toEqual(all);
    expect(b.stats().held).toEqual([]);
  });

  it('past the hold they are refused and reported; messages() takes what was held; close reports the rest', async () => {
    const { a, b, bId, events } = await pair(`limit-${name}`, policy, { unclaimed: { maxMessages: 5 } });
    for (let i = 0; i < 8; i++) await a.send(bId, FileChunk, chunk(i));
    await barrier(a, bId);
    await sleep(20); // refusals of one burst are logged as one event
    expect(events.filter((e) => e.kind === 'refused')).toEqual([
      expect.objectContaining({
        peer: `limit-${name}-a`,
        count: 3,
        message: `no on() handler or messages() iterator for ${FileChunk.name}, and the hold for it is full`,
      }),
    ]);
    const iterator = b.messages();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const next = await iterator.next();
      seen.push((next.value as { value: { sequence: number } }).value.sequence);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    await iterator.return?.();
    await a.send(bId, Metrics, metrics(1));
    await a.send(bId, Metrics, metrics(2));
    await barrier(a, bId);
    expect(b.stats().held).toEqual([{ type: Metrics.name, messages: 2 }]);
    await b.close();
    expect(events.filter((e) => e.kind === 'refused').at(-1)).toMatchObject({
      count: 2,
      message: `node closed with messages of ${Metrics.name} held (no on() handler or messages() took them)`,
    });
  });

  it("delivery 'acked': resolves once a consumer took it, rejects with the receiver's reason otherwise", async () => {
    const { a, b, bId, events } = await pair(`acked-${name}`, policy);
    const refused = await a.send(bId, FileChunk, chunk(0), { delivery: 'acked' }).catch((e: unknown) => e);
    expect(isTmeshError(refused, 'E_UNKNOWN_MESSAGE_TYPE'), String(refused)).toBe(true);
    expect(String(refused)).toContain(
      `${bId} has no on() handler or messages() iterator for ${FileChunk.name}`,
    );
    expect(b.stats().held).toEqual([]); // refused to the sender, so not held either
    const got: number[] = [];
    b.on(FileChunk, (m) => {
      got.push(m.value.sequence);
    });
    await a.send(bId, FileChunk, chunk(1), { delivery: 'acked' });
    expect(got).toEqual([1]); // the handler ran before the send resolved
    // Plain and acked messages keep their order.
    await a.send(bId, FileChunk, chunk(2));
    await a.send(bId, FileChunk, chunk(3), { delivery: 'acked' });
    expect(got).toEqual([1, 2, 3]);
    // A messages() iterator nobody reads: the first fits, the second is refused (E_BACKPRESSURE).
    const iterator = b.messages(1);
    await a.send(bId, Metrics, metrics(1), { delivery: 'acked' });
    const full = await a.send(bId, Metrics, metrics(2), { delivery: 'acked' }).catch((e: unknown) => e);
    expect(isTmeshError(full, 'E_BACKPRESSURE'), String(full)).toBe(true);
    expect((await iterator.next()).value).toMatchObject({ from: `acked-${name}-a`, value: { node: 'm1' } });
    await iterator.return?.();
    await sleep(20);
    expect(events.filter((e) => e.kind === 'refused').map((e) => e.count)).toEqual([1, 1]);
    await expect(
      a.send(bId, FileChunk, chunk(4), { delivery: 'sure' as unknown as 'acked' }),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
  });
});

describe('stream(peer) and the hold', () => {
  it("a stream takes its peer's held and new messages; another peer's stay held for a handler", async () => {
    const { a, b, bId } = await pair('stream', { disableShm: true });
    const other = await createNode({
      id: 'stream-c',
      types,
      discovery: { peers: [b.info], runtimeDir: false },
      policy: { disableShm: true },
    });
    open.unshift(other);
    for (let i = 0; i < 3; i++) await a.send(bId, FileChunk, chunk(i));
    for (let i = 100; i < 103; i++) await other.send(bId, FileChunk, chunk(i));
    await barrier(a, bId);
    await barrier(other, bId);
    const conversation = b.stream(a.info.id);
    await a.send(bId, FileChunk, chunk(3));
    const iterator = conversation[Symbol.asyncIterator]();
    const seen: number[] = [];
    for (let i = 0; i < 4; i++)
      seen.push(((await iterator.next()).value as { value: { sequence: number } }).value.sequence);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(b.stats().held).toEqual([{ type: FileChunk.name, messages: 3 }]);
    const late: number[] = [];
    b.on(FileChunk, (m) => {
      if (m.from === 'stream-c') late.push(m.value.sequence);
    });
    await barrier(other, bId);
    expect(late).toEqual([100, 101, 102]);
    conversation.close();
  });
});

describe('unclaimed options', () => {
  it('refuses a bad limit; unclaimed: false refuses at once and reports it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-unclaimed-opts-'));
    await expect(
      createNode({ id: 'bad-limit', types, discovery: { runtimeDir: dir }, unclaimed: { maxMessages: -1 } }),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    const { a, b, bId, events } = await pair('off', { disableShm: true }, { unclaimed: false });
    await a.send(bId, FileChunk, chunk(0));
    await barrier(a, bId);
    await sleep(20);
    expect(b.stats().held).toEqual([]);
    expect(events.filter((e) => e.kind === 'refused')).toEqual([expect.objectContaining({ count: 1 })]);
  });
});
