import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineMessage, t } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type IncomingMessage, type TmeshNode } from './node.js';

// Several real nodes in one process (real sockets and shared memory), to exercise the facade's
// many-peer calls: broadcast, stream, sendToService, messages().
const Note = defineMessage('facade.Note', 1, t.struct('Note', { text: t.string(), n: t.u32() }));
const Work = defineMessage('facade.Work', 2, t.struct('Work', { job: t.u32(), by: t.string() }));
const types = [Note, Work];

describe('facade calls across several nodes', () => {
  const nodes: TmeshNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0).reverse()) await n.close();
  });
  const start = async (id: string, dir: string, services?: string[]) => {
    const node = await createNode({
      id,
      types,
      discovery: { runtimeDir: dir },
      ...(services ? { services } : {}),
    });
    nodes.push(node);
    return node;
  };

  it('broadcast reaches every peer (or the filtered ones) and reports per peer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-facade-b-'));
    const receivers = await Promise.all(['r1', 'r2', 'r3'].map((id) => start(id, dir)));
    const got = new Map<string, string[]>();
    for (const r of receivers)
      r.on(Note, (m) => {
        got.set(r.info.id, [...(got.get(r.info.id) ?? []), m.value.text]);
      });
    const sender = await start('sender', dir);
    const all = await sender.broadcast(Note, { text: 'hello', n: 1 });
    expect(all.delivered.sort()).toEqual(['r1', 'r2', 'r3']);
    expect(all.failed).toEqual([]);
    const some = await sender.broadcast(Note, { text: 'odd', n: 2 }, (p) => p.id !== 'r2');
    expect(some.delivered.sort()).toEqual(['r1', 'r3']);
    await new Promise((r) => setTimeout(r, 200));
    expect(Object.fromEntries(got)).toEqual({ r1: ['hello', 'odd'], r2: ['hello'], r3: ['hello', 'odd'] });
  }, 30_000);

  it('stream(peer) sends to one peer and iterates only what that peer sends back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-facade-s-'));
    const a = await start('a', dir);
    const b = await start('b', dir);
    const c = await start('c', dir);
    b.on(Note, (m) => void b.send(m.from, Note, { text: `echo ${m.value.text}`, n: m.value.n }));
    const conversation = a.stream('b');
    for (let i = 0; i < 5; i++) await conversation.send(Note, { text: `m${i}`, n: i });
    await c.send('a', Note, { text: 'not from b', n: 99 });
    const seen: IncomingMessage[] = [];
    for await (const m of conversation) {
      seen.push(m);
      if (seen.length === 5) break;
    }
    conversation.close();
    expect(seen.map((m) => [m.from, (m.value as { text: string }).text])).toEqual(
      [0, 1, 2, 3, 4].map((i) => ['b', `echo m${i}`]),
    );
  }, 30_000);

  it('sendToService spreads requests over the nodes offering the service (least outstanding first)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-facade-svc-'));
    const workers = await Promise.all(['w1', 'w2'].map((id) => start(id, dir, ['render'])));
    await start('idle', dir); // offers nothing: never chosen
    for (const w of workers) {
      w.handle(Work, async (m) => {
        await new Promise((r) => setTimeout(r, 20));
        return { type: Work, value: { job: m.value.job, by: w.info.id } };
      });
    }
    const client = await start('client', dir);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, job) => client.sendToService('render', Work, { job, by: '' })),
    );
    const by = replies.map((r) => (r.value as { by: string }).by);
    expect(new Set(by)).toEqual(new Set(['w1', 'w2']));
    expect(by.filter((x) => x === 'w1').length).toBe(10);
    await expect(client.sendToService('nobody-offers-this', Work, { job: 0, by: '' })).rejects.toMatchObject({
      code: 'E_NO_ROUTE',
    });
  }, 30_000);

  it('messages() yields every incoming message in order and ends when the node closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-facade-m-'));
    const rx = await start('rx', dir);
    const tx = await start('tx', dir);
    const inbox = rx.messages();
    for (let n = 0; n < 50; n++) await tx.send('rx', Note, { text: 'x', n });
    const ns: number[] = [];
    for await (const m of inbox) {
      ns.push((m.value as { n: number }).n);
      if (ns.length === 50) break;
    }
    expect(ns).toEqual([...Array(50).keys()]);
    const second = rx.messages();
    const ended = (async () => {
      let count = 0;
      for await (const _ of second) count++;
      return count;
    })();
    await rx.close();
    expect(await ended).toBe(0);
  }, 30_000);
});
