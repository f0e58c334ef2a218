import { spawnSync } from 'node:child_process';
import { constants, statfsSync } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { crc32Implementation, resolveMachineId } from '@tmesh/core';
import { COMPRESSION_UNAVAILABLE_REASON, SUPPORTED_COMPRESSION } from '@tmesh/net';
import { cleanupStaleRegions, isAvailable, listRegions } from '@tmesh/shm-native';
import { Etcd3 } from 'etcd3';
import { defaultRuntimeDir } from '../discovery/runtime-dir.js';
import { listSocketFiles, removeStaleSocketFiles } from '../discovery/socket-files.js';

/** One line of `tmesh doctor`: what was checked, whether it is fine, and what was found. */
export interface DoctorCheck {
  check: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  etcd?: string[];
  /** Remove stale shared-memory regions and stale node socket files. */
  clean?: boolean;
  /** The runtime directory to check (default: the one nodes use, see `defaultRuntimeDir`). */
  runtimeDir?: string;
}

/** Run every check; never throws: a failing check is a row with status 'fail'. */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  checks.push({
    check: 'node',
    status: major > 20 || (major === 20 && minor >= 15) ? 'ok' : 'fail',
    detail: `Node ${process.versions.node} (needs >= 20.15 for zlib.crc32)`,
  });
  checks.push({
    check: 'crc32',
    status: crc32Implementation === 'zlib' ? 'ok' : 'warn',
    detail: `implementation: ${crc32Implementation}`,
  });
  try {
    const mid = resolveMachineId();
    checks.push({
      check: 'machine id',
      status: mid.source === 'derived' ? 'warn' : 'ok',
      detail: `${mid.id} (from ${mid.source})`,
    });
  } catch (e) {
    checks.push({ check: 'machine id', status: 'fail', detail: (e as Error).message });
  }
  checks.push(...(await shmChecks()));
  checks.push(...addonChecks(options.clean === true));
  checks.push({
    check: 'compression',
    status: COMPRESSION_UNAVAILABLE_REASON === undefined ? 'ok' : 'warn',
    detail: `links offer ${SUPPORTED_COMPRESSION.join(', ')}${COMPRESSION_UNAVAILABLE_REASON ? ` (no zstd/lz4: ${COMPRESSION_UNAVAILABLE_REASON})` : ''}`,
  });
  const dir = options.runtimeDir ?? defaultRuntimeDir();
  try {
    const st = await stat(dir);
    const entries = (await readdir(dir)).filter((n) => n.endsWith('.json')).length;
    const mode = (st.mode & 0o777).toString(8);
    checks.push({
      check: 'runtime dir',
      status: mode === '700' ? 'ok' : 'warn',
      detail: `${dir} mode ${mode}, ${entries} node record(s)`,
    });
  } catch {
    checks.push({
      check: 'runtime dir',
      status: 'ok',
      detail: `${dir} (not created yet; the first node creates it 0700)`,
    });
  }
  checks.push(...(await socketChecks(dir, options.clean === true)));
  for (const [tool, why] of [
    ['ip', 'network-namespace tests and demo'],
    ['tc', 'link shaping'],
    ['etcd', 'cluster discovery tests'],
  ] as const) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    checks.push({
      check: `tool ${tool}`,
      status: found ? 'ok' : 'warn',
      detail: found ? found : `not found (used for ${why})`,
    });
  }
  for (const host of options.etcd ?? []) checks.push(await etcdCheck(host));
  return checks;
}

async function shmChecks(): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  if (process.platform !== 'linux') return out;
  try {
    await access('/dev/shm', constants.W_OK);
    const fs = statfsSync('/dev/shm');
    const free = (fs.bavail * fs.bsize) / 2 ** 20;
    const total = (fs.blocks * fs.bsize) / 2 ** 20;
    const st = await stat('/dev/shm');
    const sticky = (st.mode & 0o1000) !== 0;
    out.push({
      check: '/dev/shm',
      status: free < 64 ? 'warn' : sticky ? 'ok' : 'warn',
      detail: `${free.toFixed(0)} MiB free of ${total.toFixed(0)} MiB, mode ${(st.mode & 0o7777).toString(8)}${sticky ? '' : ' (no sticky bit: others may delete regions)'}`,
    });
  } catch (e) {
    out.push({ check: '/dev/shm', status: 'fail', detail: `not writable: ${(e as Error).message}` });
  }
  return out;
}

function addonChecks(clean: boolean): DoctorCheck[] {
  const probe = isAvailable();
  const out: DoctorCheck[] = [
    {
      check: 'shm addon',
      status: probe.available ? 'ok' : 'warn',
      detail: probe.available
        ? 'loaded: shared-memory transport available'
        : `not loaded, nodes fall back to Unix sockets: ${probe.reason}`,
    },
  ];
  if (!probe.available) return out;
  const regions = listRegions();
  const stale = regions.filter((r) => r.status !== 'live');
  out.push({
    check: 'shm regions',
    status: stale.length > 0 && !clean ? 'warn' : 'ok',
    detail: `${regions.length} region(s), ${stale.length} stale${stale.length ? `: ${stale.map((r) => `${r.name} (${r.status})`).join(', ')}` : ''}${stale.length && !clean ? ' (run with --clean)' : ''}`,
  });
  if (clean) {
    const removed = cleanupStaleRegions();
    out.push({
      check: 'shm cleanup',
      status: 'ok',
      detail: removed.length ? `removed ${removed.join(', ')}` : 'nothing to remove',
    });
  }
  return out;
}

/** Node socket files in the runtime directory: a stale one (nobody listens) was left by a node that died. */
async function socketChecks(dir: string, clean: boolean): Promise<DoctorCheck[]> {
  const files = await listSocketFiles(dir);
  const name = (path: string) => path.slice(dir.length + 1);
  const stale = files.filter((f) => f.state === 'stale');
  const unknown = files.filter((f) => f.state === 'unknown');
  const out: DoctorCheck[] = [
    {
      check: 'unix sockets',
      status: (stale.length > 0 && !clean) || unknown.length > 0 ? 'warn' : 'ok',
      detail: `${files.length} node socket file(s) in ${dir}, ${stale.length} stale${stale.length ? `: ${stale.map((f) => name(f.path)).join(', ')}` : ''}${stale.length && !clean ? ' (no process listens; run with --clean)' : ''}${unknown.length ? `; not judged: ${unknown.map((f) => `${name(f.path)} (${f.reason})`).join(', ')}` : ''}`,
    },
  ];
  if (clean) {
    const removed = await removeStaleSocketFiles(dir);
    out.push({
      check: 'socket cleanup',
      status: 'ok',
      detail: removed.length ? `removed ${removed.map(name).join(', ')}` : 'nothing to remove',
    });
  }
  return out;
}

async function etcdCheck(host: string): Promise<DoctorCheck> {
  const client = new Etcd3({ hosts: [host], dialTimeout: 1500 });
  const started = Date.now();
  try {
    const status = await Promise.race([
      client.maintenance.status(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no answer in 2 s')), 2000).unref(),
      ),
    ]);
    return {
      check: `etcd ${host}`,
      status: 'ok',
      detail: `version ${status.version}, ${Date.now() - started} ms`,
    };
  } catch (e) {
    return { check: `etcd ${host}`, status: 'fail', detail: (e as Error).message };
  } finally {
    client.close();
  }
}
