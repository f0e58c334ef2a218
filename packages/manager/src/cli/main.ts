import { isTmeshError, type TmeshErrorCode } from '@tmesh/core';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EtcdDiscovery } from '../discovery/etcd.js';
import { RuntimeDirDiscovery } from '../discovery/runtime-dir.js';
import { StaticDiscovery } from '../discovery/static.js';
import type { DiscoveredNode, Discovery } from '../discovery/types.js';
import { type DoctorCheck, runDoctor } from './doctor.js';
import { decodeFrameCommand, encodeFrameCommand, type FrameCommandOptions } from './frame.js';
import { EXIT_USAGE, renderTable } from './output.js';

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
    .description('check the native addon, shared-memory limits and permissions, stale regions and etcd reach')
    .option('--etcd <url>', 'etcd client URL to check (repeatable)', collect)
    .option('--clean', 'remove stale shared-memory regions')
    .option('--json', 'print JSON')
    .action(async (opts: { etcd?: string[]; clean?: boolean; json?: boolean }) => {
      const checks = await runDoctor({ etcd: opts.etcd, clean: opts.clean });
      if (opts.json) io.stdout(`${JSON.stringify(checks, null, 2)}\n`);
      else printChecks(io, checks);
      if (checks.some((c) => c.status === 'fail')) throw new CliExit(1);
    });

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
