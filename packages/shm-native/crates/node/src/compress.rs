//! Payload compression for network frames (docs/PROTOCOL.md section 7.9): zstd and lz4 with the exact
//! bytes the Rust peer writes and reads with the same crates. Decompression never allocates more than
//! the caller's limit: both formats carry the decompressed size up front, which is checked before the
//! output buffer is allocated, and the output must then have exactly that size.
//!
//! - zstd: one zstd frame (RFC 8878) with the Frame_Content_Size field present, no dictionary; the
//!   `zstd` crate's bulk API (libzstd 1.5). Frames without a content size, several frames, or trailing
//!   bytes are refused.
//! - lz4: the LZ4 block format with the decompressed size prepended as a u32 little-endian
//!   (`lz4_flex::block::compress_prepend_size`), no frame header, no checksum.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::cell::RefCell;

fn comp_err(msg: String) -> Error {
  Error::new(Status::GenericFailure, format!("E_COMPRESSION: {msg}"))
}

fn limit(max_size: f64) -> Result<usize> {
  if !(max_size.is_finite() && max_size >= 0.0) {
    return Err(Error::new(
      Status::InvalidArg,
      format!("E_INVALID_ARGUMENT: maxSize must be a non-negative number, got {max_size}"),
    ));
  }
  Ok(max_size.min(u32::MAX as f64) as usize)
}

thread_local! {
  // Contexts are reused: creating a zstd context costs more than compressing a small payload.
  static ZSTD_C: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
  static ZSTD_D: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// zstd-compress `data` at `level` (1..=19; 3 is zstd's default) into one frame with its content size.
#[napi]
pub fn zstd_compress(data: BufferSlice, level: i32) -> Result<Buffer> {
  let level = level.clamp(1, 19);
  ZSTD_C.with(|cell| {
    let mut slot = cell.borrow_mut();
    if slot.as_ref().map(|(l, _)| *l) != Some(level) {
      let c = zstd::bulk::Compressor::new(level).map_err(|e| comp_err(format!("zstd context: {e}")))?;
      *slot = Some((level, c));
    }
    let (_, c) = slot.as_mut().expect("set above");
    let out = c
      .compress(&data)
      .map_err(|e| comp_err(format!("zstd compress: {e}")))?;
    Ok(out.into())
  })
}

/// Decompress one zstd frame whose declared content size is at most `max_size` bytes.
#[napi]
pub fn zstd_decompress(data: BufferSlice, max_size: f64) -> Result<Buffer> {
  let max = limit(max_size)?;
  let size = match zstd::zstd_safe::get_frame_content_size(&data) {
    Ok(Some(n)) => n,
    Ok(None) => return Err(comp_err("zstd frame does not declare its content size".into())),
    Err(_) => return Err(comp_err(format!("{} bytes are not a zstd frame", data.len()))),
  };
  if size > max as u64 {
    return Err(comp_err(format!(
      "zstd frame declares {size} bytes, more than the limit of {max}"
    )));
  }
  match zstd::zstd_safe::find_frame_compressed_size(&data) {
    Ok(n) if n == data.len() => {}
    Ok(n) => {
      return Err(comp_err(format!(
        "{} bytes follow the zstd frame of {n} bytes",
        data.len() - n
      )));
    }
    Err(code) => {
      let name = zstd::zstd_safe::get_error_name(code);
      return Err(comp_err(format!("zstd frame is truncated or corrupt: {name}")));
    }
  }
  let size = size as usize;
  let mut out = Vec::with_capacity(size);
  ZSTD_D.with(|cell| {
    let mut slot = cell.borrow_mut();
    if slot.is_none() {
      *slot = Some(zstd::bulk::Decompressor::new().map_err(|e| comp_err(format!("zstd context: {e}")))?);
    }
    let d = slot.as_mut().expect("set above");
    d.decompress_to_buffer(&data[..], &mut out)
      .map_err(|e| comp_err(format!("zstd frame is corrupt: {e}")))
  })?;
  if out.len() != size {
    return Err(comp_err(format!(
      "zstd frame declares {size} bytes but holds {}",
      out.len()
    )));
  }
  Ok(out.into())
}

/// lz4-compress `data`: u32 LE decompressed size, then one LZ4 block.
#[napi]
pub fn lz4_compress(data: BufferSlice) -> Result<Buffer> {
  if data.len() > u32::MAX as usize {
    return Err(comp_err("lz4 payloads are limited to 4 GiB".into()));
  }
  Ok(lz4_flex::block::compress_prepend_size(&data).into())
}

/// Decompress an lz4 payload (u32 LE size + block) whose declared size is at most `max_size` bytes.
#[napi]
pub fn lz4_decompress(data: BufferSlice, max_size: f64) -> Result<Buffer> {
  let max = limit(max_size)?;
  if data.len() < 4 {
    return Err(comp_err(format!(
      "lz4 payload of {} bytes has no size prefix",
      data.len()
    )));
  }
  let size = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
  if size > max {
    return Err(comp_err(format!(
      "lz4 payload declares {size} bytes, more than the limit of {max}"
    )));
  }
  let mut out = vec![0u8; size];
  let n = lz4_flex::block::decompress_into(&data[4..], &mut out)
    .map_err(|e| comp_err(format!("lz4 block is corrupt: {e}")))?;
  if n != size {
    return Err(comp_err(format!(
      "lz4 payload declares {size} bytes but holds {n}"
    )));
  }
  Ok(out.into())
}
