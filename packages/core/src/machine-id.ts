import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { tmeshError } from './errors.js';

/** Where a machine id came from. */
export type MachineIdSource = 'override' | 'env' | 'file' | 'derived';

/** Options for {@link getMachineId}. */
export interface MachineIdOptions {
  /** Use this id and look nowhere else (tests, containers that share /etc/machine-id). */
  override?: string;
  /** Files to try in order; defaults to /etc/machine-id then /var/lib/dbus/machine-id. */
  files?: string[];
  /** Environment to read TMESH_MACHINE_ID from; defaults to process.env. */
  env?: Record<string, string | undefined>;
}

const DEFAULT_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id'];
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

function checked(id: string, where: string): string {
  if (!ID_PATTERN.test(id)) {
    throw tmeshError(
      'E_MACHINE_ID',
      `machine id from ${where} must be 1-128 characters of [A-Za-z0-9._:-], got ${JSON.stringify(id)}`,
    );
  }
  return id;
}

/**
 * This machine's identity and where it came from: an explicit override, then the TMESH_MACHINE_ID
 * variable, then /etc/machine-id, then a hash of the host name and MAC addresses.
 */
export function resolveMachineId(options: MachineIdOptions = {}): { id: string; source: MachineIdSource } {
  if (options.override !== undefined)
    return { id: checked(options.override, 'the override option'), source: 'override' };
  const env = options.env ?? process.env;
  const fromEnv = env.TMESH_MACHINE_ID;
  if (fromEnv) return { id: checked(fromEnv, 'TMESH_MACHINE_ID'), source: 'env' };
  for (const file of options.files ?? DEFAULT_FILES) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    if (text.length > 0) return { id: checked(text, file), source: 'file' };
  }
  const macs = Object.values(networkInterfaces())
    .flat()
    .map((nic) => nic?.mac)
    .filter((mac): mac is string => !!mac && mac !== '00:00:00:00:00:00')
    .sort();
  const digest = createHash('sha256')
    .update(`${hostname()}\n${macs.join(',')}`)
    .digest('hex');
  return { id: digest.slice(0, 32), source: 'derived' };
}

/** This machine's identity (see {@link resolveMachineId} for the order of sources). */
export function getMachineId(options?: MachineIdOptions): string {
  return resolveMachineId(options).id;
}
