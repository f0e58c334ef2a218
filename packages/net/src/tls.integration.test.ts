import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, connectGrpc, type Link, type LinkServer, listen, listenGrpc } from './index.js';
import { chunk, FileChunk, nextEvent, node, registry } from './test-support.js';

// A CA, and certificates signed by it, generated with the openssl CLI for this run only.
let dir: string;
const pem: Record<string, { cert: string; key: string }> = {};
let ca: string;
let rogueCa: string;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCa(name: string): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
  );
}

function makeCert(name: string, cn: string, caName: string): void {
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=DNS:${cn}\nbasicConstraints=CA:FALSE\n`);
  openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    `/CN=${cn}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
  );
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${caName}.crt`,
    '-CAkey',
    `${caName}.key`,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  );
  pem[name] = {
    cert: readFileSync(join(dir, `${name}.crt`), 'utf8'),
    key: readFileSync(join(dir, `${name}.key`), 'utf8'),
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tmesh-tls-'));
  makeCa('ca');
  makeCa('rogue-ca');
  makeCert('server', 'server', 'ca');
  makeCert('client', 'client', 'ca');
  makeCert('mallory', 'mallory', 'ca');
  makeCert('rogue', 'client', 'rogue-ca');
  ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  rogueCa = readFileSync(join(dir, 'rogue-ca.crt'), 'utf8');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers: LinkServer[] = [];
const links: Link[] = [];
afterEach(async () => {
  await Promise.all(links.splice(0).map((l) => l.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function tlsServer() {
  const seen: string[] = [];
  let accepted = 0;
  const s = await listen(
    { kind: 'tcp', host: '127.0.0.1', port: 0, tls: true },
    {
      self: node('server'),
      registry,
      tls: { ...pem.server!, ca },
      onLink: (l) => {
        accepted++;
        l.on('message', (m) => seen.push((m.value as { path: string }).path));
      },
    },
  );
  servers.push(s);
  return { s, seen, accepted: () => accepted };
}

describe('TLS 1.3 with mutual certificates', () => {
  it('carries messages between peers whose certificates name their node ids', async () => {
    const { s, seen } = await tlsServer();
    const link = await connect(s.address(), { self: node('client'), registry, tls: { ...pem.client!, ca } });
    links.push(link);
    await link.send(FileChunk, chunk(1));
    await link.flush();
    expect(seen).toEqual(['file-1']);
  });

  it('refuses a peer without a certificate before any application message', async () => {
    const { s, seen, accepted } = await tlsServer();
    const serverError = nextEvent<{ code: string }>(s, 'handshakeError');
    // A raw TLS client with no certificate: it gets no further than the TLS handshake.
    const socket = tls.connect({
      host: '127.0.0.1',
      port: (s.address() as { port: number }).port,
      ca,
      checkServerIdentity: () => undefined,
    });
    socket.on('error', () => {});
    socket.on('secureConnect', () => socket.write(Buffer.from('application data that must never be read')));
    const told: Buffer[] = [];
    socket.on('data', (d: Buffer) => told.push(d));
    await expect(serverError).resolves.toMatchObject({ code: 'E_AUTH' });
    await new Promise((r) => socket.once('close', r));
    // The refusal reached the peer as a Close frame naming E_AUTH.
    expect(Buffer.concat(told).toString('latin1')).toContain('E_AUTH');
    expect(accepted()).toBe(0);
    expect(seen).toEqual([]);
  });

  it('refuses a client certificate signed by another CA, on both sides', async () => {
    const { s, accepted } = await tlsServer();
    const serverError = nextEvent<{ code: string }>(s, 'handshakeError');
    await expect(
      connect(s.address(), { self: node('client'), registry, reconnect: false, tls: { ...pem.rogue!, ca } }),
    ).rejects.toMatchObject({ code: 'E_AUTH' });
    await expect(serverError).resolves.toMatchObject({ code: 'E_AUTH' });
    expect(accepted()).toBe(0);
  });

  it('refuses a server whose certificate the client does not trust', async () => {
    const { s, accepted } = await tlsServer();
    const serverError = nextEvent<{ code: string }>(s, 'handshakeError');
    await expect(
      connect(s.address(), {
        self: node('client'),
        registry,
        reconnect: false,
        tls: { ...pem.rogue!, ca: rogueCa },
      }),
    ).rejects.toMatchObject({ code: 'E_AUTH' });
    // The client hangs up without an alert, so the server only sees the TLS handshake cut.
    await expect(serverError).resolves.toMatchObject({
      code: expect.stringMatching(/^E_(AUTH|CONNECTION)$/),
    });
    expect(accepted()).toBe(0);
  });

  it('refuses a valid certificate whose name is not the Hello node id, on both sides', async () => {
    const { s, accepted } = await tlsServer();
    const serverError = nextEvent<{ code: string }>(s, 'handshakeError');
    await expect(
      connect(s.address(), {
        self: node('client'),
        registry,
        reconnect: false,
        tls: { ...pem.mallory!, ca },
      }),
    ).rejects.toMatchObject({ code: 'E_AUTH' });
    await expect(serverError).resolves.toMatchObject({
      code: 'E_AUTH',
      message: expect.stringContaining('mallory'),
    });
    expect(accepted()).toBe(0);
  });

  it('does not downgrade below TLS 1.3', async () => {
    const { s } = await tlsServer();
    const serverError = nextEvent<{ code: string }>(s, 'handshakeError');
    const socket = tls.connect({
      host: '127.0.0.1',
      port: (s.address() as { port: number }).port,
      ca,
      ...pem.client!,
      maxVersion: 'TLSv1.2',
      checkServerIdentity: () => undefined,
    });
    const error = await new Promise<Error>((resolve) => {
      socket.once('error', resolve);
      socket.once('secureConnect', () => resolve(new Error(`negotiated ${socket.getProtocol()}`)));
    });
    expect(error.message).not.toMatch(/negotiated/);
    expect((error as { code?: string }).code).toMatch(/ERR_SSL/);
    await expect(serverError).resolves.toMatchObject({ code: 'E_AUTH' });
    socket.destroy();
  });

  it('runs the gRPC fallback over mutual TLS, and checks the certificate names there too', async () => {
    const seen: number[] = [];
    const s = await listenGrpc(
      { kind: 'grpc', host: '127.0.0.1', port: 0, tls: true },
      {
        self: node('server'),
        registry,
        tls: { ...pem.server!, ca },
        onLink: (l) => l.on('message', (m) => seen.push((m.value as { sequence: number }).sequence)),
      },
    );
    servers.push(s);
    const link = await connectGrpc(s.address(), {
      self: node('client'),
      registry,
      tls: { ...pem.client!, ca },
    });
    links.push(link);
    await link.send(FileChunk, chunk(3));
    await link.flush();
    expect(seen).toEqual([3]);
    const serverError = nextEvent<{ code: string }>(s, 'handshakeError');
    await expect(
      connectGrpc(s.address(), {
        self: node('client'),
        registry,
        reconnect: false,
        tls: { ...pem.mallory!, ca },
      }),
    ).rejects.toMatchObject({ code: 'E_AUTH' });
    await expect(serverError).resolves.toMatchObject({ code: 'E_AUTH' });
  });
});
