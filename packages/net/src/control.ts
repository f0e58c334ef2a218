import { defineControlMessage, MessageRegistry, type MessageType, t } from '@tmesh/core';

/**
 * The link's own messages (ids 240..255). Hello and Auth open every connection in the universal wire;
 * the rest travel in whichever wire the handshake agreed on. Layout: docs/PROTOCOL.md section 7.
 */
export const control = {
  /** First frame each side sends: who it is and what it speaks. */
  Hello: defineControlMessage(
    'tmesh.link.Hello',
    240,
    t.struct('Hello', {
      nodeId: t.string(),
      language: t.string(),
      machineId: t.string(),
      protocolVersions: t.list(t.u32()),
      wires: t.list(t.string()),
      compression: t.list(t.string()),
      maxFrameSize: t.u32(),
      sessionId: t.string(),
      nonce: t.bytes(),
    }),
  ),
  /** Second frame each side sends: the token proof and where to resume the peer's stream. */
  Auth: defineControlMessage(
    'tmesh.link.Auth',
    241,
    t.struct('Auth', { proof: t.bytes(), resumeSession: t.string(), resumeReceived: t.u64() }),
  ),
  /** Why a side is closing the connection (empty code: a graceful close). */
  Close: defineControlMessage(
    'tmesh.link.Close',
    242,
    t.struct('Close', { code: t.string(), message: t.string() }),
  ),
  /** Cumulative acknowledgement: every numbered frame up to `received` arrived. */
  Ack: defineControlMessage('tmesh.link.Ack', 243, t.struct('Ack', { received: t.u64() })),
  /** Heartbeat probe; answered by a Pong with the same id. */
  Ping: defineControlMessage('tmesh.link.Ping', 244, t.struct('Ping', { id: t.u32() })),
  /** Heartbeat answer. */
  Pong: defineControlMessage('tmesh.link.Pong', 245, t.struct('Pong', { id: t.u32() })),
  /** Precedes a RESPONSE frame: the sequence number of the request it answers. */
  ReplyTo: defineControlMessage('tmesh.link.ReplyTo', 246, t.struct('ReplyTo', { request: t.u64() })),
  /** A request handler failed: its error code and message, returned to the requester. */
  ErrorReply: defineControlMessage(
    'tmesh.link.ErrorReply',
    247,
    t.struct('ErrorReply', { request: t.u64(), code: t.string(), message: t.string() }),
  ),
} as const;

/** A Hello as decoded. */
export type HelloValue = typeof control.Hello extends MessageType<infer T> ? T : never;
/** An Auth as decoded. */
export type AuthValue = typeof control.Auth extends MessageType<infer T> ? T : never;

const CONTROL_TYPES: MessageType<any>[] = Object.values(control);

const linkRegistries = new WeakMap<MessageRegistry, MessageRegistry>();

/** The application's registry plus the control messages (cached per application registry). */
export function linkRegistry(app: MessageRegistry): MessageRegistry {
  let reg = linkRegistries.get(app);
  if (!reg) {
    reg = new MessageRegistry([...app.list(), ...CONTROL_TYPES]);
    linkRegistries.set(app, reg);
  }
  return reg;
}

/** Control ids 248..255 belong to layers above the link (the manager): the link carries them like application messages. */
export const UPPER_CONTROL_FIRST_ID = 248;

/** Whether frames of this type id carry a delivery sequence number (acked, retransmitted, deduplicated). */
export function isNumbered(typeId: number): boolean {
  return typeId < 240 || typeId >= UPPER_CONTROL_FIRST_ID || typeId === control.ErrorReply.id;
}
