import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Link, type LinkServer, listen } from './index.js';
import { FileChunk, nextEvent, node, registry, waitUntil } from './test-support.js';

/** Message i: deterministic data, and its sha256 in `path`, so the receiver checks every byte. */
function message(i: number) {
  const data = createHash('sha512')
    .update(`payload-${i}`)
    .digest()
    .subarray(0, 16 + (i % 48));
  return {
    path: createHash('sha256').update(data).digest('hex'),
    offset: BigInt(i),
    sequence: i,
    last: false,
    data,
  };
}
const sha = (d: Uint8Array) => createHash('sha256').update(d).digest('hex');

/**
 * A TCP proxy whose connections can be cut, to drop links without either end closing them. With
 * `corruptAt`, the first connection flips one byte at that offset of the client-to-server stream.
 */
async function proxy(targetPort: number, corruptAt?: number) {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((a) => {
    const b = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [a, b]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    if (corruptAt !== undefined && connections++ === 0) {
      let seen = 0;
      a.on('data', (d: Buffer) => {
        if (seen <= corruptAt && corruptAt < seen + d.length) d[corruptAt - seen]! ^= 0x5a;
        seen += d.length;
        b.write(d);
      });
    } else a.pipe(b);
    b.pipe(a);
    a.on('close', () => b.destroy());
    b.on('close', () => a.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    /** Stop forwarding on the current connections without closing them (a silent, dead peer). */
    blackhole: () => {
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    cut: () => {
      for (const s of sockets) s.resetAndDestroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('delivery across a reconnect', () => {
  it('a dropped connection to the same server resumes: exactly once, in order, both directions', async () => {
    const N = 20_000;
    const atServer: number[] = [];
    const atClient: number[] = [];
    let serverDigest = createHash('sha256');
    let serverLink: Link | undefined;
    const server: LinkServer = await listen(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      {
        self: node('server'),
        registry,
        onLink: (l) => {
          serverLink = l;
          l.on('message', (m) => {
            const v = m.value as ReturnType<typeof message>;
            expect(sha(v.data)).toBe(v.path);
            atServer.push(v.sequence);
            serverDigest = serverDigest.update(v.data);
          });
        },
      },
    );
    cleanups.push(() => server.close());
    const p = await proxy((server.address() as { port: number }).port);
    cleanups.push(() => p.close());
    const link = await connect(
      { kind: 'tcp', host: '127.0.0.1', port: p.port },
      {
        self: node('client'),
        registry,
        reconnect: { initialMs: 20, maxMs: 200 },
        sendQueue: { maxMessages: 4096 },
      },
    );
    cleanups.push(() => link.close());
    link.on('message', (m) => atClient.push((m.value as { sequence: number }).sequence));
    const undelivered: unknown[] = [];
    link.on('undelivered', (e) => undelivered.push(e));
    const reconnected = nextEvent<{ resumed: boolean }>(link, 'reconnect', 10_000);

    await waitUntil(() => serverLink !== undefined, 5000, 'the server link');
    let cuts = 0;
    for (let i = 0; i < N; i++) {
      await link.send(FileChunk, message(i));
      if (i < 2000) serverLink?.trySend(FileChunk, message(i));
      if (i === 5000 || i === 12_000) {
        p.cut();
        cuts++;
      }
    }
    await link.flush();
    expect(await reconnected).toMatchObject({ resumed: true });
    await waitUntil(() => atClient.length >= 2000, 10_000, 'server-to-client messages');

    expect(cuts).toBe(2);
    expect(undelivered).toEqual([]);
    expect(atServer).toEqual([...Array(N).keys()]);
    const expected = createHash('sha256');
    for (let i = 0; i < N; i++) expected.update(message(i).data);
    expect(serverDigest.digest('hex')).toBe(expected.digest('hex'));
    expect(atClient).toEqual([...Array(2000).keys()]);
    expect(link.stats().reconnects).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('a restarted server process: every message is acknowledged or failed with E_PEER_GONE, none lost or duplicated', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/restart-server.ts', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-restart-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const files: string[] = [];
    const read = (n: number): { seq: number; ok: boolean }[] =>
      existsSync(files[n]!)
        ? readFileSync(files[n]!, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => ({ seq: Number(line.split(' ')[0]), ok: line.endsWith(' 1') }))
        : [];
    const start = async (port: number): Promise<{ child: ChildProcess; port: number }> => {
      const file = join(dir, `server-${files.length}.txt`);
      files.push(file);
      const child = fork(fixture, [String(port), file], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
      cleanups.push(() => child.kill('SIGKILL'));
      return new Promise((resolve, reject) => {
        child.on('message', (m: { ready?: number }) => {
          if (m.ready !== undefined) resolve({ child, port: m.ready });
        });
        child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
      });
    };
    const first = await start(0);
    const link = await connect(
      { kind: 'tcp', host: '127.0.0.1', port: first.port },
      {
        self: node('client'),
        registry,
        reconnect: { initialMs: 50, maxMs: 300 },
        sendQueue: { maxMessages: 2048 },
      },
    );
    cleanups.push(() => link.close());
    const N = 10_000;
    const outcome = new Array<'acked' | 'failed' | undefined>(N);
    const codes = new Set<string>();
    const settled: Promise<void>[] = [];
    let restarted = false;
    for (let i = 0; i < N; i++) {
      settled.push(
        link.send(FileChunk, message(i), { delivery: 'acked' }).then(
          () => {
            outcome[i] = 'acked';
          },
          (e: { code: string; details?: { delivery?: string } }) => {
            outcome[i] = 'failed';
            codes.add(`${e.code}/${e.details?.delivery}`);
          },
        ),
      );
      if (i === 4000) {
        await waitUntil(() => read(0).length >= 3000, 20_000, 'the first server to receive 3000 messages');
        restarted = true;
        first.child.kill('SIGKILL');
        await nextEvent(first.child, 'exit');
        await start(first.port);
      }
      if (i % 256 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(settled);
    expect(restarted).toBe(true);
    const [r1, r2] = [read(0), read(1)];
    const s1 = new Set(r1.map((r) => r.seq));
    const s2 = new Set(r2.map((r) => r.seq));
    // No duplicates at either server, no message at both, every payload intact.
    expect(s1.size).toBe(r1.length);
    expect(s2.size).toBe(r2.length);
    expect([...s1].filter((s) => s2.has(s))).toEqual([]);
    expect([...r1, ...r2].every((r) => r.ok)).toBe(true);
    const acked = outcome.flatMap((o, i) => (o === 'acked' ? [i] : []));
    const failed = outcome.flatMap((o, i) => (o === 'failed' ? [i] : []));
    // Every message has exactly one outcome; every acked one was received; failures say why.
    expect(acked.length + failed.length).toBe(N);
    expect(acked.every((i) => s1.has(i) || s2.has(i))).toBe(true);
    expect(failed.every((i) => !s2.has(i))).toBe(true);
    expect(failed.length).toBeGreaterThan(0);
    expect([...codes]).toEqual(['E_PEER_GONE/unknown']);
    expect(r2.length).toBeGreaterThan(0);
    // Checksums: the digest of what the new server got equals the digest of those messages as sent.
    const got = createHash('sha256');
    const want = createHash('sha256');
    for (const r of [...r2].sort((a, b) => a.seq - b.seq)) got.update(message(r.seq).data);
    for (const i of acked.filter((i) => !s1.has(i))) want.update(message(i).data);
    expect(got.digest('hex')).toBe(want.digest('hex'));
  }, 90_000);

  it('detects a silent peer by its missing heartbeats, reconnects and resumes', async () => {
    const got: number[] = [];
    const server = await listen(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      {
        self: node('server'),
        registry,
        heartbeatMs: 50,
        deadAfterMs: 300,
        onLink: (l) => l.on('message', (m) => got.push((m.value as { sequence: number }).sequence)),
      },
    );
    cleanups.push(() => server.close());
    const p = await proxy((server.address() as { port: number }).port);
    cleanups.push(() => p.close());
    const link = await connect(
      { kind: 'tcp', host: '127.0.0.1', port: p.port },
      {
        self: node('client'),
        registry,
        heartbeatMs: 50,
        deadAfterMs: 300,
        reconnect: { initialMs: 10, maxMs: 50 },
      },
    );
    cleanups.push(() => link.close());
    for (let i = 0; i < 100; i++) await link.send(FileChunk, message(i));
    await link.flush();
    p.blackhole();
    const started = Date.now();
    for (let i = 100; i < 200; i++) await link.send(FileChunk, message(i));
    const lost = await nextEvent<{ code: string }>(link, 'disconnect', 3000);
    expect(lost.code).toBe('E_PEER_GONE');
    expect(Date.now() - started).toBeLessThan(2500);
    await expect(nextEvent<{ resumed: boolean }>(link, 'reconnect', 3000)).resolves.toMatchObject({
      resumed: true,
    });
    await link.flush();
    expect(got).toEqual([...Array(200).keys()]);
  });

  it('gives up after maxAttempts: the link closes with E_CONNECTION and fails what was not acknowledged', async () => {
    const server = await listen(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      { self: node('server'), registry, onLink: () => {} },
    );
    cleanups.push(() => server.close());
    const p = await proxy((server.address() as { port: number }).port);
    const link = await connect(
      { kind: 'tcp', host: '127.0.0.1', port: p.port },
      { self: node('client'), registry, reconnect: { initialMs: 10, maxMs: 20, maxAttempts: 3 } },
    );
    // (events.once would reject on the 'error' that precedes a failed close; a listener sees the reason.)
    const closed = new Promise((resolve) => link.once('close', resolve));
    p.close(); // the proxy is gone for good: every reconnect is refused
    const pending = link.send(FileChunk, message(1), { delivery: 'acked' }).then(
      () => 'acked',
      (e: unknown) => e,
    );
    await expect(closed).resolves.toMatchObject({ code: 'E_CONNECTION' });
    await expect(pending).resolves.toMatchObject({ code: 'E_CONNECTION', details: { delivery: 'unknown' } });
    await expect(link.send(FileChunk, message(2))).rejects.toMatchObject({ code: 'E_CLOSED' });
  });

  it('gives up after maxAttempts: a request whose frame was never acknowledged fails with delivery unknown', async () => {
    const server = await listen(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      {
        self: node('server'),
        registry,
        onLink: (l) => l.onRequest((m) => ({ type: FileChunk, value: m.value })),
      },
    );
    cleanups.push(() => server.close());
    const p = await proxy((server.address() as { port: number }).port);
    const link = await connect(
      { kind: 'tcp', host: '127.0.0.1', port: p.port },
      { self: node('client'), registry, reconnect: { initialMs: 10, maxMs: 20, maxAttempts: 3 } },
    );
    await expect(link.request(FileChunk, message(0))).resolves.toMatchObject({
      value: { path: message(0).path },
    });
    await link.flush(); // the first request is acknowledged: only the second one is left to fail
    const closed = new Promise((resolve) => link.once('close', resolve));
    p.close();
    const pending = link.request(FileChunk, message(1)).then(
      () => 'answered',
      (e: unknown) => e,
    );
    await expect(closed).resolves.toMatchObject({ code: 'E_CONNECTION' });
    await expect(pending).resolves.toMatchObject({
      code: 'E_CONNECTION',
      details: { delivery: 'unknown', count: 1, messages: [{ type: FileChunk.name }] },
    });
  });

  it('requests waiting for queue space time out or abort there; one still waiting leaves once space frees', async () => {
    const server = await listen(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      {
        self: node('server'),
        registry,
        heartbeatMs: 50,
        deadAfterMs: 300,
        onLink: (l) => l.onRequest((m) => ({ type: FileChunk, value: m.value })),
      },
    );
    cleanups.push(() => server.close());
    const p = await proxy((server.address() as { port: number }).port);
    cleanups.push(() => p.close());
    const link = await connect(
      { kind: 'tcp', host: '127.0.0.1', port: p.port },
      {
        self: node('client'),
        registry,
        heartbeatMs: 50,
        deadAfterMs: 300,
        reconnect: { initialMs: 10, maxMs: 50 },
        sendQueue: { maxMessages: 2 },
      },
    );
    cleanups.push(() => link.close());
    await link.request(FileChunk, message(0));
    await link.flush();
    p.blackhole(); // nothing is acknowledged until the link reconnects: two requests fill the queue
    const sent = [link.request(FileChunk, message(1)), link.request(FileChunk, message(2))];
    expect(link.trySend(FileChunk, message(9))).toBe(false); // full: the next requests wait for space
    const timedOut = link.request(FileChunk, message(3), { timeoutMs: 50 });
    const ac = new AbortController();
    const aborted = link.request(FileChunk, message(4), { signal: ac.signal });
    const queued = link.request(FileChunk, message(5));
    await expect(timedOut).rejects.toMatchObject({ code: 'E_TIMEOUT' });
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'E_ABORTED' });
    const answers = await Promise.all([...sent, queued]);
    expect(answers.map((m) => (m.value as { path: string }).path)).toEqual(
      [1, 2, 5].map((i) => message(i).path),
    );
  });

  it('a corrupted byte on the wire: the receiver refuses the frame, the link reconnects and resumes, exactly once', async () => {
    const got: number[] = [];
    const errors: string[] = [];
    const server = await listen(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      {
        self: node('server'),
        registry,
        onLink: (l) => {
          l.on('message', (m) => {
            const v = m.value as ReturnType<typeof message>;
            expect(sha(v.data)).toBe(v.path);
            got.push(v.sequence);
          });
          l.on('disconnect', (e: { code: string }) => errors.push(e.code));
        },
      },
    );
    cleanups.push(() => server.close());
    const p = await proxy((server.address() as { port: number }).port, 50_000);
    cleanups.push(() => p.close());
    const link = await connect(
      { kind: 'tcp', host: '127.0.0.1', port: p.port },
      // No heartbeats, so the byte layout (and the corrupted byte: inside a payload) is the same every run.
      {
        self: node('client'),
        registry,
        wires: ['rust'],
        heartbeatMs: 0,
        reconnect: { initialMs: 10, maxMs: 50 },
      },
    );
    cleanups.push(() => link.close());
    const reconnected = nextEvent<{ resumed: boolean }>(link, 'reconnect', 10_000);
    for (let i = 0; i < 3000; i++) await link.send(FileChunk, message(i));
    await link.flush();
    await expect(reconnected).resolves.toMatchObject({ resumed: true });
    expect(errors).toEqual(['E_CHECKSUM']);
    expect(got).toEqual([...Array(3000).keys()]);
  });
});
