// One process of the soak (scripts/reliability/soak-lib.ts), a real node through the @tmesh/manager facade.
// argv[2]: JSON SoakPeerConfig.
//
// receiver: counts SoakMsg per sender: the next expected sequence number (order), the count and a running
//   CRC-32 of the payloads; prints {ready} once listening, then every second {t, rss, counts}; on a `stop`
//   line on stdin prints {final} and exits.
// sender: waits until discovery shows its receiver, sends message 0 (which opens the transport), prints
//   {connected}, waits for a `go` line, then sends the rest of `count` SoakMsg with a window of sends in
//   flight; prints every second {t, rss, sent, route}; at the end {done, sent, crc, seconds, route}, then
//   waits for `stop`.
// Every line is one JSON object; RSS is sampled once a second in every process.
import { createInterface } from 'node:readline';
import { crc32, defineMessage, t } from '../../packages/core/src/index.js';
import { createNode, type TmeshNode } from '../../packages/manager/src/index.js';

export const SoakMsg = defineMessage(
  'tmesh.reliability.SoakMsg',
  211,
  t.struct('SoakMsg', { seq: t.u32(), data: t.bytes() }),
);

export type SoakRoute = 'shm' | 'unix' | 'tcp' | 'tls';

export interface SoakPeerConfig {
  role: 'sender' | 'receiver';
  id: string;
  route: SoakRoute;
  runtimeDir: string;
  /** TLS 1.3 pre-shared keys (route 'tls'): the sender's own key, the receiver's keys by node id. */
  psk?: { key?: string; keys?: Record<string, string> };
  // sender
  target?: string;
  count?: number;
  window?: number;
  /** Index of the sender: seeds its payloads. */
  index?: number;
}

/** The payload of message `seq` of sender `index`: 16..79 bytes, cheap to make, different per message. */
export function payload(index: number, seq: number): Uint8Array {
  const n = 16 + ((seq * 7 + index) & 63);
  const out = new Uint8Array(n);
  let x = (Math.imul(seq + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const started = Date.now();
const elapsed = () => (Date.now() - started) / 1000;
const rss = () => process.memoryUsage().rss;

/**
 * Heartbeats tolerate 30 s of silence here (default 5 s): twenty busy processes on a shared two-core
 * machine starve event loops for seconds, and a link declared dead under that load drops what it held
 * when the peer's resume window runs out first. The soak measures the steady state, not that timing.
 */
export const SOAK_DEAD_AFTER_MS = 30_000;
/** How long one send may wait for queue space (backpressure) before it fails with E_TIMEOUT. */
export const SOAK_SEND_TIMEOUT_MS = 120_000;

function transportFor(config: SoakPeerConfig) {
  const common = {
    deadAfterMs: SOAK_DEAD_AFTER_MS,
    ...(config.psk ? { tls: { psk: config.psk } } : {}),
  };
  if (config.role === 'sender') return { unix: false as const, tcp: false as const, ...common };
  switch (config.route) {
    case 'shm':
      return { tcp: false as const, ...common };
    case 'unix':
      return { tcp: false as const, shm: false as const, ...common };
    default:
      return { unix: false as const, shm: false as const, ...common };
  }
}

async function start(config: SoakPeerConfig): Promise<TmeshNode> {
  return createNode({
    id: config.id,
    types: [SoakMsg],
    discovery: { runtimeDir: config.runtimeDir },
    transport: transportFor(config),
    // Anything but the first route choice is worth reporting: a fallback, a failure, a transport gone.
    onEvent: (e) => {
      if (e.kind !== 'route' && e.kind !== 'config') say({ event: `${e.kind} ${e.peer}: ${e.message}` });
    },
  });
}

// A `stop` line runs the role's stop action (once it has one); a closed stdin means the driver is gone.
let stopAction: (() => void | Promise<void>) | undefined;
let stopRequested = false;
let goAction: (() => void) | undefined;
let goRequested = false;
createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() === 'go') {
      goRequested = true;
      goAction?.();
      return;
    }
    if (line.trim() !== 'stop') return;
    stopRequested = true;
    if (stopAction) void stopAction();
  })
  .on('close', () => setTimeout(() => process.exit(3), 2000).unref());

function onStop(action: () => void | Promise<void>): void {
  stopAction = action;
  if (stopRequested) void action();
}

async function receiver(config: SoakPeerConfig): Promise<void> {
  const node = await start(config);
  const counts: Record<
    string,
    { next: number; count: number; crc: number; orderErrors: number; route: string }
  > = {};
  let firstError: string | undefined;
  node.on(SoakMsg, (m) => {
    let c = counts[m.from];
    if (!c) {
      c = { next: 0, count: 0, crc: 0, orderErrors: 0, route: m.via.route };
      counts[m.from] = c;
    }
    if (m.value.seq !== c.next) {
      c.orderErrors++;
      firstError ??= `${m.from}: expected seq ${c.next}, got ${m.value.seq}`;
    }
    c.next = m.value.seq + 1;
    c.count++;
    c.crc = crc32(m.value.data, c.crc);
  });
  const tick = setInterval(() => say({ t: elapsed(), rss: rss(), counts: summary() }), 1000);
  const summary = () =>
    Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, { count: v.count, route: v.route }]));
  onStop(async () => {
    clearInterval(tick);
    say({ final: counts, firstError, t: elapsed(), rss: rss() });
    await node.close();
    process.exit(0);
  });
  say({ ready: true, t: elapsed(), rss: rss() });
}

async function sender(config: SoakPeerConfig): Promise<void> {
  const node = await start(config);
  const target = config.target!;
  const count = config.count!;
  const index = config.index!;
  const window = config.window ?? 64;
  const deadline = Date.now() + 30_000;
  while (!node.peers().some((p) => p.info.id === target)) {
    if (Date.now() > deadline) throw new Error(`${config.id}: ${target} not discovered within 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  let sent = 0;
  let crc = 0;
  const route = () => node.peers().find((p) => p.info.id === target)?.route ?? '';
  const tick = setInterval(() => say({ t: elapsed(), rss: rss(), sent, route: route() }), 1000);
  // Message 0 opens the transport; then wait for `go`, so every sender is connected before any streams.
  const first = payload(index, 0);
  crc = crc32(first, crc);
  await node.send(target, SoakMsg, { seq: 0, data: first }, { timeoutMs: SOAK_SEND_TIMEOUT_MS });
  sent = 1;
  say({ connected: true, route: route(), t: elapsed(), rss: rss() });
  await new Promise<void>((resolve) => {
    goAction = resolve;
    if (goRequested) resolve();
  });
  const t0 = Date.now();
  const inFlight: Promise<void>[] = [];
  for (let seq = 1; seq < count; seq++) {
    if (inFlight.length >= window) await inFlight.shift();
    const data = payload(index, seq);
    crc = crc32(data, crc);
    const p = node.send(target, SoakMsg, { seq, data }, { timeoutMs: SOAK_SEND_TIMEOUT_MS });
    p.catch(() => {}); // awaited in order below; this only keeps a later failure from going unhandled
    inFlight.push(p);
    sent++;
  }
  await Promise.all(inFlight);
  clearInterval(tick);
  say({ done: true, sent, crc, seconds: (Date.now() - t0) / 1000, route: route(), t: elapsed(), rss: rss() });
  const idle = setInterval(() => say({ t: elapsed(), rss: rss(), sent, route: route() }), 1000);
  onStop(async () => {
    clearInterval(idle);
    await node.close();
    process.exit(0);
  });
}

const config = JSON.parse(process.argv[2] ?? '{}') as SoakPeerConfig;
if (config.role) {
  (config.role === 'receiver' ? receiver(config) : sender(config)).catch((e: Error) => {
    say({ error: `${(e as { code?: string }).code ?? ''} ${e.message}` });
    process.exit(1);
  });
}
