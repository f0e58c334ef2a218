import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { type Endpoint, type TmeshError, tmeshError, type WireId } from '@tmesh/core';
import { control, linkRegistry } from './control.js';
import { codecFor } from './framing.js';
import { type HandshakeParams, handshake, type ResumePoint } from './handshake.js';
import { type Link, LinkImpl, localHello, newSessionId } from './link.js';
import type { ResolvedLinkOptions } from './options.js';

/** A listening endpoint. Events: 'link' (Link), 'handshakeError' (TmeshError, remote address). */
export interface LinkServer extends EventEmitter {
  /** The endpoint actually bound (with the port the OS chose for port 0). */
  address(): Endpoint;
  /** Live links accepted by this server. */
  links(): Link[];
  /** Stop listening and close every link gracefully (each drains its queue first). */
  close(): Promise<void>;
}

/**
 * The accepting half shared by the socket and gRPC servers: runs the handshake on each new stream and
 * either resumes the link of a returning peer session or creates a new one. All links of one server
 * announce the server's session id, so a restarted server is recognised by its peers.
 */
export class Acceptor {
  readonly sessionId = newSessionId();
  readonly #opts: ResolvedLinkOptions;
  readonly #wires: WireId[];
  readonly #emitter: EventEmitter;
  readonly #onLink: (link: Link) => void;
  readonly #bySession = new Map<string, LinkImpl>();
  readonly #handshaking = new Set<Duplex>();
  /** Handshakes past the peer's Hello that will create a new link (counted against maxConnections). */
  #reserved = 0;
  #closed = false;

  constructor(
    opts: ResolvedLinkOptions,
    wires: WireId[],
    emitter: EventEmitter,
    onLink: (link: Link) => void,
  ) {
    this.#opts = opts;
    this.#wires = wires;
    this.#emitter = emitter;
    this.#onLink = onLink;
  }

  /** Links alive now. */
  links(): LinkImpl[] {
    return [...this.#bySession.values()].filter((l) => !l.closed);
  }

  /** Handshake a newly accepted stream and hand it to a new or resumed link. */
  async accept(
    stream: Duplex,
    peerCertificateNames: HandshakeParams['peerCertificateNames'],
    remote: string,
  ): Promise<void> {
    if (this.#closed) {
      stream.destroy();
      return;
    }
    if (this.#handshaking.size >= this.#opts.maxHandshakes) {
      this.#refuse(
        stream,
        tmeshError(
          'E_CONNECTION',
          `${this.#handshaking.size} connections are handshaking (limit maxHandshakes ${this.#opts.maxHandshakes}): refused`,
          { details: { reason: 'maxHandshakes' } },
        ),
        remote,
      );
      return;
    }
    let existing: LinkImpl | undefined;
    let reserved = false;
    let mine: ResumePoint = { resumeSession: '', resumeReceived: 0 };
    const params: HandshakeParams = {
      role: 'acceptor',
      hello: localHello(this.#opts, this.sessionId, this.#wires),
      auth: this.#opts.auth,
      registry: linkRegistry(this.#opts.registry),
      timeoutMs: this.#opts.handshakeTimeoutMs,
      peerCertificateNames,
      onPeerHello: (peer) => {
        const found = this.#bySession.get(peer.sessionId);
        if (found && !found.closed) {
          existing = found;
          mine = found.resumePointFor(peer);
          return mine;
        }
        const live = this.links().filter((l) => l.peerSession !== '' && l.peer.id === peer.nodeId).length;
        if (live >= this.#opts.maxLinksPerPeer) {
          throw tmeshError(
            'E_CONNECTION',
            `peer ${peer.nodeId} already holds ${live} links (limit maxLinksPerPeer ${this.#opts.maxLinksPerPeer})`,
            { details: { reason: 'maxLinksPerPeer' } },
          );
        }
        const held = this.links().length + this.#reserved;
        if (held >= this.#opts.maxConnections) {
          throw tmeshError(
            'E_CONNECTION',
            `server holds ${held} links (limit maxConnections ${this.#opts.maxConnections}): ${peer.nodeId} refused`,
            { details: { reason: 'maxConnections' } },
          );
        }
        this.#reserved++;
        reserved = true;
        mine = { resumeSession: '', resumeReceived: 0 };
        return mine;
      },
    };
    this.#handshaking.add(stream);
    let result: Awaited<ReturnType<typeof handshake>>;
    try {
      result = await handshake(stream, params);
    } catch (error) {
      this.#emitter.emit('handshakeError', error, remote);
      return;
    } finally {
      this.#handshaking.delete(stream);
      if (reserved) this.#reserved--;
    }
    if (this.#closed) {
      stream.destroy();
      return;
    }
    const resumable = existing as LinkImpl | undefined;
    if (resumable && !resumable.closed) {
      resumable.attach(stream, result, mine);
      return;
    }
    const link = new LinkImpl(this.#opts, 'acceptor', this.sessionId, this.#wires);
    link.attach(stream, result, mine);
    const key = result.peer.sessionId;
    this.#bySession.set(key, link);
    link.once('close', () => {
      if (this.#bySession.get(key) === link) this.#bySession.delete(key);
    });
    this.#emitter.emit('link', link);
    this.#onLink(link);
  }

  /** Turn a stream away before its handshake: a Close frame with the reason, then hang up. */
  #refuse(stream: Duplex, error: TmeshError, remote: string): void {
    stream.on('error', () => {});
    try {
      // write then end: a gRPC server call's end() takes metadata, not a last chunk.
      stream.write(
        codecFor('universal', linkRegistry(this.#opts.registry)).encode(control.Close, {
          code: error.code,
          message: error.message,
        }),
      );
      stream.end();
      setTimeout(() => stream.destroy(), 1000).unref();
    } catch {
      stream.destroy();
    }
    this.#emitter.emit('handshakeError', error, remote);
  }

  /** Refuse new streams, cut handshakes in progress, close every link gracefully. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#handshaking) s.destroy();
    await Promise.all(this.links().map((l) => l.close()));
  }
}
