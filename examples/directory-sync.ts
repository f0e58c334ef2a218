// Batched directory sync (the seed's directorySync / batchOperation): a sender node describes changes to a
// directory as a batch of file operations — a t.union of Mkdir, Write, Delete and Rename — and sends the
// whole batch as one request; the receiver applies it to its own directory and answers with a manifest
// digest (SHA-256 over every path, mode and content hash). The sender compares it with its own tree.
//
//   npx tsx examples/directory-sync.ts [--work <dir>]
//
// It syncs a generated tree into an empty target, then changes the source (edit, add, rename, delete) and
// syncs again with a second batch. Without --work everything lives in a temporary directory.
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defineMessage, type Infer, t, tmeshError } from '@tmesh/core';
import { createNode } from '@tmesh/manager';

/** One file operation; paths are relative to the synced root and use '/'. */
const FileOp = t.union('FileOp', {
  Mkdir: t.struct('MkdirOp', { path: t.string() }),
  Write: t.struct('WriteOp', { path: t.string(), mode: t.u32(), data: t.bytes() }),
  Delete: t.struct('DeleteOp', { path: t.string() }),
  Rename: t.struct('RenameOp', { from: t.string(), to: t.string() }),
});
/** A file operation value. */
export type FileOperation = Infer<typeof FileOp>;

/** A batch of operations applied in order, the seed's batchOperation (id 2: the seed's directorySync). */
const DirectoryBatch = defineMessage(
  'examples.DirectoryBatch',
  2,
  t.struct('DirectoryBatch', { batch: t.u32(), ops: t.list(FileOp) }),
);
/** The receiver's answer: how many operations it applied and the digest of its tree afterwards. */
const BatchApplied = defineMessage(
  'examples.BatchApplied',
  12,
  t.struct('BatchApplied', { batch: t.u32(), applied: t.u32(), files: t.u32(), manifest: t.string() }),
);

/** A path inside `root`, or E_INVALID_ARGUMENT for anything that would leave it. */
function inside(root: string, path: string): string {
  const clean = normalize(path.split('/').join(sep));
  if (path === '' || isAbsolute(path) || clean === '..' || clean.startsWith(`..${sep}`))
    throw tmeshError('E_INVALID_ARGUMENT', `batch path ${JSON.stringify(path)} leaves the synced directory`);
  return join(root, clean);
}

/** Apply one batch to `root`, in order; the first failing operation stops it with a TmeshError. */
export function applyBatch(root: string, ops: readonly FileOperation[]): number {
  let applied = 0;
  for (const op of ops) {
    switch (op.kind) {
      case 'Mkdir':
        mkdirSync(inside(root, op.value.path), { recursive: true });
        break;
      case 'Write': {
        const file = inside(root, op.value.path);
        writeFileSync(file, op.value.data);
        chmodSync(file, op.value.mode & 0o777); // the mode option only applies to new files, and umask cuts it
        break;
      }
      case 'Delete':
        rmSync(inside(root, op.value.path), { recursive: true, force: true });
        break;
      case 'Rename':
        renameSync(inside(root, op.value.from), inside(root, op.value.to));
        break;
    }
    applied++;
  }
  return applied;
}

/** Every file under `root` (relative, '/'-separated, sorted) with its mode and SHA-256. */
export function listTree(root: string, prefix = ''): { path: string; mode: number; sha256: string }[] {
  const entries: { path: string; mode: number; sha256: string }[] = [];
  for (const name of readdirSync(join(root, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const stat = statSync(join(root, rel));
    if (stat.isDirectory()) entries.push(...listTree(root, rel));
    else
      entries.push({
        path: rel,
        mode: stat.mode & 0o777,
        sha256: createHash('sha256')
          .update(readFileSync(join(root, rel)))
          .digest('hex'),
      });
  }
  return entries;
}

/** One digest for a whole tree: SHA-256 over `path mode sha256` lines. */
export function manifestDigest(root: string): { files: number; digest: string } {
  const tree = listTree(root);
  const text = tree.map((e) => `${e.path} ${e.mode.toString(8)} ${e.sha256}\n`).join('');
  return { files: tree.length, digest: createHash('sha256').update(text).digest('hex') };
}

/** The operations that create `root`'s tree from nothing: directories first, then files. */
function fullSync(root: string, prefix = ''): FileOperation[] {
  const ops: FileOperation[] = [];
  for (const name of readdirSync(join(root, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const stat = statSync(join(root, rel));
    if (stat.isDirectory()) ops.push({ kind: 'Mkdir', value: { path: rel } }, ...fullSync(root, rel));
    else
      ops.push({
        kind: 'Write',
        value: { path: rel, mode: stat.mode & 0o777, data: readFileSync(join(root, rel)) },
      });
  }
  return ops;
}

/** Options of {@link syncDirectory}. */
export interface DirectorySyncOptions {
  /** Where `source/` and `target/` are created; a temporary directory (removed afterwards) if absent. */
  work?: string;
  log?: (line: string) => void;
}

/** What {@link syncDirectory} did, batch by batch. */
export interface DirectorySyncResult {
  batches: {
    batch: number;
    ops: number;
    applied: number;
    files: number;
    manifest: string;
    expected: string;
  }[];
  route: string;
  verified: boolean;
}

/** Generate a tree, sync it to a second node in one batch, change it, and sync the changes in a second batch. */
export async function syncDirectory(options: DirectorySyncOptions = {}): Promise<DirectorySyncResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const temporary = options.work === undefined;
  const work = options.work ?? mkdtempSync(join(tmpdir(), 'tmesh-example-sync-'));
  const source = join(work, 'source');
  const target = join(work, 'target');
  const runtimeDir = mkdtempSync(join(tmpdir(), 'tmesh-example-sync-run-'));
  mkdirSync(join(source, 'docs', 'notes'), { recursive: true });
  mkdirSync(join(source, 'assets'), { recursive: true });
  mkdirSync(target, { recursive: true });
  writeFileSync(join(source, 'README.md'), '# synced by tmesh\n');
  writeFileSync(join(source, 'docs', 'guide.md'), 'step one\nstep two\n');
  writeFileSync(join(source, 'docs', 'notes', 'todo.txt'), 'rename me\n');
  writeFileSync(join(source, 'assets', 'blob.bin'), randomBytes(200_000));
  writeFileSync(join(source, 'assets', 'old.bin'), randomBytes(1000));
  writeFileSync(join(source, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });

  const types = [DirectoryBatch, BatchApplied];
  // The Unix socket goes in the same temporary runtime directory: by default it is <defaultRuntimeDir()>/<id>.sock
  // whatever `discovery.runtimeDir` says, so two runs at once would replace each other's socket.
  const at = (id: string) => ({ unix: join(runtimeDir, `${id}.sock`) });
  const receiver = await createNode({
    id: 'sync-receiver',
    types,
    discovery: { runtimeDir },
    transport: at('sync-receiver'),
  });
  const sender = await createNode({
    id: 'sync-sender',
    types,
    discovery: { runtimeDir },
    transport: at('sync-sender'),
  }).catch(async (error: unknown) => {
    await receiver.close(); // do not leave the first node listening
    throw error;
  });
  try {
    receiver.handle(DirectoryBatch, ({ value }) => {
      const applied = applyBatch(target, value.ops);
      const { files, digest } = manifestDigest(target);
      return { type: BatchApplied, value: { batch: value.batch, applied, files, manifest: digest } };
    });

    const batches: DirectorySyncResult['batches'] = [];
    const sync = async (batch: number, ops: FileOperation[]) => {
      const reply = await sender.request('sync-receiver', DirectoryBatch, { batch, ops });
      const answer = reply.value as Infer<typeof BatchApplied.schema>;
      const expected = manifestDigest(source).digest;
      const counts = ops.reduce<Record<string, number>>((c, op) => {
        c[op.kind] = (c[op.kind] ?? 0) + 1;
        return c;
      }, {});
      log(
        `batch ${batch}: ${ops.length} ops (${Object.entries(counts)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ')}) -> applied ${answer.applied}, receiver has ${answer.files} files, ` +
          `manifest ${answer.manifest === expected ? 'matches' : 'DIFFERS'} (${answer.manifest.slice(0, 16)}...)`,
      );
      batches.push({ ...answer, batch, ops: ops.length, expected });
    };

    // Batch 1: everything, from an empty target.
    await sync(1, fullSync(source));

    // Batch 2: the changes made since, as operations.
    const changes: FileOperation[] = [];
    writeFileSync(join(source, 'docs', 'guide.md'), 'step one\nstep two\nstep three\n');
    changes.push({
      kind: 'Write',
      value: { path: 'docs/guide.md', mode: 0o644, data: readFileSync(join(source, 'docs', 'guide.md')) },
    });
    writeFileSync(join(source, 'CHANGELOG.md'), '- second sync\n');
    changes.push({
      kind: 'Write',
      value: { path: 'CHANGELOG.md', mode: 0o644, data: readFileSync(join(source, 'CHANGELOG.md')) },
    });
    renameSync(join(source, 'docs', 'notes', 'todo.txt'), join(source, 'docs', 'done.txt'));
    changes.push({ kind: 'Rename', value: { from: 'docs/notes/todo.txt', to: 'docs/done.txt' } });
    rmSync(join(source, 'docs', 'notes'), { recursive: true });
    changes.push({ kind: 'Delete', value: { path: 'docs/notes' } });
    rmSync(join(source, 'assets', 'old.bin'));
    changes.push({ kind: 'Delete', value: { path: 'assets/old.bin' } });
    await sync(2, changes);

    const route = sender.peers().find((p) => p.info.id === 'sync-receiver')?.route ?? '-';
    const verified =
      batches.every((b) => b.manifest === b.expected && b.applied === b.ops) &&
      !existsSync(join(target, 'docs', 'notes'));
    log(
      verified ? `verified: target matches source after ${batches.length} batches over ${route}` : 'MISMATCH',
    );
    return { batches, route, verified };
  } finally {
    await sender.close();
    await receiver.close();
    rmSync(runtimeDir, { recursive: true, force: true });
    if (temporary) rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const workIndex = args.indexOf('--work');
  const result = await syncDirectory(
    workIndex >= 0 && args[workIndex + 1] ? { work: args[workIndex + 1]! } : {},
  );
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(result.verified ? 0 : 1);
}
