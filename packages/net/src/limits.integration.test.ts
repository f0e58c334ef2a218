// Server limits exercised from raw sockets: concurrent handshakes, total links, links per peer id, time
// to authenticate. (Frame size limits from a raw socket: hostile.integration.test.ts.)
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { control, linkRegistry } from './control.js';
import { codecFor } from './framing.js';
import { type HandshakeResult, handshake } from './handshake.js';
import { connect, type Link, type LinkOptions, type LinkServer, listen } from './index.js';
import { localHello, newSessionId } from './link.js';
import { resolveOptions } from './options.js';
import { nextEvent, node, registry } from './test-support.js';

const servers: LinkServer[] = [];
const sockets: net.Socket[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(links.splice(0).map((l) => l.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(opts: Partial<LinkOptions>): Promise<{ s: LinkServer; accepted: () => number }> {
  let accepted = 0;
  const s = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    { self: node('server'), registry, onLink: () => accepted++, ...opts },
  );
  servers.push(s);
  return { s, accepted: () => accepted };
}

/** A raw TCP connection that records what it receives and when it closes. */
async function raw(s: LinkServer) {
  const socket = net.connect({ host: '127.0.0.1', port: (s.address() as { port: number }).port });
  sockets.push(socket);
  await nextEvent(socket, 'connect');
  const start = Date.now();
  const data: Buffer[] = [];
  socket.on('data', (d) => data.push(d));
  socket.on('error', () => {});
  const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - start)));
  return { socket, got: () => Buffer.concat(data).toString('latin1'), closed };
}

/** Handshake by hand on a raw socket as node `id` (session `session`: the same value resumes). */
async function rawHandshake(
  s: LinkServer,
  id: string,
  session = newSessionId(),
  onSocket?: (socket: net.Socket) => void,
): Promise<HandshakeResult> {
  const { socket } = await raw(s);
  onSocket?.(socket);
  const opts = resolveOptions({ self: node(id, ['universal']), registry });
  return handshake(socket, {
    role: 'initiator',
    hello: localHello(opts, session, ['universal']),
    registry: linkRegistry(registry),
    timeoutMs: 3000,
    onPeerHello: () => ({ resumeSession: '', resumeReceived: 0 }),
  });
}

describe('server limits against raw sockets', () => {
  it('maxHandshakes: silent connections beyond the limit are turned away at once with E_CONNECTION', async () => {
    const { s } = await server({ maxHandshakes: 3, handshakeTimeoutMs: 10_000 });
    const silent = [await raw(s), await raw(s), await raw(s)];
    const error = nextEvent<{ code: string; details?: { reason?: string } }>(s, 'handshakeError');
    const extra = await raw(s);
    await expect(error).resolves.toMatchObject({
      code: 'E_CONNECTION',
      details: { reason: 'maxHandshakes' },
    });
    expect(await extra.closed).toBeLessThan(2500);
    expect(extra.got()).toContain('maxHandshakes');
    // The silent ones still hold their slots; once they leave, a real node gets in.
    for (const r of silent) r.socket.destroy();
    await Promise.all(silent.map((r) => r.closed));
    let link: Link | undefined;
    for (let i = 0; i < 50 && !link; i++) {
      try {
        link = await connect(s.address(), { self: node('client'), registry, reconnect: false });
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(link?.peer.id).toBe('server');
    links.push(link!);
  });

  it('maxConnections: a server holds at most that many links, whoever the peers are', async () => {
    const { s, accepted } = await server({ maxConnections: 2 });
    await rawHandshake(s, 'p1');
    await rawHandshake(s, 'p2');
    const error = nextEvent<{ code: string; details?: { reason?: string } }>(s, 'handshakeError');
    await expect(rawHandshake(s, 'p3')).rejects.toMatchObject({
      code: 'E_CONNECTION',
      message: expect.stringContaining('maxConnections'),
    });
    await expect(error).resolves.toMatchObject({
      code: 'E_CONNECTION',
      details: { reason: 'maxConnections' },
    });
    expect(accepted()).toBe(2);
  });

  it('maxConnections: a link awaiting resumption still counts, and its peer may come back at capacity', async () => {
    const { s, accepted } = await server({ maxConnections: 2, resumeWindowMs: 10_000 });
    let first: net.Socket | undefined;
    await rawHandshake(s, 'p1', 'session-p1', (socket) => {
      first = socket;
    });
    await rawHandshake(s, 'p2');
    first!.destroy(); // p1's link now waits for it to come back
    await expect(rawHandshake(s, 'p3')).rejects.toMatchObject({ code: 'E_CONNECTION' });
    // The same session returns: a resumption, not a new link, so the limit does not turn it away.
    const back = await rawHandshake(s, 'p1', 'session-p1');
    expect(back.peer.nodeId).toBe('server');
    expect(accepted()).toBe(2);
    expect(s.links().length).toBe(2);
  });

  it('maxLinksPerPeer: a second link under the same node id is refused, another id is not', async () => {
    const { s, accepted } = await server({ maxLinksPerPeer: 1 });
    await rawHandshake(s, 'p');
    const error = nextEvent<{ code: string; details?: { reason?: string } }>(s, 'handshakeError');
    await expect(rawHandshake(s, 'p')).rejects.toMatchObject({ code: 'E_CONNECTION' });
    await expect(error).resolves.toMatchObject({ details: { reason: 'maxLinksPerPeer' } });
    await rawHandshake(s, 'q');
    expect(accepted()).toBe(2);
  });

  it('handshake time: a Hello with no Auth after it is cut after handshakeTimeoutMs', async () => {
    const { s } = await server({ handshakeTimeoutMs: 1000 });
    const error = nextEvent<{ code: string; message: string; details?: { reason?: string } }>(
      s,
      'handshakeError',
    );
    const r = await raw(s);
    const codec = codecFor('universal', linkRegistry(registry));
    r.socket.write(
      codec.encode(
        control.Hello,
        localHello(resolveOptions({ self: node('mute', ['universal']), registry }), 's', ['universal']),
      ),
    );
    await expect(error).resolves.toMatchObject({
      code: 'E_HANDSHAKE',
      message: expect.stringContaining('no Auth'),
      details: { reason: 'timeout' },
    });
    const waited = await r.closed;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(3500);
  });

  it('checks the limit options', () => {
    for (const bad of [{ maxConnections: 0 }, { maxHandshakes: -1 }, { maxHandshakes: Number.NaN }]) {
      expect(() => resolveOptions({ self: node('a'), registry, ...bad }), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_ARGUMENT' }),
      );
    }
  });
});
