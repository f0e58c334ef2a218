// Turns a suite run (bench/run.ts) into the BENCHMARKS.md section and the SVG chart.

/** One row of the table: a tmesh route or a peer, with medians over rounds and spreads. */
export interface Row {
  name: string;
  group: 'tmesh' | 'peer';
  transport: 'shm' | 'unix' | 'tcp';
  /** RTT of 64 B (us), all rounds' samples pooled. */
  rtt?: { p50: number; p99: number; p999: number; samples: number; spreadPct: number };
  /** One-way rates (median over rounds) and the spread of the rounds ((max - min) / median, %). */
  msgs64?: { perSecond: number; spreadPct: number; rounds: number[] };
  kib4?: { mbPerSecond: number; spreadPct: number; rounds: number[] };
  mib1?: { mbPerSecond: number; spreadPct: number; rounds: number[] };
  /** Peak RSS (MiB) over the rounds: the client (sender) and the server (receiver; the largest of 8 for broadcast). */
  rssClientMiB?: number;
  rssServerMiB?: number;
  /** Ratios against the raw socket of the same transport and against grpc-js (higher is better for rates, lower for RTT). */
  ratios: Record<string, number>;
  /** The raw socket row of the same transport and the grpc-js rows the ratios use. */
  rawBaseline?: string;
  error?: string;
}

/** A broadcast row: one sender, 8 receiver processes, 64 B messages. */
export interface BroadcastRow {
  name: string;
  transport: 'shm' | 'unix' | 'tcp';
  deliveredPerSecond: number;
  spreadPct: number;
  rounds: number[];
  rssSenderMiB: number;
  rssReceiverMaxMiB: number;
  ratios: Record<string, number>;
  error?: string;
}

/** A goal of issue 8 and whether this run met it. */
export interface Goal {
  goal: string;
  measured: number;
  target: string;
  met: boolean;
  detail: string;
}

/** Everything one run produced (bench/results/latest.json). */
export interface SuiteResult {
  generatedAt: string;
  command: string;
  quick: boolean;
  rounds: number;
  seed: number;
  machine: Record<string, string | number>;
  settings: Record<string, number>;
  rows: Row[];
  broadcast: BroadcastRow[];
  goals: Goal[];
}

const f = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n)
    ? 'n/a'
    : n >= 1e6
      ? `${(n / 1e6).toFixed(2)}M`
      : n >= 1e4
        ? `${(n / 1e3).toFixed(0)}k`
        : n.toFixed(digits);
const r = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(2)}x`);
const s = (n: number | undefined) => (n === undefined ? '' : ` ±${n.toFixed(0)}%`);

/** The markdown of the BENCHMARKS.md section (between the markers). */
export function renderMarkdown(res: SuiteResult): string {
  const out: string[] = [];
  const m = res.machine;
  out.push(
    `Run ${res.generatedAt} on ${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; load average at start ${m.loadAverage}.`,
    '',
    `Command: \`${res.command}\` (${res.rounds} interleaved rounds, seed ${res.seed}; every process started fresh per round).`,
    '',
    'Every row is two processes (client and server, each `node --import tsx bench/peer.ts`, or the Rust peer binary);',
    'the rounds run every row once in turn, so load from other processes on this shared 2-core machine hits all rows alike.',
    `RTT: ${res.settings.rttCount} round trips of 64 B per round after ${res.settings.rttWarm} warm-up ones, percentiles over all rounds' samples.`,
    `One-way: the sender sends for ${res.settings.onewayMs} ms after a ${res.settings.warmMs} ms warm-up; the rate counts only what the receiver confirmed`,
    "(tmesh: the sink's counters and CRC; raw sockets: the receiver delimits every record; zeromq: a count socket; grpc-js: the upload reply).",
    'Rates are medians of rounds with their spread ((max - min) / median). Peak RSS is the largest `resourceUsage().maxRSS` (VmHWM for the Rust peer) of each side over the rounds.',
    'Raw sockets send coalesced writes (length-prefixed records copied into ~64 KiB writes); tmesh sends go through `node.send` with a sliding window',
    'of 64 outstanding sends (4 for 1 MiB). "ShmChannel (no facade)" rows are the @tmesh/shm-native layer alone (256 small messages per `trySendMany`,',
    '`recvBatch` on the receiver): what the shm routes could reach without codec, frame CRC and monitor.',
    '',
    '| route | transport | RTT p50 us | p99 | p99.9 | 64 B msgs/s | 4 KiB MB/s | 1 MiB MB/s | peak RSS client / server MiB |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const row of res.rows) {
    if (row.error) {
      out.push(`| ${row.name} | ${row.transport} | failed: ${row.error.replace(/\|/g, '/')} ||||||||`);
      continue;
    }
    out.push(
      `| ${row.name} | ${row.transport} | ${f(row.rtt?.p50, 1)} | ${f(row.rtt?.p99, 1)} | ${f(row.rtt?.p999, 1)} | ${row.msgs64 ? f(row.msgs64.perSecond) + s(row.msgs64.spreadPct) : 'n/a'} | ${row.kib4 ? f(row.kib4.mbPerSecond, 1) + s(row.kib4.spreadPct) : 'n/a'} | ${row.mib1 ? f(row.mib1.mbPerSecond, 1) + s(row.mib1.spreadPct) : 'n/a'} | ${f(row.rssClientMiB)} / ${f(row.rssServerMiB)} |`,
    );
  }
  out.push(
    '',
    'Ratios (RTT: this / baseline, lower is better; rates: this / baseline, higher is better). "raw" is the raw socket of the same',
    'transport (Unix socket for shm and ipc), "grpc" is grpc-js unary for RTT and grpc-js streaming for rates.',
    '',
    '| route | RTT vs raw | RTT vs grpc | 64 B vs raw | 64 B vs grpc | 4 KiB vs raw | 4 KiB vs grpc | 1 MiB vs raw | 1 MiB vs grpc |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const row of res.rows) {
    if (row.error) continue;
    const q = row.ratios;
    out.push(
      `| ${row.name} | ${r(q.rttVsRaw)} | ${r(q.rttVsGrpc)} | ${r(q.msgs64VsRaw)} | ${r(q.msgs64VsGrpc)} | ${r(q.kib4VsRaw)} | ${r(q.kib4VsGrpc)} | ${r(q.mib1VsRaw)} | ${r(q.mib1VsGrpc)} |`,
    );
  }
  out.push(
    '',
    'Broadcast: one sender to 8 receiver processes, 64 B messages, messages delivered per second summed over the receivers.',
    '',
    '| route | delivered msgs/s | vs raw | vs grpc | peak RSS sender / largest receiver MiB |',
    '|---|---|---|---|---|',
  );
  for (const b of res.broadcast) {
    if (b.error) {
      out.push(`| ${b.name} | failed: ${b.error.replace(/\|/g, '/')} ||||`);
      continue;
    }
    out.push(
      `| ${b.name} | ${f(b.deliveredPerSecond)}${s(b.spreadPct)} | ${r(b.ratios.vsRaw)} | ${r(b.ratios.vsGrpc)} | ${f(b.rssSenderMiB)} / ${f(b.rssReceiverMaxMiB)} |`,
    );
  }
  out.push(
    '',
    '### Goals (ratios within this run)',
    '',
    '| goal | measured | target | |',
    '|---|---|---|---|',
  );
  for (const g of res.goals)
    out.push(
      `| ${g.goal} | ${r(g.measured)} (${g.detail}) | ${g.target} | ${g.met ? 'met' : '**missed**'} |`,
    );
  out.push(
    '',
    'Chart: [bench/results/chart.svg](bench/results/chart.svg); raw data: bench/results/latest.json.',
  );
  return out.join('\n');
}

/** Replace the section between the markers in `doc` (adding heading and markers at the end if absent). */
export function spliceSection(doc: string, body: string): string {
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const block = `${start}\n${body}\n${end}`;
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) return doc.slice(0, a) + block + doc.slice(b + end.length);
  return `${doc.trimEnd()}\n\n## Side-by-side suite (bench/)\n\n${block}\n`;
}

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bar chart per metric (log scale, so rows a thousand times apart stay readable). */
export function renderSvg(res: SuiteResult): string {
  const panels: { title: string; get: (row: Row) => number | undefined; unit: string }[] = [
    { title: '64 B round trip p50 (us, lower is better)', get: (x) => x.rtt?.p50, unit: 'us' },
    { title: '64 B one-way (msgs/s)', get: (x) => x.msgs64?.perSecond, unit: '/s' },
    { title: '4 KiB one-way (MB/s)', get: (x) => x.kib4?.mbPerSecond, unit: 'MB/s' },
    { title: '1 MiB one-way (MB/s)', get: (x) => x.mib1?.mbPerSecond, unit: 'MB/s' },
  ];
  const rows = res.rows.filter((x) => !x.error);
  const barH = 14;
  const labelW = 250;
  const plotW = 330;
  const panelW = labelW + plotW + 70;
  const panelH = 30 + rows.length * (barH + 3);
  const width = panelW * 2;
  const height = panelH * 2 + 40;
  const title = `tmesh side-by-side suite, ${res.generatedAt}, ${res.machine.cpus} x ${res.machine.cpuModel} (log scale)`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11" role="img" aria-label="${esc(title)}">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((p, i) => {
    const x0 = (i % 2) * panelW + 10;
    const y0 = Math.floor(i / 2) * panelH + 40;
    const vals = rows.map(p.get).filter((v): v is number => v !== undefined && Number.isFinite(v) && v > 0);
    const lo = Math.log10(Math.min(...vals) / 2);
    const hi = Math.log10(Math.max(...vals) * 1.2);
    parts.push(`<text x="${x0}" y="${y0 + 12}" font-weight="bold">${esc(p.title)}</text>`);
    rows.forEach((row, j) => {
      const y = y0 + 22 + j * (barH + 3);
      const v = p.get(row);
      parts.push(`<text x="${x0}" y="${y + 11}">${esc(row.name)}</text>`);
      if (v === undefined || !Number.isFinite(v) || v <= 0) return;
      const w = Math.max(2, ((Math.log10(v) - lo) / (hi - lo)) * plotW);
      const color = row.group === 'tmesh' ? '#2b6cb0' : '#a0a0a0';
      parts.push(
        `<rect x="${x0 + labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${color}"/>`,
        `<text x="${(x0 + labelW + w + 4).toFixed(1)}" y="${y + 11}">${esc(f(v, 1))}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
