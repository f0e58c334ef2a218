import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import {
  defineMessage,
  loadProtoSchemas,
  type MessageType,
  type StructSchema,
  sampleMessages,
  type TransportStrategy,
  tmeshError,
} from '@tmesh/core';
import { PrometheusExporter } from '@tmesh/monitor';
import type { SelectionPolicy } from '@tmesh/selector';
import { managerControl } from '../control.js';
import { startSinkNode } from '../demo/sink.js';
import { jsonToValue, valueToJson } from '../json-values.js';
import { createNode, type TmeshNode } from '../node.js';

/** What `tmesh node` reads from --config (every field optional; flags override). */
export interface NodeConfig {
  id?: string;
  runtimeDir?: string;
  host?: string;
  grpc?: boolean;
  machineId?: string;
  services?: string[];
  peersFile?: string;
  etcd?: string[];
  statsPort?: number;
}

/** Read and check a node config file; E_CONFIG says what is wrong. */
export async function readNodeConfig(path: string): Promise<NodeConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw tmeshError('E_CONFIG', `cannot read node config ${path}: ${(cause as Error).message}`, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw tmeshError('E_CONFIG', `${path}: expected a JSON object`);
  const c = parsed as Record<string, unknown>;
  const known = [
    'id',
    'runtimeDir',
    'host',
    'grpc',
    'machineId',
    'services',
    'peersFile',
    'etcd',
    'statsPort',
  ];
  for (const k of Object.keys(c))
    if (!known.includes(k))
      throw tmeshError('E_CONFIG', `${path}: unknown key "${k}" (known: ${known.join(', ')})`);
  if (c.id !== undefined && typeof c.id !== 'string')
    throw tmeshError('E_CONFIG', `${path}: "id" must be a string`);
  if (c.statsPort !== undefined && !Number.isInteger(c.statsPort))
    throw tmeshError('E_CONFIG', `${path}: "statsPort" must be an integer`);
  return c as NodeConfig;
}

/** Serve /metrics (Prometheus) and /stats (JSON) of a node, for `tmesh top` and scrapers. */
export function serveStats(node: TmeshNode, port: number, host = '127.0.0.1'): Promise<Server> {
  const exporter = new PrometheusExporter(node.monitor);
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      exporter.metrics().then(
        (text: string) => res.writeHead(200, { 'content-type': exporter.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(String(e)),
      );
    } else if (req.url === '/stats') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(node.stats(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    } else res.writeHead(404).end('try /metrics or /stats\n');
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

/** Start the long-running node of `tmesh node`: a sink for the sample messages plus the given config. */
export async function startConfiguredNode(config: NodeConfig): Promise<TmeshNode> {
  if (!config.id) throw tmeshError('E_INVALID_ARGUMENT', 'a node needs an id (--id or "id" in the config)');
  const node = await startSinkNode({
    id: config.id,
    ...(config.runtimeDir ? { runtimeDir: config.runtimeDir } : {}),
    ...(config.host ? { host: config.host } : {}),
    ...(config.grpc ? { grpc: true } : {}),
    ...(config.machineId ? { machineId: config.machineId } : {}),
    ...(config.services ? { services: config.services } : {}),
  });
  return node;
}

/** Message type and value for `send`/`request`: the sample FileChunk by default, or a .proto type. */
export async function messageFromArgs(
  opts: { proto?: string; type?: string; id: number; json?: string },
  stdin: () => Promise<Buffer>,
): Promise<{ type: MessageType<unknown>; value: unknown; types: MessageType<any>[] }> {
  if (!opts.proto) {
    const text = opts.json ?? '{"path":"cli","offset":0,"sequence":0,"last":true,"data":""}';
    const type = sampleMessages.FileChunk as MessageType<unknown>;
    return {
      type,
      value: jsonToValue(type.schema.desc, parseJson(text)),
      types: [sampleMessages.FileChunk, sampleMessages.Metrics],
    };
  }
  if (!opts.type) throw tmeshError('E_INVALID_ARGUMENT', '--type is required with --proto');
  const schemas = loadProtoSchemas(
    await readFile(opts.proto, 'utf8').catch((cause) => {
      throw tmeshError('E_CONFIG', `cannot read ${opts.proto}`, { cause });
    }),
    opts.proto,
  );
  const name = schemas.package ? `${schemas.package}.${opts.type}` : opts.type;
  const type = defineMessage(name, opts.id, schemas.get(opts.type) as StructSchema<unknown>);
  const text = opts.json ?? (await stdin()).toString('utf8');
  return {
    type,
    value: jsonToValue(type.schema.desc, parseJson(text)),
    types: [type, sampleMessages.Metrics],
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw tmeshError('E_INVALID_ARGUMENT', 'the message is not valid JSON', { cause });
  }
}

/** An ephemeral client node that only dials (no listeners), for one-shot CLI commands. */
export function clientNode(
  types: MessageType<any>[],
  runtimeDir: string | undefined,
  policy?: SelectionPolicy,
): Promise<TmeshNode> {
  return createNode({
    id: `tmesh-cli-${process.pid}-${Math.floor(Math.random() * 1e6)}`,
    types,
    discovery: { ...(runtimeDir ? { runtimeDir } : {}) },
    transport: { unix: false, tcp: false },
    ...(policy ? { policy } : {}),
  });
}

/** JSON of a decoded reply for the CLI. */
export function replyJson(reply: {
  from: string;
  type: MessageType<unknown>;
  value: unknown;
  via: { route: string; strategy: string };
}): unknown {
  return {
    from: reply.from,
    type: reply.type.name,
    via: reply.via,
    message: valueToJson(reply.type.schema.desc, reply.value),
  };
}

/** One row of `tmesh ping`. */
export interface PingRow {
  strategy: string;
  route: string;
  rttP50Us: number;
  rttMinUs: number;
  samples: number;
  error?: string;
}

const PING_POLICIES: [string, SelectionPolicy | undefined][] = [
  ['auto', undefined],
  ['rust', { disableShm: true, force: 'rust' }],
  ['swift', { disableShm: true, force: 'swift' }],
  ['universal', { disableShm: true, force: 'universal' }],
  ['grpc', { force: 'grpc' }],
];

/** Round trips to `peer` over each strategy it can be reached with (Echo requests). */
export async function pingPeer(
  peer: string,
  runtimeDir: string | undefined,
  count: number,
): Promise<PingRow[]> {
  const rows: PingRow[] = [];
  for (const [label, policy] of PING_POLICIES) {
    const node = await clientNode([], runtimeDir, policy);
    try {
      const payload = new Uint8Array(64);
      await node.request(peer, managerControl.Echo, { payload }, { timeoutMs: 5000 });
      const samples: number[] = [];
      for (let i = 0; i < count; i++) {
        const t0 = process.hrtime.bigint();
        await node.request(peer, managerControl.Echo, { payload }, { timeoutMs: 5000 });
        samples.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
      samples.sort((a, b) => a - b);
      const info = node.peers().find((p) => p.info.id === peer);
      rows.push({
        strategy: label === 'auto' ? `auto (${info?.strategy})` : (info?.strategy ?? label),
        route: info?.route ?? '?',
        rttP50Us: samples[Math.floor(samples.length / 2)]!,
        rttMinUs: samples[0]!,
        samples: samples.length,
      });
    } catch (e) {
      rows.push({
        strategy: label,
        route: '-',
        rttP50Us: Number.NaN,
        rttMinUs: Number.NaN,
        samples: 0,
        error: (e as Error).message,
      });
    } finally {
      await node.close();
    }
  }
  return rows;
}

/** Label of a strategy for tables. */
export function strategyText(s: TransportStrategy): string {
  return s.kind === 'shm'
    ? `shm (${s.idle})`
    : s.kind === 'grpc'
      ? 'grpc'
      : `${s.kind}${s.compression !== 'none' ? ` + ${s.compression}` : ''}`;
}
