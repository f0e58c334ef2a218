/** One measured route of the demo or `tmesh bench`. */
export interface RouteResult {
  name: string;
  from: string;
  to: string;
  /** The strategy and route the selector chose, and its explanation. */
  strategy: string;
  route: string;
  explanation: string;
  throughputMBps: number;
  rttP50Us: number;
  rttP99Us: number;
  messages: number;
  /** The shared-memory channel the route used, if any (the demo checks it is gone afterwards). */
  shmChannel?: string;
  /** The receiver's count, byte total and CRC-32 matched what was sent. */
  verified: boolean;
  error?: string;
}

/** The gRPC baseline measured in the same run. */
export interface BaselineResult {
  name: string;
  throughputMBps: number;
  rttP50Us: number;
  rttP99Us: number;
}

/** Everything the demo measured. */
export interface DemoReport {
  generatedAt: string;
  machine: { cpus: number; node: string; platform: string };
  topology: string[];
  routes: RouteResult[];
  baseline: BaselineResult;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/** The seed-style performance table, as text. */
export function renderRouteTable(report: DemoReport): string {
  const rows = report.routes.map((r) => [
    r.name,
    r.error ? 'failed' : `${r.strategy}/${r.route}`,
    r.error ? r.error : r.explanation,
    r.error ? '-' : fmt(r.throughputMBps),
    r.error ? '-' : fmt(r.rttP50Us, 0),
    r.error ? '-' : fmt(r.rttP99Us, 0),
    r.error ? '-' : `${fmt(r.throughputMBps / report.baseline.throughputMBps, 2)}x`,
    r.error ? '-' : `${fmt(r.rttP50Us / report.baseline.rttP50Us, 2)}x`,
    r.error ? '-' : r.verified ? 'yes' : 'NO',
  ]);
  rows.push([
    report.baseline.name,
    'baseline',
    'plain @grpc/grpc-js, raw bytes, same run',
    fmt(report.baseline.throughputMBps),
    fmt(report.baseline.rttP50Us, 0),
    fmt(report.baseline.rttP99Us, 0),
    '1.00x',
    '1.00x',
    '-',
  ]);
  const headers = [
    'route',
    'strategy',
    'why',
    'MB/s',
    'RTT p50 us',
    'RTT p99 us',
    'MB/s vs gRPC',
    'RTT vs gRPC',
    'verified',
  ];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function bars(
  title: string,
  unit: string,
  items: { label: string; value: number; baseline?: boolean }[],
  id: string,
): string {
  const rowH = 26;
  const labelW = 300;
  const chartW = 520;
  const max = Math.max(...items.map((i) => i.value), 1e-9);
  const h = items.length * rowH + 40;
  const rows = items
    .map((it, i) => {
      const w = Math.max(1, (it.value / max) * chartW);
      const y = 30 + i * rowH;
      return `<g data-route="${esc(it.label)}"><text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(it.label)}</text><rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${it.baseline ? '#999' : '#2a7ab9'}"/><text x="${labelW + w + 6}" y="${y + 16}">${fmt(it.value, unit === 'us' ? 0 : 1)} ${unit}</text></g>`;
    })
    .join('');
  return `<svg id="${id}" role="img" aria-label="${esc(title)}" xmlns="http://www.w3.org/2000/svg" width="${labelW + chartW + 120}" height="${h}" font-family="sans-serif" font-size="13"><title>${esc(title)}</title><text x="0" y="18" font-weight="bold">${esc(title)}</text>${rows}</svg>`;
}

/** A self-contained HTML page: the table and two bar charts (inline SVG, no scripts, no network). */
export function renderHtml(report: DemoReport): string {
  const ok = report.routes.filter((r) => !r.error);
  const tp = [
    ...ok.map((r) => ({ label: r.name, value: r.throughputMBps })),
    { label: report.baseline.name, value: report.baseline.throughputMBps, baseline: true },
  ];
  const rtt = [
    ...ok.map((r) => ({ label: r.name, value: r.rttP50Us })),
    { label: report.baseline.name, value: report.baseline.rttP50Us, baseline: true },
  ];
  const rows = report.routes
    .map(
      (r) =>
        `<tr><td>${esc(r.name)}</td><td>${esc(r.error ? 'failed' : `${r.strategy}/${r.route}`)}</td><td>${esc(r.error ?? r.explanation)}</td><td>${r.error ? '-' : fmt(r.throughputMBps)}</td><td>${r.error ? '-' : fmt(r.rttP50Us, 0)}</td><td>${r.error ? '-' : fmt(r.rttP99Us, 0)}</td><td>${r.error ? '-' : r.verified ? 'yes' : 'NO'}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tmesh demo report</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#eee}</style>
</head><body>
<h1>tmesh demo report</h1>
<p>Generated ${esc(report.generatedAt)} on ${report.machine.cpus} CPUs, Node ${esc(report.machine.node)}, ${esc(report.machine.platform)}.</p>
<ul>${report.topology.map((t) => `<li>${esc(t)}</li>`).join('')}</ul>
<table><thead><tr><th>route</th><th>strategy</th><th>why</th><th>MB/s</th><th>RTT p50 us</th><th>RTT p99 us</th><th>verified</th></tr></thead>
<tbody>
${rows}
<tr><td>${esc(report.baseline.name)}</td><td>baseline</td><td>plain @grpc/grpc-js</td><td>${fmt(report.baseline.throughputMBps)}</td><td>${fmt(report.baseline.rttP50Us, 0)}</td><td>${fmt(report.baseline.rttP99Us, 0)}</td><td>-</td></tr>
</tbody></table>
<h2>Throughput</h2>
${bars('Throughput, 64 KiB messages (MB/s, higher is better)', 'MB/s', tp, 'chart-throughput')}
<h2>Latency</h2>
${bars('Request/response RTT p50, 64 B (us, lower is better)', 'us', rtt, 'chart-rtt')}
</body></html>
`;
}
