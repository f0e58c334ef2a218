/**
 * The proto3 definition of the universal wire's envelope (test-vectors/universal/envelope.proto holds the
 * same text for protoc and prost-build). See docs/PROTOCOL.md section 5.
 */
export const ENVELOPE_PROTO: string = `// The tmesh universal wire envelope (docs/PROTOCOL.md section 5).
// On a byte stream every Envelope is preceded by its length as a varint (protobuf's length-delimited
// framing: Java writeDelimitedTo / parseDelimitedFrom, prost encode_length_delimited).
syntax = "proto3";

package tmesh;

message Envelope {
  // Protocol version; 1. A receiver refuses any other value (E_UNSUPPORTED_VERSION).
  uint32 version = 1;
  // The message type id, 1..255 (the registry id; the messageType byte of SWFT and RUST headers).
  uint32 message_type = 2;
  // Frame flags: bits 0-2 compression (must equal \`compression\`), bit 3 RESPONSE, bit 4 REQUEST.
  uint32 flags = 3;
  // Per-sender sequence number (request/response correlation).
  uint32 sequence = 4;
  // Milliseconds since the Unix epoch.
  uint64 timestamp = 5;
  // Sender node id.
  string source = 6;
  // Destination node id ("" = whoever reads the link).
  string destination = 7;
  // Fully-qualified protobuf name of the payload's message type, e.g. "tmesh.FileChunk".
  string type_name = 8;
  // Compression of \`payload\`: 0 none, 1 deflate (RFC 1951 raw), 2 zstd, 3 lz4.
  uint32 compression = 9;
  // CRC-32 (IEEE, as zlib and crc32fast compute it) of \`payload\` as sent. Absent: not checked.
  optional fixed32 checksum = 10;
  // The message, encoded as the protobuf message \`type_name\` (then compressed if \`compression\` != 0).
  bytes payload = 11;
}
`;
