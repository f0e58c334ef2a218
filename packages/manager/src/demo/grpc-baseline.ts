import * as grpc from '@grpc/grpc-js';

/**
 * The plain gRPC baseline every tmesh route is compared with: a grpc-js server with a unary Echo and a
 * client-streaming Upload of raw bytes (no protobuf, so the baseline is as fast as grpc-js can be).
 */
const identity = (b: Buffer) => b;
const BASELINE_SERVICE: grpc.ServiceDefinition = {
  echo: {
    path: '/tmesh.baseline.Baseline/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  upload: {
    path: '/tmesh.baseline.Baseline/Upload',
    requestStream: true,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  exchange: {
    path: '/tmesh.baseline.Baseline/Exchange',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** Start the baseline server; resolves to its port. */
export function startGrpcBaselineServer(
  host = '127.0.0.1',
  port = 0,
): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(BASELINE_SERVICE, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, call.request),
    upload: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      let bytes = 0;
      call.on('data', (b: Buffer) => {
        bytes += b.length;
      });
      call.on('end', () => {
        const out = Buffer.alloc(8);
        out.writeDoubleLE(bytes);
        cb(null, out);
      });
    },
    // Bidirectional streaming: every message comes back on the same stream (ping-pong RTT over a stream).
    exchange: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(b));
      call.on('end', () => call.end());
    },
  });
  return new Promise((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve({ port: p, server }),
    ),
  );
}

/** A client of the baseline server: RTT of one unary call, and client-streaming throughput. */
export class GrpcBaselineClient {
  readonly #client: grpc.Client & {
    echo: (...args: any[]) => any;
    upload: (...args: any[]) => any;
    exchange: (...args: any[]) => any;
  };

  constructor(target: string) {
    const Ctor = grpc.makeGenericClientConstructor(BASELINE_SERVICE, 'Baseline');
    this.#client = new Ctor(target, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    }) as never;
  }

  echo(data: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) =>
      this.#client.echo(data, (e: Error | null, r: Buffer) => (e ? reject(e) : resolve(r))),
    );
  }

  /** Stream `chunk` repeatedly for `ms` (at most `maxChunks`); resolves to the bytes the server counted and the time. */
  upload(chunk: Buffer, ms: number, maxChunks: number): Promise<{ bytes: number; seconds: number }> {
    return new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      const call = this.#client.upload((e: Error | null, r: Buffer) => {
        if (e) return reject(e);
        resolve({ bytes: r.readDoubleLE(0), seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      }) as grpc.ClientWritableStream<Buffer>;
      let sent = 0;
      const pump = () => {
        while (sent < maxChunks && Number(process.hrtime.bigint() - started) / 1e6 < ms) {
          sent++;
          if (!call.write(chunk)) return void call.once('drain', pump);
        }
        call.end();
      };
      pump();
    });
  }

  /** Open a bidirectional stream on which the server echoes every message. */
  exchange(): grpc.ClientDuplexStream<Buffer, Buffer> {
    return this.#client.exchange() as grpc.ClientDuplexStream<Buffer, Buffer>;
  }

  close(): void {
    this.#client.close();
  }
}
