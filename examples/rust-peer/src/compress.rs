//! Payload compression (docs/PROTOCOL.md section 7.9), written from the document with the crates it
//! names: deflate is raw RFC 1951 (`flate2`), zstd is one frame with its content size (`zstd`), lz4 is
//! the u32 LE decompressed size then one LZ4 block (`lz4_flex`). Decompression never produces more than
//! the frame limit: zstd and lz4 declare their size, checked before the output is allocated; deflate is
//! read through a limit.

use crate::error::PeerError;
use std::io::Read;

/// A compression algorithm and its value in frame flag bits 0-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
  /// Raw deflate (RFC 1951), flag 1.
  Deflate,
  /// zstd (RFC 8878), flag 2.
  Zstd,
  /// LZ4 block with a u32 LE size prefix, flag 3.
  Lz4,
}

/// What this node offers in its Hello, in its order of preference.
pub const OFFERED: [Algorithm; 3] = [Algorithm::Zstd, Algorithm::Lz4, Algorithm::Deflate];

/// Frames at least this large (payload bytes) are compressed when a reply is compressed.
pub const THRESHOLD: usize = 4096;

impl Algorithm {
  /// The name used in the Hello's `compression` list.
  pub fn name(self) -> &'static str {
    match self {
      Algorithm::Deflate => "deflate",
      Algorithm::Zstd => "zstd",
      Algorithm::Lz4 => "lz4",
    }
  }

  /// The algorithm of a Hello name.
  pub fn from_name(name: &str) -> Option<Algorithm> {
    match name {
      "deflate" => Some(Algorithm::Deflate),
      "zstd" => Some(Algorithm::Zstd),
      "lz4" => Some(Algorithm::Lz4),
      _ => None,
    }
  }

  /// The value of flag bits 0-2.
  pub fn flag(self) -> u16 {
    match self {
      Algorithm::Deflate => 1,
      Algorithm::Zstd => 2,
      Algorithm::Lz4 => 3,
    }
  }

  /// The algorithm of flag bits 0-2 (None for 0 and the unassigned 4-7).
  pub fn from_flag(flag: u16) -> Option<Algorithm> {
    match flag & 7 {
      1 => Some(Algorithm::Deflate),
      2 => Some(Algorithm::Zstd),
      3 => Some(Algorithm::Lz4),
      _ => None,
    }
  }
}

/// Compress `payload` (zstd at level 3, deflate at level 1: what the TypeScript nodes use).
pub fn compress(algorithm: Algorithm, payload: &[u8]) -> Vec<u8> {
  match algorithm {
    Algorithm::Deflate => {
      use std::io::Write;
      let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
      enc.write_all(payload).expect("writing into a Vec");
      enc.finish().expect("writing into a Vec")
    }
    // The bulk API writes the content size into the frame header.
    Algorithm::Zstd => zstd::bulk::compress(payload, 3).expect("zstd compresses any input"),
    Algorithm::Lz4 => lz4_flex::block::compress_prepend_size(payload),
  }
}

fn err(message: String) -> PeerError {
  PeerError::new("E_COMPRESSION", message)
}

/// Decompress the payload of a frame whose flags name `flag`; E_COMPRESSION when the algorithm is not in
/// `accepted`, the payload is corrupt, or it would decompress to more than `max` bytes.
pub fn decompress(flag: u16, payload: &[u8], max: usize, accepted: &[Algorithm]) -> Result<Vec<u8>, PeerError> {
  let algorithm = match Algorithm::from_flag(flag) {
    Some(a) if accepted.contains(&a) => a,
    Some(a) => return Err(err(format!("frame compressed with {}, which this link did not negotiate", a.name()))),
    None => return Err(err(format!("unknown compression algorithm {}", flag & 7))),
  };
  match algorithm {
    Algorithm::Deflate => {
      let mut out = Vec::new();
      let mut dec = flate2::read::DeflateDecoder::new(payload).take(max as u64 + 1);
      dec.read_to_end(&mut out).map_err(|e| err(format!("deflate payload is corrupt: {e}")))?;
      if out.len() > max {
        return Err(err(format!("deflate payload inflates beyond the limit of {max} bytes")));
      }
      Ok(out)
    }
    Algorithm::Zstd => {
      let size = match zstd::zstd_safe::get_frame_content_size(payload) {
        Ok(Some(n)) => n,
        Ok(None) => return Err(err("zstd frame does not declare its content size".into())),
        Err(_) => return Err(err("payload is not a zstd frame".into())),
      };
      if size > max as u64 {
        return Err(err(format!("zstd frame declares {size} bytes, more than the limit of {max}")));
      }
      match zstd::zstd_safe::find_frame_compressed_size(payload) {
        Ok(n) if n == payload.len() => {}
        Ok(n) => return Err(err(format!("{} bytes follow the zstd frame", payload.len() - n))),
        Err(_) => return Err(err("zstd frame is truncated or corrupt".into())),
      }
      let mut out = Vec::with_capacity(size as usize);
      zstd::bulk::Decompressor::new()
        .and_then(|mut d| d.decompress_to_buffer(payload, &mut out))
        .map_err(|e| err(format!("zstd frame is corrupt: {e}")))?;
      if out.len() as u64 != size {
        return Err(err(format!("zstd frame declares {size} bytes but holds {}", out.len())));
      }
      Ok(out)
    }
    Algorithm::Lz4 => {
      if payload.len() < 4 {
        return Err(err("lz4 payload has no size prefix".into()));
      }
      let size = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]) as usize;
      if size > max {
        return Err(err(format!("lz4 payload declares {size} bytes, more than the limit of {max}")));
      }
      let mut out = vec![0u8; size];
      let n = lz4_flex::block::decompress_into(&payload[4..], &mut out)
        .map_err(|e| err(format!("lz4 block is corrupt: {e}")))?;
      if n != size {
        return Err(err(format!("lz4 payload declares {size} bytes but holds {n}")));
      }
      Ok(out)
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  const ALL: [Algorithm; 3] = OFFERED;

  #[test]
  fn round_trips_and_names() {
    let text: Vec<u8> = (0..100_000u32).flat_map(|i| format!("line {} of the log\n", i % 977).into_bytes()).collect();
    for a in ALL {
      assert_eq!(Algorithm::from_name(a.name()), Some(a));
      assert_eq!(Algorithm::from_flag(a.flag()), Some(a));
      for input in [&b""[..], &b"x"[..], &text[..]] {
        let packed = compress(a, input);
        assert_eq!(decompress(a.flag(), &packed, input.len(), &ALL).unwrap(), input);
      }
      assert!(compress(a, &text).len() < text.len() / 4, "{}", a.name());
    }
  }

  #[test]
  fn documented_bytes() {
    // lz4: u32 LE size, then the block.
    let lz4 = compress(Algorithm::Lz4, &[b'a'; 5000]);
    assert_eq!(u32::from_le_bytes([lz4[0], lz4[1], lz4[2], lz4[3]]), 5000);
    // zstd: the frame magic, and the content size in the header.
    let z = compress(Algorithm::Zstd, &[b'a'; 5000]);
    assert_eq!(&z[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    assert_eq!(zstd::zstd_safe::get_frame_content_size(&z).unwrap(), Some(5000));
  }

  #[test]
  fn refusals() {
    let code = |r: Result<Vec<u8>, PeerError>| r.unwrap_err().code;
    let zeros = vec![0u8; 4 << 20];
    for a in ALL {
      let bomb = compress(a, &zeros);
      assert!(bomb.len() < 64 * 1024);
      assert_eq!(code(decompress(a.flag(), &bomb, 1 << 20, &ALL)), "E_COMPRESSION", "{} bomb", a.name());
      assert_eq!(code(decompress(a.flag(), &bomb, 1 << 22, &[])), "E_COMPRESSION", "{} not offered", a.name());
      let packed = compress(a, b"some text that is long enough to be compressed, some text, some text");
      assert_eq!(code(decompress(a.flag(), &packed[..packed.len() - 3], 1 << 20, &ALL)), "E_COMPRESSION");
    }
    assert_eq!(code(decompress(5, b"x", 10, &ALL)), "E_COMPRESSION");
  }
}
