// Fuzzing the Rust peer's acceptor over real sockets (RELIABILITY.md, "Fuzzing"): connections that send
// mutated and random initiator streams (Hello, Auth and first frames in both wires, edited, cut, or noise)
// to a running examples/rust-peer. Contract: the peer never panics (its log says so when a connection
// task does, as the universal length overflow did before fuzz/ found it), never exits, closes every such
// connection, and still serves a TypeScript node afterwards. TMESH_FUZZ_RUNS scales the connections.
import net from 'node:net';
import { createRustCodec } from '@tmesh/codec-rust';
import { createUniversalCodec } from '@tmesh/codec-universal';
import { MessageRegistry, sampleMessages } from '@tmesh/core';
import { control } from '@tmesh/net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildRustPeer,
  hasCargo,
  killRustPeers,
  type RustPeer,
  startRustPeer,
} from './fixtures/rust-peer.js';
import { requestReport } from './fixtures/traffic.js';
import { createNode } from './node.js';

const RUNS = Number(process.env.TMESH_FUZZ_RUNS ?? 1000);
const CONNECTIONS = Math.max(60, Math.floor(RUNS / 10));
if (!hasCargo) console.warn('rust-peer fuzz test skipped: cargo is not installed');

const registry = new MessageRegistry([
  sampleMessages.FileChunk,
  sampleMessages.Metrics,
  ...Object.values(control),
]);
const universal = createUniversalCodec(registry);
const rust = createRustCodec(registry);

/** An initiator's opening: Hello and Auth (universal), then a Ping and a FileChunk in the agreed wire. */
const opening = fc
  .record({
    wire: fc.constantFrom('rust', 'universal'),
    nodeId: fc.string({ maxLength: 30 }),
    versions: fc.array(fc.nat({ max: 3 }), { maxLength: 3 }),
    maxFrameSize: fc.nat({ max: 0xffffffff }),
    nonce: fc.uint8Array({ maxLength: 20 }),
    proof: fc.uint8Array({ maxLength: 40 }),
    data: fc.uint8Array({ maxLength: 100 }),
    edits: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
    cut: fc.option(fc.nat()),
    noise: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }), { freq: 6 }),
  })
  .map((c) => {
    const after = c.wire === 'rust' ? rust : universal;
    const parts = [
      universal.encode(control.Hello, {
        nodeId: c.nodeId,
        language: 'typescript',
        machineId: 'fuzz',
        protocolVersions: [1, ...c.versions],
        wires: [c.wire],
        compression: [],
        maxFrameSize: c.maxFrameSize,
        sessionId: 'fuzz-session',
        nonce: c.nonce,
      }),
      universal.encode(control.Auth, {
        proof: c.proof.length % 2 ? c.proof : new Uint8Array(0),
        resumeSession: '',
        resumeReceived: 0n,
      }),
      after.encode(control.Ping, { id: 7 }),
      after.encode(
        sampleMessages.FileChunk,
        { path: 'f', offset: 0n, sequence: 1, last: true, data: c.data },
        { sequence: 1 },
      ),
    ];
    let bytes = Buffer.concat(parts);
    for (const e of c.edits) bytes[e.at % bytes.length] = e.byte;
    if (c.cut !== null) bytes = bytes.subarray(0, c.cut % (bytes.length + 1));
    return c.noise ? Buffer.from(c.noise) : bytes;
  });

describe.skipIf(!hasCargo)('fuzz: the Rust peer acceptor under hostile connections', () => {
  let peer: RustPeer;
  let exitCode: number | null | undefined;
  const id = `rust-fuzz-${process.pid}`;

  beforeAll(async () => {
    buildRustPeer();
    peer = await startRustPeer(id, ['--machine-id', 'rust-fuzz-machine'], { env: { RUST_BACKTRACE: '0' } });
    void peer.exited.then((code) => {
      exitCode = code;
    });
  }, 610_000);

  afterAll(killRustPeers);

  it(`${CONNECTIONS} hostile openings: no panic, every connection closed, a real node still served`, async () => {
    const streams = [
      // What fuzz/ found: a universal length prefix near 2^64 overflowed and panicked the connection task.
      Buffer.from([0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0]),
      ...fc.sample(opening, { numRuns: CONNECTIONS, seed: Number(process.env.TMESH_FUZZ_SEED ?? 0x5ee7) }),
    ];
    for (const bytes of streams) {
      await new Promise<void>((done, fail) => {
        const s = net.connect(peer.port, '127.0.0.1', () => s.end(bytes));
        s.on('data', () => {});
        s.on('error', () => {});
        // The peer closes the connection (at worst after its 5 s handshake timeout, or its 5 s link
        // silence limit once a handshake succeeded with the stream ended).
        const timer = setTimeout(
          () => fail(new Error('the Rust peer kept a hostile connection open')),
          12_000,
        );
        s.once('close', () => {
          clearTimeout(timer);
          done();
        });
      });
    }
    expect(exitCode, peer.log).toBeUndefined();
    expect(peer.log).not.toMatch(/panicked/);

    const node = await createNode({
      id: `ts-rpf-${process.pid}`,
      types: [sampleMessages.FileChunk, sampleMessages.Metrics],
      machineId: `ts-rpf-machine-${process.pid}`,
      discovery: { runtimeDir: peer.dir },
      transport: { unix: false },
    });
    try {
      const { reply } = await requestReport(node, id);
      expect(reply.type).toBe(sampleMessages.Metrics);
    } finally {
      await node.close();
    }
    expect(peer.log).not.toMatch(/panicked/);
  }, 300_000);
});
