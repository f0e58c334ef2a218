// TCP sender for the network-namespace integration test (protocol in receiver.mjs). Argument: a JSON
// object { host, port, count, size, compression: 'none' | 'deflate', level, pings, payload: 'text' | 'random' }.
// Prints one JSON line per heartbeat and per transfer, then a summary line.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { deflateRawSync } from 'node:zlib';

const options = JSON.parse(process.argv[2]);
const socket = connect({ host: options.host, port: options.port, noDelay: true });
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

/** Compressible payload: log-like JSON lines from a seeded generator (deterministic per index). */
function textPayload(index, size) {
  let seed = (index + 1) * 2654435761;
  const next = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed;
  };
  const parts = [];
  let length = 0;
  while (length < size) {
    const line = `{"seq":${next() % 100000},"node":"node-${next() % 16}","path":"/var/lib/tmesh/data/file-${next() % 5000}.bin","size":${next() % 1000000},"ok":${next() % 7 !== 0}}\n`;
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

let buffered = Buffer.alloc(0);
let waiting;
socket.on('data', (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  while (buffered.length >= 5 && waiting) {
    const reply = buffered.subarray(0, 5);
    buffered = buffered.subarray(5);
    const resolve = waiting;
    waiting = undefined;
    resolve(reply);
  }
});
socket.on('error', (error) => {
  process.stderr.write(`sender: ${error.message}\n`);
  process.exit(2);
});

function exchange(type, compression, body, originalLength) {
  const header = Buffer.alloc(10);
  header[0] = type;
  header[1] = compression;
  header.writeUInt32LE(body.length, 2);
  header.writeUInt32LE(originalLength, 6);
  return new Promise((resolve) => {
    waiting = resolve;
    socket.write(header);
    if (body.length > 0) socket.write(body);
  });
}

socket.on('connect', async () => {
  for (let i = 0; i < options.pings; i++) {
    const start = process.hrtime.bigint();
    await exchange(2, 0, Buffer.alloc(0), 0);
    print({ type: 'ping', rttMs: Number(process.hrtime.bigint() - start) / 1e6 });
  }
  const compress = options.compression === 'deflate';
  let payloadBytes = 0;
  let wireBytes = 0;
  let totalNs = 0n;
  for (let i = 0; i < options.count; i++) {
    const payload = options.payload === 'random' ? randomBytes(options.size) : textPayload(i, options.size);
    // The link samples compressibility outside the timed path, so the optimizer knows whether it pays.
    const probeCompressedBytes = deflateRawSync(payload, { level: options.level }).length;
    const start = process.hrtime.bigint();
    const body = compress ? deflateRawSync(payload, { level: options.level }) : payload;
    const reply = await exchange(1, compress ? 1 : 0, body, payload.length);
    const durationNs = process.hrtime.bigint() - start;
    if (reply[0] !== 1 || reply.readUInt32LE(1) !== payload.length) {
      process.stderr.write('sender: bad acknowledgement\n');
      process.exit(3);
    }
    totalNs += durationNs;
    payloadBytes += payload.length;
    wireBytes += body.length + 10;
    print({
      type: 'transfer',
      wireBytes: body.length + 10,
      payloadBytes: payload.length,
      durationNs: Number(durationNs),
      probeCompressedBytes,
    });
  }
  print({ type: 'done', payloadBytes, wireBytes, totalNs: Number(totalNs) });
  socket.end();
});
