import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../bin/tmesh.mjs');
const proto = join(here, 'fixtures/chunk.proto');

function tmesh(args: string[], input?: string | Buffer, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    input,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, out: r.stdout.toString(), err: r.stderr.toString() };
}

type DoctorRow = { check: string; status: string; detail: string };

const message = {
  path: 'dir/naïve.txt',
  offset: '18446744073709551615',
  data: 'AQID',
  sizes: [1, 70000],
  note: '',
};

describe('tmesh frame encode|decode', () => {
  it.each(['rust', 'swift', 'universal'])('round-trips JSON through a %s frame (hex)', (wire) => {
    const enc = tmesh(
      ['frame', 'encode', '--wire', wire, '--proto', proto, '--type', 'Chunk', '--seq', '7'],
      JSON.stringify(message),
    );
    expect(enc.err).toBe('');
    expect(enc.code).toBe(0);
    expect(enc.out).toMatch(/^[0-9a-f]+\n$/);
    const dec = tmesh(['frame', 'decode', '--wire', wire, '--proto', proto, '--type', 'Chunk'], enc.out);
    expect(dec.code).toBe(0);
    const parsed = JSON.parse(dec.out);
    expect(parsed.type).toBe('demo.Chunk');
    expect(parsed.header.sequence).toBe(7);
    expect(parsed.message).toEqual(message);
  });

  it('writes the exact RUST frame header and raw bytes with --format raw', () => {
    const enc = tmesh(
      [
        'frame',
        'encode',
        '--wire',
        'rust',
        '--proto',
        proto,
        '--type',
        'Chunk',
        '--id',
        '9',
        '--format',
        'raw',
      ],
      JSON.stringify(message),
    );
    expect(enc.code).toBe(0);
    const frame = enc.stdout;
    expect(frame.subarray(0, 4).toString('latin1')).toBe('TSUR'); // 0x52555354 little-endian
    expect(frame[4]).toBe(1);
    expect(frame[5]).toBe(9);
    expect(frame.readUInt32LE(8)).toBe(frame.length - 32);
    const dec = tmesh(
      [
        'frame',
        'decode',
        '--wire',
        'rust',
        '--proto',
        proto,
        '--type',
        'Chunk',
        '--id',
        '9',
        '--format',
        'raw',
      ],
      frame,
    );
    expect(JSON.parse(dec.out).message.offset).toBe('18446744073709551615');
  });

  it.each([
    [
      ['frame', 'encode', '--wire', 'tcp', '--proto', proto, '--type', 'Chunk'],
      '{}',
      /Allowed choices are rust, swift, universal/,
    ],
    [['frame', 'encode', '--wire', 'rust', '--type', 'Chunk'], '{}', /--proto <file>' not specified/],
    [
      ['frame', 'encode', '--wire', 'rust', '--proto', proto, '--type', 'Chunk', '--id', '240'],
      '{}',
      /--id must be an integer in 1..239/,
    ],
    [
      ['frame', 'encode', '--wire', 'rust', '--proto', proto, '--type', 'Chunk'],
      'not json',
      /E_INVALID_ARGUMENT: standard input is not valid JSON/,
    ],
    [
      ['frame', 'encode', '--wire', 'rust', '--proto', proto, '--type', 'Chunk'],
      '{"path":1}',
      /E_ENCODE_INVALID_VALUE: \$\.path: expected a string/,
    ],
    [
      ['frame', 'encode', '--wire', 'rust', '--proto', proto, '--type', 'Nope'],
      '{}',
      /E_SCHEMA_UNKNOWN_TYPE/,
    ],
    [
      ['frame', 'encode', '--wire', 'rust', '--proto', '/nonexistent.proto', '--type', 'Chunk'],
      '{}',
      /E_CONFIG: cannot read/,
    ],
    [['frame', 'decode', '--wire', 'rust', '--proto', proto, '--type', 'Chunk'], 'zz', /not hex text/],
    [['no-such-command'], '', /unknown command/],
  ])('exits 2 with a clear message: %j', (args, input, pattern) => {
    const r = tmesh(args as string[], input as string);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(pattern as RegExp);
  });

  it('exits 1 on a corrupt frame with its error code', () => {
    const enc = tmesh(
      ['frame', 'encode', '--wire', 'swift', '--proto', proto, '--type', 'Chunk'],
      JSON.stringify(message),
    );
    const corrupt = `${enc.out.trim().slice(0, -2)}00`;
    const r = tmesh(['frame', 'decode', '--wire', 'swift', '--proto', proto, '--type', 'Chunk'], corrupt);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/E_CHECKSUM/);
  });
});

describe('tmesh peers and doctor', () => {
  it('peers lists live nodes of a runtime directory as a table and as JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-cli-peers-'));
    const info = {
      id: 'alpha',
      machineId: 'm-1234567890abcdef',
      language: 'rust',
      endpoints: [{ kind: 'tcp', host: '127.0.0.1', port: 7000 }],
      wires: ['rust', 'universal'],
      protocolVersions: [1],
    };
    writeFileSync(
      join(dir, 'alpha.json'),
      JSON.stringify({ info, pid: process.pid, announcedAt: Date.now() }),
    );
    writeFileSync(
      join(dir, 'dead.json'),
      JSON.stringify({ info: { ...info, id: 'dead' }, pid: 2 ** 22 + 1, announcedAt: 0 }),
    );
    const table = tmesh(['peers', '--runtime-dir', dir, '--wait', '0']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^id\s+language\s+machine/);
    expect(table.out).toMatch(
      /alpha\s+rust\s+m-1234567890\s+rust,universal\s+tcp:127\.0\.0\.1:7000\s+runtime-dir/,
    );
    expect(table.out).toContain('1 node(s)');
    const json = JSON.parse(tmesh(['peers', '--runtime-dir', dir, '--wait', '0', '--json']).out);
    expect(json).toEqual([{ info, source: 'runtime-dir', pid: process.pid }]);
  });

  it('peers refuses a bad config file with exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-cli-cfg-'));
    writeFileSync(
      join(dir, 'peers.json'),
      JSON.stringify({ peers: [{ id: 'x', language: 'rust', endpoints: [{ kind: 'carrier-pigeon' }] }] }),
    );
    const r = tmesh(['peers', '--runtime-dir', dir, '--config', join(dir, 'peers.json'), '--wait', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_CONFIG: .*peers\[0\]: peer x: endpoint .* has no valid "kind"/);
  });

  it('doctor prints a table and JSON with a status per check', () => {
    const r = tmesh(['doctor', '--json']);
    const checks = JSON.parse(r.out) as { check: string; status: string; detail: string }[];
    expect(checks.map((c) => c.check)).toEqual(
      expect.arrayContaining(['node', 'crc32', 'machine id', '/dev/shm', 'compression']),
    );
    for (const c of checks) expect(['ok', 'warn', 'fail']).toContain(c.status);
    expect(r.code).toBe(checks.some((c) => c.status === 'fail') ? 1 : 0);
    expect(tmesh(['doctor']).out).toMatch(/^check\s+status\s+detail\n/);
  });

  it('doctor finds a stale region left by a killed process and --clean removes it', async () => {
    const name = `stale${process.pid}`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import { ShmChannel } from '@tmesh/shm-native'; ShmChannel.create('${name}', { capacity: 65536 }); console.log('ready'); setInterval(() => {}, 1000);`,
      ],
      { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((r) => child.stdout!.once('data', r));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const regions = () =>
      (JSON.parse(tmesh(['doctor', '--json']).out) as { check: string; detail: string }[]).find(
        (c) => c.check === 'shm regions',
      )!;
    await new Promise((r) => setTimeout(r, 300));
    expect(regions().detail).toMatch(new RegExp(`${name} \\(stale\\)`));
    const cleaned = JSON.parse(tmesh(['doctor', '--json', '--clean']).out) as {
      check: string;
      detail: string;
    }[];
    expect(cleaned.find((c) => c.check === 'shm cleanup')!.detail).toContain(name);
    expect(existsSync(`/dev/shm/tmesh-${name}`)).toBe(false);
  });

  it('doctor finds the socket file of a SIGKILLed node and --clean removes only that one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-cli-sock-'));
    const startNode = (id: string) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(here, '../fixtures/peer-node.ts'), id, dir],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      return new Promise<ChildProcess>((resolve) => child.stdout!.once('data', () => resolve(child)));
    };
    const [dead, live] = await Promise.all([startNode('sock-dead'), startNode('sock-live')]);
    try {
      const exited = new Promise((r) => dead.once('exit', r));
      dead.kill('SIGKILL');
      await exited;
      // Not ours to judge: a regular file with a socket's name.
      writeFileSync(join(dir, 'plain.sock'), '');
      expect(existsSync(join(dir, 'sock-dead.sock'))).toBe(true);
      const sockets = (args: string[]) =>
        (JSON.parse(tmesh(['doctor', '--json', '--runtime-dir', dir, ...args]).out) as DoctorRow[]).filter(
          (c) => c.check === 'unix sockets' || c.check === 'socket cleanup',
        );
      const [report] = sockets([]);
      expect(report).toEqual({
        check: 'unix sockets',
        status: 'warn',
        detail: `2 node socket file(s) in ${dir}, 1 stale: sock-dead.sock (no process listens; run with --clean)`,
      });
      expect(sockets(['--clean'])).toEqual([
        {
          check: 'unix sockets',
          status: 'ok',
          detail: `2 node socket file(s) in ${dir}, 1 stale: sock-dead.sock`,
        },
        { check: 'socket cleanup', status: 'ok', detail: 'removed sock-dead.sock' },
      ]);
      expect(existsSync(join(dir, 'sock-dead.sock'))).toBe(false);
      expect(existsSync(join(dir, 'sock-live.sock'))).toBe(true);
      expect(existsSync(join(dir, 'plain.sock'))).toBe(true);
      expect(sockets([])[0]).toMatchObject({
        status: 'ok',
        detail: `1 node socket file(s) in ${dir}, 0 stale`,
      });
    } finally {
      live.kill('SIGKILL');
      dead.kill('SIGKILL');
    }
  });

  it('doctor reports an unreachable etcd as a failure (exit 1)', () => {
    const r = tmesh(['doctor', '--json', '--etcd', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    const etcd = (JSON.parse(r.out) as { check: string; status: string }[]).find((c) =>
      c.check.startsWith('etcd'),
    );
    expect(etcd?.status).toBe('fail');
  });
});
