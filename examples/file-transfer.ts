// Streamed file transfer (the seed's fileTransfer): a sender node reads a file in chunks and sends each
// as a FileChunk message; the receiver writes every chunk at its offset and, asked at the end, answers
// with the SHA-256 of what it wrote. The sender compares it with the SHA-256 of what it read.
//
//   npx tsx examples/file-transfer.ts [--file <path>] [--out <path>] [--size <bytes>] [--chunk <bytes>]
//
// Without --file it generates a random file of --size bytes (default 8 MiB) in a temporary directory.
// Both nodes run in this process and find each other through a temporary runtime directory; the
// selector picks the route (shared memory when the native addon loads, else the Unix socket).
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defineMessage, sampleMessages, t, tmeshError } from '@tmesh/core';
import { createNode } from '@tmesh/manager';

/** Asks the receiver for the digest of a finished file. */
const VerifyFile = defineMessage('examples.VerifyFile', 10, t.struct('VerifyFile', { path: t.string() }));
/** The receiver's answer: what it wrote, and its SHA-256. */
const FileDigest = defineMessage(
  'examples.FileDigest',
  11,
  t.struct('FileDigest', { path: t.string(), bytes: t.u64(), chunks: t.u32(), sha256: t.string() }),
);

/** Options of {@link transferFile}. */
export interface FileTransferOptions {
  file?: string;
  out?: string;
  size?: number;
  chunkSize?: number;
  log?: (line: string) => void;
}

/** What {@link transferFile} measured and verified. */
export interface FileTransferResult {
  bytes: number;
  chunks: number;
  route: string;
  strategy: string;
  sentSha256: string;
  receivedSha256: string;
  verified: boolean;
  /** Where the received copy is (only kept when `out` was given; the temporary directory is removed). */
  out: string;
  seconds: number;
}

/** Send a file from one node to another in chunks and verify it arrived whole (SHA-256 on both ends). */
export async function transferFile(options: FileTransferOptions = {}): Promise<FileTransferResult> {
  const chunkSize = options.chunkSize ?? 256 * 1024;
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > 16 * 1024 * 1024)
    throw tmeshError('E_INVALID_ARGUMENT', `--chunk must be 1..16777216 bytes, got ${chunkSize}`);
  const work = mkdtempSync(join(tmpdir(), 'tmesh-example-file-'));
  try {
    return await transferIn(work, chunkSize, options);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function transferIn(
  work: string,
  chunkSize: number,
  options: FileTransferOptions,
): Promise<FileTransferResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  let file = options.file;
  if (!file) {
    file = join(work, 'input.bin');
    writeFileSync(file, randomBytes(options.size ?? 8 * 1024 * 1024));
  }
  const total = statSync(file).size;
  const out = options.out ?? join(work, 'received.bin');
  const runtimeDir = join(work, 'run');
  mkdirSync(runtimeDir);
  const types = [sampleMessages.FileChunk, VerifyFile, FileDigest];

  // The Unix socket goes in the same temporary runtime directory: by default it is <defaultRuntimeDir()>/<id>.sock
  // whatever `discovery.runtimeDir` says, so two runs at once would replace each other's socket.
  const at = (id: string) => ({ unix: join(runtimeDir, `${id}.sock`) });
  const receiver = await createNode({
    id: 'receiver',
    types,
    discovery: { runtimeDir },
    transport: at('receiver'),
  });
  const sender = await createNode({
    id: 'sender',
    types,
    discovery: { runtimeDir },
    transport: at('sender'),
  }).catch(async (error: unknown) => {
    await receiver.close(); // do not leave the first node listening
    throw error;
  });
  try {
    // Receiver: write each chunk where it belongs; count what arrived.
    const fd = openSync(out, 'w');
    let fdOpen = true;
    let received = 0;
    let chunks = 0;
    let nextReport = 0.25;
    receiver.on(sampleMessages.FileChunk, ({ value }) => {
      writeSync(fd, value.data, 0, value.data.length, Number(value.offset));
      received += value.data.length;
      chunks++;
      if (total > 0 && received / total >= nextReport) {
        while (received / total >= nextReport) nextReport += 0.25;
        const pct = Math.round((nextReport - 0.25) * 100);
        log(`receiver: ${pct}% (${received} / ${total} bytes, ${chunks} chunks)`);
      }
      if (value.last && fdOpen) {
        closeSync(fd);
        fdOpen = false;
      }
    });
    receiver.handle(VerifyFile, ({ value }) => {
      if (fdOpen)
        throw tmeshError('E_INVALID_ARGUMENT', `receiver: ${value.path} is incomplete (no last chunk yet)`);
      const sha256 = createHash('sha256').update(readFileSync(out)).digest('hex');
      return { type: FileDigest, value: { path: value.path, bytes: BigInt(received), chunks, sha256 } };
    });

    // Sender: stream the file from disk, one FileChunk per read; send() waits when the route is full.
    const started = process.hrtime.bigint();
    const hash = createHash('sha256');
    let offset = 0;
    let sequence = 0;
    const name = basename(file);
    const stream = createReadStream(file, { highWaterMark: chunkSize });
    for await (const piece of stream as AsyncIterable<Buffer>) {
      hash.update(piece);
      const last = offset + piece.length >= total;
      await sender.send('receiver', sampleMessages.FileChunk, {
        path: name,
        offset: BigInt(offset),
        sequence: sequence++,
        last,
        data: piece,
      });
      offset += piece.length;
    }
    if (total === 0) {
      await sender.send('receiver', sampleMessages.FileChunk, {
        path: name,
        offset: 0n,
        sequence: sequence++,
        last: true,
        data: new Uint8Array(),
      });
    }
    const sentSha256 = hash.digest('hex');
    const reply = await sender.request('receiver', VerifyFile, { path: name });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const digest = reply.value as { bytes: bigint; chunks: number; sha256: string };
    const peer = sender.peers().find((p) => p.info.id === 'receiver')!;
    const verified = digest.sha256 === sentSha256 && Number(digest.bytes) === total;
    log(
      `sent ${total} bytes in ${sequence} chunks of up to ${chunkSize} bytes over ${peer.route} (${peer.strategy}) ` +
        `in ${seconds.toFixed(3)} s (${(total / 1024 / 1024 / seconds).toFixed(1)} MiB/s)`,
    );
    log(`sha256 sent     ${sentSha256}`);
    log(`sha256 received ${digest.sha256}`);
    log(verified ? 'verified: the received file matches' : 'MISMATCH: the received file differs');
    return {
      bytes: total,
      chunks: digest.chunks,
      route: peer.route ?? '-',
      strategy: peer.strategy ?? '-',
      sentSha256,
      receivedSha256: digest.sha256,
      verified,
      out,
      seconds,
    };
  } finally {
    await sender.close();
    await receiver.close();
  }
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const file = argValue(args, '--file');
  const out = argValue(args, '--out');
  const size = argValue(args, '--size');
  const chunk = argValue(args, '--chunk');
  const result = await transferFile({
    ...(file ? { file } : {}),
    ...(out ? { out } : {}),
    ...(size ? { size: Number(size) } : {}),
    ...(chunk ? { chunkSize: Number(chunk) } : {}),
  });
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(result.verified ? 0 : 1);
}
