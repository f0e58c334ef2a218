// Access control checks that need a second uid or the whole facade (RELIABILITY.md, "Security", lists
// every requirement with the test that proves it, here or in the packages' own tests).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defineMessage, t } from '../../packages/core/src/index.js';
import { createNode, type TmeshNode } from '../../packages/manager/src/index.js';
import { isAvailable, platformSuffix, ShmChannel } from '../../packages/shm-native/src/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const shm = isAvailable();
if (!isRoot && !process.env.CI)
  console.warn('other-uid checks skipped: spawning a process as nobody needs root');
if (!shm.available && !process.env.CI) console.warn(`shm checks skipped: ${shm.reason}`);
// In CI (root, addon built) nothing here may skip.
if (process.env.CI && (!isRoot || !shm.available))
  throw new Error('CI runs the security checks as root with shm');

const Note = defineMessage('tmesh.reliability.Note', 221, t.struct('Note', { text: t.string() }));

/**
 * Run the ES module `code` in a new Node process as uid/gid nobody; returns its stdout. It imports nothing
 * from the repository (whose clone nobody may not be able to read), only node: modules and files the
 * test copies to a world-readable temporary directory.
 */
function asNobody(code: string): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    uid: NOBODY,
    gid: NOBODY,
    cwd: '/',
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`child as nobody failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

const dirs: string[] = [];
const nodes: TmeshNode[] = [];
afterAll(async () => {
  await Promise.allSettled(nodes.map((n) => n.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.runIf(shm.available)('shared-memory regions', () => {
  it('a region and its doorbells are mode 0600 and owned by the creating uid', () => {
    const ch = ShmChannel.create(`sec${process.pid % 100000}m`, { capacity: 1 << 16 });
    try {
      const files = readdirSync('/dev/shm').filter(
        (f) => f === `tmesh-${ch.name}` || f.startsWith(`tmesh-${ch.name}.`),
      );
      expect(files).toContain(`tmesh-${ch.name}`);
      for (const f of files) {
        const st = statSync(join('/dev/shm', f));
        expect((st.mode & 0o777).toString(8), f).toBe('600');
        expect(st.uid, f).toBe(process.getuid?.());
      }
    } finally {
      ch.close();
    }
  });

  it.runIf(isRoot)(
    'a process of another uid cannot open a region, even with its token (E_SHM_PERMISSION)',
    () => {
      const ch = ShmChannel.create(`sec${process.pid % 100000}u`, { capacity: 1 << 16 });
      // The same addon binary, copied where nobody can read it; its errors start with the tmesh code.
      const dir = mkdtempSync(join(tmpdir(), 'tmesh-sec-addon-'));
      dirs.push(dir);
      chmodSync(dir, 0o755);
      const addon = join(dir, 'tmesh-shm.node');
      copyFileSync(
        join(ROOT, 'packages', 'shm-native', 'native', `tmesh-shm.${platformSuffix()}.node`),
        addon,
      );
      chmodSync(addon, 0o644);
      try {
        const out = asNobody(`
        import { createRequire } from 'node:module';
        const raw = createRequire(import.meta.url)(${JSON.stringify(addon)});
        const tries = {};
        for (const [what, f] of [
          ['open with the token', () => raw.openChannel(${JSON.stringify(ch.name)}, { token: ${JSON.stringify(ch.token)} })],
          ['open without a token', () => raw.openChannel(${JSON.stringify(ch.name)}, {})],
          ['create over it', () => raw.createChannel(${JSON.stringify(ch.name)}, {})],
        ]) {
          try { f(); tries[what] = 'ATTACHED'; } catch (e) { tries[what] = (/^E_[A-Z_]+/.exec(e.message) ?? [e.message])[0]; }
        }
        console.log(JSON.stringify(tries));`);
        const tries = JSON.parse(out) as Record<string, string>;
        expect(tries['open with the token']).toBe('E_SHM_PERMISSION');
        expect(tries['open without a token']).toBe('E_SHM_PERMISSION');
        expect(tries['create over it']).toMatch(/^E_SHM_(EXISTS|PERMISSION)$/);
        // Our end is untouched: the region still works for its owner.
        const other = ShmChannel.open(ch.name, { token: ch.token });
        other.trySend(Buffer.from('still mine'), { type: 1 });
        other.close();
      } finally {
        ch.close();
      }
    },
  );
});

describe('runtime directory and Unix socket of a node', () => {
  it.runIf(isRoot)(
    'are private: 0700 / 0600, and another uid can neither connect nor read the records',
    async () => {
      const base = mkdtempSync(join(tmpdir(), 'tmesh-sec-'));
      dirs.push(base);
      const runtimeDir = join(base, 'run');
      const node = await createNode({
        id: 'sec-private',
        types: [Note],
        discovery: { runtimeDir },
        transport: { tcp: false, shm: false },
      });
      nodes.push(node);
      expect((statSync(runtimeDir).mode & 0o777).toString(8)).toBe('700');
      const sock = join(runtimeDir, 'sec-private.sock');
      const record = join(runtimeDir, 'sec-private.json');
      expect((statSync(record).mode & 0o777).toString(8)).toBe('600');
      // The directory is searchable by nobody else: make the parent open so only the runtime dir guards.
      spawnSync('chmod', ['0755', base]);
      const out = asNobody(`
      import net from 'node:net';
      import { readFileSync } from 'node:fs';
      const result = {};
      try { readFileSync(${JSON.stringify(record)}); result.read = 'READ'; } catch (e) { result.read = e.code; }
      result.connect = await new Promise((resolve) => {
        const s = net.connect({ path: ${JSON.stringify(sock)} });
        s.once('connect', () => { s.destroy(); resolve('CONNECTED'); });
        s.once('error', (e) => resolve(e.code));
      });
      console.log(JSON.stringify(result));`);
      expect(JSON.parse(out)).toEqual({ read: 'EACCES', connect: 'EACCES' });
    },
  );
});

describe('through the facade: a peer without the right secret delivers nothing', () => {
  async function pair(
    receiverTransport: Parameters<typeof createNode>[0]['transport'],
    senderTransport: Parameters<typeof createNode>[0]['transport'],
  ) {
    const runtimeDir = mkdtempSync(join(tmpdir(), 'tmesh-sec-'));
    dirs.push(runtimeDir);
    const tag = randomBytes(3).toString('hex');
    const seen: string[] = [];
    const rx = await createNode({
      id: `rx-${tag}`,
      types: [Note],
      discovery: { runtimeDir },
      transport: receiverTransport,
    });
    nodes.push(rx);
    rx.on(Note, (m) => {
      seen.push(m.value.text);
    });
    const tx = await createNode({
      id: `tx-${tag}`,
      types: [Note],
      discovery: { runtimeDir },
      transport: { unix: false, tcp: false, shm: false, ...senderTransport },
    });
    nodes.push(tx);
    for (let i = 0; i < 200 && !tx.peers().some((p) => p.info.id === rx.info.id); i++)
      await new Promise((r) => setTimeout(r, 20));
    return { rx, tx, seen, tag };
  }

  it('a node with the wrong shared token: send fails with E_AUTH, nothing arrives', async () => {
    const { rx, tx, seen } = await pair(
      { tcp: false, shm: false, auth: { token: 'right-token' } },
      { auth: { token: 'wrong-token' } },
    );
    await expect(tx.send(rx.info.id, Note, { text: 'let me in' })).rejects.toMatchObject({
      code: expect.stringMatching(/^E_(AUTH|NO_ROUTE)$/),
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
  });

  it('per-node keys over a Unix socket: the registered node gets through, another id with its own key does not', async () => {
    const keyA = randomBytes(32);
    const runtimeDir = mkdtempSync(join(tmpdir(), 'tmesh-sec-'));
    dirs.push(runtimeDir);
    const tag = randomBytes(3).toString('hex');
    const seen: string[] = [];
    const rx = await createNode({
      id: `rx-${tag}`,
      types: [Note],
      discovery: { runtimeDir },
      transport: { tcp: false, shm: false, auth: { keys: { [`a-${tag}`]: keyA } } },
    });
    nodes.push(rx);
    rx.on(Note, (m) => {
      seen.push(`${m.from}: ${m.value.text}`);
    });
    const sender = async (id: string, key: Buffer) => {
      const n = await createNode({
        id,
        types: [Note],
        discovery: { runtimeDir },
        transport: { unix: false, tcp: false, shm: false, auth: { key } },
      });
      nodes.push(n);
      for (let i = 0; i < 200 && !n.peers().some((p) => p.info.id === rx.info.id); i++)
        await new Promise((r) => setTimeout(r, 20));
      return n;
    };
    const a = await sender(`a-${tag}`, keyA);
    await a.send(rx.info.id, Note, { text: 'hello' });
    const b = await sender(`b-${tag}`, randomBytes(32));
    await expect(b.send(rx.info.id, Note, { text: 'let me in' })).rejects.toMatchObject({
      code: expect.stringMatching(/^E_(AUTH|NO_ROUTE)$/),
    });
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([`a-${tag}: hello`]);
  });

  it('TLS 1.3 PSK: the node whose key is registered gets through; a node with no key there delivers nothing', async () => {
    const good = randomBytes(32);
    const runtimeDir = mkdtempSync(join(tmpdir(), 'tmesh-sec-'));
    dirs.push(runtimeDir);
    const tag = randomBytes(3).toString('hex');
    const seen: string[] = [];
    const rx = await createNode({
      id: `rx-${tag}`,
      types: [Note],
      discovery: { runtimeDir },
      transport: { unix: false, shm: false, tls: { psk: { keys: { [`ok-${tag}`]: good } } } },
    });
    nodes.push(rx);
    rx.on(Note, (m) => {
      seen.push(`${m.from}: ${m.value.text}`);
    });
    const sender = async (id: string, key: Buffer) => {
      const n = await createNode({
        id,
        types: [Note],
        discovery: { runtimeDir },
        transport: { unix: false, tcp: false, shm: false, tls: { psk: { key } } },
      });
      nodes.push(n);
      for (let i = 0; i < 200 && !n.peers().some((p) => p.info.id === rx.info.id); i++)
        await new Promise((r) => setTimeout(r, 20));
      return n;
    };
    const ok = await sender(`ok-${tag}`, good);
    await ok.send(rx.info.id, Note, { text: 'hello' });
    const wrongKey = await sender(`ok2-${tag}`, randomBytes(32));
    await expect(wrongKey.send(rx.info.id, Note, { text: 'wrong key' })).rejects.toMatchObject({
      code: expect.stringMatching(/^E_(AUTH|NO_ROUTE|CONNECTION)$/),
    });
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([`ok-${tag}: hello`]);
  });
});
