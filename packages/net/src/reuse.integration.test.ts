// reuseReceiveBuffers over real sockets: a receiver whose 'message' listener consumes each big message
// at once gets every payload byte for byte while the frames' buffers are reused; messages that wait
// (the messages() iterator, request handlers) are never overwritten by later frames; and without the
// option every big message has a buffer of its own.
import { createHash } from 'node:crypto';
import type { DecodedMessage, WireId } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { setDirectReads } from './direct-read.js';
import { type LinkOptions, listen } from './index.js';
import { chunk, FileChunk, node, registry, tcpPair, waitUntil } from './test-support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  setDirectReads(true);
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sha = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');
/** The payload of message i: its size varies (big ones around small ones), its bytes depend on i. */
const size = (i: number) => (i % 5 === 4 ? 100 + i : (1 << 20) - ((i * 40_961) % 300_000));
const payload = (i: number) => {
  const b = new Uint8Array(size(i));
  for (let k = 0; k < b.length; k += 4096) b.fill((i * 31 + (k >> 12)) & 0xff, k, k + 4096);
  return b;
};
const dataOf = (m: DecodedMessage) => (m.value as { data: Uint8Array }).data;
const seqOf = (m: DecodedMessage) => (m.value as { sequence: number }).sequence;

async function pair(wire: WireId, server: Partial<LinkOptions>, direct = true) {
  setDirectReads(direct); // false: Node's own chunks, copied into the frame (the TLS path)
  const p = await tcpPair(server, { wires: [wire] });
  cleanups.push(p.close);
  await waitUntil(() => p.accepted() !== undefined, 5000, 'the server link');
  return { link: p.link, server: p.accepted()! };
}

const N = 40;

describe.each([
  ['rust', true],
  ['swift', true],
  ['universal', true],
  ['rust', false],
  ['universal', false],
] as [WireId, boolean][])('reuseReceiveBuffers, %s wire, reads into frames %s', (wire, direct) => {
  it("a 'message' listener gets every payload intact while big frames share buffers", async () => {
    const { link, server } = await pair(wire, { reuseReceiveBuffers: true }, direct);
    const bad: number[] = [];
    const seen: number[] = [];
    const buffers = new Set<ArrayBufferLike>();
    server.on('message', (m: DecodedMessage) => {
      const i = seqOf(m);
      seen.push(i);
      const data = dataOf(m);
      if (sha(data) !== sha(payload(i))) bad.push(i);
      if (data.length >= 1 << 16) buffers.add(data.buffer);
    });
    for (let i = 0; i < N; i++) await link.send(FileChunk, chunk(i, payload(i)));
    await link.flush();
    await waitUntil(() => seen.length === N, 20_000, 'every message');
    expect(seen).toEqual([...Array(N).keys()]);
    expect(bad).toEqual([]);
    const big = [...Array(N).keys()].filter((i) => size(i) >= 1 << 16).length;
    // Reused: a handful of buffers for 32 big messages (a frame whose header came in the same read as
    // the end of the one before is assembled before that one is released, so two alternate).
    expect(buffers.size).toBeLessThanOrEqual(4);
    expect(big).toBe(32);
  }, 30_000);

  it('messages waiting in messages() are never overwritten by later frames', async () => {
    const { link, server } = await pair(wire, { reuseReceiveBuffers: true }, direct);
    const got: DecodedMessage[] = [];
    const reading = (async () => {
      for await (const m of server.messages()) {
        got.push(m);
        if (got.length === N) break;
      }
    })();
    for (let i = 0; i < N; i++) await link.send(FileChunk, chunk(i, payload(i)));
    await reading;
    // Every payload is checked only now, after all of them arrived.
    expect(got.map(seqOf)).toEqual([...Array(N).keys()]);
    expect(got.filter((m) => sha(dataOf(m)) !== sha(payload(seqOf(m)))).map(seqOf)).toEqual([]);
    const big = got.filter((m) => dataOf(m).length >= 1 << 16);
    expect(new Set(big.map((m) => dataOf(m).buffer)).size).toBe(big.length);
  }, 30_000);

  it("a request handler's payload stays intact while later requests arrive", async () => {
    const { link, server } = await pair(wire, { reuseReceiveBuffers: true }, direct);
    const held: DecodedMessage[] = [];
    server.onRequest(async (m) => {
      held.push(m);
      await waitUntil(() => held.length === 8, 10_000, 'eight requests held'); // all are in flight
      const i = seqOf(m);
      return { type: FileChunk, value: chunk(i, new TextEncoder().encode(sha(dataOf(m)))) };
    });
    const replies = await Promise.all(
      [0, 1, 2, 3, 5, 6, 7, 8].map((i) => link.request(FileChunk, chunk(i, payload(i)))),
    );
    for (const r of replies) {
      expect(new TextDecoder().decode(dataOf(r))).toBe(sha(payload(seqOf(r))));
    }
  }, 30_000);

  it('off by default: every big message has a buffer of its own', async () => {
    const { link, server } = await pair(wire, {}, direct);
    const buffers = new Set<ArrayBufferLike>();
    let n = 0;
    server.on('message', (m: DecodedMessage) => {
      n++;
      if (dataOf(m).length >= 1 << 16) buffers.add(dataOf(m).buffer);
    });
    for (let i = 0; i < 12; i++) await link.send(FileChunk, chunk(i, payload(i)));
    await waitUntil(() => n === 12, 20_000, 'every message');
    expect(buffers.size).toBe(10);
  }, 30_000);
});

it('reuseReceiveBuffers must be a boolean', async () => {
  const error = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    {
      self: node('server'),
      registry,
      reuseReceiveBuffers: 'yes' as unknown as boolean,
      onLink: () => {},
    },
  ).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'E_INVALID_ARGUMENT' });
});
