import { defineControlMessage, t } from '@tmesh/core';

/**
 * The manager's own control messages (ids 248..250; @tmesh/net keeps 240..247 and carries 248..255 like
 * application messages). They travel over an established network link in its agreed wire. Layout:
 * docs/PROTOCOL.md section 8.
 */
export const managerControl = {
  /** Offer a shared-memory channel to a same-machine peer: it opens `name` with `token`. */
  ShmOffer: defineControlMessage(
    'tmesh.manager.ShmOffer',
    248,
    t.struct('ShmOffer', { name: t.string(), token: t.bytes(), ringBytes: t.u32() }),
  ),
  /** The peer's answer: accepted, or why not (then traffic stays on the network link). */
  ShmAnswer: defineControlMessage(
    'tmesh.manager.ShmAnswer',
    249,
    t.struct('ShmAnswer', { accepted: t.bool(), reason: t.string() }),
  ),
  /** Answered by every TmeshNode with the same payload: `tmesh ping` measures round trips with it. */
  Echo: defineControlMessage('tmesh.manager.Echo', 250, t.struct('Echo', { payload: t.bytes() })),
} as const;
