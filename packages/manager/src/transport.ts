import type { DecodedMessage, MessageType, TransportStrategy } from '@tmesh/core';
import type { Route } from '@tmesh/selector';

/** Options of one send through a transport. */
export interface SendOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /**
   * `TmeshNode.send` only. 'queued' (default): resolve once a transport accepted the message. 'acked':
   * resolve once the peer node handed it to a consumer, reject if it refused it (see `TmeshNode.send`).
   */
  delivery?: 'queued' | 'acked';
}

/**
 * One open way to a peer, whatever carries it (a network link or a shared-memory channel). The node
 * keeps one per peer and swaps it along the selector's fallback order when it fails.
 */
export interface PeerTransport {
  readonly route: Route;
  readonly strategy: TransportStrategy;
  /** Why this transport was chosen (the selector's explanation, plus any fallback that led here). */
  readonly explanation: string;
  /** The OS resource behind it when there is one to account for (a shared-memory channel name). */
  readonly resource?: string;
  send<T>(type: MessageType<T>, value: T, options?: SendOptions): Promise<void>;
  request<T>(type: MessageType<T>, value: T, options?: SendOptions): Promise<DecodedMessage>;
  /** Bytes written so far (for the monitor's throughput). */
  bytesOut(): number;
  /** Smoothed RTT in ms, when measured. */
  rttMs(): number | undefined;
  isOpen(): boolean;
  /**
   * Resolves once the peer has read everything sent so far (network links: every frame acknowledged).
   * Absent where `send` already resolves on delivery into the peer's ring (shared memory).
   */
  flush?(): Promise<void>;
  close(): Promise<void>;
}

/** What a transport hands the node for every message it receives. */
export interface IncomingSink {
  message(from: string, msg: DecodedMessage, via: PeerTransport): void;
  request(
    from: string,
    msg: DecodedMessage,
    via: PeerTransport,
  ): Promise<{ type: MessageType<any>; value: unknown }>;
  closed(peer: string, via: PeerTransport, error?: unknown): void;
  /**
   * Messages this transport had accepted (their `send` resolved) but could not deliver: the peer restarted
   * or the link gave up before acknowledging them. `error` is the link's E_PEER_GONE / E_CONNECTION with
   * `details.count` and `details.delivery = 'unknown'`.
   */
  undelivered?(peer: string, via: PeerTransport, error: unknown): void;
  /** A heartbeat measured this round-trip time (ms). */
  heartbeat(peer: string, rttMs: number): void;
}
