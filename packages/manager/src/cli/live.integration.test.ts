import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../bin/tmesh.mjs');

function tmesh(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { input, timeout: 120_000 });
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}

describe('tmesh node, send, request, ping, top', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tmesh-cli-live-'));
  const statsPort = 20_000 + (process.pid % 20_000);
  let server: ChildProcess;

  beforeAll(async () => {
    const config = join(dir, 'node.json');
    writeFileSync(
      config,
      JSON.stringify({ id: 'cli-sink', runtimeDir: dir, services: ['files'], statsPort }),
    );
    server = spawn(process.execPath, [bin, 'node', '--config', config], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      server.stdout!.once('data', (d: Buffer) => resolve(d.toString()));
      server.once('exit', (c) => reject(new Error(`node exited ${c}`)));
    });
    const ready = JSON.parse(line);
    expect(ready.ready).toBe('cli-sink');
    expect(ready.endpoints.map((e: { kind: string }) => e.kind)).toEqual(
      expect.arrayContaining(['unix', 'tcp']),
    );
  }, 60_000);

  afterAll(async () => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });

  it('node announces itself in the runtime directory', () => {
    expect(existsSync(join(dir, 'cli-sink.json'))).toBe(true);
  });

  it('send reports the route the selector chose', () => {
    const r = tmesh([
      'send',
      'cli-sink',
      '--runtime-dir',
      dir,
      '--json',
      '{"path":"a","offset":1,"sequence":1,"last":false,"data":"AAEC"}',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe('sent tmesh.FileChunk to cli-sink over shm/shm: same machine id -> shm\n');
  });

  it('request prints the reply as JSON, counting what send delivered', () => {
    const r = tmesh([
      'request',
      'cli-sink',
      '--runtime-dir',
      dir,
      '--json',
      '{"path":"report","offset":0,"sequence":0,"last":true,"data":""}',
    ]);
    expect(r.code).toBe(0);
    const reply = JSON.parse(r.out);
    expect(reply.from).toBe('cli-sink');
    expect(reply.type).toBe('tmesh.Metrics');
    expect(reply.via).toEqual({ route: 'shm', strategy: 'shm' });
    expect(reply.message.counters.count).toBeGreaterThanOrEqual(1);
    expect(reply.message.counters.bytes).toBeGreaterThanOrEqual(3);
  });

  it('ping measures every strategy that reaches the node; gRPC fails clearly (not offered)', () => {
    const r = tmesh(['ping', 'cli-sink', '--runtime-dir', dir, '--count', '5', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { strategy: string; route: string; samples: number; error?: string }[];
    expect(rows.map((x) => x.strategy)).toEqual(['auto (shm)', 'rust', 'swift', 'universal', 'grpc']);
    for (const row of rows.slice(0, 4)) expect(row.samples, JSON.stringify(row)).toBe(5);
    expect(rows[1]!.route).toBe('unix');
    expect(rows[4]!.error).toMatch(/E_NO_ROUTE/);
  }, 60_000);

  it('top shows the node the traffic reached, as JSON lines', () => {
    const r = tmesh([
      'top',
      '--url',
      `http://127.0.0.1:${statsPort}/stats`,
      '--iterations',
      '2',
      '--interval',
      '200',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0].node).toBe('cli-sink');
  });

  it.each([
    [['send'], /missing required argument 'peer'/],
    [['ping', 'x', '--count', '0'], /--count must be an integer/],
    [['top'], /--url <url>' not specified/],
    [['node', '--config', '/nonexistent.json'], /E_CONFIG/],
    [['send', 'nobody', '--runtime-dir', '/tmp', '--json', '{'], /not valid JSON/],
  ])('bad arguments exit 2: %j', (args, pattern) => {
    const r = tmesh(args as string[]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(pattern as RegExp);
  });

  it('node exits 0 on SIGTERM and withdraws its discovery record', async () => {
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    // Run last in this block: the other tests of the block have used the node by now.
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(join(dir, 'cli-sink.json'))).toBe(false);
  });

  it('send to an unknown node exits 1 with E_NO_ROUTE', () => {
    const r = tmesh(['send', 'nobody', '--runtime-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/E_NO_ROUTE: node .* knows no peer "nobody"/);
  });
});

describe('tmesh demo and bench', () => {
  it('bench prints the route report as JSON (same measurement as the demo)', () => {
    const out = mkdtempSync(join(tmpdir(), 'tmesh-bench-cli-'));
    const r = tmesh(['bench', '--quick', '--no-rust', '--no-netns', '--json', '--out', out]);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.routes.length).toBe(5);
    expect(report.topology[0]).toMatch(/^network namespaces turned off \(--no-netns\)/);
    for (const route of report.routes) expect([route.name, route.verified]).toEqual([route.name, true]);
  }, 120_000);

  it('measures every TypeScript route beside gRPC, verifies the bytes, writes JSON and HTML, leaves no region', () => {
    const out = mkdtempSync(join(tmpdir(), 'tmesh-demo-test-'));
    const r = tmesh(['demo', '--quick', '--no-rust', '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^route\s+strategy\s+why\s+MB\/s/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(
      report.routes.map((x: { name: string; strategy: string; route: string }) => [
        x.name,
        x.strategy,
        x.route,
      ]),
    ).toEqual([
      ['shm TS <-> TS', 'shm', 'shm'],
      ['Unix socket TS <-> TS (shm off)', 'rust', 'unix'],
      ['Swift wire TS <-> TS (other machine)', 'swift', 'tcp'],
      ['universal TS <-> TS (other machine)', 'universal', 'tcp'],
      ['gRPC fallback TS <-> TS (other machine)', 'grpc', 'grpc'],
    ]);
    for (const route of report.routes) {
      expect(route.verified, route.name).toBe(true);
      expect(route.throughputMBps).toBeGreaterThan(0);
    }
    expect(report.baseline.throughputMBps).toBeGreaterThan(0);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    for (const route of report.routes)
      expect(html).toContain(`data-route="${route.name.replace(/</g, '&#60;').replace(/>/g, '&#62;')}"`);
    const channels = report.routes.flatMap((x: { shmChannel?: string }) =>
      x.shmChannel ? [x.shmChannel] : [],
    );
    expect(channels).toHaveLength(1);
    const left = readdirSync('/dev/shm').filter((f) =>
      channels.some((c: string) => f.startsWith(`tmesh-${c}`)),
    );
    expect(left).toEqual([]);
  }, 120_000);
});
