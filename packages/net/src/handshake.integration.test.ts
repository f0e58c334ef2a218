import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DecodedMessage, WireId } from '@tmesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Link, type LinkOptions, type LinkServer, listen } from './index.js';
import { chunk, FileChunk, nextEvent, node, registry } from './test-support.js';

const servers: LinkServer[] = [];
const links: Link[] = [];
afterEach(async () => {
  await Promise.all(links.splice(0).map((l) => l.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(opts: Partial<LinkOptions> & { onLink?: (l: Link) => void } = {}): Promise<LinkServer> {
  const s = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    { self: node('server'), registry, onLink: () => {}, ...opts },
  );
  servers.push(s);
  return s;
}

/** Expect the handshake to fail with `code` on the connecting side and on the server side alike. */
async function expectBothFail(
  serverOpts: Partial<LinkOptions>,
  clientOpts: Partial<LinkOptions>,
  code: string,
) {
  let accepted = 0;
  const s = await server({ ...serverOpts, onLink: () => accepted++ });
  const serverError = nextEvent<Error & { code: string }>(s, 'handshakeError');
  const client = connect(s.address(), { self: node('client'), registry, reconnect: false, ...clientOpts });
  await expect(client).rejects.toMatchObject({ name: 'TmeshError', code });
  await expect(serverError).resolves.toMatchObject({ name: 'TmeshError', code });
  expect(accepted).toBe(0);
}

describe('handshake matrix', () => {
  it('agrees on the highest common version', async () => {
    const s = await server({ protocolVersions: [1, 2] });
    const link = await connect(s.address(), { self: node('client'), registry, protocolVersions: [3, 2, 1] });
    links.push(link);
    expect(link.version).toBe(2);
  });

  it('refuses disjoint versions with E_VERSION_MISMATCH on both sides', async () => {
    await expectBothFail({ protocolVersions: [1] }, { protocolVersions: [2] }, 'E_VERSION_MISMATCH');
  });

  it('takes the initiator preference among common wires', async () => {
    const s = await server({ wires: ['rust', 'swift', 'universal'] });
    const link = await connect(s.address(), { self: node('client'), registry, wires: ['swift', 'rust'] });
    links.push(link);
    expect(link.wire).toBe('swift');
    expect(link.peer.id).toBe('server');
  });

  it('refuses disjoint wires with E_NO_COMMON_WIRE on both sides', async () => {
    await expectBothFail({ wires: ['swift', 'universal'] }, { wires: ['rust'] }, 'E_NO_COMMON_WIRE');
  });

  it('accepts the same token on both sides', async () => {
    const s = await server({ auth: { token: 'hunter2' } });
    const link = await connect(s.address(), { self: node('client'), registry, auth: { token: 'hunter2' } });
    links.push(link);
    expect(link.peer.id).toBe('server');
  });

  it('refuses a wrong token with E_AUTH on both sides', async () => {
    await expectBothFail({ auth: { token: 'hunter2' } }, { auth: { token: 'hunter3' } }, 'E_AUTH');
  });

  it('refuses a client without a token when the server requires one, on both sides', async () => {
    await expectBothFail({ auth: { token: 'hunter2' } }, {}, 'E_AUTH');
  });

  it('refuses a client with a token when the server has none, on both sides', async () => {
    await expectBothFail({}, { auth: { token: 'hunter2' } }, 'E_AUTH');
  });

  it('caps the links one peer id may hold', async () => {
    const s = await server({ maxLinksPerPeer: 2 });
    links.push(await connect(s.address(), { self: node('client'), registry }));
    links.push(await connect(s.address(), { self: node('client'), registry }));
    const serverError = nextEvent<{ code: string }>(s, 'handshakeError');
    await expect(
      connect(s.address(), { self: node('client'), registry, reconnect: false }),
    ).rejects.toMatchObject({
      code: 'E_CONNECTION',
    });
    await expect(serverError).resolves.toMatchObject({ code: 'E_CONNECTION' });
    links.push(await connect(s.address(), { self: node('other-client'), registry }));
  });
});

describe('endpoints', () => {
  it('refuses to connect where nobody listens with E_CONNECTION, and checks its arguments', async () => {
    const probe = await server();
    const port = (probe.address() as { port: number }).port;
    await probe.close();
    servers.splice(servers.indexOf(probe), 1);
    await expect(
      connect({ kind: 'tcp', host: '127.0.0.1', port }, { self: node('client'), registry, reconnect: false }),
    ).rejects.toMatchObject({ code: 'E_CONNECTION' });
    await expect(
      connect({ kind: 'shm', name: 'x' }, { self: node('client'), registry }),
    ).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    });
    await expect(
      connect({ kind: 'tcp', host: '127.0.0.1', port, tls: true }, { self: node('client'), registry }),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
  });

  it('takes over a stale Unix socket file but refuses a live one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-unix-'));
    const path = join(dir, 'link.sock');
    const first = await listen({ kind: 'unix', path }, { self: node('server'), registry, onLink: () => {} });
    await expect(
      listen({ kind: 'unix', path }, { self: node('server'), registry, onLink: () => {} }),
    ).rejects.toMatchObject({
      code: 'E_CONNECTION',
    });
    await first.close();
    writeFileSync(path, ''); // a leftover file from a process that died
    const second = await listen({ kind: 'unix', path }, { self: node('server'), registry, onLink: () => {} });
    servers.push(second);
    const link = await connect({ kind: 'unix', path }, { self: node('client'), registry });
    links.push(link);
    expect(link.peer.id).toBe('server');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('messages on every wire and transport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tmesh-net-'));
  afterEach(() => {});
  const cases: { wire: WireId; transport: 'tcp' | 'unix' }[] = [];
  for (const wire of ['rust', 'swift', 'universal'] as WireId[])
    for (const transport of ['tcp', 'unix'] as const) cases.push({ wire, transport });

  it.each(cases)(
    '$wire over $transport: messages both ways, requests, handler errors',
    async ({ wire, transport }) => {
      const received: DecodedMessage[] = [];
      let serverLink: Link | undefined;
      const endpoint =
        transport === 'tcp'
          ? ({ kind: 'tcp', host: '127.0.0.1', port: 0 } as const)
          : ({ kind: 'unix', path: join(dir, `${wire}.sock`) } as const);
      const s = await listen(endpoint, {
        self: node('server'),
        registry,
        onLink: (l) => {
          serverLink = l;
          l.on('message', (m) => received.push(m));
          l.onRequest((m) => {
            const v = m.value as ReturnType<typeof chunk>;
            if (v.sequence < 0) throw new Error('never');
            if (v.path === 'fail') throw Object.assign(new Error('x'), {});
            return { type: FileChunk, value: { ...v, path: `re:${v.path}` } };
          });
        },
      });
      servers.push(s);
      const link = await connect(s.address(), { self: node('client'), registry, wires: [wire] });
      links.push(link);
      expect(link.wire).toBe(wire);
      for (let i = 0; i < 100; i++) await link.send(FileChunk, chunk(i, new Uint8Array([i, i + 1])));
      await link.flush();
      expect(received.map((m) => (m.value as { sequence: number }).sequence)).toEqual([...Array(100).keys()]);
      expect(received[7]!.value).toMatchObject({ path: 'file-7', offset: 7n });
      expect([...(received[7]!.value as { data: Uint8Array }).data]).toEqual([7, 8]);

      const reply = await link.request(FileChunk, chunk(5));
      expect(reply.value).toMatchObject({ path: 're:file-5', sequence: 5 });
      await expect(link.request(FileChunk, { ...chunk(6), path: 'fail' })).rejects.toMatchObject({
        code: 'E_INTERNAL',
        details: { remote: true },
      });

      // The server side sends back, consumed through the async iterator.
      const it = link.messages();
      for (let i = 0; i < 10; i++) await serverLink!.send(FileChunk, chunk(1000 + i));
      for (let i = 0; i < 10; i++)
        expect(((await it.next()).value!.value as { sequence: number }).sequence).toBe(1000 + i);
    },
  );

  it('returns a handler TmeshError code to the requester, E_NOT_SUPPORTED without a handler', async () => {
    const { tmeshError } = await import('@tmesh/core');
    const s = await server({
      onLink: (l) => {
        if (l.peer.id === 'with-handler')
          l.onRequest(() => Promise.reject(tmeshError('E_NO_ROUTE', 'nowhere to go')));
      },
    });
    const a = await connect(s.address(), { self: node('with-handler'), registry });
    const b = await connect(s.address(), { self: node('without'), registry });
    links.push(a, b);
    await expect(a.request(FileChunk, chunk(1))).rejects.toMatchObject({
      code: 'E_NO_ROUTE',
      message: expect.stringContaining('nowhere to go'),
    });
    await expect(b.request(FileChunk, chunk(1))).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
  });

  it('answers a handler whose reply cannot be sent with the reason, not silence', async () => {
    const s = await server({
      onLink: (l) =>
        l.onRequest((m) => {
          const v = m.value as ReturnType<typeof chunk>;
          if (v.sequence === 1) return undefined as never;
          if (v.sequence === 2) return { type: FileChunk, value: { ...v, offset: 'not a bigint' } };
          return { type: FileChunk, value: v };
        }),
    });
    const link = await connect(s.address(), { self: node('client'), registry });
    links.push(link);
    await expect(link.request(FileChunk, chunk(1))).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
      details: { remote: true },
    });
    await expect(link.request(FileChunk, chunk(2))).rejects.toMatchObject({
      code: 'E_ENCODE_INVALID_VALUE',
      details: { remote: true },
    });
    // The link is still healthy afterwards.
    await expect(link.request(FileChunk, chunk(3))).resolves.toMatchObject({ value: { sequence: 3 } });
  });

  it('times out and aborts requests', async () => {
    const s = await server({ onLink: (l) => l.onRequest(() => new Promise(() => {})) });
    const link = await connect(s.address(), { self: node('client'), registry });
    links.push(link);
    await expect(link.request(FileChunk, chunk(1), { timeoutMs: 50 })).rejects.toMatchObject({
      code: 'E_TIMEOUT',
    });
    const ac = new AbortController();
    const p = link.request(FileChunk, chunk(2), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('compresses above the threshold when negotiated, and the peer reads it', async () => {
    let got: DecodedMessage | undefined;
    for (const wire of ['rust', 'swift', 'universal'] as WireId[]) {
      const s = await server({ onLink: (l) => l.on('message', (m) => (got = m)) });
      const link = await connect(s.address(), {
        self: node('client'),
        registry,
        wires: [wire],
        compression: ['deflate'],
      });
      links.push(link);
      expect(link.compression).toBe('deflate');
      const data = new Uint8Array(100_000).map((_, i) => i % 7);
      await link.send(FileChunk, chunk(1, data));
      await link.flush();
      expect(got!.header.flags & 7).toBe(1);
      expect(Buffer.from((got!.value as { data: Uint8Array }).data).equals(Buffer.from(data))).toBe(true);
      expect(link.stats().compressedBytesSaved).toBeGreaterThan(90_000);
      link.applyConfig({ compression: 'off' });
      await link.send(FileChunk, chunk(2, data));
      await link.flush();
      expect(got!.header.flags & 7).toBe(0);
      expect(() => link.applyConfig({ compression: 'zstd' })).toThrow(
        expect.objectContaining({ code: 'E_NOT_SUPPORTED' }),
      );
    }
  });

  it('reports heartbeats with an RTT', async () => {
    const s = await server({ heartbeatMs: 20, deadAfterMs: 1000 });
    const link = await connect(s.address(), {
      self: node('client'),
      registry,
      heartbeatMs: 20,
      deadAfterMs: 1000,
    });
    links.push(link);
    const rtt = await nextEvent<number>(link, 'heartbeat', 2000);
    expect(rtt).toBeGreaterThan(0);
    expect(rtt).toBeLessThan(1000);
    expect(link.stats().rttMs).toBeGreaterThan(0);
  });

  it('closes gracefully: queued messages arrive, then both sides emit close', async () => {
    let count = 0;
    let serverLink: Link | undefined;
    const s = await server({
      onLink: (l) => {
        serverLink = l;
        l.on('message', () => count++);
      },
    });
    const link = await connect(s.address(), { self: node('client'), registry });
    for (let i = 0; i < 5000; i++) link.trySend(FileChunk, chunk(i));
    const serverClosed = nextEvent(
      serverLink ?? (await new Promise<Link>((r) => setTimeout(() => r(serverLink!), 50))),
      'close',
    );
    await link.close();
    expect(count).toBe(5000);
    await serverClosed;
    await expect(link.send(FileChunk, chunk(1))).rejects.toMatchObject({ code: 'E_CLOSED' });
    rmSync(dir, { recursive: true, force: true });
  });
});
