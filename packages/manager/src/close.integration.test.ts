// node.close() after a TCP peer was SIGKILLed: it finishes at once (no wait for the link's resume window
// or its reconnect attempts), and what the dead peer never acknowledged is reported as E_CLOSED,
// delivery unknown. Both ends of a link: the one this node accepted, and the one it dialed.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleMessages } from '@tmesh/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createNode, type NodeEvent } from './node.js';

const here = dirname(fileURLToPath(import.meta.url));
const types = [sampleMessages.FileChunk, sampleMessages.Metrics];
const children: ChildProcess[] = [];
// Well above a prompt close, well below the 10 s resume window the accepted link used to wait for.
const PROMPT_MS = 3000;

function spawnNode(script: string, args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} ${args[0]} did not start`)), 30_000);
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${script} ${args[0]} exited with ${code}`)));
  });
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Close `node` after its peer was SIGKILLed: close returns within PROMPT_MS, and the `expected`
 * unacknowledged messages are all reported undelivered (E_CLOSED, delivery unknown).
 */
async function closeReportsUndelivered(
  node: { close(): Promise<void> },
  events: NodeEvent[],
  expected: number,
): Promise<void> {
  const started = performance.now();
  await node.close();
  const closeMs = performance.now() - started;
  const undelivered = events.filter((e) => e.kind === 'undelivered');
  console.log(`close after the peer's SIGKILL: ${closeMs.toFixed(1)} ms; ${JSON.stringify(undelivered)}`);
  expect(closeMs, `close took ${closeMs.toFixed(0)} ms; events ${JSON.stringify(events)}`).toBeLessThan(
    PROMPT_MS,
  );
  expect(undelivered.length, JSON.stringify(events)).toBeGreaterThan(0);
  for (const e of undelivered) expect(e.message).toMatch(/E_CLOSED: .*delivery unknown/);
  expect(undelivered.reduce((n, e) => n + (e.count ?? 0), 0)).toBe(expected);
}

function chunk(i: number, bytes: number) {
  return { path: `c${i}`, offset: BigInt(i), sequence: i, last: false, data: new Uint8Array(bytes) };
}

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('node.close() after a TCP peer was SIGKILLed', () => {
  it('accepted link: close does not wait for the resume window; unacknowledged replies fail E_CLOSED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-close-acc-'));
    const events: NodeEvent[] = [];
    const node = await createNode({
      id: 'close-acceptor',
      types,
      discovery: { runtimeDir: dir },
      transport: { shm: false },
      onEvent: (e) => events.push(e),
    });
    const REQUESTS = 16;
    let answered = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    node.handle(sampleMessages.FileChunk, async (m) => {
      answered++;
      await gate;
      return { type: sampleMessages.FileChunk, value: chunk(m.value.sequence, 64 * 1024) };
    });
    // The peer poses as another machine, so it dials this node over TCP and sends its requests.
    const child = await spawnNode(
      'requester-node.ts',
      ['close-dialer', dir, 'close-acceptor', `${REQUESTS}`],
      {
        TMESH_MACHINE_ID: 'close-other-machine',
      },
    );
    await until('every request to arrive', () => answered === REQUESTS);
    // Stopped, the peer acknowledges nothing: the replies stay in this node's send queue. Then it dies.
    child.kill('SIGSTOP');
    release();
    await sleep(100);
    await kill9(child);
    await sleep(300); // the accepted link has seen the connection drop and now waits for a resume
    await closeReportsUndelivered(node, events, REQUESTS);
  }, 60_000);

  it('dialed link: close stops reconnecting at once; unacknowledged sends fail E_CLOSED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmesh-close-dial-'));
    const child = await spawnNode('peer-node.ts', ['close-sink', dir], {
      TMESH_MACHINE_ID: 'close-other-machine',
    });
    const events: NodeEvent[] = [];
    const node = await createNode({
      id: 'close-initiator',
      types,
      discovery: { runtimeDir: dir },
      transport: { shm: false },
      onEvent: (e) => events.push(e),
    });
    for (let i = 0; i < 10; i++) await node.send('close-sink', sampleMessages.FileChunk, chunk(i, 100));
    await node.request('close-sink', sampleMessages.FileChunk, { ...chunk(0, 0), path: 'report' });
    expect(node.peers().find((p) => p.info.id === 'close-sink')?.route).toBe('tcp');
    await sleep(200); // the peer's delayed acknowledgement of those arrives
    child.kill('SIGSTOP');
    const QUEUED = 50;
    for (let i = 0; i < QUEUED; i++) await node.send('close-sink', sampleMessages.FileChunk, chunk(i, 1000));
    await sleep(100);
    await kill9(child);
    await sleep(300); // the link has seen the connection drop and is reconnecting
    await closeReportsUndelivered(node, events, QUEUED);
  }, 60_000);
});
