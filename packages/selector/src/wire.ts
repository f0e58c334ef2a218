import type { NodeInfo, WireId } from '@tmesh/core';
import { nativeWireOf } from '@tmesh/core';
import type { LinkCondition } from './selection.js';

/** The wire the matrix picks for a pair of nodes, and the reason in words. */
export interface WireDecision {
  wire: WireId;
  reason: string;
}

/**
 * The wire two TypeScript nodes use when nothing is measured. The Rust wire's bincode payload carries no
 * field keys or tags (fixed-width fields back to back), so it is the smallest of the three encodings and
 * the cheapest to encode and decode; measurements replace this default as soon as they exist.
 */
export const DEFAULT_TYPESCRIPT_WIRE: WireId = 'rust';

const KNOWN_LANGUAGES = new Set(['swift', 'rust', 'typescript']);

/** Wires both nodes speak, in the source's order of preference. */
export function commonWires(source: NodeInfo, destination: NodeInfo): WireId[] {
  const common: WireId[] = [];
  for (const wire of source.wires) if (destination.wires.includes(wire)) common.push(wire);
  return common;
}

function fastestMeasured(common: readonly WireId[], link: LinkCondition | undefined): WireId | undefined {
  const measured = link?.wireThroughput;
  if (!measured) return undefined;
  let best: WireId | undefined;
  let bestRate = 0;
  for (const wire of common) {
    const rate = measured[wire];
    if (rate !== undefined && rate > bestRate) {
      best = wire;
      bestRate = rate;
    }
  }
  return best;
}

/** Formats a rate in bytes per second as MiB/s with two decimals, the unit the seed reports in. */
export function formatRate(bytesPerSec: number): string {
  return `${(bytesPerSec / (1024 * 1024)).toFixed(2)} MiB/s`;
}

/** Formats a byte count as B, KiB or MiB with two decimals. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(2)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

/** Universal when both speak it, else the first common wire. */
function universalDecision(common: readonly WireId[], pair: string, why: string): WireDecision {
  return common.includes('universal')
    ? { wire: 'universal', reason: `${pair}, ${why}` }
    : { wire: common[0]!, reason: `${pair}, ${why}, universal not spoken by both` };
}

/**
 * The seed's matrix for the network wire between two nodes: same native wire -> that wire; one side
 * native and the other speaks it (TypeScript speaks all) -> that wire; two TypeScript nodes -> the
 * fastest measured common wire (DEFAULT_TYPESCRIPT_WIRE when nothing is measured); anything else ->
 * universal. Returns undefined when the two nodes share no wire at all.
 */
export function chooseWire(
  source: NodeInfo,
  destination: NodeInfo,
  link: LinkCondition | undefined,
  preferWire: WireId | undefined,
  where: string,
): WireDecision | undefined {
  const common = commonWires(source, destination);
  if (common.length === 0) return undefined;
  const pair = `${source.language} <-> ${destination.language} ${where}`;

  if (preferWire !== undefined && common.includes(preferWire)) {
    return { wire: preferWire, reason: `${pair}, policy prefers ${preferWire} wire` };
  }
  for (const language of [source.language, destination.language]) {
    if (!KNOWN_LANGUAGES.has(language))
      return universalDecision(common, pair, `unknown language ${language}`);
  }
  const srcNative = nativeWireOf(source.language);
  const dstNative = nativeWireOf(destination.language);
  if (srcNative && dstNative) {
    if (srcNative !== dstNative) return universalDecision(common, pair, 'no shared native wire');
    if (common.includes(srcNative)) return { wire: srcNative, reason: pair };
    return universalDecision(common, pair, `${srcNative} wire not spoken by both`);
  }
  const native = srcNative ?? dstNative;
  if (native) {
    const other = srcNative ? destination.language : source.language;
    const owner = srcNative ? source.language : destination.language;
    if (common.includes(native)) {
      return { wire: native, reason: `${pair}, ${other} speaks ${owner}'s native wire` };
    }
    return universalDecision(common, pair, `${native} wire not spoken by both`);
  }
  // Two TypeScript nodes: every common wire is possible, measurements decide.
  const measured = fastestMeasured(common, link);
  if (measured) {
    const rate = link!.wireThroughput![measured]!;
    return {
      wire: measured,
      reason: `${pair}, fastest measured common wire (${measured} ${formatRate(rate)})`,
    };
  }
  if (common.includes(DEFAULT_TYPESCRIPT_WIRE)) {
    return {
      wire: DEFAULT_TYPESCRIPT_WIRE,
      reason: `${pair}, nothing measured, ${DEFAULT_TYPESCRIPT_WIRE} wire by default`,
    };
  }
  return { wire: common[0]!, reason: `${pair}, nothing measured, first common wire` };
}
