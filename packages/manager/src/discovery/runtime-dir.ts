import { randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { chmod, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NodeInfo, tmeshError } from '@tmesh/core';
import { PeerSet } from './peer-set.js';
import type { DiscoveredNode, Discovery, DiscoveryEvents } from './types.js';

/** The default runtime directory: $TMESH_RUNTIME_DIR, else $XDG_RUNTIME_DIR/tmesh, else /tmp/tmesh-<uid>. */
export function defaultRuntimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TMESH_RUNTIME_DIR) return env.TMESH_RUNTIME_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'tmesh');
  return join(tmpdir(), `tmesh-${process.getuid?.() ?? 'user'}`);
}

/** True when a process with this pid exists (signal 0 checks without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Record {
  info: NodeInfo;
  pid: number;
  announcedAt: number;
}

/** Options of {@link RuntimeDirDiscovery}. */
export interface RuntimeDirOptions {
  dir?: string;
  /** How often to rescan for nodes whose process died without withdrawing (ms). Default 1000. */
  scanIntervalMs?: number;
}

/**
 * Same-machine discovery with no server: each node writes `<id>.json` (mode 0600) into a private
 * runtime directory (mode 0700); a record whose pid is dead is stale and is removed by whoever sees it.
 */
export class RuntimeDirDiscovery implements Discovery {
  readonly name = 'runtime-dir';
  readonly dir: string;
  readonly #peers: PeerSet;
  readonly #scanMs: number;
  #self: NodeInfo | undefined;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: RuntimeDirOptions = {}) {
    this.dir = options.dir ?? defaultRuntimeDir();
    this.#scanMs = options.scanIntervalMs ?? 1000;
    this.#peers = new PeerSet(() => this.#self?.id);
  }

  async announce(info: NodeInfo): Promise<void> {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(info.id)) {
      throw tmeshError(
        'E_INVALID_ARGUMENT',
        `node id ${JSON.stringify(info.id)} cannot name a discovery file: use [A-Za-z0-9._-], 1-128 characters`,
      );
    }
    await this.#ensureDir();
    this.#self = info;
    await this.#writeRecord(info);
    this.#start();
    await this.scan();
  }

  async #writeRecord(info: NodeInfo): Promise<void> {
    const record: Record = { info, pid: process.pid, announcedAt: Date.now() };
    const file = join(this.dir, `${info.id}.json`);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(record), { mode: 0o600 });
    await rename(tmp, file);
  }

  /**
   * Remove a record whose pid was dead when it was read. The name may have been taken over since by a
   * restarted node of the same id, so the file is first moved aside (atomic), read again, and a live
   * record found there is linked back (no-clobber: a still newer one wins).
   */
  async #removeStale(path: string): Promise<void> {
    const aside = `${path}.${randomBytes(4).toString('hex')}.stale`;
    try {
      await rename(path, aside);
    } catch {
      return; // gone already
    }
    try {
      const record = JSON.parse(await readFile(aside, 'utf8')) as Record;
      if (typeof record?.pid === 'number' && pidAlive(record.pid)) await link(aside, path).catch(() => {});
    } catch {}
    await rm(aside, { force: true });
  }

  peers(): DiscoveredNode[] {
    return this.#peers.list();
  }

  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#peers.on(event, listener);
    return this;
  }

  off<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#peers.off(event, listener);
    return this;
  }

  /** Read the directory now: report live nodes, remove records of dead processes. */
  scan(): Promise<void> {
    if (this.#scanning) {
      // A scan is running and may have listed the directory before this change: run once more after it.
      this.#again = true;
      return this.#scanning;
    }
    this.#scanning = (async () => {
      do {
        this.#again = false;
        await this.#scan();
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  /** Same as scan: discovery sources that can be asked again implement `refresh`. */
  refresh(): Promise<void> {
    return this.scan();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
    await this.#scanning?.catch(() => {}); // a scan in progress may be putting our record back
    if (this.#self) await rm(join(this.dir, `${this.#self.id}.json`), { force: true });
  }

  async #ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const st = await stat(this.dir);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw tmeshError('E_PERMISSION', `runtime directory ${this.dir} belongs to uid ${st.uid}, not ${uid}`);
    }
    if ((st.mode & 0o077) !== 0) await chmod(this.dir, 0o700);
  }

  #start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => void this.scan().catch(() => {}), this.#scanMs);
    this.#timer.unref();
    try {
      this.#watcher = watch(this.dir, () => void this.scan().catch(() => {}));
      this.#watcher.unref();
      this.#watcher.on('error', () => {});
    } catch {
      // fs.watch is best effort (some filesystems lack it); the interval scan still runs.
    }
  }

  async #scan(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    } catch {
      return;
    }
    const live: DiscoveredNode[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      let record: Record;
      try {
        record = JSON.parse(await readFile(path, 'utf8')) as Record;
      } catch {
        continue; // being replaced right now, or not ours
      }
      if (typeof record?.pid !== 'number' || typeof record.info?.id !== 'string') continue;
      if (!pidAlive(record.pid)) {
        await this.#removeStale(path);
        continue;
      }
      live.push({ info: record.info, source: this.name, pid: record.pid });
    }
    // Our own record must be there while we run: put it back if it went (removed by hand, or by an
    // older tmesh that deleted a stale record by name after this node had replaced it).
    const self = this.#self;
    if (self && !this.#closed && !names.includes(`${self.id}.json`))
      await this.#writeRecord(self).catch(() => {});
    if (!this.#closed) this.#peers.reconcile(live);
  }
}
