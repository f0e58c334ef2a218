//! What the node counts: every FileChunk received (count, bytes, running CRC-32 of the data fields),
//! whatever carried it, and the Metrics report a FileChunk request is answered with.

use crate::compress::{Algorithm, OFFERED};
use crate::messages::{FileChunk, Metrics};
use crate::wire::now_ms;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The path of a FileChunk request that only asks for the report (it is not counted).
pub const REPORT_PATH: &str = "report";

#[derive(Default)]
struct Counts {
  count: u64,
  bytes: u64,
  crc: crc32fast::Hasher,
  /// Frames received and sent compressed, by algorithm (index: flag value - 1).
  compressed_in: [u64; 3],
  compressed_out: [u64; 3],
}

/// Counters shared by every link and shared-memory channel of the node.
pub struct Tally {
  node: String,
  counts: Mutex<Counts>,
}

impl Tally {
  /// Empty counters for node `node`.
  pub fn new(node: &str) -> Tally {
    Tally { node: node.to_owned(), counts: Mutex::new(Counts::default()) }
  }

  /// Count one FileChunk message.
  pub fn take(&self, chunk: &FileChunk) {
    let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
    c.count += 1;
    c.bytes += chunk.data.len() as u64;
    c.crc.update(&chunk.data);
  }

  /// Count one frame received with its payload compressed by `a`.
  pub fn compressed_in(&self, a: Algorithm) {
    self.counts.lock().unwrap_or_else(|p| p.into_inner()).compressed_in[a.flag() as usize - 1] += 1;
  }

  /// Count one frame sent with its payload compressed by `a`.
  pub fn compressed_out(&self, a: Algorithm) {
    self.counts.lock().unwrap_or_else(|p| p.into_inner()).compressed_out[a.flag() as usize - 1] += 1;
  }

  /// Answer a FileChunk request: count it (unless its path is "report"), then report.
  pub fn answer(&self, request: &FileChunk) -> Metrics {
    if request.path != REPORT_PATH {
      self.take(request);
    }
    self.report()
  }

  /// The counters as a Metrics message: counters "count", "bytes", "crc", and per algorithm the
  /// compressed frames received and sent ("zstd.in", "zstd.out", "lz4.in", ...).
  pub fn report(&self) -> Metrics {
    let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
    let mut counters = BTreeMap::from([
      ("count".to_owned(), c.count),
      ("bytes".to_owned(), c.bytes),
      ("crc".to_owned(), u64::from(c.crc.clone().finalize())),
    ]);
    for a in OFFERED {
      let i = a.flag() as usize - 1;
      counters.insert(format!("{}.in", a.name()), c.compressed_in[i]);
      counters.insert(format!("{}.out", a.name()), c.compressed_out[i]);
    }
    Metrics { node: self.node.clone(), at: now_ms(), throughput: 0.0, latency_micros: 0.0, counters }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn counts_and_crc_span_messages() {
    let t = Tally::new("n");
    let chunk = |path: &str, data: &[u8]| FileChunk { path: path.into(), data: data.to_vec(), ..Default::default() };
    t.take(&chunk("a", b"1234"));
    let m = t.answer(&chunk("b", b"56789"));
    assert_eq!(m.counters["count"], 2);
    assert_eq!(m.counters["bytes"], 9);
    assert_eq!(m.counters["crc"], 0xCBF4_3926); // crc32("123456789")
    let m = t.answer(&chunk(REPORT_PATH, b"ignored"));
    assert_eq!(m.counters["count"], 2);
  }
}
