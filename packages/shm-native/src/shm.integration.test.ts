import { type ChildProcess, execSync, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isTmeshError } from '@tmesh/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkMessage, makeMessage, nextSize, Xorshift } from './fixtures/workload.js';
import { cleanupStaleRegions, isAvailable, listRegions, platformSuffix, ShmChannel } from './index.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, '..');
const repoRoot = join(pkgDir, '..', '..');
const peerScript = join(here, 'fixtures', 'peer.ts');

beforeAll(() => {
  if (!existsSync(join(pkgDir, 'native', `tmesh-shm.${platformSuffix()}.node`))) {
    execSync(
      'npx napi build --platform --release --manifest-path crates/node/Cargo.toml --package-json-path package.json --output-dir native --no-js --dts index.d.ts',
      { cwd: pkgDir, stdio: 'inherit', timeout: 900_000 },
    );
  }
  expect(isAvailable()).toEqual({ available: true });
}, 900_000);

let n = 0;
const uniqueName = (tag: string) => `it${process.pid % 100000}-${tag}${n++}`;
const children: ChildProcess[] = [];
const channels: ShmChannel[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of channels.splice(0)) c.close();
});

interface Peer {
  proc: ChildProcess;
  next(): Promise<Record<string, unknown>>;
}

/** Start fixtures/peer.ts in a new Node process and read its JSON lines. */
function startPeer(args: string[], env: Record<string, string> = {}): Peer {
  // The peer opens the channel named in args[1]: hand it that channel's token (open requires it).
  const token = channels.find((c) => c.name === args[1])?.token ?? '';
  const proc = spawn(process.execPath, ['--import', 'tsx', peerScript, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TMESH_SHM_TOKEN: token, ...env },
  });
  children.push(proc);
  const lines: Record<string, unknown>[] = [];
  const waiting: ((v: Record<string, unknown>) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    const v = JSON.parse(l) as Record<string, unknown>;
    const w = waiting.shift();
    if (w) w(v);
    else lines.push(v);
  });
  proc.on('exit', (code) => {
    for (const w of waiting.splice(0)) w({ exited: code });
  });
  return {
    proc,
    next: () => {
      const v = lines.shift();
      if (v) return Promise.resolve(v);
      if (proc.exitCode !== null) return Promise.resolve({ exited: proc.exitCode });
      return new Promise((resolve) => waiting.push(resolve));
    },
  };
}

function create(tag: string, capacity: number): ShmChannel {
  const ch = ShmChannel.create(uniqueName(tag), { capacity, idle: 'park' });
  channels.push(ch);
  return ch;
}

/** tryRecvInto, polling until a message is there (bounded: 30 s). */
async function tryInto(ch: ShmChannel, buf: Uint8Array) {
  const until = performance.now() + 30_000;
  for (;;) {
    const m = ch.tryRecvInto(buf);
    if (m) return m;
    if (performance.now() > until) throw new Error('nothing arrived in 30 s');
    await new Promise((res) => setImmediate(res));
  }
}

function leftovers(name: string): string[] {
  return readdirSync('/dev/shm').filter((f) => f.startsWith(`tmesh-${name}`));
}

describe('two Node processes over shared memory', () => {
  it('delivers 1M messages of random sizes (0 B to 256 KiB) in order with checksums', async () => {
    const ch = create('million', 4 << 20);
    const count = 1_000_000;
    const peer = startPeer(['produce', ch.name, String(count), '99']);
    expect(await peer.next()).toEqual({ ready: true });
    const r = new Xorshift(99);
    let seq = 0;
    let bytes = 0;
    while (seq < count) {
      for (const m of await ch.recvBatch({ timeout: 30_000 })) {
        const err = checkMessage(seq, nextSize(r), m.data);
        if (err) throw new Error(err);
        expect(m.sequence).toBe(seq);
        bytes += m.data.length;
        seq++;
      }
    }
    expect(await peer.next()).toEqual({ done: count });
    expect(seq).toBe(count);
    // Nothing duplicated: after the last message the ring is empty and the producer has closed.
    expect(() => ch.tryRecv()).toThrow(/E_CLOSED/);
    expect(bytes).toBeGreaterThan(count * 100);
  }, 120_000);

  it('carries a 64 MiB message through a 1 MiB ring', async () => {
    const ch = create('big', 1 << 20);
    const size = 64 << 20;
    const peer = startPeer(['big', ch.name, String(size)]);
    expect(await peer.next()).toEqual({ ready: true });
    const m = await ch.recv({ timeout: 60_000 });
    expect(m.type).toBe(2);
    expect(checkMessage(7, size, m.data)).toBe('');
    expect(await peer.next()).toEqual({ done: size });
  }, 90_000);

  it('receives into a reused buffer: whole records and reassembled fragments land in it, larger ones come fresh', async () => {
    // 128 KiB ring: messages above ~64 KiB are fragmented. The 96 KiB buffer takes records and the
    // smaller fragmented messages; those above 96 KiB arrive in new Buffers, nothing lost or torn.
    const ch = create('into', 128 << 10);
    const count = 20_000;
    const peer = startPeer(['produce', ch.name, String(count), '42']);
    expect(await peer.next()).toEqual({ ready: true });
    const buf = Buffer.alloc(96 << 10);
    const maxFragment = (64 << 10) - 32;
    const r = new Xorshift(42);
    const seen = { record: 0, fragmentedInto: 0, fresh: 0 };
    for (let seq = 0; seq < count; seq++) {
      const size = nextSize(r);
      const m = seq % 2 === 0 ? await ch.recvInto(buf, { timeout: 30_000 }) : tryInto(ch, buf);
      const err = checkMessage(seq, size, (await m).data);
      if (err) throw new Error(err);
      const { data, sequence, type } = await m;
      expect(sequence).toBe(seq);
      expect(type).toBe(1);
      if (size <= buf.length) {
        expect(data.buffer, `message ${seq} of ${size} bytes`).toBe(buf.buffer);
        expect(data.byteOffset).toBe(buf.byteOffset);
        if (size > maxFragment) seen.fragmentedInto++;
        else seen.record++;
      } else {
        expect(data.buffer).not.toBe(buf.buffer);
        seen.fresh++;
      }
    }
    expect(await peer.next()).toEqual({ done: count });
    expect(seen.record).toBeGreaterThan(count / 2);
    expect(seen.fragmentedInto).toBeGreaterThan(0);
    expect(seen.fresh).toBeGreaterThan(0);
  }, 120_000);

  it('keeps a fast producer within 2x the ring size of RSS growth when the consumer is slow', async () => {
    const capacity = 16 << 20;
    const ch = create('slow', capacity);
    const count = 2000;
    const size = 64 << 10; // 125 MiB in total, 8x the ring
    const peer = startPeer(['flood', ch.name, String(count), String(size)]);
    expect(await peer.next()).toEqual({ ready: true });
    let got = 0;
    while (got < count) {
      const m = await ch.recv({ timeout: 30_000 });
      expect(m.data.length).toBe(size);
      got++;
      if (got % 4 === 0) await new Promise((res) => setTimeout(res, 1)); // slower than the producer: the ring stays full
    }
    const done = await peer.next();
    expect(done.done).toBe(count);
    expect(done.growth as number, `RSS growth ${done.growth} bytes`).toBeLessThan(2 * capacity);
  }, 90_000);

  it('messages() lets timers run while a faster producer keeps the ring full', async () => {
    const ch = create('starve', 64 << 10);
    const count = 100_000;
    const peer = startPeer(['flood', ch.name, String(count), '64']);
    expect(await peer.next()).toEqual({ ready: true });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = performance.now();
    let received = 0;
    let sink = 0;
    try {
      for await (const m of ch.messages()) {
        // ~5 us of work per message: the consumer is slower than the producer, the ring stays full.
        const until = performance.now() + 0.005;
        while (performance.now() < until) sink += m.data[0]!;
        if (++received === count) break;
      }
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - started;
    expect(sink).toBeGreaterThan(0);
    expect(received).toBe(count);
    // A 10 ms interval had elapsed/10 chances; a starved loop (no yield) gets next to none of them.
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(elapsed / 10 / 4));
  });

  it('kill -9 of the producer: the consumer gets E_PEER_GONE within 1 s, nothing torn, no region left', async () => {
    const ch = create('killp', 1 << 20);
    const peer = startPeer(['produce', ch.name, '0', '5']);
    expect(await peer.next()).toEqual({ ready: true });
    const r = new Xorshift(5);
    let seq = 0;
    while (seq < 20_000) {
      for (const m of await ch.recvBatch({ timeout: 30_000 })) {
        expect(checkMessage(seq, nextSize(r), m.data)).toBe('');
        seq++;
      }
    }
    peer.proc.kill('SIGKILL');
    const killedAt = performance.now();
    let err: unknown;
    try {
      for (;;) {
        for (const m of await ch.recvBatch({ timeout: 5_000 })) {
          expect(checkMessage(seq, nextSize(r), m.data)).toBe('');
          seq++;
        }
      }
    } catch (e) {
      err = e;
    }
    const elapsed = performance.now() - killedAt;
    expect(isTmeshError(err, 'E_PEER_GONE')).toBe(true);
    expect(elapsed).toBeLessThan(1000);
    ch.close();
    expect(leftovers(ch.name)).toEqual([]);
  }, 60_000);

  it('kill -9 of the consumer: the blocked producer gets E_PEER_GONE within 1 s, no region left', async () => {
    const ch = create('killc', 1 << 20);
    const peer = startPeer(['consume', ch.name, '0', '6']);
    expect(await peer.next()).toEqual({ ready: true });
    const r = new Xorshift(6);
    for (let i = 0; i < 5000; i++) await ch.send(makeMessage(i, nextSize(r)));
    peer.proc.kill('SIGKILL');
    const killedAt = performance.now();
    let err: unknown;
    try {
      for (let i = 5000; ; i++) await ch.send(makeMessage(i, nextSize(r)), { timeout: 5_000 });
    } catch (e) {
      err = e;
    }
    expect(isTmeshError(err, 'E_PEER_GONE')).toBe(true);
    expect(performance.now() - killedAt).toBeLessThan(1000);
    ch.close();
    expect(leftovers(ch.name)).toEqual([]);
  }, 60_000);

  it('a peer that exits without close() is seen as closed (E_CLOSED), and the region goes', async () => {
    const ch = create('exit', 1 << 16);
    const peer = startPeer(['exit', ch.name]);
    expect(await peer.next()).toEqual({ ready: true });
    expect((await ch.recv({ timeout: 10_000 })).data.toString()).toBe('bye');
    await expect(ch.recv({ timeout: 10_000 })).rejects.toMatchObject({ code: 'E_CLOSED' });
    ch.close();
    expect(leftovers(ch.name)).toEqual([]);
  }, 30_000);

  it('a process whose receive parked exits on its own afterwards: no doorbell or timer keeps it alive', async () => {
    const ch = create('linger', 1 << 16);
    const peer = startPeer(['linger', ch.name]);
    expect(await peer.next()).toEqual({ ready: true });
    // Long enough for the peer's receive to park and its 100 ms liveness timer to tick.
    await new Promise((res) => setTimeout(res, 300));
    ch.trySend(Buffer.from('last'));
    expect(await peer.next()).toEqual({ got: 'last' });
    expect(await peer.next()).toEqual({ exited: 0 });
    await expect(ch.recv({ timeout: 5_000 })).rejects.toMatchObject({ code: 'E_CLOSED' });
  }, 30_000);

  for (const idle of ['spin', 'park', 'adaptive'] as const) {
    it(`round-trips with the '${idle}' idle strategy`, async () => {
      const ch = create(`echo${idle}`, 1 << 16);
      ch.idle = idle;
      const peer = startPeer(['echo', ch.name], { TMESH_IDLE: idle });
      expect(await peer.next()).toEqual({ ready: true });
      for (let i = 0; i < 300; i++) {
        const msg = makeMessage(i, i * 13);
        await ch.send(msg, { type: 5 });
        const back = await ch.recv({ timeout: 5_000 });
        expect(back.type).toBe(5);
        expect(back.data.equals(msg)).toBe(true);
      }
    }, 60_000);
  }
});

describe('a Rust end (tmesh-shm crate, blocking futex API) and a Node end', () => {
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(repoRoot, 'target');
  const echoBin = join(targetDir, 'release', 'examples', 'shm-echo');

  beforeAll(() => {
    execSync('cargo build --release -p tmesh-shm --example shm-echo', {
      cwd: repoRoot,
      stdio: 'inherit',
      timeout: 600_000,
    });
  }, 600_000);

  for (const idle of ['park', 'spin'] as const) {
    it(`echo through a Rust peer, Node side '${idle}', messages up to 3x the ring`, async () => {
      const ch = create(`rust${idle}`, 1 << 20);
      ch.idle = idle;
      const proc = spawn(echoBin, [ch.name, ch.token], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(proc);
      await new Promise<void>((resolve, reject) => {
        proc.stdout!.once('data', () => resolve());
        proc.once('exit', (c) => reject(new Error(`shm-echo exited with ${c}`)));
      });
      const r = new Xorshift(3);
      for (let i = 0; i < 2000; i++) {
        const size = i % 500 === 0 ? 3 << 20 : nextSize(r);
        const msg = makeMessage(i, size);
        await ch.send(msg, { type: i % 256, flags: i % 4096 });
        const back = await ch.recv({ timeout: 10_000 });
        expect(back.type).toBe(i % 256);
        expect(back.flags).toBe(i % 4096);
        expect(back.sequence).toBe(i);
        expect(checkMessage(i, size, back.data)).toBe('');
      }
      ch.close();
      const code = await new Promise((res) => proc.once('exit', res));
      expect(code).toBe(0); // the Rust end saw E_CLOSED and left cleanly
      expect(leftovers(ch.name)).toEqual([]);
    }, 60_000);
  }
});

describe('region safety', () => {
  it('refuses a region owned by another uid', () => {
    if (process.getuid?.() !== 0) {
      console.warn('skipped: changing the owner of a region needs root');
      return;
    }
    const ch = create('owner', 1 << 16);
    execSync(`chown 65534:65534 /dev/shm/tmesh-${ch.name}`);
    let err: unknown;
    try {
      ShmChannel.open(ch.name, { token: ch.token });
    } catch (e) {
      err = e;
    }
    expect(isTmeshError(err, 'E_SHM_OWNER')).toBe(true);
  });

  it('refuses bad names with E_SHM_NAME', () => {
    for (const bad of ['', 'a/b', '../etc', 'sp ace', 'x'.repeat(25), 'dot.ted', 'nul\0']) {
      for (const f of [() => ShmChannel.create(bad), () => ShmChannel.open(bad, { token: '0'.repeat(32) })]) {
        let err: unknown;
        try {
          f();
        } catch (e) {
          err = e;
        }
        expect(isTmeshError(err, 'E_SHM_NAME'), JSON.stringify(bad)).toBe(true);
      }
    }
  });

  it('refuses a wrong token and a third end', () => {
    const ch = create('token', 1 << 16);
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'no error';
    };
    expect(codeOf(() => ShmChannel.open(ch.name, { token: '0'.repeat(32) }))).toBe('E_SHM_TOKEN');
    // No token at all: refused too (the type says it is required; plain JS callers get the error).
    expect(codeOf(() => ShmChannel.open(ch.name, {} as { token: string }))).toBe('E_SHM_TOKEN');
    channels.push(ShmChannel.open(ch.name, { token: ch.token }));
    expect(codeOf(() => ShmChannel.open(ch.name, { token: ch.token }))).toBe('E_SHM_EXISTS');
    expect(codeOf(() => ShmChannel.create(ch.name))).toBe('E_SHM_EXISTS');
  });

  it('lists regions and cleans up one whose ends are dead', async () => {
    const ch = create('stale', 1 << 16);
    const peer = startPeer(['echo', ch.name]);
    expect(await peer.next()).toEqual({ ready: true });
    expect(listRegions().find((r) => r.name === ch.name)?.status).toBe('live');
    peer.proc.kill('SIGKILL');
    await new Promise((res) => peer.proc.once('exit', res));
    // Only the opener died: the region is still live (its creator is us).
    expect(cleanupStaleRegions()).not.toContain(ch.name);
    expect(ch.peerState()).toBe('gone');
  });

  it('receives into a Uint8Array view at an offset, an empty buffer, and refuses a non-byte buffer', async () => {
    const ch = create('intoview', 1 << 16);
    const other = ShmChannel.open(ch.name, { token: ch.token });
    channels.push(other);
    const ab = new ArrayBuffer(64);
    const view = new Uint8Array(ab, 8, 16);
    new Uint8Array(ab).fill(0xee);
    other.trySend(Buffer.from('0123456789'), { type: 9, flags: 3 });
    other.trySend(Buffer.alloc(0), { type: 1 });
    other.trySend(Buffer.from('not into an empty buffer'), { type: 2 });
    const a = await ch.recvInto(view);
    expect(a.data.buffer).toBe(ab);
    expect(a.data.byteOffset).toBe(8);
    expect(a.data.toString()).toBe('0123456789');
    expect([a.type, a.flags, a.sequence]).toEqual([9, 3, 0]);
    // Bytes outside the message's length stay untouched, before and after the view too.
    expect([...new Uint8Array(ab, 0, 8), ...new Uint8Array(ab, 18, 46)].every((b) => b === 0xee)).toBe(true);
    const empty = new Uint8Array(0);
    const b = ch.tryRecvInto(empty);
    expect(b?.data.length).toBe(0);
    expect(b?.type).toBe(1);
    const c = ch.tryRecvInto(empty);
    expect(c?.data.toString()).toBe('not into an empty buffer');
    expect(c?.data.buffer).not.toBe(empty.buffer);
    expect(ch.tryRecvInto(view)).toBeUndefined();
    // A receive that timed out or was aborted leaves no waiter behind that would write into its buffer.
    const stale = new Uint8Array(16);
    await expect(ch.recvInto(stale, { timeout: 50 })).rejects.toMatchObject({ code: 'E_TIMEOUT' });
    const ac = new AbortController();
    const aborted = ch.recvInto(stale, { signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'E_ABORTED' });
    other.trySend(Buffer.from('after'), { type: 4 });
    const d = await ch.recvInto(view);
    expect(d.data.toString()).toBe('after');
    expect(d.sequence).toBe(3);
    expect(stale.every((x) => x === 0)).toBe(true);
    expect(() => ch.tryRecvInto([] as unknown as Uint8Array)).toThrow(/E_INVALID_ARGUMENT/);
    await expect(ch.recvInto('x' as unknown as Uint8Array)).rejects.toMatchObject({
      code: 'E_INVALID_ARGUMENT',
    });
  });

  it('lends a message in place until it is released', async () => {
    const ch = create('lend', 1 << 16);
    const other = ShmChannel.open(ch.name, { token: ch.token });
    channels.push(other);
    other.trySend(Buffer.from('zero-copy'), { type: 3 });
    const lent = await ch.lend();
    expect(lent.data.toString()).toBe('zero-copy');
    expect(lent.type).toBe(3);
    lent.release();
    lent.release(); // idempotent
    expect(ch.tryLend()).toBeUndefined();
  });
});
