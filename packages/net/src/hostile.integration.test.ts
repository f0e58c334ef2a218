import net from 'node:net';
import { RUST_FRAME } from '@tmesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkRegistry } from './control.js';
import { handshake } from './handshake.js';
import { connect, type Link, type LinkServer, listen } from './index.js';
import { localHello, newSessionId } from './link.js';
import { resolveOptions } from './options.js';
import { chunk, FileChunk, nextEvent, node, registry } from './test-support.js';

let server: LinkServer;
let good: Link;
const disconnects: { code: string }[] = [];
const port = (): number => (server.address() as { port: number }).port;

beforeAll(async () => {
  server = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0 },
    {
      self: node('server'),
      registry,
      handshakeTimeoutMs: 2000,
      maxFrameSize: 1024 * 1024,
      onLink: (l) => {
        l.onRequest((m) => ({ type: FileChunk, value: m.value }));
        l.on('disconnect', (e) => disconnects.push(e));
      },
    },
  );
  good = await connect(server.address(), { self: node('good'), registry });
});
afterAll(async () => {
  await good.close();
  await server.close();
});

/** A raw socket that records what it receives and when it closed. */
function raw(): Promise<{ socket: net.Socket; received: () => Buffer; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: port() }, () => {
      const start = Date.now();
      const data: Buffer[] = [];
      socket.on('data', (d) => data.push(d));
      socket.on('error', () => {});
      const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - start)));
      resolve({ socket, received: () => Buffer.concat(data), closed });
    });
  });
}

async function goodStillServes(): Promise<void> {
  const reply = await good.request(FileChunk, chunk(42), { timeoutMs: 2000 });
  expect(reply.value).toMatchObject({ sequence: 42 });
}

describe('hostile input from a raw socket', () => {
  it('garbage: E_HANDSHAKE (malformed), closed at once, others still served', async () => {
    const error = nextEvent<{ code: string; details?: { reason?: string } }>(server, 'handshakeError');
    const r = await raw();
    r.socket.write(
      Buffer.from('GET / HTTP/1.1\r\nHost: example\r\nUser-Agent: curl\r\nAccept: */*\r\n\r\n'.repeat(4)),
    );
    await expect(error).resolves.toMatchObject({ code: 'E_HANDSHAKE', details: { reason: 'malformed' } });
    expect(await r.closed).toBeLessThan(2500);
    expect(r.received().toString('latin1')).toContain('E_HANDSHAKE');
    await goodStillServes();
  });

  it('a byte-per-second slow Hello: E_HANDSHAKE (timeout) after handshakeTimeoutMs, others still served', async () => {
    const error = nextEvent<{ code: string; details?: { reason?: string } }>(server, 'handshakeError', 8000);
    const r = await raw();
    const hello = Buffer.from(
      // A real Hello, dribbled out one byte a second.
      (await import('./framing.js'))
        .codecFor('universal', linkRegistry(registry))
        .encode(
          (await import('./control.js')).control.Hello,
          localHello(resolveOptions({ self: node('slow'), registry }), 's', ['rust']),
        ),
    );
    let i = 0;
    const timer = setInterval(() => {
      if (i < hello.length && !r.socket.destroyed) r.socket.write(hello.subarray(i, ++i));
    }, 1000);
    const started = Date.now();
    await expect(error).resolves.toMatchObject({ code: 'E_HANDSHAKE', details: { reason: 'timeout' } });
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(1900);
    expect(waited).toBeLessThan(3500);
    expect(await r.closed).toBeLessThan(4500);
    clearInterval(timer);
    await goodStillServes();
  }, 15_000);

  it('an oversized length prefix in the handshake: E_FRAME_TOO_LARGE, nothing allocated, closed at once', async () => {
    const error = nextEvent<{ code: string }>(server, 'handshakeError');
    const r = await raw();
    r.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07])); // varint 2^31 - 1
    await expect(error).resolves.toMatchObject({ code: 'E_FRAME_TOO_LARGE' });
    expect(await r.closed).toBeLessThan(2500);
    await goodStillServes();
  });

  it('an oversized frame header after a valid handshake: E_FRAME_TOO_LARGE, the connection drops', async () => {
    const opts = resolveOptions({ self: node('evil', ['rust']), registry });
    const socket = net.connect({ host: '127.0.0.1', port: port() });
    await nextEvent(socket, 'connect');
    const start = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - start)));
    socket.on('error', () => {});
    const params = {
      role: 'initiator' as const,
      hello: localHello(opts, newSessionId(), ['rust']),
      token: undefined,
      registry: linkRegistry(registry),
      timeoutMs: 2000,
      onPeerHello: () => ({ resumeSession: '', resumeReceived: 0 }),
    };
    const { agreement } = await handshake(socket, params);
    expect(agreement.wire).toBe('rust');
    socket.resume();
    const header = Buffer.alloc(RUST_FRAME.headerSize);
    header.writeUInt32LE(RUST_FRAME.magic, 0);
    header.writeUInt8(1, 4);
    header.writeUInt8(FileChunk.id, 5);
    header.writeUInt32LE(0x7fffffff, 8); // 2 GiB payload announced
    header.writeUInt32LE(1, 12);
    const before = disconnects.length;
    socket.write(header);
    expect(await closed).toBeLessThan(2500);
    expect(disconnects.slice(before)).toEqual([expect.objectContaining({ code: 'E_FRAME_TOO_LARGE' })]);
    await goodStillServes();
  });
});
