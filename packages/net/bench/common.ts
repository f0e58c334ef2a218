// What the @tmesh/net benchmarks share: the one message they send (a struct with one bytes field), its
// registry, and the NodeInfo of each end.
import { defineMessage, MessageRegistry, type NodeInfo, t } from '@tmesh/core';

export const Blob = defineMessage('bench.Blob', 9, t.struct('Blob', { data: t.bytes() }));
export const registry = new MessageRegistry([Blob]);

export const self = (id: string): NodeInfo => ({
  id,
  machineId: 'bench',
  language: 'typescript',
  endpoints: [],
  wires: ['rust', 'swift', 'universal'],
  protocolVersions: [1],
});
