// Identity bound to a key: per-node keys in the handshake (TCP, Unix) and TLS 1.3 with pre-shared keys.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Endpoint } from '@tmesh/core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { control, linkRegistry } from './control.js';
import { codecFor } from './framing.js';
import { handshake } from './handshake.js';
import { connect, connectGrpc, type Link, type LinkOptions, type LinkServer, listen } from './index.js';
import { localHello, newSessionId } from './link.js';
import type { LinkAuth } from './negotiate.js';
import { resolveOptions } from './options.js';
import { chunk, FileChunk, nextEvent, node, registry, waitUntil } from './test-support.js';

const KEY = {
  alice: 'alice-secret-0123456789abcdef',
  bob: Buffer.alloc(32, 0xb0),
  mallory: 'mallory-secret-0123456789abcd',
};
/** The server knows alice and bob; mallory holds only her own key. */
const SERVER_KEYS = { alice: KEY.alice, bob: KEY.bob };

const dir = mkdtempSync(join(tmpdir(), 'tmesh-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const servers: LinkServer[] = [];
const links: Link[] = [];
afterEach(async () => {
  await Promise.all(links.splice(0).map((l) => l.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

let unixN = 0;
async function server(
  transport: 'tcp' | 'unix' | 'tls',
  opts: Partial<LinkOptions> = {},
): Promise<{ s: LinkServer; seen: string[]; peers: string[] }> {
  const seen: string[] = [];
  const peers: string[] = [];
  const endpoint: Endpoint =
    transport === 'unix'
      ? { kind: 'unix', path: join(dir, `s${unixN++}.sock`) }
      : { kind: 'tcp', host: '127.0.0.1', port: 0, ...(transport === 'tls' ? { tls: true } : {}) };
  const s = await listen(endpoint, {
    self: node('server'),
    registry,
    handshakeTimeoutMs: 2000,
    onLink: (l) => {
      peers.push(l.peer.id);
      l.on('message', (m) => seen.push((m.value as { path: string }).path));
    },
    ...opts,
  });
  servers.push(s);
  return { s, seen, peers };
}

/** The connection fails with `code` on the connecting side and on the server, and no link is made. */
async function refused(
  s: { s: LinkServer; peers: string[] },
  id: string,
  clientOpts: Partial<LinkOptions>,
  code = 'E_AUTH',
): Promise<{ server: Error & { code: string }; client: Error & { code: string } }> {
  const serverError = nextEvent<Error & { code: string }>(s.s, 'handshakeError');
  let client: unknown;
  try {
    links.push(await connect(s.s.address(), { self: node(id), registry, reconnect: false, ...clientOpts }));
  } catch (e) {
    client = e;
  }
  expect(client).toMatchObject({ name: 'TmeshError', code });
  const server = await serverError;
  expect(server).toMatchObject({ name: 'TmeshError', code });
  expect(s.peers).toEqual([]);
  return { server, client: client as Error & { code: string } };
}

describe('per-node keys in the handshake', () => {
  for (const transport of ['tcp', 'unix'] as const) {
    it(`${transport}: a node holding its key gets in under its id, messages flow`, async () => {
      const s = await server(transport, { auth: { keys: SERVER_KEYS } });
      const a = await connect(s.s.address(), { self: node('alice'), registry, auth: { key: KEY.alice } });
      const b = await connect(s.s.address(), { self: node('bob'), registry, auth: { key: KEY.bob } });
      links.push(a, b);
      await a.send(FileChunk, chunk(1));
      await b.send(FileChunk, chunk(2));
      await a.flush();
      await b.flush();
      await waitUntil(() => s.seen.length === 2);
      expect(s.peers.sort()).toEqual(['alice', 'bob']);
      expect(s.seen.sort()).toEqual(['file-1', 'file-2']);
      expect(a.peer.id).toBe('server');
    });

    it(`${transport}: a peer claiming another node's id with its own key is refused (E_AUTH, both sides)`, async () => {
      const s = await server(transport, { auth: { keys: SERVER_KEYS } });
      const { server: e } = await refused(s, 'alice', { auth: { key: KEY.mallory } });
      expect(e.message).toContain('alice');
      expect(s.seen).toEqual([]);
    });
  }

  it('refuses a node id with no key registered before the server proves anything (E_AUTH, both sides)', async () => {
    const s = await server('tcp', { auth: { keys: SERVER_KEYS } });
    const { server: e, client } = await refused(s, 'mallory', { auth: { key: KEY.mallory } });
    expect(e.message).toContain('has no key here');
    // The client learned why from the server's Close, not from a proof mismatch.
    expect(client.message).toContain('has no key here');
  });

  it('refuses a client without a key, a client with the shared token, and a server without keys', async () => {
    const s = await server('tcp', { auth: { keys: SERVER_KEYS } });
    await refused(s, 'alice', {});
    await refused(s, 'alice', { auth: { token: KEY.alice } });
    const open = await server('tcp');
    await refused(open, 'alice', { auth: { key: KEY.alice } });
  });

  it('the connecting side refuses a server that does not hold its key (mutual)', async () => {
    // The server has a wrong key for alice: alice's proof fails there, and the server's proof fails at alice.
    const s = await server('tcp', { auth: { keys: { alice: KEY.mallory } } });
    const { client } = await refused(s, 'alice', { auth: { key: KEY.alice } });
    expect(client.message).toMatch(/wrong key proof/);
  });

  it('checks its options: keys of 16..64 bytes, a token or keys but not both', async () => {
    const bad: LinkAuth[] = [
      { key: 'short' },
      { key: new Uint8Array(65) },
      { keys: { alice: 'x' } },
      { token: 'shared-token', key: KEY.alice },
      { key: 42 as unknown as string },
    ];
    for (const auth of bad) {
      expect(() => resolveOptions({ self: node('a'), registry, auth }), JSON.stringify(auth)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
      );
    }
    expect(() => resolveOptions({ self: node('a'), registry, auth: { key: KEY.bob } })).not.toThrow();
  });
});

/** A raw TCP socket to the server; collects what it receives. */
async function rawSocket(
  s: LinkServer,
): Promise<{ socket: net.Socket; got: () => Buffer; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port: (s.address() as { port: number }).port });
  await nextEvent(socket, 'connect');
  const data: Buffer[] = [];
  socket.on('data', (d) => data.push(d));
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, got: () => Buffer.concat(data), closed };
}

describe('frames before or without a valid Auth are never delivered', () => {
  const codec = codecFor('universal', linkRegistry(registry));
  const hello = (id: string) =>
    codec.encode(
      control.Hello,
      localHello(resolveOptions({ self: node(id, ['universal']), registry }), 's', ['universal']),
    );

  it('application frames right after the Hello, before any Auth: E_HANDSHAKE, nothing delivered', async () => {
    const s = await server('tcp', { auth: { keys: SERVER_KEYS } });
    const error = nextEvent<{ code: string }>(s.s, 'handshakeError');
    const r = await rawSocket(s.s);
    const frames = [hello('alice')];
    for (let i = 0; i < 50; i++) frames.push(codec.encode(FileChunk, chunk(i)));
    r.socket.write(Buffer.concat(frames));
    await expect(error).resolves.toMatchObject({ code: expect.stringMatching(/^E_(HANDSHAKE|AUTH)$/) });
    await r.closed;
    expect(s.seen).toEqual([]);
    expect(s.peers).toEqual([]);
  });

  it('a wrong proof followed by application frames: E_AUTH, nothing delivered', async () => {
    const s = await server('tcp', { auth: { keys: SERVER_KEYS } });
    const error = nextEvent<{ code: string }>(s.s, 'handshakeError');
    const r = await rawSocket(s.s);
    const frames = [
      hello('alice'),
      codec.encode(control.Auth, {
        proof: new Uint8Array(32).fill(7),
        resumeSession: '',
        resumeReceived: 0n,
      }),
    ];
    for (let i = 0; i < 50; i++) frames.push(codec.encode(FileChunk, chunk(i)));
    r.socket.write(Buffer.concat(frames));
    await expect(error).resolves.toMatchObject({ code: 'E_AUTH' });
    await r.closed;
    expect(r.got().toString('latin1')).toContain('E_AUTH');
    expect(s.seen).toEqual([]);
    expect(s.peers).toEqual([]);
  });

  it('a wrong shared token followed by application frames: E_AUTH, nothing delivered', async () => {
    const s = await server('tcp', { auth: { token: 'the-shared-token' } });
    const error = nextEvent<{ code: string }>(s.s, 'handshakeError');
    const socket = net.connect({ host: '127.0.0.1', port: (s.s.address() as { port: number }).port });
    await nextEvent(socket, 'connect');
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    // A real handshake with the wrong token, then frames pushed at once, without waiting for the verdict.
    const opts = resolveOptions({ self: node('client', ['universal']), registry });
    const attempt = handshake(socket, {
      role: 'initiator',
      hello: localHello(opts, newSessionId(), ['universal']),
      auth: { token: 'not-the-token' },
      registry: linkRegistry(registry),
      timeoutMs: 2000,
      onPeerHello: () => {
        setImmediate(() => {
          for (let i = 0; i < 50; i++) if (!socket.destroyed) socket.write(codec.encode(FileChunk, chunk(i)));
        });
        return { resumeSession: '', resumeReceived: 0 };
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'E_AUTH' });
    await expect(error).resolves.toMatchObject({ code: 'E_AUTH' });
    await closed;
    expect(s.seen).toEqual([]);
    expect(s.peers).toEqual([]);
  });
});

describe('TLS 1.3 with pre-shared keys (PSK identity = node id)', () => {
  const pskServer = (extra: Partial<LinkOptions> = {}) =>
    server('tls', { tls: { psk: { keys: SERVER_KEYS } }, ...extra });

  it('carries messages; the accepted link is the node named by the PSK identity', async () => {
    const s = await pskServer();
    const link = await connect(s.s.address(), {
      self: node('alice'),
      registry,
      tls: { psk: { key: KEY.alice } },
    });
    links.push(link);
    await link.send(FileChunk, chunk(5));
    await link.flush();
    await waitUntil(() => s.seen.length === 1);
    expect(s.peers).toEqual(['alice']);
    expect(s.seen).toEqual(['file-5']);
  });

  it('refuses an unknown identity and a wrong key in the TLS handshake (E_AUTH, both sides)', async () => {
    const s = await pskServer();
    await refused(s, 'mallory', { tls: { psk: { key: KEY.mallory } } });
    await refused(s, 'alice', { tls: { psk: { key: KEY.mallory } } });
    expect(s.seen).toEqual([]);
  });

  it("refuses a Hello whose node id is not the PSK identity (alice's key, claiming bob)", async () => {
    const s = await pskServer();
    const error = nextEvent<Error & { code: string }>(s.s, 'handshakeError');
    const socket = tls.connect({
      host: '127.0.0.1',
      port: (s.s.address() as { port: number }).port,
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
      pskCallback: () => ({ identity: 'alice', psk: Buffer.from(KEY.alice) }),
    });
    socket.on('error', () => {});
    await nextEvent(socket, 'secureConnect');
    const opts = resolveOptions({ self: node('bob', ['universal']), registry });
    const attempt = handshake(socket, {
      role: 'initiator',
      hello: localHello(opts, newSessionId(), ['universal']),
      registry: linkRegistry(registry),
      timeoutMs: 2000,
      onPeerHello: () => ({ resumeSession: '', resumeReceived: 0 }),
    });
    await expect(attempt).rejects.toMatchObject({ code: 'E_AUTH' });
    await expect(error).resolves.toMatchObject({ code: 'E_AUTH', message: expect.stringContaining('bob') });
    expect(s.peers).toEqual([]);
  });

  it('refuses a session resumed from a ticket (no PSK identity was checked): E_AUTH', async () => {
    const s = await pskServer();
    const port = (s.s.address() as { port: number }).port;
    // A first connection with alice's key yields a session ticket (and is hung up before its Hello).
    const firstGone = nextEvent<Error & { code: string }>(s.s, 'handshakeError');
    const ticket = await new Promise<Buffer>((resolve, reject) => {
      const c = tls.connect({
        host: '127.0.0.1',
        port,
        minVersion: 'TLSv1.3',
        checkServerIdentity: () => undefined,
        pskCallback: () => ({ identity: 'alice', psk: Buffer.from(KEY.alice) }),
      });
      c.on('error', reject);
      c.once('session', (session: Buffer) => {
        c.destroy();
        resolve(session);
      });
    });
    await expect(firstGone).resolves.toMatchObject({ code: 'E_CONNECTION' });
    // A second connection presents only the ticket, then claims to be alice.
    const error = nextEvent<Error & { code: string }>(s.s, 'handshakeError');
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      minVersion: 'TLSv1.3',
      session: ticket,
      checkServerIdentity: () => undefined,
    });
    socket.on('error', () => {});
    await nextEvent(socket, 'secureConnect');
    expect(socket.isSessionReused()).toBe(true);
    const opts = resolveOptions({ self: node('alice', ['universal']), registry });
    await expect(
      handshake(socket, {
        role: 'initiator',
        hello: localHello(opts, newSessionId(), ['universal']),
        registry: linkRegistry(registry),
        timeoutMs: 2000,
        onPeerHello: () => ({ resumeSession: '', resumeReceived: 0 }),
      }),
    ).rejects.toMatchObject({ code: 'E_AUTH' });
    await expect(error).resolves.toMatchObject({
      code: 'E_AUTH',
      message: expect.stringContaining('PSK identity'),
    });
    expect(s.peers).toEqual([]);
  });

  it('does not downgrade below TLS 1.3 (a TLS 1.2 PSK client is refused)', async () => {
    const s = await pskServer();
    const serverError = nextEvent<{ code: string }>(s.s, 'handshakeError');
    const socket = tls.connect({
      host: '127.0.0.1',
      port: (s.s.address() as { port: number }).port,
      maxVersion: 'TLSv1.2',
      ciphers: 'PSK-AES128-GCM-SHA256',
      checkServerIdentity: () => undefined,
      pskCallback: () => ({ identity: 'alice', psk: Buffer.from(KEY.alice) }),
    });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('error', (e: Error & { code?: string }) => resolve(`error ${e.code}`));
      socket.once('secureConnect', () => resolve(`negotiated ${socket.getProtocol()}`));
      socket.once('close', () => resolve('closed'));
    });
    expect(outcome).not.toMatch(/negotiated/);
    await expect(serverError).resolves.toMatchObject({
      code: expect.stringMatching(/^E_(AUTH|CONNECTION)$/),
    });
    socket.destroy();
    expect(s.peers).toEqual([]);
  });

  it('combines with per-node keys in the handshake, and checks its options', async () => {
    const s = await pskServer({ auth: { keys: SERVER_KEYS } });
    const link = await connect(s.s.address(), {
      self: node('bob'),
      registry,
      tls: { psk: { key: KEY.bob } },
      auth: { key: KEY.bob },
    });
    links.push(link);
    await waitUntil(() => s.peers.length > 0);
    expect(s.peers).toEqual(['bob']);
    for (const t of [{ psk: {} }, { psk: { key: 'short' } }, { psk: { key: KEY.alice }, ca: 'x' }]) {
      expect(() => resolveOptions({ self: node('a'), registry, tls: t as never }), JSON.stringify(t)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
      );
    }
    await expect(
      connect(s.s.address(), { self: node('bob'), registry, tls: { psk: { keys: SERVER_KEYS } } }),
    ).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    await expect(
      connectGrpc(
        { kind: 'grpc', host: '127.0.0.1', port: 1, tls: true },
        { self: node('bob'), registry, tls: { psk: { key: KEY.bob } } },
      ),
    ).rejects.toMatchObject({ code: 'E_NOT_SUPPORTED' });
  });

  it('cuts a connection that never starts TLS after handshakeTimeoutMs', async () => {
    const s = await pskServer({ handshakeTimeoutMs: 1000 });
    const r = await rawSocket(s.s);
    const started = Date.now();
    await r.closed;
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(4000);
  });
});
