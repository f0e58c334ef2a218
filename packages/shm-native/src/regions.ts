import { loadNative, native } from './native.js';

/** A tmesh shared-memory region on this machine, as `tmesh doctor` shows it. */
export interface ShmRegionInfo {
  /** Channel name. */
  name: string;
  /** Ring bytes per direction (0 if unreadable). */
  capacity: number;
  /** Creator pid and state. */
  creatorPid: number;
  /** 'alive' | 'closed' | 'gone' | 'not-attached'. */
  creator: string;
  /** Opener pid (0 if none). */
  openerPid: number;
  /** 'alive' | 'closed' | 'gone' | 'not-attached'. */
  opener: string;
  /** 'live', 'stale', or why it could not be inspected ('foreign: ...', 'corrupt: ...'). */
  status: string;
}

/** Every tmesh shared-memory region on this machine (Linux: /dev/shm/tmesh-*). */
export function listRegions(): ShmRegionInfo[] {
  const binding = loadNative();
  return native(() => binding.listRegions());
}

/** Remove this user's stale regions (both ends dead or closed) and corrupt ones; returns their names. */
export function cleanupStaleRegions(): string[] {
  const binding = loadNative();
  return native(() => binding.cleanupStaleRegions());
}
