import { lstat, readdir, unlink } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';

/** What a connection attempt says about a Unix socket file. */
export type SocketState = 'live' | 'stale' | 'unknown';

/** A node's Unix socket file (`<node id>.sock`) in a runtime directory. */
export interface SocketFile {
  path: string;
  /** 'live': a process accepts on it; 'stale': refused (nobody listens); 'unknown': any other answer. */
  state: SocketState;
  /** For 'unknown': the error code or 'timeout'. */
  reason?: string;
}

const SOCKET_NAME = /^[A-Za-z0-9._-]{1,128}\.sock$/;

/**
 * Connect to a Unix socket path: 'live' if something accepts, 'stale' on ECONNREFUSED (the file is
 * there but no process listens: its owner died), 'unknown' for anything else (no such file, no
 * permission, no answer within `timeoutMs`), which is never a reason to remove the file.
 */
export function probeSocket(path: string, timeoutMs = 500): Promise<{ state: SocketState; reason?: string }> {
  return new Promise((resolve) => {
    const sock = createConnection(path);
    let settled = false;
    const done = (state: SocketState, reason?: string) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve(reason === undefined ? { state } : { state, reason });
    };
    sock.once('connect', () => done('live'));
    sock.once('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNREFUSED' ? done('stale') : done('unknown', e.code ?? e.message),
    );
    sock.setTimeout(timeoutMs, () => done('unknown', 'timeout'));
  });
}

/**
 * The node socket files of a runtime directory that are ours to judge: named `<node id>.sock`, a socket
 * (not a symlink or a regular file), owned by this process's uid. Each is probed once.
 */
export async function listSocketFiles(dir: string): Promise<SocketFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  const out: SocketFile[] = [];
  for (const name of names.filter((n) => SOCKET_NAME.test(n)).sort()) {
    const path = join(dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isSocket() || (uid !== undefined && st.uid !== uid)) continue;
    out.push({ path, ...(await probeSocket(path)) });
  }
  return out;
}

/**
 * Remove the stale node socket files of a runtime directory (see {@link listSocketFiles}); returns the
 * paths removed. A file is removed only if it is still the very file that refused the connection (same
 * device and inode), so a node that started under that name in between keeps its socket.
 */
export async function removeStaleSocketFiles(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const file of await listSocketFiles(dir)) {
    if (file.state !== 'stale') continue;
    const before = await lstat(file.path).catch(() => undefined);
    if (!before) continue;
    if ((await probeSocket(file.path)).state !== 'stale') continue;
    const after = await lstat(file.path).catch(() => undefined);
    if (!after || after.ino !== before.ino || after.dev !== before.dev) continue;
    try {
      await unlink(file.path);
      removed.push(file.path);
    } catch {
      // gone already, or no longer ours to remove
    }
  }
  return removed;
}
