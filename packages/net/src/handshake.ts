import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import {
  ERROR_CODES,
  isTmeshError,
  type MessageRegistry,
  type TmeshErrorCode,
  tmeshError,
} from '@tmesh/core';
import { type AuthValue, control, type HelloValue } from './control.js';
import { codecFor, universalFrameLength } from './framing.js';
import { type Agreement, type LinkAuth, negotiate, ownProof, verifyPeerProof } from './negotiate.js';

/** Largest handshake frame (Hello, Auth, Close) accepted before the wire is agreed. */
export const MAX_HANDSHAKE_FRAME = 64 * 1024;

/** Where to resume the peer's numbered stream (empty session: start fresh). */
export interface ResumePoint {
  resumeSession: string;
  resumeReceived: number;
}

/** Inputs of one connection's handshake. */
export interface HandshakeParams {
  role: 'initiator' | 'acceptor';
  hello: HelloValue;
  /** Token or per-node keys (undefined: no auth). */
  auth?: LinkAuth | undefined;
  /** Shorthand for `auth: { token }` (used when `auth` is absent). */
  token?: string | undefined;
  registry: MessageRegistry;
  timeoutMs: number;
  /**
   * Names in the peer's verified TLS certificate (CN and SANs), or a function that reads them once the
   * peer's Hello arrived (gRPC learns them late); undefined when not on TLS.
   */
  peerCertificateNames?: string[] | (() => string[] | undefined) | undefined;
  /** Decide, from the peer's Hello, where to resume its stream; may throw to refuse the peer. */
  onPeerHello: (peer: HelloValue, agreement: Agreement) => ResumePoint;
}

/** What a finished handshake yields. */
export interface HandshakeResult {
  peer: HelloValue;
  agreement: Agreement;
  peerAuth: AuthValue;
  /** Bytes already received after the peer's Auth: the first bytes of the agreed wire. */
  leftover: Buffer | undefined;
}

/** Map a socket or TLS failure to a tmesh error: certificate and TLS alert problems are E_AUTH. */
export function socketError(error: Error & { code?: string }, where: string): Error {
  if (isTmeshError(error)) return error;
  const code = error.code ?? '';
  const auth =
    code.startsWith('ERR_SSL_') ||
    /CERT|certificate|alert|self.signed|UNABLE_TO_VERIFY/i.test(`${code} ${error.message}`);
  return tmeshError(auth ? 'E_AUTH' : 'E_CONNECTION', `${where}: ${error.message}`, {
    cause: error,
    details: { code },
  });
}

/** A fresh 16-byte nonce for a Hello. */
export function newNonce(): Buffer {
  return randomBytes(16);
}

function remoteCode(code: string): TmeshErrorCode {
  return code in ERROR_CODES ? (code as TmeshErrorCode) : 'E_HANDSHAKE';
}

/**
 * Run the handshake on a connected stream: send Hello, read the peer's Hello, agree, send Auth (or Close
 * with the reason), read the peer's Auth (or Close). Leaves the stream paused; on failure it sends Close
 * when it can and destroys the stream within a second.
 */
export function handshake(stream: Duplex, params: HandshakeParams): Promise<HandshakeResult> {
  const codec = codecFor('universal', params.registry);
  const auth = params.auth ?? (params.token ? { token: params.token } : undefined);
  return new Promise<HandshakeResult>((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    let peer: HelloValue | undefined;
    let agreement: Agreement | undefined;
    let settled = false;

    const cleanup = (): void => {
      clearTimeout(timer);
      stream.pause();
      stream.removeListener('data', onData);
      stream.removeListener('error', onError);
      stream.removeListener('close', onClose);
    };
    const fail = (error: unknown, sendClose: boolean): void => {
      if (settled) return;
      settled = true;
      cleanup();
      const err = isTmeshError(error)
        ? error
        : tmeshError('E_HANDSHAKE', `handshake failed: ${String((error as Error)?.message ?? error)}`, {
            cause: error,
          });
      stream.on('error', () => {});
      if (sendClose && !stream.destroyed) {
        try {
          // write then end: a gRPC server call's end() takes metadata, not a last chunk.
          stream.write(codec.encode(control.Close, { code: err.code, message: err.message.slice(0, 512) }));
          stream.end();
        } catch {
          stream.destroy();
        }
        setTimeout(() => stream.destroy(), 1000).unref();
      } else {
        stream.destroy();
      }
      reject(err);
    };
    const onError = (error: Error): void =>
      fail(socketError(error, 'connection failed during the handshake'), false);
    const onClose = (): void =>
      fail(
        tmeshError('E_CONNECTION', 'connection closed during the handshake', {
          details: { reason: 'closed' },
        }),
        false,
      );
    const timer = setTimeout(
      () =>
        fail(
          tmeshError(
            'E_HANDSHAKE',
            `handshake timed out after ${params.timeoutMs} ms (${peer ? 'no Auth' : 'no Hello'} from the peer)`,
            {
              details: { reason: 'timeout' },
            },
          ),
          true,
        ),
      params.timeoutMs,
    );

    const onFrame = (frame: Uint8Array): boolean => {
      let msg: ReturnType<typeof codec.decode>;
      try {
        msg = codec.decode(frame, { copy: true });
      } catch (cause) {
        throw tmeshError('E_HANDSHAKE', `malformed handshake frame: ${(cause as Error).message}`, {
          cause,
          details: { reason: 'malformed' },
        });
      }
      if (msg.type === control.Close) {
        const close = msg.value as { code: string; message: string };
        throw tmeshError(remoteCode(close.code), `refused by the peer: ${close.message}`, {
          details: { remote: true, remoteCode: close.code },
        });
      }
      if (!peer) {
        if (msg.type !== control.Hello) {
          throw tmeshError('E_HANDSHAKE', `expected a Hello, got ${msg.type.name}`, {
            details: { reason: 'malformed' },
          });
        }
        peer = msg.value as HelloValue;
        const [initiator, acceptor] =
          params.role === 'initiator' ? [params.hello, peer] : [peer, params.hello];
        agreement = negotiate(initiator, acceptor);
        const given = params.peerCertificateNames;
        const names = typeof given === 'function' ? given() : given;
        if (names && !names.includes(peer.nodeId)) {
          throw tmeshError(
            'E_AUTH',
            `peer's TLS identity (certificate names or PSK identity) [${names.join(', ')}] does not include its node id ${peer.nodeId}`,
          );
        }
        const resume = params.onPeerHello(peer, agreement);
        const proof = ownProof(auth, params.role, params.hello, peer);
        stream.write(
          codec.encode(control.Auth, {
            proof,
            resumeSession: resume.resumeSession,
            resumeReceived: BigInt(resume.resumeReceived),
          }),
        );
        return false;
      }
      if (msg.type !== control.Auth) {
        throw tmeshError('E_HANDSHAKE', `expected an Auth, got ${msg.type.name}`, {
          details: { reason: 'malformed' },
        });
      }
      const peerAuth = msg.value as AuthValue;
      verifyPeerProof(auth, params.role, params.hello, peer, peerAuth.proof);
      settled = true;
      cleanup();
      resolve({
        peer,
        agreement: agreement!,
        peerAuth,
        leftover: buffered.length > 0 ? buffered : undefined,
      });
      return true;
    };

    const onData = (chunk: Buffer): void => {
      if (settled) return;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      try {
        for (;;) {
          const length = universalFrameLength(buffered, MAX_HANDSHAKE_FRAME);
          if (length === undefined || buffered.length < length) return;
          const frame = buffered.subarray(0, length);
          buffered = buffered.subarray(length);
          if (onFrame(frame)) return;
        }
      } catch (error) {
        fail(error, true);
      }
    };

    stream.on('data', onData);
    stream.on('error', onError);
    stream.on('close', onClose);
    try {
      stream.write(codec.encode(control.Hello, params.hello));
    } catch (error) {
      fail(error, false);
      return;
    }
    stream.resume();
  });
}
