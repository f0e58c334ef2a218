import { createRequire } from 'node:module';
import { ERROR_CODES, type TmeshError, type TmeshErrorCode, tmeshError } from '@tmesh/core';

/** Options the addon accepts when creating or opening a channel. */
export interface NativeChannelOptions {
  capacity?: number;
  token?: string;
  maxMessageSize?: number;
  staleAfterMs?: number;
}

/** One end of a channel as the addon exposes it (see crates/node/src/lib.rs). */
export interface NativeChannel {
  token(): string;
  capacity(): number;
  maxFragment(): number;
  dupBellFd(): number;
  sendPartial(data: Uint8Array, offset: number, messageType: number, flags: number): number;
  trySend(data: Uint8Array, messageType: number, flags: number): boolean;
  trySendMany(messages: readonly Uint8Array[], messageType: number, flags: number): number;
  tryRecv(meta: Uint32Array): Buffer | null;
  tryRecvInto(dst: Uint8Array, meta: Uint32Array): Uint8Array | null;
  recvSpin(meta: Uint32Array, budgetUs: number, yieldCpu: boolean): Buffer | null;
  tryRecvBatch(maxMessages: number, maxBytes: number): Buffer | null;
  tryLend(meta: Uint32Array): Buffer | null;
  release(end: number): void;
  spinUntilData(budgetUs: number, yieldCpu: boolean): boolean;
  armDataBell(): boolean;
  armSpaceBell(need: number): boolean;
  hasData(): boolean;
  peerState(): 'not-attached' | 'alive' | 'closed' | 'gone';
  close(): void;
}

/** A region as the addon lists it. */
export interface NativeRegionInfo {
  name: string;
  capacity: number;
  creatorPid: number;
  creator: string;
  openerPid: number;
  opener: string;
  status: string;
}

/** The functions of the addon: channels are integer handles (see crates/node/src/lib.rs for why). */
interface RawBinding {
  createChannel(name: string, options?: NativeChannelOptions): number;
  openChannel(name: string, options?: NativeChannelOptions): number;
  chToken(h: number): string;
  chCapacity(h: number): number;
  chMaxFragment(h: number): number;
  chDupBellFd(h: number): number;
  chSendPartial(h: number, data: Uint8Array, offset: number, messageType: number, flags: number): number;
  chTrySend(h: number, data: Uint8Array, messageType: number, flags: number): boolean;
  chTrySendMany(h: number, messages: readonly Uint8Array[], messageType: number, flags: number): number;
  chTryRecv(h: number, meta: Uint32Array): Buffer | null;
  chTryRecvInto(h: number, dst: Uint8Array, meta: Uint32Array): Uint8Array | null;
  chRecvSpin(h: number, meta: Uint32Array, budgetUs: number, yieldCpu: boolean): Buffer | null;
  chTryRecvBatch(h: number, maxMessages: number, maxBytes: number): Buffer | null;
  chTryLend(h: number, meta: Uint32Array): Buffer | null;
  chRelease(h: number, end: number): void;
  chSpinUntilData(h: number, budgetUs: number, yieldCpu: boolean): boolean;
  chArmDataBell(h: number): boolean;
  chArmSpaceBell(h: number, need: number): boolean;
  chHasData(h: number): boolean;
  chPeerState(h: number): 'not-attached' | 'alive' | 'closed' | 'gone';
  chClose(h: number): void;
  listRegions(): NativeRegionInfo[];
  cleanupStaleRegions(): string[];
}

/** The addon as the wrapper uses it. */
export interface NativeBinding {
  createChannel(name: string, options?: NativeChannelOptions): NativeChannel;
  openChannel(name: string, options?: NativeChannelOptions): NativeChannel;
  listRegions(): NativeRegionInfo[];
  cleanupStaleRegions(): string[];
}

function bind(raw: RawBinding, h: number): NativeChannel {
  return {
    token: () => raw.chToken(h),
    capacity: () => raw.chCapacity(h),
    maxFragment: () => raw.chMaxFragment(h),
    dupBellFd: () => raw.chDupBellFd(h),
    sendPartial: (d, o, t, f) => raw.chSendPartial(h, d, o, t, f),
    trySend: (d, t, f) => raw.chTrySend(h, d, t, f),
    trySendMany: (m, t, f) => raw.chTrySendMany(h, m, t, f),
    tryRecv: (m) => raw.chTryRecv(h, m),
    tryRecvInto: (d, m) => raw.chTryRecvInto(h, d, m),
    recvSpin: (m, b, y) => raw.chRecvSpin(h, m, b, y),
    tryRecvBatch: (n, b) => raw.chTryRecvBatch(h, n, b),
    tryLend: (m) => raw.chTryLend(h, m),
    release: (e) => raw.chRelease(h, e),
    spinUntilData: (b, y) => raw.chSpinUntilData(h, b, y),
    armDataBell: () => raw.chArmDataBell(h),
    armSpaceBell: (n) => raw.chArmSpaceBell(h, n),
    hasData: () => raw.chHasData(h),
    peerState: () => raw.chPeerState(h),
    close: () => raw.chClose(h),
  };
}

function wrap(raw: RawBinding): NativeBinding {
  return {
    createChannel: (name, o) => bind(raw, raw.createChannel(name, o)),
    openChannel: (name, o) => bind(raw, raw.openChannel(name, o)),
    listRegions: () => raw.listRegions(),
    cleanupStaleRegions: () => raw.cleanupStaleRegions(),
  };
}

/** The napi-rs platform suffix of this process, e.g. `linux-x64-gnu`. */
export function platformSuffix(): string {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    const libc = report?.header?.glibcVersionRuntime ? 'gnu' : 'musl';
    return `linux-${arch}-${libc}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

let loaded: NativeBinding | undefined;
let loadedRaw: unknown;
let loadError: TmeshError | undefined;

/** The addon's exports as loaded (for the other modules of this package, e.g. compress.ts). */
export function loadNativeModule(): unknown {
  loadNative();
  return loadedRaw;
}

/**
 * Load the addon once: `TMESH_SHM_NATIVE` (a path) if set, then the local build in `native/`, then the
 * per-platform package `@tmesh/shm-native-<platform>`. Throws one E_NATIVE_UNAVAILABLE whose `cause`
 * lists every attempt.
 */
export function loadNative(): NativeBinding {
  if (loaded) return loaded;
  if (loadError) throw loadError;
  const require = createRequire(import.meta.url);
  const suffix = platformSuffix();
  const candidates: string[] = [];
  const override = process.env.TMESH_SHM_NATIVE;
  if (override) candidates.push(override);
  candidates.push(`../native/tmesh-shm.${suffix}.node`, `@tmesh/shm-native-${suffix}`);
  const attempts: Error[] = [];
  for (const candidate of candidates) {
    try {
      loadedRaw = require(candidate);
      loaded = wrap(loadedRaw as RawBinding);
      return loaded;
    } catch (e) {
      const err = e as Error;
      attempts.push(new Error(`${candidate}: ${err.message.split('\n')[0]}`, { cause: err }));
    }
  }
  loadError = tmeshError(
    'E_NATIVE_UNAVAILABLE',
    `the shared-memory addon for ${suffix} could not be loaded (tried ${candidates.join(', ')}); ` +
      'build it with `pnpm --filter @tmesh/shm-native run build:native` or install the platform package',
    { cause: new AggregateError(attempts, attempts.map((a) => a.message).join('; ')) },
  );
  throw loadError;
}

/** Whether the addon loads here, and if not, why (for a fallback transport and `tmesh doctor`). */
export function isAvailable(): { available: boolean; reason?: string } {
  try {
    loadNative();
    return { available: true };
  } catch (e) {
    const err = e as TmeshError;
    const cause = err.cause instanceof AggregateError ? ` (${err.cause.message})` : '';
    return { available: false, reason: `${err.message}${cause}` };
  }
}

const CODE_PREFIX = /^(E_[A-Z0-9_]+): ([\s\S]*)$/;

/** Turn an error thrown by the addon into a TmeshError with the code the Rust side chose. */
export function toTmeshError(e: unknown): TmeshError {
  const err = e as { message?: unknown; name?: unknown };
  if (err && err.name === 'TmeshError') return e as TmeshError;
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const m = CODE_PREFIX.exec(message);
  if (m && m[1]! in ERROR_CODES) return tmeshError(m[1] as TmeshErrorCode, m[2]!, { cause: e });
  return tmeshError('E_INTERNAL', `shared-memory addon: ${message}`, { cause: e });
}

/** Run an addon call, converting what it throws. */
export function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toTmeshError(e);
  }
}
