// A real etcd server for discovery tests and the fault harness: a temporary data directory, stoppable
// with either signal and restartable on the same ports and data.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** Whether an `etcd` binary is on PATH (Debian package etcd-server). */
export const hasEtcd = spawnSync('sh', ['-c', 'command -v etcd']).status === 0;

/**
 * One etcd member. Clients reach it on `host` (loopback by default, or e.g. the host side of a veth); its
 * peer URL stays on loopback. Both ports are picked at the first start and kept for restarts.
 */
export class EtcdServer {
  proc: ChildProcess | undefined;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'tmesh-etcd-'));
  clientPort = 0;
  peerPort = 0;
  constructor(readonly host = '127.0.0.1') {}

  get url(): string {
    return `http://${this.host}:${this.clientPort}`;
  }

  /** Start (or restart) the server; resolves once it serves clients. */
  async start(): Promise<void> {
    if (!this.clientPort) {
      this.clientPort = await freePort(this.host);
      this.peerPort = await freePort();
    }
    const peerUrl = `http://127.0.0.1:${this.peerPort}`;
    const proc = spawn(
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
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('etcd did not start in 20 s')), 20_000);
      let log = '';
      proc.stderr!.on('data', (d: Buffer) => {
        log = (log + d.toString()).slice(-20_000);
        if (/ready to serve client requests|serving insecure client requests/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`etcd exited with ${code}: ${log.slice(-500)}`));
      });
    });
  }

  /** Stop the server with `signal` (SIGTERM escalates to SIGKILL after 10 s); resolves once it exited. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise((r) => {
      p.once('exit', r);
      p.kill(signal);
      if (signal === 'SIGTERM') setTimeout(() => p.kill('SIGKILL'), 10_000).unref();
    });
  }

  /** Stop the server and remove its data directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
