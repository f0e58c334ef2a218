import { afterEach, describe, expect, it } from 'vitest';
import { connectGrpc, type Link, type LinkServer, listenGrpc } from './index.js';
import { chunk, FileChunk, nextEvent, node, registry, waitUntil } from './test-support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('gRPC fallback', () => {
  it('carries messages both ways and requests over a grpc-js bidi stream, in the universal wire', async () => {
    const atServer: number[] = [];
    let serverLink: Link | undefined;
    const server: LinkServer = await listenGrpc(
      { kind: 'grpc', host: '127.0.0.1', port: 0 },
      {
        self: node('server'),
        registry,
        auth: { token: 't' },
        onLink: (l) => {
          serverLink = l;
          l.on('message', (m) => atServer.push((m.value as { sequence: number }).sequence));
          l.onRequest((m) => ({ type: FileChunk, value: { ...(m.value as object), path: 'from-grpc' } }));
        },
      },
    );
    cleanups.push(() => server.close());
    const link = await connectGrpc(server.address(), {
      self: node('client'),
      registry,
      auth: { token: 't' },
    });
    cleanups.push(() => link.close());
    expect(link.wire).toBe('universal');
    for (let i = 0; i < 1000; i++) await link.send(FileChunk, chunk(i, new Uint8Array(100).fill(i & 255)));
    await link.flush();
    expect(atServer).toEqual([...Array(1000).keys()]);
    expect((await link.request(FileChunk, chunk(7))).value).toMatchObject({ path: 'from-grpc', sequence: 7 });
    const atClient: number[] = [];
    link.on('message', (m) => atClient.push((m.value as { sequence: number }).sequence));
    await waitUntil(() => serverLink !== undefined);
    for (let i = 0; i < 100; i++) await serverLink!.send(FileChunk, chunk(i));
    await serverLink!.flush();
    expect(atClient).toEqual([...Array(100).keys()]);
    const big = new Uint8Array(3 * 1024 * 1024).fill(9);
    await link.send(FileChunk, chunk(5000, big));
    await link.flush();
    expect(atServer.at(-1)).toBe(5000);
  });

  it('refuses a wrong token over gRPC on both sides', async () => {
    const server = await listenGrpc(
      { kind: 'grpc', host: '127.0.0.1', port: 0 },
      { self: node('server'), registry, auth: { token: 'right' }, onLink: () => {} },
    );
    cleanups.push(() => server.close());
    const serverError = nextEvent<{ code: string }>(server, 'handshakeError');
    await expect(
      connectGrpc(server.address(), {
        self: node('client'),
        registry,
        auth: { token: 'wrong' },
        reconnect: false,
      }),
    ).rejects.toMatchObject({ code: 'E_AUTH' });
    await expect(serverError).resolves.toMatchObject({ code: 'E_AUTH' });
  });
});
