//! The one error type of the peer: a stable tmesh error code (docs/PROTOCOL.md, @tmesh/core ERROR_CODES)
//! and a message saying what and where.

use std::fmt;

/// A failure with its tmesh error code, e.g. `E_CHECKSUM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerError {
  /// The stable code.
  pub code: &'static str,
  /// What happened.
  pub message: String,
}

impl PeerError {
  /// An error with `code` and `message`.
  pub fn new(code: &'static str, message: impl Into<String>) -> PeerError {
    PeerError { code, message: message.into() }
  }
}

impl fmt::Display for PeerError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{}: {}", self.code, self.message)
  }
}

impl std::error::Error for PeerError {}

impl From<std::io::Error> for PeerError {
  fn from(e: std::io::Error) -> PeerError {
    PeerError::new("E_CONNECTION", e.to_string())
  }
}
