//! The one error type of the crate; `code()` gives the stable tmesh error code (see @tmesh/core ERROR_CODES).

use std::fmt;

/// Every way a shared-memory operation can fail, each mapped to one stable tmesh code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShmError {
  /// `E_SHM_NAME`: the channel name is empty, too long or has a forbidden character.
  Name(String),
  /// `E_SHM_EXISTS`: a live region with that name exists, or the channel already has two ends.
  Exists(String),
  /// `E_SHM_NOT_FOUND`: no region with that name.
  NotFound(String),
  /// `E_SHM_PERMISSION`: the OS refused access.
  Permission(String),
  /// `E_SHM_OWNER`: owned by another user, or mode wider than 0600.
  Owner(String),
  /// `E_SHM_TOKEN`: the token given does not match the region's.
  Token(String),
  /// `E_SHM_CORRUPT`: a header or record is inconsistent.
  Corrupt(String),
  /// `E_SHM_FULL`: no room now (try-send only).
  Full,
  /// `E_PEER_GONE`: the peer process died or stopped its heartbeat.
  PeerGone(String),
  /// `E_CLOSED`: this end or the peer closed the channel.
  Closed(String),
  /// `E_TIMEOUT`: a blocking call passed its deadline.
  Timeout(String),
  /// `E_FRAME_TOO_LARGE`: an incoming message is larger than the configured maximum.
  TooLarge(String),
  /// `E_INVALID_ARGUMENT`: an argument is out of range.
  InvalidArgument(String),
  /// `E_NOT_SUPPORTED`: not available on this platform.
  NotSupported(String),
  /// `E_INTERNAL`: an unexpected OS error.
  Io(String),
}

impl ShmError {
  /// The stable tmesh error code, e.g. `"E_SHM_NAME"`.
  pub fn code(&self) -> &'static str {
    match self {
      ShmError::Name(_) => "E_SHM_NAME",
      ShmError::Exists(_) => "E_SHM_EXISTS",
      ShmError::NotFound(_) => "E_SHM_NOT_FOUND",
      ShmError::Permission(_) => "E_SHM_PERMISSION",
      ShmError::Owner(_) => "E_SHM_OWNER",
      ShmError::Token(_) => "E_SHM_TOKEN",
      ShmError::Corrupt(_) => "E_SHM_CORRUPT",
      ShmError::Full => "E_SHM_FULL",
      ShmError::PeerGone(_) => "E_PEER_GONE",
      ShmError::Closed(_) => "E_CLOSED",
      ShmError::Timeout(_) => "E_TIMEOUT",
      ShmError::TooLarge(_) => "E_FRAME_TOO_LARGE",
      ShmError::InvalidArgument(_) => "E_INVALID_ARGUMENT",
      ShmError::NotSupported(_) => "E_NOT_SUPPORTED",
      ShmError::Io(_) => "E_INTERNAL",
    }
  }

  /// The human-readable part of the error, without the code.
  pub fn message(&self) -> String {
    match self {
      ShmError::Full => "the ring has no room for this message now".to_owned(),
      ShmError::Name(m)
      | ShmError::Exists(m)
      | ShmError::NotFound(m)
      | ShmError::Permission(m)
      | ShmError::Owner(m)
      | ShmError::Token(m)
      | ShmError::Corrupt(m)
      | ShmError::PeerGone(m)
      | ShmError::Closed(m)
      | ShmError::Timeout(m)
      | ShmError::TooLarge(m)
      | ShmError::InvalidArgument(m)
      | ShmError::NotSupported(m)
      | ShmError::Io(m) => m.clone(),
    }
  }

  /// Map an errno from a region or doorbell syscall to the closest error, naming what failed.
  #[cfg_attr(windows, allow(dead_code))] // Windows maps its own error codes (platform/windows.rs)
  pub(crate) fn from_errno(what: &str, errno: i32) -> ShmError {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let msg = format!("{what}: {text}");
    match errno {
      libc::ENOENT => ShmError::NotFound(msg),
      libc::EEXIST => ShmError::Exists(msg),
      libc::EACCES | libc::EPERM => ShmError::Permission(msg),
      libc::ENAMETOOLONG | libc::EINVAL => ShmError::Name(msg),
      _ => ShmError::Io(msg),
    }
  }

  #[cfg_attr(windows, allow(dead_code))]
  pub(crate) fn last_os(what: &str) -> ShmError {
    ShmError::from_errno(what, std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
  }
}

impl fmt::Display for ShmError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{}: {}", self.code(), self.message())
  }
}

impl std::error::Error for ShmError {}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, ShmError>;
