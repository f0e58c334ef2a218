import type { Endpoint, Language, NodeInfo, WireId } from '@tmesh/core';
import { defaultWiresFor, isTmeshError } from '@tmesh/core';
import { describe, expect, it } from 'vitest';
import { selectTransport } from './select.js';
import type { LinkCondition, Route, SelectionInput, SelectionPolicy } from './selection.js';

const ALL_ENDPOINTS: Endpoint[] = [
  { kind: 'shm', name: 'tmesh-dst' },
  { kind: 'unix', path: '/run/tmesh/dst.sock' },
  { kind: 'tcp', host: '10.0.0.2', port: 7400 },
  { kind: 'grpc', host: '10.0.0.2', port: 7401 },
];

function node(id: string, language: Language, machineId: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  return {
    id,
    machineId,
    language,
    endpoints: ALL_ENDPOINTS,
    wires: defaultWiresFor(language),
    protocolVersions: [1],
    ...extra,
  };
}

const MiB = 1024 * 1024;

interface Row {
  name: string;
  from: Language;
  to: Language;
  sameMachine: boolean;
  size?: number;
  link?: LinkCondition;
  shmAvailable?: boolean;
  policy?: SelectionPolicy;
  /** `kind` or `kind+compression`, then `@route`. */
  expect: string;
  explanation: string;
}

function short(strategy: { kind: string; compression?: string }, route: Route): string {
  const compression =
    strategy.compression && strategy.compression !== 'none' ? `+${strategy.compression}` : '';
  return `${strategy.kind}${compression}@${route}`;
}

function input(
  row: Pick<Row, 'from' | 'to' | 'sameMachine' | 'size' | 'link' | 'shmAvailable' | 'policy'>,
): SelectionInput {
  return {
    source: node('src', row.from, 'machine-a'),
    destination: node('dst', row.to, row.sameMachine ? 'machine-a' : 'machine-b'),
    messageSize: row.size ?? 1024,
    link: row.link,
    shmAvailable: row.shmAvailable ?? true,
    policy: row.policy,
  };
}

// Every row of the seed's matrix (DESIGN.md), the TypeScript rows, unknown languages, the adaptive rule
// and each policy override.
const ROWS: Row[] = [
  {
    name: 'Swift -> Swift, same machine',
    from: 'swift',
    to: 'swift',
    sameMachine: true,
    expect: 'shm@shm',
    explanation: 'same machine id -> shm',
  },
  {
    name: 'Rust -> Rust, same machine',
    from: 'rust',
    to: 'rust',
    sameMachine: true,
    expect: 'shm@shm',
    explanation: 'same machine id -> shm',
  },
  {
    name: 'Swift -> Rust, same machine',
    from: 'swift',
    to: 'rust',
    sameMachine: true,
    expect: 'shm@shm',
    explanation: 'same machine id -> shm',
  },
  {
    name: 'TypeScript -> Go, same machine',
    from: 'typescript',
    to: 'go',
    sameMachine: true,
    expect: 'shm@shm',
    explanation: 'same machine id -> shm',
  },
  {
    name: 'Swift -> Swift, other machine',
    from: 'swift',
    to: 'swift',
    sameMachine: false,
    expect: 'swift@tcp',
    explanation: 'swift <-> swift on another machine -> swift wire over tcp',
  },
  {
    name: 'Rust -> Rust, other machine',
    from: 'rust',
    to: 'rust',
    sameMachine: false,
    expect: 'rust@tcp',
    explanation: 'rust <-> rust on another machine -> rust wire over tcp',
  },
  {
    name: 'Swift -> Rust, other machine',
    from: 'swift',
    to: 'rust',
    sameMachine: false,
    expect: 'universal@tcp',
    explanation: 'swift <-> rust on another machine, no shared native wire -> universal wire over tcp',
  },
  {
    name: 'Rust -> Swift, other machine',
    from: 'rust',
    to: 'swift',
    sameMachine: false,
    expect: 'universal@tcp',
    explanation: 'rust <-> swift on another machine, no shared native wire -> universal wire over tcp',
  },
  {
    name: 'TypeScript -> Swift, other machine',
    from: 'typescript',
    to: 'swift',
    sameMachine: false,
    expect: 'swift@tcp',
    explanation:
      "typescript <-> swift on another machine, typescript speaks swift's native wire -> swift wire over tcp",
  },
  {
    name: 'Swift -> TypeScript, other machine',
    from: 'swift',
    to: 'typescript',
    sameMachine: false,
    expect: 'swift@tcp',
    explanation:
      "swift <-> typescript on another machine, typescript speaks swift's native wire -> swift wire over tcp",
  },
  {
    name: 'TypeScript -> Rust, other machine',
    from: 'typescript',
    to: 'rust',
    sameMachine: false,
    expect: 'rust@tcp',
    explanation:
      "typescript <-> rust on another machine, typescript speaks rust's native wire -> rust wire over tcp",
  },
  {
    name: 'Rust -> TypeScript, other machine',
    from: 'rust',
    to: 'typescript',
    sameMachine: false,
    expect: 'rust@tcp',
    explanation:
      "rust <-> typescript on another machine, typescript speaks rust's native wire -> rust wire over tcp",
  },
  {
    name: 'TypeScript -> TypeScript, nothing measured',
    from: 'typescript',
    to: 'typescript',
    sameMachine: false,
    expect: 'rust@tcp',
    explanation:
      'typescript <-> typescript on another machine, nothing measured, rust wire by default -> rust wire over tcp',
  },
  {
    name: 'TypeScript -> TypeScript, swift wire measured fastest',
    from: 'typescript',
    to: 'typescript',
    sameMachine: false,
    link: { wireThroughput: { rust: 80 * MiB, swift: 120 * MiB, universal: 40 * MiB } },
    expect: 'swift@tcp',
    explanation:
      'typescript <-> typescript on another machine, fastest measured common wire (swift 120.00 MiB/s) -> swift wire over tcp',
  },
  {
    name: 'TypeScript -> TypeScript, universal measured fastest',
    from: 'typescript',
    to: 'typescript',
    sameMachine: false,
    link: { wireThroughput: { universal: 50 * MiB, rust: 20 * MiB } },
    expect: 'universal@tcp',
    explanation:
      'typescript <-> typescript on another machine, fastest measured common wire (universal 50.00 MiB/s) -> universal wire over tcp',
  },
  {
    name: 'Go -> Rust (unknown language), other machine',
    from: 'go',
    to: 'rust',
    sameMachine: false,
    expect: 'universal@tcp',
    explanation: 'go <-> rust on another machine, unknown language go -> universal wire over tcp',
  },
  {
    name: 'TypeScript -> Python (unknown language), other machine',
    from: 'typescript',
    to: 'python',
    sameMachine: false,
    expect: 'universal@tcp',
    explanation:
      'typescript <-> python on another machine, unknown language python -> universal wire over tcp',
  },
  // Adaptive rule: large message (> 64 KiB) on a slow link (< 10 MiB/s) between machines -> compression.
  {
    name: 'Rust -> Rust, 1 MiB on a 10 Mbit/s link',
    from: 'rust',
    to: 'rust',
    sameMachine: false,
    size: MiB,
    link: { bandwidthBytesPerSec: 1_250_000 },
    expect: 'rust+deflate@tcp',
    explanation:
      'rust <-> rust on another machine; 1.00 MiB message on a 1.19 MiB/s link (< 10.00 MiB/s) -> rust wire over tcp with deflate',
  },
  {
    name: 'Swift -> Rust, 256 KiB on a 5 MiB/s link',
    from: 'swift',
    to: 'rust',
    sameMachine: false,
    size: 256 * 1024,
    link: { bandwidthBytesPerSec: 5 * MiB },
    expect: 'universal+deflate@tcp',
    explanation:
      'swift <-> rust on another machine, no shared native wire; 256.00 KiB message on a 5.00 MiB/s link (< 10.00 MiB/s) -> universal wire over tcp with deflate',
  },
  {
    name: 'small message on a slow link stays uncompressed',
    from: 'rust',
    to: 'rust',
    sameMachine: false,
    size: 64 * 1024,
    link: { bandwidthBytesPerSec: 1_250_000 },
    expect: 'rust@tcp',
    explanation: 'rust <-> rust on another machine -> rust wire over tcp',
  },
  {
    name: 'large message on a fast link stays uncompressed',
    from: 'rust',
    to: 'rust',
    sameMachine: false,
    size: 8 * MiB,
    link: { bandwidthBytesPerSec: 10 * MiB },
    expect: 'rust@tcp',
    explanation: 'rust <-> rust on another machine -> rust wire over tcp',
  },
  {
    name: 'large message, bandwidth not measured, stays uncompressed',
    from: 'rust',
    to: 'rust',
    sameMachine: false,
    size: 8 * MiB,
    expect: 'rust@tcp',
    explanation: 'rust <-> rust on another machine -> rust wire over tcp',
  },
  {
    name: 'same machine never compresses',
    from: 'rust',
    to: 'rust',
    sameMachine: true,
    size: 8 * MiB,
    link: { bandwidthBytesPerSec: 1_000 },
    shmAvailable: false,
    expect: 'rust@unix',
    explanation: 'rust <-> rust on the same machine, shm unavailable -> rust wire over unix socket',
  },
  // Policy overrides.
  {
    name: 'policy: compression never',
    from: 'rust',
    to: 'rust',
    sameMachine: false,
    size: MiB,
    link: { bandwidthBytesPerSec: 1_250_000 },
    policy: { compression: 'never' },
    expect: 'rust@tcp',
    explanation: 'rust <-> rust on another machine -> rust wire over tcp',
  },
  {
    name: 'policy: compression always',
    from: 'swift',
    to: 'swift',
    sameMachine: false,
    size: 10,
    policy: { compression: 'always' },
    expect: 'swift+deflate@tcp',
    explanation:
      'swift <-> swift on another machine; policy forces compression -> swift wire over tcp with deflate',
  },
  {
    name: 'policy: lower compression threshold',
    from: 'rust',
    to: 'rust',
    sameMachine: false,
    size: 2048,
    link: { bandwidthBytesPerSec: 100_000 },
    policy: { compressionThreshold: 1024, compressionAlgorithm: 'zstd' },
    expect: 'rust+zstd@tcp',
    explanation:
      'rust <-> rust on another machine; 2.00 KiB message on a 0.10 MiB/s link (< 10.00 MiB/s) -> rust wire over tcp with zstd',
  },
  {
    name: 'policy: disable shm',
    from: 'swift',
    to: 'swift',
    sameMachine: true,
    policy: { disableShm: true },
    expect: 'swift@unix',
    explanation: 'swift <-> swift on the same machine, shm disabled by policy -> swift wire over unix socket',
  },
  {
    name: 'policy: prefer universal wire',
    from: 'rust',
    to: 'rust',
    sameMachine: false,
    policy: { preferWire: 'universal' },
    expect: 'universal@tcp',
    explanation: 'rust <-> rust on another machine, policy prefers universal wire -> universal wire over tcp',
  },
  {
    name: 'policy: prefer a wire the peer lacks is ignored',
    from: 'rust',
    to: 'rust',
    sameMachine: false,
    policy: { preferWire: 'swift' },
    expect: 'rust@tcp',
    explanation: 'rust <-> rust on another machine -> rust wire over tcp',
  },
  {
    name: 'policy: force grpc',
    from: 'rust',
    to: 'rust',
    sameMachine: true,
    policy: { force: 'grpc' },
    expect: 'grpc@grpc',
    explanation: 'policy forces grpc -> grpc',
  },
  {
    name: 'policy: force universal on the same machine',
    from: 'rust',
    to: 'rust',
    sameMachine: true,
    policy: { force: 'universal' },
    expect: 'universal@unix',
    explanation: 'policy forces universal wire -> universal wire over unix socket',
  },
  {
    name: 'policy: force rust between TypeScript nodes',
    from: 'typescript',
    to: 'typescript',
    sameMachine: false,
    link: { wireThroughput: { swift: 500 * MiB } },
    policy: { force: 'rust' },
    expect: 'rust@tcp',
    explanation: 'policy forces rust wire -> rust wire over tcp',
  },
  {
    name: 'policy: force shm',
    from: 'swift',
    to: 'rust',
    sameMachine: true,
    policy: { force: 'shm', shmIdle: 'spin' },
    expect: 'shm@shm',
    explanation: 'policy forces shm -> shm',
  },
];

describe('selectTransport: the seed matrix, adaptive rule and policies', () => {
  it.each(ROWS)('$name', (row) => {
    const selection = selectTransport(input(row));
    expect(short(selection.strategy, selection.route)).toBe(row.expect);
    expect(selection.explanation).toBe(row.explanation);
    expect(selection.endpoint.kind).toBe(row.expect.split('@')[1]);
  });

  it('writes the idle strategy into shm (adaptive by default, policy otherwise)', () => {
    expect(selectTransport(input({ from: 'rust', to: 'rust', sameMachine: true })).strategy).toEqual({
      kind: 'shm',
      idle: 'adaptive',
    });
    const forced = selectTransport(
      input({ from: 'rust', to: 'rust', sameMachine: true, policy: { shmIdle: 'park' } }),
    );
    expect(forced.strategy).toEqual({ kind: 'shm', idle: 'park' });
    expect(forced.endpoint).toEqual({ kind: 'shm', name: 'tmesh-dst' });
  });

  it('is deterministic and does not touch its input', () => {
    const value = input({
      from: 'typescript',
      to: 'typescript',
      sameMachine: false,
      size: MiB,
      link: { bandwidthBytesPerSec: 1e6, wireThroughput: { rust: 1e6, swift: 2e6 } },
    });
    const frozen = structuredClone(value);
    const a = selectTransport(value);
    const b = selectTransport(value);
    expect(a).toEqual(b);
    expect(value).toEqual(frozen);
  });
});

interface FallbackRow {
  name: string;
  source: NodeInfo;
  destination: NodeInfo;
  shmAvailable?: boolean;
  size?: number;
  link?: LinkCondition;
  /** Primary, then every fallback, as `kind@route: explanation`. */
  chain: string[];
}

const tcpOnly: Endpoint[] = [{ kind: 'tcp', host: '10.0.0.9', port: 7400 }];

// Every fallback step: shm -> unix socket -> tcp, and chosen wire -> universal -> grpc.
const FALLBACKS: FallbackRow[] = [
  {
    name: 'same machine, all endpoints: shm -> unix -> tcp -> universal -> grpc',
    source: node('a', 'rust', 'm1'),
    destination: node('b', 'rust', 'm1'),
    chain: [
      'shm@shm: same machine id -> shm',
      'rust@unix: shm failed -> rust wire over unix socket',
      'rust@tcp: unix socket failed -> rust wire over tcp',
      'universal@unix: rust wire failed -> universal wire over unix socket',
      'universal@tcp: unix socket failed -> universal wire over tcp',
      'grpc@grpc: universal wire failed -> grpc',
    ],
  },
  {
    name: 'other machine, optimized wire -> universal -> grpc',
    source: node('a', 'swift', 'm1'),
    destination: node('b', 'swift', 'm2'),
    chain: [
      'swift@tcp: swift <-> swift on another machine -> swift wire over tcp',
      'universal@tcp: swift wire failed -> universal wire over tcp',
      'grpc@grpc: universal wire failed -> grpc',
    ],
  },
  {
    name: 'other machine, compression carried into the fallbacks',
    source: node('a', 'typescript', 'm1'),
    destination: node('b', 'rust', 'm2'),
    size: 4 * MiB,
    link: { bandwidthBytesPerSec: 2 * MiB },
    chain: [
      "rust+deflate@tcp: typescript <-> rust on another machine, typescript speaks rust's native wire; 4.00 MiB message on a 2.00 MiB/s link (< 10.00 MiB/s) -> rust wire over tcp with deflate",
      'universal+deflate@tcp: rust wire failed -> universal wire over tcp with deflate',
      'grpc@grpc: universal wire failed -> grpc',
    ],
  },
  {
    name: 'cross-language: universal -> grpc',
    source: node('a', 'swift', 'm1'),
    destination: node('b', 'rust', 'm2'),
    chain: [
      'universal@tcp: swift <-> rust on another machine, no shared native wire -> universal wire over tcp',
      'grpc@grpc: universal wire failed -> grpc',
    ],
  },
  {
    name: 'same machine, shm unavailable: unix -> tcp -> universal -> grpc',
    source: node('a', 'swift', 'm1'),
    destination: node('b', 'swift', 'm1'),
    shmAvailable: false,
    chain: [
      'swift@unix: swift <-> swift on the same machine, shm unavailable -> swift wire over unix socket',
      'swift@tcp: unix socket failed -> swift wire over tcp',
      'universal@unix: swift wire failed -> universal wire over unix socket',
      'universal@tcp: unix socket failed -> universal wire over tcp',
      'grpc@grpc: universal wire failed -> grpc',
    ],
  },
  {
    name: 'same machine, destination without shm or unix endpoint: tcp only',
    source: node('a', 'rust', 'm1'),
    destination: node('b', 'rust', 'm1', { endpoints: tcpOnly }),
    chain: [
      'rust@tcp: rust <-> rust on the same machine, destination has no shm endpoint -> rust wire over tcp',
      'universal@tcp: rust wire failed -> universal wire over tcp',
    ],
  },
  {
    name: 'destination speaks only its native wire: no universal step',
    source: node('a', 'rust', 'm1'),
    destination: node('b', 'rust', 'm2', { wires: ['rust'] as WireId[] }),
    chain: [
      'rust@tcp: rust <-> rust on another machine -> rust wire over tcp',
      'grpc@grpc: rust wire failed -> grpc',
    ],
  },
  {
    name: 'no common wire but a grpc endpoint',
    source: node('a', 'swift', 'm1', { wires: ['swift'] }),
    destination: node('b', 'rust', 'm2', { wires: ['rust'] }),
    chain: ['grpc@grpc: no common wire -> grpc'],
  },
  {
    name: 'common wire but only a grpc endpoint',
    source: node('a', 'rust', 'm1'),
    destination: node('b', 'rust', 'm2', { endpoints: [{ kind: 'grpc', host: '10.0.0.9', port: 7401 }] }),
    chain: ['grpc@grpc: rust <-> rust on another machine, destination has no socket endpoint -> grpc'],
  },
];

describe('selectTransport: fallback order', () => {
  it.each(FALLBACKS)('$name', (row) => {
    const selection = selectTransport({
      source: row.source,
      destination: row.destination,
      messageSize: row.size ?? 512,
      link: row.link,
      shmAvailable: row.shmAvailable ?? true,
    });
    const chain = [selection, ...selection.fallbacks].map(
      (c) => `${short(c.strategy, c.route)}: ${c.explanation}`,
    );
    expect(chain).toEqual(row.chain);
    for (const choice of [selection, ...selection.fallbacks]) expect(choice.endpoint.kind).toBe(choice.route);
  });
});

describe('selectTransport: errors', () => {
  const cases: { name: string; input: SelectionInput; code: string }[] = [
    {
      name: 'no common wire and no grpc endpoint',
      input: {
        source: node('a', 'swift', 'm1', { wires: ['swift'] }),
        destination: node('b', 'rust', 'm2', { wires: ['rust'], endpoints: tcpOnly }),
        messageSize: 1,
        shmAvailable: true,
      },
      code: 'E_NO_COMMON_WIRE',
    },
    {
      name: 'no endpoint at all',
      input: {
        source: node('a', 'rust', 'm1'),
        destination: node('b', 'rust', 'm2', { endpoints: [] }),
        messageSize: 1,
        shmAvailable: true,
      },
      code: 'E_NO_ROUTE',
    },
    {
      name: 'forced shm across machines',
      input: { ...input({ from: 'rust', to: 'rust', sameMachine: false }), policy: { force: 'shm' } },
      code: 'E_NO_ROUTE',
    },
    {
      name: 'forced shm while the addon is unavailable',
      input: {
        ...input({ from: 'rust', to: 'rust', sameMachine: true, shmAvailable: false }),
        policy: { force: 'shm' },
      },
      code: 'E_NO_ROUTE',
    },
    {
      name: 'forced wire the peer does not speak',
      input: { ...input({ from: 'rust', to: 'rust', sameMachine: false }), policy: { force: 'swift' } },
      code: 'E_NO_COMMON_WIRE',
    },
    {
      name: 'forced grpc without a grpc endpoint',
      input: {
        source: node('a', 'rust', 'm1'),
        destination: node('b', 'rust', 'm2', { endpoints: tcpOnly }),
        messageSize: 1,
        shmAvailable: true,
        policy: { force: 'grpc' },
      },
      code: 'E_NO_ROUTE',
    },
    {
      name: 'negative message size',
      input: { ...input({ from: 'rust', to: 'rust', sameMachine: false }), messageSize: -1 },
      code: 'E_INVALID_ARGUMENT',
    },
    {
      name: 'fractional message size',
      input: { ...input({ from: 'rust', to: 'rust', sameMachine: false }), messageSize: 1.5 },
      code: 'E_INVALID_ARGUMENT',
    },
    {
      name: 'NaN bandwidth',
      input: input({
        from: 'rust',
        to: 'rust',
        sameMachine: false,
        link: { bandwidthBytesPerSec: Number.NaN },
      }),
      code: 'E_INVALID_ARGUMENT',
    },
    {
      name: 'unknown forced kind',
      input: {
        ...input({ from: 'rust', to: 'rust', sameMachine: false }),
        policy: { force: 'pigeon' as never },
      },
      code: 'E_INVALID_ARGUMENT',
    },
    {
      name: 'destination is not a NodeInfo',
      input: {
        ...input({ from: 'rust', to: 'rust', sameMachine: false }),
        destination: { id: 'x' } as never,
      },
      code: 'E_INVALID_ARGUMENT',
    },
  ];
  it.each(cases)('$name -> $code', ({ input: value, code }) => {
    let thrown: unknown;
    try {
      selectTransport(value);
    } catch (error) {
      thrown = error;
    }
    expect(isTmeshError(thrown)).toBe(true);
    expect((thrown as { code: string }).code).toBe(code);
  });
});
