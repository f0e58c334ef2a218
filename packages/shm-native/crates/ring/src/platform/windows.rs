//! Windows: a region is a named file mapping backed by the paging file (`Local\tmesh-<name>`, so one
//! logon session; capitals escaped, see `local_name`), created with a security descriptor whose owner
//! is the current user and whose DACL grants only that user (the 0600 analog). Opening checks the
//! same: owner SID is ours and every access-allowed ACE names our SID. Each of the region's four wait
//! words has a named auto-reset event (`Local\tmesh-<name>.w<slot>`, same descriptor); `WaitOnAddress`
//! would be the futex analog but only works inside one process. Liveness: `OpenProcess` +
//! `GetExitCodeProcess` (`STILL_ACTIVE`).
//!
//! A named mapping disappears when its last handle closes, and a crashed process's handles are closed
//! by the kernel: "unlink" has nothing to do and stale regions mostly reclaim themselves. Win32 cannot
//! enumerate named mappings; `list_names` reads the session's object directory through ntdll. Node
//! ends get no doorbell (there is no fd for libuv to watch); they poll.

use crate::error::{Result, ShmError};
use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use windows_sys::Win32::Foundation::{
  CloseHandle, GetLastError, LocalFree, ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS,
  ERROR_FILENAME_EXCED_RANGE, ERROR_FILE_NOT_FOUND, ERROR_INVALID_NAME, ERROR_INVALID_PARAMETER, HANDLE,
  INVALID_HANDLE_VALUE, STILL_ACTIVE,
};
use windows_sys::Win32::Security::Authorization::{
  ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo,
  SDDL_REVISION_1, SE_KERNEL_OBJECT,
};
use windows_sys::Win32::Security::Cryptography::{BCryptGenRandom, BCRYPT_USE_SYSTEM_PREFERRED_RNG};
use windows_sys::Win32::Security::{
  EqualSid, GetAce, GetTokenInformation, TokenUser, ACCESS_ALLOWED_ACE, ACE_HEADER, ACL,
  DACL_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES,
  TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Memory::{
  CreateFileMappingW, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, VirtualQuery, FILE_MAP_READ,
  FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READWRITE,
};
use windows_sys::Win32::System::SystemInformation::GetTickCount64;
use windows_sys::Win32::System::Threading::{
  CreateEventW, GetCurrentProcess, GetExitCodeProcess, OpenProcess, OpenProcessToken, SetEvent,
  WaitForSingleObject, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// Standard right to read an object's security descriptor (winnt.h READ_CONTROL).
const READ_CONTROL: u32 = 0x0002_0000;
/// ACE types (winnt.h).
const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;
const ACCESS_DENIED_ACE_TYPE: u8 = 1;

/// A kernel handle, closed on drop.
struct Handle(HANDLE);
// SAFETY: kernel handles may be used and closed from any thread.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}
impl Drop for Handle {
  fn drop(&mut self) {
    // SAFETY: we own this handle.
    unsafe { CloseHandle(self.0) };
  }
}

/// Memory from LocalAlloc (SDDL conversions, GetSecurityInfo), freed on drop.
struct Local(*mut c_void);
impl Drop for Local {
  fn drop(&mut self) {
    if !self.0.is_null() {
      // SAFETY: the pointer came from an API documented to allocate with LocalAlloc.
      unsafe { LocalFree(self.0) };
    }
  }
}

fn wide(s: &str) -> Vec<u16> {
  s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// `/tmesh-x` (the POSIX name region.rs builds) -> `Local\tmesh-x`. Windows looks names up ignoring
/// case, POSIX does not: each capital becomes `^` + its lower case (`Orders` -> `^orders`), so channel
/// names stay case-sensitive everywhere (`^` is not a channel-name character, so no clash).
fn local_name(os_name: &str) -> String {
  let mut n = String::from("Local\\");
  for c in os_name.trim_start_matches('/').chars() {
    if c.is_ascii_uppercase() {
      n.push('^');
      n.push(c.to_ascii_lowercase());
    } else {
      n.push(c);
    }
  }
  n
}

fn last_error() -> u32 {
  // SAFETY: no preconditions.
  unsafe { GetLastError() }
}

fn win_err(what: &str, code: u32) -> ShmError {
  let msg = format!("{what}: {}", std::io::Error::from_raw_os_error(code as i32));
  match code {
    ERROR_FILE_NOT_FOUND => ShmError::NotFound(msg),
    ERROR_ALREADY_EXISTS => ShmError::Exists(msg),
    ERROR_ACCESS_DENIED => ShmError::Permission(msg),
    ERROR_INVALID_NAME | ERROR_FILENAME_EXCED_RANGE => ShmError::Name(msg),
    _ => ShmError::Io(msg),
  }
}

/// The current user's SID (inside the TOKEN_USER buffer) and its string form.
struct Me {
  buf: Box<[u64]>,
  sid_string: String,
}

impl Me {
  fn sid(&self) -> PSID {
    // SAFETY: buf holds a TOKEN_USER filled by GetTokenInformation; the SID it points to lies in buf.
    unsafe { (*(self.buf.as_ptr() as *const TOKEN_USER)).User.Sid }
  }
}

fn sid_string(sid: PSID) -> String {
  let mut s: *mut u16 = null_mut();
  // SAFETY: sid is a valid SID; s receives a LocalAlloc'd string.
  if unsafe { ConvertSidToStringSidW(sid, &mut s) } == 0 || s.is_null() {
    return "(unreadable SID)".into();
  }
  let _free = Local(s.cast());
  // SAFETY: s is NUL-terminated.
  let len = (0..).take_while(|&i| unsafe { *s.add(i) } != 0).count();
  // SAFETY: len u16s are readable.
  String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(s, len) })
}

fn me() -> Result<&'static Me> {
  static ME: OnceLock<std::result::Result<Me, ShmError>> = OnceLock::new();
  ME.get_or_init(|| {
    let mut tok: HANDLE = null_mut();
    // SAFETY: the pseudo-handle of this process; tok is a valid out-pointer.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut tok) } == 0 {
      return Err(win_err("OpenProcessToken", last_error()));
    }
    let tok = Handle(tok);
    let mut len = 0u32;
    // SAFETY: a size query: no buffer.
    unsafe { GetTokenInformation(tok.0, TokenUser, null_mut(), 0, &mut len) };
    let mut buf = vec![0u64; (len as usize).div_ceil(8).max(8)].into_boxed_slice();
    let cap = (buf.len() * 8) as u32;
    // SAFETY: buf has cap writable bytes, 8-aligned.
    if unsafe { GetTokenInformation(tok.0, TokenUser, buf.as_mut_ptr().cast(), cap, &mut len) } == 0 {
      return Err(win_err("GetTokenInformation(TokenUser)", last_error()));
    }
    let mut me = Me {
      buf,
      sid_string: String::new(),
    };
    me.sid_string = sid_string(me.sid());
    Ok(me)
  })
  .as_ref()
  .map_err(Clone::clone)
}

/// SECURITY_ATTRIBUTES with owner = us and a protected DACL granting only us all access.
struct OnlyMe {
  sa: SECURITY_ATTRIBUTES,
  _sd: Local,
}

fn only_me() -> Result<OnlyMe> {
  let sid = &me()?.sid_string;
  let sddl = wide(&format!("O:{sid}D:P(A;;GA;;;{sid})"));
  let mut sd: PSECURITY_DESCRIPTOR = null_mut();
  // SAFETY: sddl is NUL-terminated; sd receives a LocalAlloc'd descriptor.
  if unsafe {
    ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.as_ptr(), SDDL_REVISION_1, &mut sd, null_mut())
  } == 0
  {
    return Err(win_err("building the security descriptor", last_error()));
  }
  Ok(OnlyMe {
    sa: SECURITY_ATTRIBUTES {
      nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
      lpSecurityDescriptor: sd,
      bInheritHandle: 0,
    },
    _sd: Local(sd),
  })
}

/// Refuse an object whose owner is not us, that has no DACL (anyone may open it), or whose DACL allows
/// anyone but us.
fn check_owner(h: HANDLE, what: &str) -> Result<()> {
  let me = me()?;
  let mut owner: PSID = null_mut();
  let mut dacl: *mut ACL = null_mut();
  let mut sd: PSECURITY_DESCRIPTOR = null_mut();
  // SAFETY: h is open with READ_CONTROL; the out-pointers are valid; sd owns what owner and dacl point to.
  let r = unsafe {
    GetSecurityInfo(
      h,
      SE_KERNEL_OBJECT,
      OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
      &mut owner,
      null_mut(),
      &mut dacl,
      null_mut(),
      &mut sd,
    )
  };
  if r != 0 {
    return Err(win_err(&format!("reading the security of {what}"), r));
  }
  let _free = Local(sd);
  // SAFETY: both SIDs are valid (owner checked for null).
  if owner.is_null() || unsafe { EqualSid(owner, me.sid()) } == 0 {
    let who = if owner.is_null() {
      "nobody".into()
    } else {
      sid_string(owner)
    };
    return Err(ShmError::Owner(format!(
      "{what} is owned by {who}, not by this process's user {}",
      me.sid_string
    )));
  }
  if dacl.is_null() {
    return Err(ShmError::Owner(format!(
      "{what} has no DACL (any user may open it); only the owner may"
    )));
  }
  // SAFETY: dacl points to a valid ACL inside sd.
  let count = unsafe { (*dacl).AceCount };
  for i in 0..u32::from(count) {
    let mut ace: *mut c_void = null_mut();
    // SAFETY: i < AceCount; ace receives a pointer into the ACL.
    if unsafe { GetAce(dacl, i, &mut ace) } == 0 {
      return Err(win_err(&format!("reading the DACL of {what}"), last_error()));
    }
    // SAFETY: every ACE starts with an ACE_HEADER.
    let kind = unsafe { (*(ace as *const ACE_HEADER)).AceType };
    match kind {
      ACCESS_DENIED_ACE_TYPE => {}
      ACCESS_ALLOWED_ACE_TYPE => {
        // SAFETY: an ACCESS_ALLOWED_ACE; its SID starts at SidStart.
        let sid = unsafe { std::ptr::addr_of_mut!((*(ace as *mut ACCESS_ALLOWED_ACE)).SidStart) } as PSID;
        // SAFETY: both SIDs are valid.
        if unsafe { EqualSid(sid, me.sid()) } == 0 {
          return Err(ShmError::Owner(format!(
            "{what} grants access to {}; only its owner {} may have access",
            sid_string(sid),
            me.sid_string
          )));
        }
      }
      other => {
        return Err(ShmError::Owner(format!(
          "{what} has an access entry of type {other}; only plain allow entries for the owner are accepted"
        )))
      }
    }
  }
  Ok(())
}

/// An open named file mapping.
pub struct Object {
  h: Arc<Handle>,
  name: String,
  size: usize,
}

/// A mapped view. It holds the mapping's handle too: a named mapping loses its name when its last
/// handle closes, even while views remain.
pub struct View {
  ptr: *mut u8,
  len: usize,
  _h: Arc<Handle>,
}

impl Drop for View {
  fn drop(&mut self) {
    // SAFETY: ptr is the base of a view from MapViewOfFile, unused after drop.
    unsafe {
      UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
        Value: self.ptr.cast(),
      })
    };
  }
}

impl View {
  /// Base address.
  pub fn ptr(&self) -> *mut u8 {
    self.ptr
  }
  /// Length in bytes.
  pub fn len(&self) -> usize {
    self.len
  }
}

impl Object {
  /// A new mapping of `size` bytes on the paging file, owner and DACL = this user. Err(Exists) if a
  /// mapping of that name exists (its last handle not yet closed).
  pub fn create(os_name: &str, size: usize) -> Result<Object> {
    let name = local_name(os_name);
    let w = wide(&name);
    let sec = only_me()?;
    let size64 = size as u64;
    // SAFETY: w is NUL-terminated; sec.sa points to a valid descriptor for the call.
    let h = unsafe {
      CreateFileMappingW(
        INVALID_HANDLE_VALUE,
        &sec.sa,
        PAGE_READWRITE,
        (size64 >> 32) as u32,
        size64 as u32,
        w.as_ptr(),
      )
    };
    let err = last_error();
    if h.is_null() {
      return Err(win_err(&format!("CreateFileMappingW({name})"), err));
    }
    let h = Handle(h);
    if err == ERROR_ALREADY_EXISTS {
      return Err(ShmError::Exists(format!(
        "file mapping {name} exists: some process still holds a handle to it"
      )));
    }
    Ok(Object {
      h: Arc::new(h),
      name,
      size,
    })
  }

  /// Open an existing mapping read-write after the owner check.
  pub fn open(os_name: &str) -> Result<Object> {
    let name = local_name(os_name);
    let w = wide(&name);
    // SAFETY: w is NUL-terminated.
    let h = unsafe { OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE | READ_CONTROL, 0, w.as_ptr()) };
    if h.is_null() {
      return Err(win_err(&format!("OpenFileMappingW({name})"), last_error()));
    }
    let h = Handle(h);
    check_owner(h.0, &format!("shared-memory region {name}"))?;
    let mut obj = Object {
      h: Arc::new(h),
      name,
      size: 0,
    };
    // The section's size: map all of it once and ask how large the view is (page-rounded; region
    // sizes are whole pages).
    let all = obj.map(0)?;
    // SAFETY: zeroed MEMORY_BASIC_INFORMATION is a valid out-buffer.
    let mut mbi: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: all.ptr is a mapped address; mbi is a valid out-buffer of the given size.
    let n = unsafe {
      VirtualQuery(
        all.ptr.cast_const().cast(),
        &mut mbi,
        std::mem::size_of::<MEMORY_BASIC_INFORMATION>(),
      )
    };
    if n == 0 {
      return Err(win_err(&format!("VirtualQuery of {}", obj.name), last_error()));
    }
    obj.size = mbi.RegionSize;
    Ok(obj)
  }

  /// Size in bytes.
  pub fn size(&self) -> Result<usize> {
    Ok(self.size)
  }

  /// Nothing identifies a Windows mapping for unlinking (nothing is unlinked): (0, 0).
  pub fn id(&self) -> (u64, u64) {
    (0, 0)
  }

  /// Map the first `len` bytes read-write (0: all of it).
  pub fn map(&self, len: usize) -> Result<View> {
    // SAFETY: h is a mapping opened with read and write access.
    let v = unsafe { MapViewOfFile(self.h.0, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, len) };
    if v.Value.is_null() {
      return Err(win_err(&format!("MapViewOfFile({})", self.name), last_error()));
    }
    Ok(View {
      ptr: v.Value.cast(),
      len: if len == 0 { self.size } else { len },
      _h: self.h.clone(),
    })
  }
}

/// Nothing to do: a mapping disappears with its last handle (a dead process's handles are closed by
/// the kernel).
pub fn unlink(_os_name: &str, _id: Option<(u64, u64)>) {}

/// True if a mapping of that name exists (whoever owns it).
pub fn exists(os_name: &str) -> bool {
  let w = wide(&local_name(os_name));
  // SAFETY: w is NUL-terminated.
  let h = unsafe { OpenFileMappingW(FILE_MAP_READ, 0, w.as_ptr()) };
  if !h.is_null() {
    drop(Handle(h));
    return true;
  }
  last_error() != ERROR_FILE_NOT_FOUND
}

/// Names of the sections (file mappings) in this session's named-object directory whose names start
/// with `prefix`, capitals unescaped. Win32 has no call for this; the NT object-directory calls of
/// ntdll (documented in the WDK) do. Empty if the directory cannot be read.
pub fn list_names(prefix: &str) -> Vec<String> {
  let mut names = Vec::new();
  let mut session = 0u32;
  // SAFETY: session is a valid out-pointer.
  unsafe { nt::ProcessIdToSessionId(super::my_pid(), &mut session) };
  let path = if session == 0 {
    "\\BaseNamedObjects".to_owned()
  } else {
    format!("\\Sessions\\{session}\\BaseNamedObjects")
  };
  let w: Vec<u16> = path.encode_utf16().collect();
  let name = nt::UnicodeString {
    length: (w.len() * 2) as u16,
    maximum_length: (w.len() * 2) as u16,
    buffer: w.as_ptr().cast_mut(),
  };
  let attrs = nt::ObjectAttributes {
    length: std::mem::size_of::<nt::ObjectAttributes>() as u32,
    root_directory: null_mut(),
    object_name: &name,
    attributes: nt::OBJ_CASE_INSENSITIVE,
    security_descriptor: null_mut(),
    security_quality_of_service: null_mut(),
  };
  let mut dir: HANDLE = null_mut();
  // SAFETY: attrs and the name it points to outlive the call; dir is a valid out-pointer.
  if unsafe { nt::NtOpenDirectoryObject(&mut dir, nt::DIRECTORY_QUERY, &attrs) } != 0 {
    return names;
  }
  let dir = Handle(dir);
  // One entry per call: wine 8 implements only that mode (STATUS_NOT_IMPLEMENTED otherwise), and a
  // session's directory holds a few hundred objects.
  let mut buf = vec![0u64; 1024]; // 8 KiB, 8-aligned: one entry and its two names
  let mut context = 0u32;
  let text = |u: &nt::UnicodeString| {
    // SAFETY: the strings point into buf, `length` bytes long.
    String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(u.buffer, usize::from(u.length) / 2) })
  };
  // Bounded: no real session has a million named objects.
  for first in (0..1_000_000).map(|i| i == 0) {
    let mut returned = 0u32;
    // SAFETY: buf is writable for its length; context and returned are valid out-pointers.
    let status = unsafe {
      nt::NtQueryDirectoryObject(
        dir.0,
        buf.as_mut_ptr().cast(),
        (buf.len() * 8) as u32,
        1,
        u8::from(first),
        &mut context,
        &mut returned,
      )
    };
    if status != 0 {
      break; // STATUS_NO_MORE_ENTRIES, or an error (an entry over 8 KiB, unheard of, ends the list)
    }
    // SAFETY: a successful call wrote one entry at the start of buf; its names point into buf.
    let e = unsafe { &*(buf.as_ptr() as *const nt::DirectoryEntry) };
    if e.name.buffer.is_null() || text(&e.type_name) != "Section" {
      continue;
    }
    if let Some(rest) = unescape(&text(&e.name)).strip_prefix(prefix) {
      names.push(rest.to_owned());
    }
  }
  names
}

/// Undo `local_name`'s escaping: `^o` -> `O`.
fn unescape(n: &str) -> String {
  let mut out = String::with_capacity(n.len());
  let mut chars = n.chars();
  while let Some(c) = chars.next() {
    match c {
      '^' => out.extend(chars.next().map(|c| c.to_ascii_uppercase())),
      c => out.push(c),
    }
  }
  out
}

/// The few NT object-directory declarations `list_names` needs (ntdll; layouts from the WDK).
mod nt {
  use windows_sys::Win32::Foundation::HANDLE;

  pub const DIRECTORY_QUERY: u32 = 1;
  pub const OBJ_CASE_INSENSITIVE: u32 = 0x40;

  #[repr(C)]
  pub struct UnicodeString {
    pub length: u16,
    pub maximum_length: u16,
    pub buffer: *mut u16,
  }

  #[repr(C)]
  pub struct ObjectAttributes {
    pub length: u32,
    pub root_directory: HANDLE,
    pub object_name: *const UnicodeString,
    pub attributes: u32,
    pub security_descriptor: *mut core::ffi::c_void,
    pub security_quality_of_service: *mut core::ffi::c_void,
  }

  /// OBJECT_DIRECTORY_INFORMATION.
  #[repr(C)]
  pub struct DirectoryEntry {
    pub name: UnicodeString,
    pub type_name: UnicodeString,
  }

  #[link(name = "ntdll")]
  extern "system" {
    pub fn NtOpenDirectoryObject(dir: *mut HANDLE, access: u32, attrs: *const ObjectAttributes) -> i32;
    pub fn NtQueryDirectoryObject(
      dir: HANDLE,
      buffer: *mut core::ffi::c_void,
      length: u32,
      return_single_entry: u8,
      restart_scan: u8,
      context: *mut u32,
      return_length: *mut u32,
    ) -> i32;
  }

  #[link(name = "kernel32")]
  extern "system" {
    pub fn ProcessIdToSessionId(pid: u32, session: *mut u32) -> i32;
  }
}

/// The four named auto-reset events of a region's wait words.
pub struct Waiters {
  events: [Handle; super::SLOTS],
}

impl Waiters {
  /// Create or open `Local\tmesh-<name>.w0` .. `.w3` (owner and DACL = this user, checked).
  pub fn open(os_name: &str) -> Result<Waiters> {
    let sec = only_me()?;
    let base = local_name(os_name);
    let mut events = Vec::with_capacity(super::SLOTS);
    for slot in 0..super::SLOTS {
      let name = format!("{base}.w{slot}");
      let w = wide(&name);
      // SAFETY: w is NUL-terminated; auto-reset, initially not signaled.
      let h = unsafe { CreateEventW(&sec.sa, 0, 0, w.as_ptr()) };
      if h.is_null() {
        return Err(win_err(&format!("CreateEventW({name})"), last_error()));
      }
      let h = Handle(h);
      check_owner(h.0, &format!("event {name}"))?;
      events.push(h);
    }
    let events: [Handle; super::SLOTS] = events
      .try_into()
      .map_err(|_| ShmError::Io("wrong number of events".into()))?;
    Ok(Waiters { events })
  }

  /// Sleep while `*word == expected`, at most `timeout`. The event is auto-reset and a wake sets it
  /// after changing the word, so a wake between our check and our wait is not lost; a stale signal
  /// gives a spurious return, which callers allow.
  pub fn wait(&self, slot: usize, word: &AtomicU32, expected: u32, timeout: Duration) {
    let Some(ev) = self.events.get(slot) else {
      return super::poll_wait(word, expected, timeout);
    };
    if word.load(Ordering::Acquire) != expected {
      return;
    }
    let ms = timeout
      .as_micros()
      .div_ceil(1000)
      .clamp(1, u128::from(u32::MAX - 1)) as u32;
    // SAFETY: ev is an open event handle.
    unsafe { WaitForSingleObject(ev.0, ms) };
  }

  /// Signal the word's event (one waiter per word: each ring has one producer and one consumer).
  pub fn wake(&self, slot: usize, _word: &AtomicU32) {
    if let Some(ev) = self.events.get(slot) {
      // SAFETY: ev is an open event handle.
      unsafe { SetEvent(ev.0) };
    }
  }
}

/// No doorbell FIFOs on Windows: libuv cannot watch an event handle through a socket.
pub const HAS_BELLS: bool = false;

/// Unused on Windows (no doorbell FIFOs).
pub fn bell_dir() -> &'static str {
  "."
}

/// No doorbell: Ok(-1), so the end has none and a Node end polls.
pub fn create_bell(_path: &str) -> Result<i32> {
  Ok(-1)
}

/// No doorbell FIFOs on Windows.
pub fn open_peer_bell(path: &str) -> Result<i32> {
  Err(ShmError::NotSupported(format!(
    "doorbell {path}: no doorbell FIFOs on Windows"
  )))
}

/// Nothing to ring.
pub fn ring_bell(_fd: i32) {}

/// Nothing to close.
pub fn close_fd(_fd: i32) {}

/// Milliseconds since boot from GetTickCount64: one clock for every process (10-16 ms resolution,
/// plenty for 100 ms heartbeats).
pub fn monotonic_ms() -> u64 {
  // SAFETY: no preconditions.
  unsafe { GetTickCount64() }
}

/// False if there is no such process or it has exited; true if it runs or we may not ask (it exists).
pub fn pid_alive(pid: u32) -> bool {
  if pid == 0 {
    return false;
  }
  if pid == super::my_pid() {
    return true;
  }
  // SAFETY: no memory preconditions.
  let h = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
  if h.is_null() {
    // ERROR_INVALID_PARAMETER: no process with that id. Anything else (access denied): it exists.
    return last_error() != ERROR_INVALID_PARAMETER;
  }
  let h = Handle(h);
  let mut code = 0u32;
  // SAFETY: h is a process handle with query rights; code is a valid out-pointer.
  if unsafe { GetExitCodeProcess(h.0, &mut code) } == 0 {
    return true;
  }
  code == STILL_ACTIVE as u32
}

/// 16 random bytes from the system RNG.
pub fn random_token() -> [u8; 16] {
  let mut t = [0u8; 16];
  // SAFETY: t is 16 writable bytes; a null algorithm handle with the system-preferred flag is allowed.
  let st = unsafe { BCryptGenRandom(null_mut(), t.as_mut_ptr(), 16, BCRYPT_USE_SYSTEM_PREFERRED_RNG) };
  if st == 0 {
    t
  } else {
    super::fallback_token()
  }
}
