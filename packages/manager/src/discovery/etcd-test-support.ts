// Test support for the etcd discovery tests: a real etcd server in a temporary data directory.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Whether an `etcd` binary is on PATH (Debian package etcd-server). */
export const hasEtcd = spawnSync('sh', ['-c', 'command -v etcd']).status === 0;

/** A TCP port nothing listens on at `host` right now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Resolve once `fn()` is true; reject after `ms`. */
export function until(fn: () => boolean, ms = 10_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (fn()) return resolve();
      if (Date.now() - start > ms) return reject(new Error('timed out waiting'));
      setTimeout(tick, 50);
    };
    tick();
  });
}

/**
 * A real etcd server in a temporary data directory, restartable. Clients reach it on `host` (loopback by
 * default, or e.g. the host side of a veth); its peer URL stays on loopback.
 */
export class EtcdServer {
  proc: ChildProcess | undefined;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'tmesh-etcd-'));
  constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    readonly host = '127.0.0.1',
  ) {}
  get url() {
    return `http://${this.host}:${this.clientPort}`;
  }
  async start(): Promise<void> {
    const peerUrl = `http://127.0.0.1:${this.peerPort}`;
    this.proc = spawn(
      'etcd',
      [
        '--data-dir',
        this.dataDir,
        '--name',
        'tmesh-test',
        '--listen-client-urls',
        this.url,
        '--advertise-client-urls',
        this.url,
        '--listen-peer-urls',
        peerUrl,
        '--initial-advertise-peer-urls',
        peerUrl,
        '--initial-cluster',
        `tmesh-test=${peerUrl}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('etcd did not start in 15 s')), 15_000);
      let log = '';
      this.proc!.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (/ready to serve client requests|serving insecure client requests/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.proc!.once('exit', (code) => reject(new Error(`etcd exited with ${code}: ${log.slice(-500)}`)));
    });
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise((r) => {
      p.once('exit', r);
      p.kill('SIGKILL');
    });
  }
  /** Stop the server and remove its data directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
