// One side of a fault-injection trial (scripts/reliability/faults-lib.ts), a real process using the
// @tmesh/manager facade. argv[2]: JSON PeerConfig.
//
// receiver: answers every FaultMsg request after checking the CRC-32 of its random content, and appends
//   one line per delivery to its log (`<sender instance> <seq> <crc> <crc ok 1|0> <route>`), one
//   write(2) per line on an O_APPEND file, so a SIGKILL leaves every complete line.
// sender: sends `count` FaultMsg requests (a window of them in flight), then probes until one succeeds
//   (recovery). Its log has `S <seq> <crc> <bytes>` before a request leaves, then `OK <seq> <route>` or
//   `ERR <seq> <code>` when it settles, and `U <count> <why>` when the node reports messages it had
//   accepted as undelivered (NodeEvent 'undelivered').
// Both print JSON lines on stdout ({ready}, {sending}, {streamed}, {recovered}, {done}) and close the
// node on SIGTERM. The sender starts its recovery probe when a `probe` line arrives on stdin; a `peers`
// line prints the peers the node knows; a `finish` line ends the stream early.
import { randomBytes, randomInt } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { crc32, defineMessage, isTmeshError, t, tmeshError } from '../../packages/core/src/index.js';
import { createNode, type TmeshNode } from '../../packages/manager/src/index.js';

export const FaultMsg = defineMessage(
  'tmesh.reliability.FaultMsg',
  201,
  t.struct('FaultMsg', { sender: t.string(), seq: t.u32(), crc: t.u32(), data: t.bytes() }),
);
export const FaultAck = defineMessage(
  'tmesh.reliability.FaultAck',
  202,
  t.struct('FaultAck', { seq: t.u32(), crc: t.u32() }),
);

export interface PeerConfig {
  role: 'sender' | 'receiver';
  id: string;
  /** The other side's node id (sender). */
  peer?: string;
  mode: 'shm' | 'tcp';
  runtimeDir: string;
  log: string;
  machineId?: string;
  /** TCP listener address (tcp mode). */
  host?: string;
  port?: number;
  /** Ring bytes per direction (shm mode); small rings make big messages travel in fragments. */
  shmCapacity?: number;
  heartbeatMs?: number;
  deadAfterMs?: number;
  /**
   * 'request' (default): every message is a request the receiver answers after logging it, so the sender
   * knows per message. 'send': plain `node.send` (resolves when the transport accepted the message) and
   * `node.on` at the receiver, to measure what that weaker promise leaves unreported.
   */
  api?: 'request' | 'send';
  /** etcd discovery instead of the runtime directory. */
  etcd?: { hosts: string[]; prefix: string; ttlSeconds: number };
  // sender
  count?: number;
  /** The stream also stops after this long (ms). */
  streamMs?: number;
  window?: number;
  maxBytes?: number;
  /** Pause between sends (ms), to spread a stream over a fault. */
  intervalMs?: number;
  timeoutMs?: number;
  /** How long the sender probes for the peer after the stream (ms). */
  recoverMs?: number;
}

const config = JSON.parse(process.argv[2]!) as PeerConfig;
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const fd = openSync(config.log, 'a');
const log = (line: string) => writeSync(fd, `${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const node: TmeshNode = await createNode({
  id: config.id,
  // Messages a transport had accepted and then could not deliver, reported to this (sending) node.
  onEvent: (e) => {
    if (e.kind === 'undelivered') log(`U ${e.count ?? 0} ${e.message.replace(/\s+/g, '_').slice(0, 200)}`);
  },
  types: [FaultMsg, FaultAck],
  ...(config.machineId ? { machineId: config.machineId } : {}),
  discovery: config.etcd ? { runtimeDir: false, etcd: config.etcd } : { runtimeDir: config.runtimeDir },
  transport: {
    ...(config.mode === 'shm'
      ? { tcp: false, shm: { capacity: config.shmCapacity ?? 1 << 16 } }
      : {
          unix: false,
          shm: false,
          tcp: { host: config.host ?? '127.0.0.1', port: config.port ?? 0 },
        }),
    ...(config.heartbeatMs ? { heartbeatMs: config.heartbeatMs } : {}),
    ...(config.deadAfterMs ? { deadAfterMs: config.deadAfterMs } : {}),
  },
});

let stopping = false;
let stopped: (() => void) | undefined;
const stop = new Promise<void>((r) => {
  stopped = r;
});
let finishStream = false;
let probeNow: (() => void) | undefined;
const probe = new Promise<void>((r) => {
  probeNow = r;
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'probe') probeNow?.();
  if (line.trim() === 'finish') finishStream = true;
  if (line.trim() === 'peers') print({ peers: node.peers().map((p) => p.info.id) });
});
process.on('SIGTERM', () => {
  stopping = true;
  stopped?.();
});
async function shutdown(code: number): Promise<never> {
  await node.close();
  closeSync(fd);
  process.exit(code);
}

if (config.role === 'receiver') {
  node.handle(FaultMsg, (m) => {
    const ok = crc32(m.value.data) === m.value.crc;
    log(`${m.value.sender} ${m.value.seq} ${m.value.crc} ${ok ? 1 : 0} ${m.via.route}`);
    if (!ok) throw tmeshError('E_CHECKSUM', `message ${m.value.seq} arrived with a wrong CRC-32`);
    return { type: FaultAck, value: { seq: m.value.seq, crc: m.value.crc } };
  });
  node.on(FaultMsg, (m) => {
    const ok = crc32(m.value.data) === m.value.crc;
    log(`${m.value.sender} ${m.value.seq} ${m.value.crc} ${ok ? 1 : 0} ${m.via.route}`);
  });
  print({ ready: node.info.id, pid: process.pid, endpoints: node.info.endpoints });
  await stop;
  await shutdown(0);
} else {
  const instance = `${config.id}.${randomBytes(4).toString('hex')}`;
  const peer = config.peer!;
  const timeoutMs = config.timeoutMs ?? 3000;
  const maxBytes = config.maxBytes ?? 4096;
  print({ ready: node.info.id, pid: process.pid, instance });
  // Wait until discovery knows the peer (bounded).
  const waitUntil = Date.now() + 20_000;
  while (!node.peers().some((p) => p.info.id === peer) && Date.now() < waitUntil && !stopping)
    await sleep(20);
  let seq = 0;
  const outcomes = { ok: 0, err: {} as Record<string, number> };
  const one = async (): Promise<boolean> => {
    const s = ++seq;
    // Mostly small messages, some bigger than half the ring (fragmented over shm).
    const size = randomInt(0, 10) === 0 ? randomInt(0, maxBytes * 16 + 1) : randomInt(0, maxBytes + 1);
    const data = randomBytes(size);
    const crc = crc32(data);
    log(`S ${s} ${crc} ${size}`);
    try {
      if (config.api === 'send') {
        await node.send(peer, FaultMsg, { sender: instance, seq: s, crc, data }, { timeoutMs });
        const route = node.peers().find((p) => p.info.id === peer)?.route ?? 'unknown';
        log(`OK ${s} ${route}`);
        outcomes.ok++;
        return true;
      }
      const reply = await node.request(
        peer,
        FaultMsg,
        { sender: instance, seq: s, crc, data },
        { timeoutMs },
      );
      const ack = reply.value as { seq: number; crc: number };
      if (reply.type.id !== FaultAck.id || ack.seq !== s || ack.crc !== crc) {
        log(`ERR ${s} E_BAD_ACK`);
        outcomes.err.E_BAD_ACK = (outcomes.err.E_BAD_ACK ?? 0) + 1;
        return false;
      }
      log(`OK ${s} ${reply.via.route}`);
      outcomes.ok++;
      return true;
    } catch (e) {
      const code = isTmeshError(e) ? e.code : `NOT_TMESH:${(e as Error)?.name}`;
      log(`ERR ${s} ${code}`);
      outcomes.err[code] = (outcomes.err[code] ?? 0) + 1;
      return false;
    }
  };
  print({ sending: Date.now() });
  const count = config.count ?? 1000;
  const window = config.window ?? 8;
  const streamEnd = Date.now() + (config.streamMs ?? 60_000);
  let issued = 0;
  const lane = async () => {
    while (issued < count && Date.now() < streamEnd && !finishStream && !stopping) {
      issued++;
      // While the peer is down, failures come fast: pace them.
      if (!(await one())) await sleep(20);
      if (config.intervalMs) await sleep(config.intervalMs);
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  print({ streamed: Date.now(), ...outcomes });
  // Recovery, once the controller says the peer is back (a `probe` line on stdin): one request at a time
  // until one is answered (bounded).
  await Promise.race([probe, stop]);
  const started = Date.now();
  let recovered = false;
  while (!recovered && !stopping && Date.now() - started < (config.recoverMs ?? 20_000)) {
    recovered = await one();
    if (!recovered) await sleep(100);
  }
  print({ recovered, afterMs: Date.now() - started });
  print({ done: true, instance, sent: seq, ...outcomes });
  if (!stopping) await stop;
  await shutdown(0);
}
