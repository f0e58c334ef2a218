//! Byte offsets of the region header, the ring control blocks and the record header.
//! docs/PROTOCOL.md section 6 describes the same layout for other languages; keep them in sync.

/// "SMEM" as a little-endian u32, first word of the region and of every record.
pub const MAGIC: u32 = 0x534D_454D;
/// Layout version of the region header and records.
pub const LAYOUT_VERSION: u16 = 1;
/// Bytes before the first data area; the header page.
pub const HEADER_SIZE: usize = 4096;
/// Smallest and largest ring capacity per direction.
pub const MIN_CAPACITY: usize = 4096;
/// Largest ring capacity per direction (1 GiB).
pub const MAX_CAPACITY: usize = 1 << 30;

// Region header, identity line (written once by the creator).
pub const OFF_MAGIC: usize = 0; // u32, written last (release) when the header is complete
pub const OFF_VERSION: usize = 4; // u16
pub const OFF_HEADER_SIZE: usize = 6; // u16 = 4096
pub const OFF_CAPACITY: usize = 8; // u64, bytes per direction, power of two
pub const OFF_TOKEN: usize = 16; // 16 bytes
pub const OFF_CREATED_MS: usize = 32; // u64, Unix ms
                                      // Liveness line of each end: creator at 128, opener at 256.
pub const OFF_CREATOR: usize = 128;
pub const OFF_OPENER: usize = 256;
pub const END_PID: usize = 0; // u32, 0 = no process attached
pub const END_STATE: usize = 4; // u32, see END_STATE_*
pub const END_HEARTBEAT: usize = 8; // u64, CLOCK_MONOTONIC ms, updated every 100 ms
pub const END_BELL: usize = 16; // u32, 1 if this end has a doorbell FIFO open for reading
/// End state: never attached.
pub const END_STATE_NONE: u32 = 0;
/// End state: attached and running.
pub const END_STATE_ATTACHED: u32 = 1;
/// End state: closed normally.
pub const END_STATE_CLOSED: u32 = 2;
// Ring control blocks: ring 0 carries creator -> opener, ring 1 opener -> creator.
pub const OFF_RING0: usize = 512;
pub const OFF_RING1: usize = 768;
// Inside a control block: the producer's line, then the consumer's line.
pub const RING_TAIL: usize = 0; // u64, bytes ever published by the producer
pub const RING_PRODUCER_WAIT: usize = 8; // u32 wait flags set by a producer waiting for space
pub const RING_SPACE_FUTEX: usize = 12; // u32, bumped by the consumer when it wakes the producer
pub const RING_HEAD: usize = 128; // u64, bytes ever released by the consumer
pub const RING_CONSUMER_WAIT: usize = 136; // u32 wait flags set by a consumer waiting for data
pub const RING_DATA_FUTEX: usize = 140; // u32, bumped by the producer when it wakes the consumer
/// Wait flag: the waiter sleeps on the futex word.
pub const WAIT_FUTEX: u32 = 1;
/// Wait flag: the waiter watches its doorbell FIFO.
pub const WAIT_BELL: u32 = 2;

// Record header, 32 bytes; the first 24 keep the seed's SMEM header offsets.
pub const RECORD_HEADER: usize = 32;
pub const REC_MAGIC: usize = 0; // u32 MAGIC
pub const REC_VERSION: usize = 4; // u8 = 1
pub const REC_TYPE: usize = 5; // u8 message type
pub const REC_FLAGS: usize = 6; // u16
pub const REC_SIZE: usize = 8; // u32 data size of this record
pub const REC_SEQ: usize = 12; // u32 message sequence
pub const REC_TIMESTAMP: usize = 16; // u64 Unix ms
pub const REC_TOTAL: usize = 24; // u64 size of the whole message
/// Record flag: filler up to the end of the data area; the consumer skips it.
pub const FLAG_PAD: u16 = 0x8000;
/// Record flag: one fragment of a message larger than one record.
pub const FLAG_FRAGMENT: u16 = 0x4000;
/// Record flag: the last fragment of a message.
pub const FLAG_LAST: u16 = 0x2000;
/// Flags the application may set (the low 12 bits).
pub const USER_FLAGS_MASK: u16 = 0x0FFF;

/// Round up to a multiple of 8.
#[inline]
pub const fn align8(n: usize) -> usize {
  (n + 7) & !7
}

/// Total bytes of a region with this ring capacity per direction.
pub const fn region_size(capacity: usize) -> usize {
  HEADER_SIZE + 2 * capacity
}
