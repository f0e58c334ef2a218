// Helpers shared by the integration tests (not exported from the package).
import { once } from 'node:events';
import { MessageRegistry, type NodeInfo, sampleMessages, type WireId } from '@tmesh/core';

/** The registry the tests use: the sample FileChunk and Metrics messages. */
export const registry = new MessageRegistry([sampleMessages.FileChunk, sampleMessages.Metrics]);
/** The sample FileChunk type. */
export const FileChunk = sampleMessages.FileChunk;

/** A NodeInfo for tests. */
export function node(
  id: string,
  wires: WireId[] = ['rust', 'swift', 'universal'],
  protocolVersions = [1],
): NodeInfo {
  return { id, machineId: `machine-${id}`, language: 'typescript', endpoints: [], wires, protocolVersions };
}

/** A FileChunk value numbered i. */
export function chunk(i: number, data: Uint8Array = new Uint8Array(0)) {
  return { path: `file-${i}`, offset: BigInt(i), sequence: i, last: false, data };
}

/** Resolve with the next emission of an event, or reject after ms. */
export async function nextEvent<T = unknown>(
  emitter: NodeJS.EventEmitter,
  name: string,
  ms = 5000,
): Promise<T> {
  const [value] = (await once(emitter, name, { signal: AbortSignal.timeout(ms) })) as [T];
  return value;
}

/** Poll until cond() holds, or throw after ms. */
export async function waitUntil(cond: () => boolean, ms = 10000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
