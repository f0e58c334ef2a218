import { isTmeshError, type TmeshErrorCode, tmeshError } from '@tmesh/core';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { renderRouteTable } from '../demo/report.js';
import { runDemo } from '../demo/run.js';
import { EtcdDiscovery } from '../discovery/etcd.js';
import { RuntimeDirDiscovery } from '../discovery/runtime-dir.js';
import { StaticDiscovery } from '../discovery/static.js';
import type { DiscoveredNode, Discovery } from '../discovery/types.js';
import type { TmeshNode } from '../node.js';
import { type DoctorCheck, runDoctor } from './doctor.js';
import { decodeFrameCommand, encodeFrameCommand, type FrameCommandOptions } from './frame.js';
import {
  clientNode,
  messageFromArgs,
  pingPeer,
  readNodeConfig,
  replyJson,
  serveStats,
  startConfiguredNode,
} from './live.js';
import { EXIT_USAGE, Progress, renderTable } from './output.js';

interface StatsReport {
  streams: {
    peer: string;
    strategy: string;
    messages: number;
    windowThroughputBytesPerSec: number;
    windowMessagesPerSec: number;
    latencyMs?: { p50: number; p99: number };
  }[];
}

/** Codes that mean "you asked for something wrong", which exit with 2 like a usage error. */
const USAGE_CODES = new Set<TmeshErrorCode>([
  'E_INVALID_ARGUMENT',
  'E_CONFIG',
  'E_ENCODE_INVALID_VALUE',
  'E_SCHEMA_UNKNOWN_TYPE',
  'E_SCHEMA_PROTO_PARSE',
]);

/** Where a command writes; tests pass buffers, the binary passes the process streams. */
export interface CliIO {
  stdout: (text: string | Uint8Array) => void;
  stderr: (text: string) => void;
  stdin: () => Promise<Buffer>;
}

const processIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  },
};

function int(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
    return n;
  };
}

function collect(value: string, prior: string[] = []): string[] {
  return [...prior, value];
}

function printChecks(io: CliIO, checks: DoctorCheck[]): void {
  const mark = { ok: 'ok', warn: 'WARN', fail: 'FAIL' } as const;
  io.stdout(
    `${renderTable(
      ['check', 'status', 'detail'],
      checks.map((c) => [c.check, mark[c.status], c.detail]),
    )}\n`,
  );
}

/** Build the `tmesh` program. Handlers write through `io` and set `process.exitCode`-style results via the return. */
export function buildProgram(io: CliIO = processIO): Command {
  const program = new Command('tmesh')
    .description('tmesh: polyglot messaging over shared memory, language-optimized wires and protobuf')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .exitOverride();

  const frame = program
    .command('frame')
    .description('encode JSON into frame bytes, or decode frame bytes into JSON');
  const frameOptions = (cmd: Command) =>
    cmd
      .addOption(
        new Option('--wire <wire>', 'wire format')
          .choices(['rust', 'swift', 'universal'])
          .makeOptionMandatory(),
      )
      .requiredOption('--proto <file>', '.proto file that defines the message')
      .requiredOption('--type <name>', 'message name in the .proto file')
      .option('--id <n>', 'message type id (1..239) written in the frame header', int('--id', 1, 239), 1)
      .addOption(
        new Option('--format <format>', 'frame bytes on stdin/stdout as')
          .choices(['hex', 'raw'])
          .default('hex'),
      );
  frameOptions(frame.command('encode').description('JSON on stdin -> one frame on stdout'))
    .option('--seq <n>', 'sequence number', int('--seq', 0, 0xffffffff), 0)
    .action(async (opts: FrameCommandOptions & { seq: number }) => {
      const bytes = await encodeFrameCommand((await io.stdin()).toString('utf8'), {
        ...opts,
        sequence: opts.seq,
      });
      io.stdout(opts.format === 'hex' ? `${Buffer.from(bytes).toString('hex')}\n` : bytes);
    });
  frameOptions(frame.command('decode').description('one frame on stdin -> JSON on stdout')).action(
    async (opts: FrameCommandOptions) => {
      io.stdout(`${JSON.stringify(await decodeFrameCommand(await io.stdin(), opts), null, 2)}\n`);
    },
  );

  program
    .command('peers')
    .description('list the nodes discovery can see (runtime directory, static config, etcd)')
    .option('--runtime-dir <dir>', 'runtime directory of same-machine discovery')
    .option('--config <file>', 'JSON file with { "peers": [...] }')
    .option('--etcd <url>', 'etcd client URL (repeatable)', collect)
    .option('--wait <ms>', 'listen this long for joins before printing', int('--wait', 0, 60_000), 300)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        runtimeDir?: string;
        config?: string;
        etcd?: string[];
        wait: number;
        json?: boolean;
      }) => {
        const sources: Discovery[] = [
          new RuntimeDirDiscovery(opts.runtimeDir ? { dir: opts.runtimeDir } : {}),
        ];
        if (opts.config) sources.push(await StaticDiscovery.fromFile(opts.config));
        if (opts.etcd?.length) sources.push(new EtcdDiscovery({ hosts: opts.etcd }));
        const observer = {
          id: `tmesh-cli-${process.pid}`,
          machineId: '',
          language: 'typescript',
          endpoints: [],
          wires: [],
          protocolVersions: [],
        };
        const nodes: DiscoveredNode[] = [];
        try {
          for (const s of sources) {
            // The CLI only looks: it announces into no source (runtime-dir scan, static list, etcd listing).
            if (s instanceof RuntimeDirDiscovery) await s.scan();
            else if (s instanceof StaticDiscovery) await s.announce(observer);
            else if (s instanceof EtcdDiscovery) await s.listOnly();
          }
          await new Promise((r) => setTimeout(r, opts.wait));
          for (const s of sources) nodes.push(...s.peers());
        } finally {
          for (const s of sources) if (!(s instanceof RuntimeDirDiscovery)) await s.close();
        }
        if (opts.json) {
          io.stdout(`${JSON.stringify(nodes, null, 2)}\n`);
          return;
        }
        io.stdout(
          `${renderTable(
            ['id', 'language', 'machine', 'wires', 'endpoints', 'source'],
            nodes.map((n) => [
              n.info.id,
              n.info.language,
              n.info.machineId.slice(0, 12),
              n.info.wires.join(','),
              n.info.endpoints
                .map((e) =>
                  e.kind === 'unix'
                    ? `unix:${e.path}`
                    : e.kind === 'shm'
                      ? `shm:${e.name}`
                      : `${e.kind}:${e.host}:${e.port}`,
                )
                .join(' '),
              n.source,
            ]),
          )}\n${nodes.length} node(s)\n`,
        );
      },
    );

  program
    .command('doctor')
    .description(
      'check the native addon, shared-memory limits and permissions, stale regions and socket files, etcd reach',
    )
    .option('--etcd <url>', 'etcd client URL to check (repeatable)', collect)
    .option('--clean', 'remove stale shared-memory regions and stale node socket files')
    .option('--runtime-dir <dir>', 'runtime directory to check (default: the one nodes use)')
    .option('--json', 'print JSON')
    .action(async (opts: { etcd?: string[]; clean?: boolean; runtimeDir?: string; json?: boolean }) => {
      const checks = await runDoctor({
        etcd: opts.etcd,
        clean: opts.clean,
        ...(opts.runtimeDir ? { runtimeDir: opts.runtimeDir } : {}),
      });
      if (opts.json) io.stdout(`${JSON.stringify(checks, null, 2)}\n`);
      else printChecks(io, checks);
      if (checks.some((c) => c.status === 'fail')) throw new CliExit(1);
    });

  program
    .command('node')
    .description(
      'run a node until interrupted (a sink for the sample messages; see docs) from flags or a config file',
    )
    .option('--config <file>', 'JSON config: id, runtimeDir, host, grpc, machineId, services, statsPort')
    .option('--id <id>', 'node id')
    .option('--runtime-dir <dir>', 'runtime directory of same-machine discovery')
    .option('--host <addr>', 'address of the TCP and gRPC listeners', '127.0.0.1')
    .option('--grpc', 'also listen for the gRPC fallback')
    .option('--machine-id <id>', 'override the machine id')
    .option('--service <name>', 'offer a service (repeatable)', collect)
    .option(
      '--stats-port <port>',
      'serve /metrics and /stats on this port (for tmesh top)',
      int('--stats-port', 1, 65535),
    )
    .option(
      '--sink',
      'count the sample FileChunk messages and answer report requests (the default behaviour)',
    )
    .action(
      async (opts: {
        config?: string;
        id?: string;
        runtimeDir?: string;
        host: string;
        grpc?: boolean;
        machineId?: string;
        service?: string[];
        statsPort?: number;
      }) => {
        const fromFile = opts.config ? await readNodeConfig(opts.config) : {};
        const config = {
          ...fromFile,
          ...(opts.id ? { id: opts.id } : {}),
          ...(opts.runtimeDir ? { runtimeDir: opts.runtimeDir } : {}),
          ...(opts.host !== '127.0.0.1' || !fromFile.host ? { host: opts.host } : {}),
          ...(opts.grpc ? { grpc: true } : {}),
          ...(opts.machineId ? { machineId: opts.machineId } : {}),
          ...(opts.service ? { services: opts.service } : {}),
          ...(opts.statsPort ? { statsPort: opts.statsPort } : {}),
        };
        const node = await startConfiguredNode(config);
        const stats = config.statsPort ? await serveStats(node, config.statsPort) : undefined;
        io.stdout(
          `${JSON.stringify({ ready: node.info.id, endpoints: node.info.endpoints, ...(config.statsPort ? { stats: `http://127.0.0.1:${config.statsPort}/stats` } : {}) })}\n`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        stats?.close();
        await node.close();
      },
    );

  type MessageOpts = {
    runtimeDir?: string;
    proto?: string;
    type?: string;
    id: number;
    json?: string;
    timeout: number;
  };
  /** `send` and `request` share their options and their one-shot client node. */
  const messageCommand = (
    name: string,
    description: string,
    act: (
      node: TmeshNode,
      peer: string,
      msg: Awaited<ReturnType<typeof messageFromArgs>>,
      opts: MessageOpts,
    ) => Promise<void>,
  ) =>
    program
      .command(name)
      .description(description)
      .argument('<peer>', 'destination node id')
      .option('--runtime-dir <dir>', 'runtime directory of same-machine discovery')
      .option('--proto <file>', '.proto file with the message type (default: the sample FileChunk)')
      .option('--type <name>', 'message name in the .proto file')
      .option('--id <n>', 'message type id', int('--id', 1, 239), 1)
      .option('--json <text>', 'the message as JSON (default: read from stdin when --proto is given)')
      .option('--timeout <ms>', 'deadline', int('--timeout', 1, 600_000), 10_000)
      .action(async (peer: string, opts: MessageOpts) => {
        const msg = await messageFromArgs(opts, io.stdin);
        const node = await clientNode(msg.types, opts.runtimeDir);
        try {
          await act(node, peer, msg, opts);
        } finally {
          await node.close();
        }
      });
  messageCommand(
    'send',
    'send one message to a node and wait until its transport took it',
    async (node, peer, msg, opts) => {
      await node.send(peer, msg.type, msg.value, { timeoutMs: opts.timeout });
      const info = node.peers().find((p) => p.info.id === peer);
      io.stdout(
        `sent ${msg.type.name} to ${peer} over ${info?.strategy}/${info?.route}: ${info?.explanation}\n`,
      );
    },
  );
  messageCommand('request', 'send one request and print the reply as JSON', async (node, peer, msg, opts) => {
    const reply = await node.request(peer, msg.type, msg.value, { timeoutMs: opts.timeout });
    io.stdout(`${JSON.stringify(replyJson(reply as never), null, 2)}\n`);
  });

  program
    .command('ping')
    .description('round-trip time to a node over each strategy that reaches it')
    .argument('<peer>', 'destination node id')
    .option('--runtime-dir <dir>', 'runtime directory of same-machine discovery')
    .option('--count <n>', 'round trips per strategy', int('--count', 1, 100_000), 50)
    .option('--json', 'print JSON')
    .action(async (peer: string, opts: { runtimeDir?: string; count: number; json?: boolean }) => {
      const rows = await pingPeer(peer, opts.runtimeDir, opts.count);
      if (opts.json) io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
      else
        io.stdout(
          `${renderTable(
            ['strategy', 'route', 'rtt p50 us', 'rtt min us', 'samples', 'error'],
            rows.map((r) => [
              r.strategy,
              r.route,
              r.error ? '-' : r.rttP50Us.toFixed(1),
              r.error ? '-' : r.rttMinUs.toFixed(1),
              r.samples,
              r.error ?? '',
            ]),
          )}\n`,
        );
      if (rows.every((r) => r.error)) throw new CliExit(1);
    });

  program
    .command('top')
    .description('live per-peer throughput and latency of a running node (tmesh node --stats-port)')
    .requiredOption('--url <url>', 'the node stats URL, e.g. http://127.0.0.1:9464/stats')
    .option('--interval <ms>', 'refresh period', int('--interval', 100, 60_000), 1000)
    .option(
      '--iterations <n>',
      'stop after n refreshes (default: until interrupted)',
      int('--iterations', 1, 1_000_000),
    )
    .option('--json', 'print one JSON line per refresh')
    .action(async (opts: { url: string; interval: number; iterations?: number; json?: boolean }) => {
      for (let i = 0; opts.iterations === undefined || i < opts.iterations; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, opts.interval));
        let stats: { node: string; report: StatsReport };
        try {
          const res = await fetch(opts.url);
          stats = (await res.json()) as typeof stats;
        } catch (e) {
          throw tmeshError('E_CONNECTION', `cannot read ${opts.url}: ${(e as Error).message}`);
        }
        const rows = stats.report.streams.map((s) => [
          s.peer,
          s.strategy,
          s.messages,
          (s.windowThroughputBytesPerSec / 1e6).toFixed(2),
          s.windowMessagesPerSec.toFixed(0),
          s.latencyMs ? (s.latencyMs.p50 * 1000).toFixed(1) : '-',
          s.latencyMs ? (s.latencyMs.p99 * 1000).toFixed(1) : '-',
        ]);
        if (opts.json) io.stdout(`${JSON.stringify({ at: Date.now(), node: stats.node, rows })}\n`);
        else
          io.stdout(
            `${process.stdout.isTTY ? '\x1b[2J\x1b[H' : ''}tmesh top: ${stats.node}\n${renderTable(['peer', 'strategy', 'messages', 'MB/s', 'msgs/s', 'p50 us', 'p99 us'], rows)}\n`,
          );
      }
    });

  const demoLike = (name: string, description: string, quickDefault: boolean) =>
    program
      .command(name)
      .description(description)
      .option('--out <dir>', 'where report.json and report.html go', 'tmesh-demo-report')
      .option('--quick', 'short measurements', quickDefault)
      .option('--no-rust', 'leave the Rust peer out')
      .option('--no-netns', 'keep every peer on loopback even as root')
      .option('--json', 'print the report as JSON on stdout')
      .action(
        async (opts: { out: string; quick: boolean; rust: boolean; netns: boolean; json?: boolean }) => {
          // On a terminal a progress bar replaces the per-route lines; logs (CI) keep the lines.
          const tty = Boolean(process.stderr.isTTY);
          let bar: Progress | undefined;
          const report = await runDemo({
            outDir: opts.out,
            quick: opts.quick,
            netns: opts.netns,
            ...(opts.rust ? {} : { rustPeer: false }),
            onProgress: (done, total) => {
              bar ??= new Progress('measuring routes', total);
              bar.update(done);
              if (done === total) bar.done();
            },
            log: (l) => {
              if (!tty || !l.startsWith('measuring ')) io.stderr(`${l}\n`);
            },
          });
          if (opts.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
          else io.stdout(`${renderRouteTable(report)}\n`);
          if (report.routes.some((r) => r.error || !r.verified)) throw new CliExit(1);
        },
      );
  demoLike(
    'demo',
    'start TypeScript and Rust nodes, send real traffic over every route, report it beside gRPC',
    false,
  );
  demoLike(
    'bench',
    "the seed's performance table measured on this machine: every route beside the gRPC baseline",
    false,
  );

  return program;
}

/** Thrown by a command to end with a given exit code after printing what it had to say. */
export class CliExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Run the CLI; resolves to the process exit code (0 ok, 1 failure, 2 bad arguments). */
export async function runCli(argv: string[], io: CliIO = processIO): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CliExit) return e.code;
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        return 0;
      return EXIT_USAGE;
    }
    if (isTmeshError(e)) {
      io.stderr(`tmesh: ${e.message}\n`);
      return USAGE_CODES.has(e.code) ? EXIT_USAGE : 1;
    }
    io.stderr(`tmesh: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
