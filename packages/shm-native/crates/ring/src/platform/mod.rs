//! The OS-specific parts of tmesh-shm behind one module boundary. Everything above this module
//! (region.rs, channel.rs, ring.rs) is portable; every system call lives below it.
//!
//! | | Linux (`linux.rs` + `unix.rs`) | macOS, other Unix (`macos.rs` + `unix.rs`) | Windows (`windows.rs`) |
//! |---|---|---|---|
//! | region | `shm_open(O_CREAT\|O_EXCL, 0600)`, `ftruncate` once, `mmap` | same | `CreateFileMappingW` on the paging file, `Local\tmesh-<name>`, DACL for the current user only |
//! | owner check | `fstat`: our uid, mode 0600 | same | owner SID is ours and every allow ACE names our SID |
//! | unlink | `shm_unlink` if still the same device/inode | same | nothing to do: the object goes with its last handle |
//! | sleep / wake | futex on the shared word | poll the word, 50 us to 1 ms backoff; wake is a no-op | named auto-reset events, one per wait word |
//! | liveness | `kill(pid, 0)` + zombie check in `/proc` | `kill(pid, 0)` | `OpenProcess` + `GetExitCodeProcess` (`STILL_ACTIVE`) |
//! | event-loop doorbell | FIFO in `/dev/shm` | FIFO in `/tmp` | none: a Node end polls (no fd to hand to libuv) |
//! | listing | `/dev/shm` | creators' doorbell FIFOs in `/tmp` | the session's object directory (ntdll) |
//!
//! Each implementation provides the same items (`contract` below spells out their types), checked by
//! compiling for all three targets in CI (`scripts/shm-cross-check.sh`, from `scripts/tmesh-run.mjs`):
//!
//! - `Object::create(os_name, size)` (`Err(Exists)` if the name is taken), `Object::open(os_name)`
//!   (with the owner check), `Object::size`, `Object::id`, `Object::map(len) -> View`;
//! - `View::ptr`, `View::len` (unmapped on drop; on Windows the view also keeps the object's name alive);
//! - `unlink(os_name, Option<id>)`, `exists(os_name)`, `list_names()`;
//! - `Waiters::open(os_name)`, `Waiters::wait(slot, word, expected, timeout)`, `Waiters::wake(slot, word)`:
//!   futex semantics (sleep while `*word == expected`, spurious returns allowed) for the `SLOTS` wait
//!   words of a region;
//! - doorbells for event loops: `HAS_BELLS`, `bell_dir`, `create_bell`, `open_peer_bell`, `ring_bell`,
//!   `close_fd`;
//! - `monotonic_ms` (one clock for every process of the machine), `pid_alive`, `my_pid`, `random_token`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Wait words per region: the space and data words of ring 0 and ring 1 (see `region::wait_slot`).
pub const SLOTS: usize = 4;

#[cfg(unix)]
mod unix;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(all(unix, not(target_os = "linux")))]
mod macos;
#[cfg(all(unix, not(target_os = "linux")))]
pub use macos::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("tmesh-shm supports Linux, macOS (and other Unix with POSIX shm) and Windows");

/// The contract every implementation meets, as types: compiling this for Linux, macOS and Windows (CI
/// does, scripts/shm-cross-check.sh) proves that each provides the same items with the same signatures.
#[allow(dead_code)]
fn contract() {
  use crate::error::Result;
  let _: fn(&str, usize) -> Result<Object> = Object::create;
  let _: fn(&str) -> Result<Object> = Object::open;
  let _: fn(&Object) -> Result<usize> = Object::size;
  let _: fn(&Object) -> (u64, u64) = Object::id;
  let _: fn(&Object, usize) -> Result<View> = Object::map;
  let _: fn(&View) -> *mut u8 = View::ptr;
  let _: fn(&View) -> usize = View::len;
  let _: fn(&str, Option<(u64, u64)>) = unlink;
  let _: fn(&str) -> bool = exists;
  let _: fn(&str) -> Vec<String> = list_names;
  let _: fn(&str) -> Result<Waiters> = Waiters::open;
  let _: fn(&Waiters, usize, &AtomicU32, u32, Duration) = Waiters::wait;
  let _: fn(&Waiters, usize, &AtomicU32) = Waiters::wake;
  let _: bool = HAS_BELLS;
  let _: fn() -> &'static str = bell_dir;
  let _: fn(&str) -> Result<i32> = create_bell;
  let _: fn(&str) -> Result<i32> = open_peer_bell;
  let _: fn(i32) = ring_bell;
  let _: fn(i32) = close_fd;
  let _: fn() -> u64 = monotonic_ms;
  let _: fn(u32) -> bool = pid_alive;
  let _: fn() -> [u8; 16] = random_token;
}

/// Poll `word` with a growing sleep (50 us doubling up to 1 ms) until it differs from `expected` or
/// `timeout` passes. The portable fallback where no cross-process sleep on an address exists.
pub fn poll_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
  let deadline = Instant::now() + timeout;
  let mut nap = Duration::from_micros(50);
  while word.load(Ordering::Acquire) == expected && Instant::now() < deadline {
    std::thread::sleep(nap);
    nap = (nap * 2).min(Duration::from_millis(1));
  }
}

/// This process's id.
pub fn my_pid() -> u32 {
  std::process::id()
}

/// A unique (not secret) token when the OS gives no random bytes: the token guards against mix-ups;
/// OS permissions guard access.
#[allow(dead_code)]
fn fallback_token() -> [u8; 16] {
  let n = std::time::SystemTime::now()
    .duration_since(std::time::UNIX_EPOCH)
    .unwrap_or_default()
    .as_nanos();
  (n ^ ((my_pid() as u128) << 64)).to_le_bytes()
}
