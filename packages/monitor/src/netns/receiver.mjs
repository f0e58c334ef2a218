// TCP receiver for the network-namespace integration test. Frames: u8 type (1 data, 2 ping), u8 compression
// (0 none, 1 deflate raw, as the frame flag bits 0-2), u32 LE body length, u32 LE original length, body.
// Data is inflated when compressed, checked against the original length and acknowledged with
// u8 1 + u32 LE original length; a ping is answered with u8 2 + u32 0.
import { createServer } from 'node:net';
import { inflateRawSync } from 'node:zlib';

const HEADER = 10;
const port = Number(process.argv[2] ?? 0);

const server = createServer((socket) => {
  socket.setNoDelay(true);
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= HEADER) {
      const type = buffered[0];
      const compression = buffered[1];
      const bodyLength = buffered.readUInt32LE(2);
      const originalLength = buffered.readUInt32LE(6);
      if (buffered.length < HEADER + bodyLength) break;
      const body = buffered.subarray(HEADER, HEADER + bodyLength);
      buffered = buffered.subarray(HEADER + bodyLength);
      const reply = Buffer.alloc(5);
      if (type === 2) {
        reply[0] = 2;
      } else {
        const payload = compression === 1 ? inflateRawSync(body) : body;
        if (payload.length !== originalLength) {
          socket.destroy(new Error(`length ${payload.length} != ${originalLength}`));
          return;
        }
        reply[0] = 1;
        reply.writeUInt32LE(originalLength, 1);
      }
      socket.write(reply);
    }
  });
  socket.on('error', () => socket.destroy());
});
server.listen(port, '0.0.0.0', () => {
  process.stdout.write(`ready ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
