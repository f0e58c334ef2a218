// Property-based fuzzing of the link handshake (RELIABILITY.md, "Fuzzing"): negotiate() and the proof
// check on arbitrary Hellos, then the acceptor's handshake() on a real TCP socket fed mutated and random
// initiator byte streams, then a listening server flooded with them. Contract: a handshake that agreed
// (valid Hello, valid proof), else a TmeshError with a stable code and the connection closed; the server
// keeps serving its good link. TMESH_FUZZ_RUNS scales the runs (CI: the defaults, a few seconds).
import net from 'node:net';
import { isTmeshError } from '@tmesh/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthValue, control, type HelloValue, linkRegistry } from './control.js';
import { codecFor } from './framing.js';
import { handshake } from './handshake.js';
import { connect, type Link, type LinkServer, listen } from './index.js';
import { authProof, negotiate, verifyProof } from './negotiate.js';
import { chunk, FileChunk, node, registry } from './test-support.js';

const RUNS = Number(process.env.TMESH_FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.TMESH_FUZZ_SEED ?? 0x4a5d);
/** Live socket cases: each is a real connection, so fewer than the pure properties. */
const LIVE = Math.max(40, Math.floor(RUNS / 10));
const link = linkRegistry(registry);
const codec = codecFor('universal', link);
const TOKEN = 'fuzz-token';

const word = fc.constantFrom(
  'rust',
  'swift',
  'universal',
  'deflate',
  'zstd',
  'lz4',
  'none',
  '',
  'RUST',
  'x'.repeat(300),
);
const hello = fc.record({
  nodeId: fc.string({ maxLength: 40 }),
  language: fc.constantFrom('typescript', 'rust', ''),
  machineId: fc.string({ maxLength: 20 }),
  protocolVersions: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 6 }),
  wires: fc.array(word, { maxLength: 5 }),
  compression: fc.array(word, { maxLength: 5 }),
  maxFrameSize: fc.nat({ max: 0xffffffff }),
  sessionId: fc.string({ maxLength: 30 }),
  nonce: fc.uint8Array({ maxLength: 32 }),
});

const acceptor: HelloValue = {
  nodeId: 'acceptor',
  language: 'typescript',
  machineId: 'm',
  protocolVersions: [1],
  wires: ['rust', 'swift', 'universal'],
  compression: ['deflate'],
  maxFrameSize: 1 << 20,
  sessionId: 'acceptor-session',
  nonce: new Uint8Array(16).fill(0xcd),
};

describe('fuzz: handshake agreement and proof', () => {
  it(`negotiate: ${RUNS} pairs of arbitrary Hellos agree consistently or fail with a handshake code`, () => {
    fc.assert(
      fc.property(hello, hello, (a, b) => {
        try {
          const g = negotiate(a, b);
          expect(a.protocolVersions).toContain(g.version);
          expect(b.protocolVersions).toContain(g.version);
          expect(Math.max(...a.protocolVersions.filter((v) => b.protocolVersions.includes(v)))).toBe(
            g.version,
          );
          expect(['rust', 'swift', 'universal']).toContain(g.wire);
          expect(a.wires.includes(g.wire) && b.wires.includes(g.wire)).toBe(true);
          for (const c of g.compressions)
            expect(a.compression.includes(c) && b.compression.includes(c)).toBe(true);
          expect(g.maxFrameSize).toBe(Math.min(a.maxFrameSize, b.maxFrameSize));
        } catch (error) {
          if (!isTmeshError(error)) throw error;
          expect(['E_VERSION_MISMATCH', 'E_NO_COMMON_WIRE']).toContain(error.code);
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it(`verifyProof: ${RUNS} random proofs are refused (E_AUTH) unless they are the HMAC`, () => {
    fc.assert(
      fc.property(hello, fc.uint8Array({ maxLength: 40 }), fc.boolean(), (peer, proof, real) => {
        const given = real ? authProof(TOKEN, peer.nodeId, peer.nonce, acceptor.nonce) : proof;
        const good = authProof(TOKEN, peer.nodeId, peer.nonce, acceptor.nonce).equals(Buffer.from(given));
        try {
          verifyProof(TOKEN, peer, acceptor.nonce, given);
          expect(good).toBe(true);
        } catch (error) {
          if (!isTmeshError(error, 'E_AUTH')) throw error;
          expect(good).toBe(false);
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});

/** An initiator's opening bytes: a Hello and an Auth (proof right or wrong), mutated or replaced by noise. */
const stream = fc
  .record({
    hello: hello.map((h) => ({
      ...h,
      protocolVersions: [1, ...h.protocolVersions],
      wires: [...h.wires, 'rust'],
    })),
    realProof: fc.boolean(),
    edits: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
    cut: fc.nat(),
    noise: fc.option(fc.uint8Array({ minLength: 1, maxLength: 200 }), { freq: 5 }),
    tail: fc.uint8Array({ maxLength: 40 }),
    pieces: fc.array(fc.nat(), { maxLength: 5 }),
  })
  .map((c) => {
    const proof = c.realProof
      ? authProof(TOKEN, c.hello.nodeId, c.hello.nonce, acceptor.nonce)
      : new Uint8Array(32);
    const auth: AuthValue = { proof, resumeSession: '', resumeReceived: 0n };
    let bytes = Buffer.concat([
      codec.encode(control.Hello, c.hello),
      codec.encode(control.Auth, auth),
      c.tail,
    ]);
    for (const e of c.edits) bytes[e.at % bytes.length] = e.byte;
    if (c.edits.length > 0 && c.cut % 3 === 0) bytes = bytes.subarray(0, c.cut % (bytes.length + 1));
    if (c.noise) bytes = Buffer.from(c.noise);
    const points = [...new Set(c.pieces.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
    return { bytes, points, valid: c.edits.length === 0 && !c.noise && c.realProof };
  });

type Outcome = { code: string; closed: boolean };

describe('fuzz: the acceptor handshake on a real socket', () => {
  let server: net.Server;
  const accepted: net.Socket[] = [];
  const waiting: ((s: net.Socket) => void)[] = [];
  beforeAll(async () => {
    server = net.createServer((s) => {
      const w = waiting.shift();
      if (w) w(s);
      else accepted.push(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });
  const nextAccepted = (): Promise<net.Socket> =>
    new Promise((r) => {
      const s = accepted.shift();
      if (s) r(s);
      else waiting.push(r);
    });

  /** Write `bytes` in pieces from a client, end, and run the acceptor's handshake on the server side. */
  async function run(bytes: Uint8Array, points: number[]): Promise<Outcome> {
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => {});
    client.on('data', () => {});
    const clientClosed = new Promise<void>((r) => client.once('close', () => r()));
    const socket = await nextAccepted();
    const result = handshake(socket, {
      role: 'acceptor',
      hello: acceptor,
      token: TOKEN,
      registry: link,
      timeoutMs: 300,
      onPeerHello: () => ({ resumeSession: '', resumeReceived: 0 }),
    });
    let from = 0;
    for (const to of [...points, bytes.length]) {
      if (to > from) client.write(bytes.subarray(from, to));
      from = to;
    }
    client.end();
    let code = 'ok';
    try {
      await result;
      socket.destroy();
    } catch (error) {
      if (!isTmeshError(error)) throw new Error(`non-tmesh error: ${String(error)}`, { cause: error });
      code = error.code;
    }
    // Either way the connection ends (a failed handshake closes it within a second).
    await clientClosed;
    return { code, closed: true };
  }

  it(`${LIVE} mutated and random initiator streams: agreement or a TmeshError, connection closed`, async () => {
    const cases = fc.sample(stream, { numRuns: LIVE, seed: SEED });
    const codes = new Map<string, number>();
    for (const c of cases) {
      const out = await run(c.bytes, c.points);
      expect(out.closed).toBe(true);
      if (c.valid) expect(out.code).toBe('ok');
      codes.set(out.code, (codes.get(out.code) ?? 0) + 1);
    }
    const seen = JSON.stringify([...codes]);
    expect(codes.get('ok'), seen).toBeGreaterThan(0);
    expect(codes.get('E_HANDSHAKE'), seen).toBeGreaterThan(0);
    expect(codes.get('E_AUTH'), seen).toBeGreaterThan(0);
  });
});

describe('fuzz: a listening server under hostile handshakes', () => {
  let server: LinkServer;
  let good: Link;
  const errors: unknown[] = [];
  beforeAll(async () => {
    server = await listen(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      {
        self: node('fuzz-server'),
        registry,
        handshakeTimeoutMs: 300,
        onLink: (l) => l.onRequest((m) => ({ type: FileChunk, value: m.value })),
      },
    );
    server.on('handshakeError', (e: unknown) => errors.push(e));
    good = await connect(server.address(), { self: node('fuzz-good'), registry });
  });
  afterAll(async () => {
    await good.close();
    await server.close();
  });

  it(`${Math.floor(LIVE / 2)} hostile connections: every handshake error is a TmeshError, the good link still served`, async () => {
    const address = server.address() as { host: string; port: number };
    const cases = fc.sample(stream, { numRuns: Math.floor(LIVE / 2), seed: SEED + 1 });
    let i = 0;
    for (const c of cases) {
      await new Promise<void>((resolve) => {
        const s = net.connect(address.port, address.host, () => {
          s.end(c.bytes);
        });
        s.on('error', () => {});
        s.on('data', () => {});
        s.once('close', () => resolve());
      });
      if (++i % 8 === 0) {
        const reply = await good.request(FileChunk, chunk(i), { timeoutMs: 2000 });
        expect(reply.value).toMatchObject({ sequence: i });
      }
    }
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(isTmeshError(e), String(e)).toBe(true);
    const reply = await good.request(FileChunk, chunk(7), { timeoutMs: 2000 });
    expect(reply.value).toMatchObject({ sequence: 7 });
  });
});
