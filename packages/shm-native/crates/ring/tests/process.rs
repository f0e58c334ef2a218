//! Two real processes on one channel: the test binary runs itself again as the peer (the ignored test
//! `peer`, selected with `--ignored --exact peer` and told its role through TMESH_SHM_TEST_PEER). This
//! is what proves the platform layer across processes: named objects, the owner check of a region made
//! by another process, cross-process sleep and wake (futex, events, polling), and liveness of a killed
//! peer. On Windows these run under wine in CI (scripts/windows-wine-test.sh).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use tmesh_shm::region;
use tmesh_shm::{Channel, ChannelOptions, MessageMeta, ShmError};

const PEER_ENV: &str = "TMESH_SHM_TEST_PEER";
/// What the peer prints once attached (libtest may put "test peer ... " before it on the same line).
const READY: &str = "tmesh-peer-ready";

fn uniq(tag: &str) -> String {
  format!("p{}-{tag}", std::process::id() % 100_000)
}

/// Both ends of a test channel use this token (open requires the creator's token).
const TOKEN: [u8; 16] = *b"tmesh-test-token";

fn opts() -> ChannelOptions {
  ChannelOptions {
    capacity: 1 << 16,
    token: Some(TOKEN),
    ..Default::default()
  }
}

/// The peer process: `echo:<name>` opens and echoes until the channel closes; `hang:<name>` opens,
/// says ready and sleeps (until killed, at most 30 s); `create:<name>` creates, says ready and sleeps.
#[test]
#[ignore = "the child process of the two-process tests; runs only with TMESH_SHM_TEST_PEER set"]
fn peer() {
  let Ok(spec) = std::env::var(PEER_ENV) else {
    eprintln!("peer: {PEER_ENV} is not set; nothing to do outside the two-process tests");
    return;
  };
  let (role, name) = spec.split_once(':').expect("role:name");
  let mut ch = match role {
    "create" => Channel::create(name, &opts()),
    _ => Channel::open(name, &opts()),
  }
  .unwrap_or_else(|e| panic!("peer {role}: {e}"));
  println!("{READY}");
  match role {
    "echo" => loop {
      match ch.recv(Some(Duration::from_secs(30))) {
        Ok(m) => ch
          .send(&m.data, m.meta, Some(Duration::from_secs(30)))
          .unwrap_or_else(|e| panic!("echo send: {e}")),
        Err(ShmError::Closed(_)) => break,
        Err(e) => panic!("echo recv: {e}"),
      }
    },
    _ => std::thread::sleep(Duration::from_secs(30)),
  }
  ch.close();
}

struct Peer {
  child: Child,
  out: BufReader<ChildStdout>,
}

impl Peer {
  /// Start the peer and wait for its "ready" line.
  fn start(role: &str, name: &str) -> Peer {
    let mut child = Command::new(std::env::current_exe().unwrap())
      .args(["--ignored", "--exact", "peer", "--nocapture", "--test-threads=1"])
      .env(PEER_ENV, format!("{role}:{name}"))
      .stdout(Stdio::piped())
      .stderr(Stdio::piped())
      .spawn()
      .expect("spawn the peer process");
    let out = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut p = Peer { child, out };
    p.wait_ready(role);
    p
  }

  fn wait_ready(&mut self, role: &str) {
    // libtest prints its own lines ("running 1 test") around ours; bounded by the 30 s peer lifetime.
    let mut line = String::new();
    loop {
      line.clear();
      if self.out.read_line(&mut line).unwrap_or(0) == 0 {
        let mut err = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
          let _ = e.read_to_string(&mut err);
        }
        panic!("peer {role} exited before it was ready: {err}");
      }
      if line.contains(READY) {
        return;
      }
    }
  }

  fn kill(&mut self) {
    let _ = self.child.kill();
    let _ = self.child.wait();
  }
}

fn payload(i: usize, len: usize) -> Vec<u8> {
  (0..len).map(|k| (k.wrapping_mul(31) ^ i) as u8).collect()
}

#[test]
fn two_processes_exchange_messages_both_ways() {
  let name = uniq("echo");
  let mut a = Channel::create(&name, &opts()).unwrap();
  let mut peer = Peer::start("echo", &name);
  let t = Some(Duration::from_secs(20));
  // Ping-pong, so every receive sleeps until the other process wakes it. Some messages are larger than
  // the 64 KiB ring: streamed in fragments, with both sides waiting for space.
  for i in 0..600usize {
    let len = match i % 100 {
      0 => 200_000,
      n => (n * 131) % 5000,
    };
    let data = payload(i, len);
    let meta = MessageMeta {
      message_type: (i % 200) as u8,
      ..Default::default()
    };
    a.send(&data, meta, t).unwrap();
    let m = a.recv(t).unwrap();
    assert_eq!(m.data.len(), len, "message {i}");
    assert!(m.data == data, "message {i} came back changed");
    assert_eq!(m.meta.message_type, (i % 200) as u8);
  }
  a.close();
  let status = peer.child.wait().unwrap();
  assert!(status.success(), "the echo peer failed: {status:?}");
  drop(a);
  assert!(
    !region::region_exists(&name),
    "the region is gone once both ends closed"
  );
}

#[test]
fn a_killed_peer_is_reported_while_waiting_to_receive_and_to_send() {
  let name = uniq("kill");
  // A heartbeat limit of a minute: only the process check can report the death within the timeouts.
  let o = ChannelOptions {
    capacity: 4096,
    stale_after_ms: 60_000,
    ..opts()
  };
  let mut a = Channel::create(&name, &o).unwrap();
  let mut peer = Peer::start("hang", &name);
  while a.try_send(&[7u8; 500], MessageMeta::default()).is_ok() {}
  let started = Instant::now();
  peer.kill();
  let e = a.send(&[7u8; 500], MessageMeta::default(), Some(Duration::from_secs(10)));
  assert_eq!(e.err().map(|e| e.code()), Some("E_PEER_GONE"), "blocked send");
  let e = a.recv(Some(Duration::from_secs(10)));
  assert_eq!(e.err().map(|e| e.code()), Some("E_PEER_GONE"), "blocked receive");
  eprintln!("peer death reported {:?} after the kill", started.elapsed());
  drop(a);
  assert!(!region::region_exists(&name));
}

#[test]
fn a_killed_creators_region_is_reclaimed_and_the_name_reused() {
  let name = uniq("crash");
  let mut peer = Peer::start("create", &name);
  assert!(region::region_exists(&name));
  peer.kill();
  // Linux and macOS: the region outlives its creator and is reclaimed (its pid is dead). Windows: the
  // kernel closed the dead process's handles, so the mapping is gone already.
  let mut a = Channel::create(&name, &opts()).expect("create over a dead creator's region");
  let mut b = Channel::open(&name, &opts()).unwrap();
  a.try_send(b"again", MessageMeta::default()).unwrap();
  assert_eq!(b.recv(Some(Duration::from_secs(10))).unwrap().data, b"again");
}

#[test]
fn opening_a_region_the_opener_did_not_make_works_across_processes() {
  // The owner check passes for a region another process of the same user created.
  let name = uniq("owner");
  let mut peer = Peer::start("create", &name);
  let mut b = Channel::open(&name, &opts()).expect("open a region created by another process");
  b.try_send(b"hi", MessageMeta::default()).unwrap();
  peer.kill();
  let e = b.recv(Some(Duration::from_secs(10))).err().unwrap();
  assert_eq!(e.code(), "E_PEER_GONE");
}

#[cfg(windows)]
fn raw_mapping(name: &str, sddl: Option<&str>) -> windows_sys::Win32::Foundation::HANDLE {
  use windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE;
  use windows_sys::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
  };
  use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
  use windows_sys::Win32::System::Memory::{CreateFileMappingW, PAGE_READWRITE};
  let wide = |s: &str| -> Vec<u16> { s.encode_utf16().chain(std::iter::once(0)).collect() };
  let mut sa = SECURITY_ATTRIBUTES {
    nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
    lpSecurityDescriptor: std::ptr::null_mut(),
    bInheritHandle: 0,
  };
  if let Some(sddl) = sddl {
    let w = wide(sddl);
    // SAFETY: w is NUL-terminated; the descriptor is leaked (a test).
    let ok = unsafe {
      ConvertStringSecurityDescriptorToSecurityDescriptorW(
        w.as_ptr(),
        SDDL_REVISION_1,
        &mut sa.lpSecurityDescriptor,
        std::ptr::null_mut(),
      )
    };
    assert_ne!(ok, 0, "SDDL {sddl}");
  }
  let w = wide(&format!("Local\\tmesh-{name}"));
  // SAFETY: w is NUL-terminated; sa is valid for the call.
  let h = unsafe { CreateFileMappingW(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0, 1 << 20, w.as_ptr()) };
  assert!(!h.is_null());
  h
}

/// The current user's SID as a string, from the process token.
#[cfg(windows)]
fn my_sid() -> String {
  use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
  use windows_sys::Win32::Security::{GetTokenInformation, TokenUser, TOKEN_QUERY, TOKEN_USER};
  use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
  let mut tok = std::ptr::null_mut();
  let mut buf = [0u64; 64];
  let mut len = 0u32;
  let mut s: *mut u16 = std::ptr::null_mut();
  // SAFETY: valid out-pointers; buf is large enough for a TOKEN_USER; the string is leaked (a test).
  unsafe {
    assert_ne!(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut tok), 0);
    assert_ne!(
      GetTokenInformation(tok, TokenUser, buf.as_mut_ptr().cast(), 512, &mut len),
      0
    );
    assert_ne!(
      ConvertSidToStringSidW((*(buf.as_ptr() as *const TOKEN_USER)).User.Sid, &mut s),
      0
    );
    let n = (0..).take_while(|&i| *s.add(i) != 0).count();
    String::from_utf16_lossy(std::slice::from_raw_parts(s, n))
  }
}

/// Mappings of the same name not restricted to this user are refused on open: one with the default
/// security, and one owned by us whose DACL also lets Everyone read.
#[cfg(windows)]
#[test]
fn mappings_open_to_others_are_refused() {
  use windows_sys::Win32::Foundation::CloseHandle;
  let name = uniq("dacl");
  let h = raw_mapping(&name, None);
  let e = Channel::open(&name, &opts()).err().unwrap();
  assert_eq!(e.code(), "E_SHM_OWNER", "{e}");
  eprintln!("default security refused: {e}");
  // SAFETY: h is ours.
  unsafe { CloseHandle(h) };

  let me = my_sid();
  let h = raw_mapping(&name, Some(&format!("O:{me}D:P(A;;GA;;;{me})(A;;GR;;;WD)")));
  let e = Channel::open(&name, &opts()).err().unwrap();
  assert_eq!(e.code(), "E_SHM_OWNER", "{e}");
  assert!(e.message().contains("S-1-1-0"), "{e}");
  eprintln!("Everyone-readable refused: {e}");
  // SAFETY: h is ours.
  unsafe { CloseHandle(h) };
}

/// Channel names are case-sensitive on every platform (Windows object names are not: the platform
/// layer escapes capitals there).
#[test]
fn names_that_differ_only_in_case_are_different_channels() {
  let lower = uniq("case");
  let upper = lower.to_uppercase();
  let mut a = Channel::create(&lower, &opts()).unwrap();
  let mut b = Channel::create(&upper, &opts()).expect("a channel whose name differs only in case");
  let mut a2 = Channel::open(&lower, &opts()).unwrap();
  let mut b2 = Channel::open(&upper, &opts()).unwrap();
  a.try_send(b"lower", MessageMeta::default()).unwrap();
  b.try_send(b"UPPER", MessageMeta::default()).unwrap();
  assert_eq!(a2.recv(Some(Duration::from_secs(10))).unwrap().data, b"lower");
  assert_eq!(b2.recv(Some(Duration::from_secs(10))).unwrap().data, b"UPPER");
}

/// `list_regions` (for `tmesh doctor`) finds a live channel with both ends' pids, and forgets it once
/// it is gone. (macOS finds regions through the creator's doorbell, hence `doorbell`.)
#[test]
fn list_regions_shows_a_live_channel_until_it_is_gone() {
  let name = uniq("List");
  let a = Channel::create(
    &name,
    &ChannelOptions {
      doorbell: true,
      ..opts()
    },
  )
  .unwrap();
  let mut peer = Peer::start("hang", &name);
  let found = tmesh_shm::list_regions();
  let r = found
    .iter()
    .find(|r| r.name == name)
    .unwrap_or_else(|| panic!("{name} not in {found:?}"));
  assert_eq!(r.status, "live");
  assert_eq!(r.creator_pid, std::process::id());
  assert_eq!(r.opener_pid, peer.child.id());
  assert_eq!(r.capacity, 1 << 16);
  peer.kill();
  drop(a);
  assert!(!tmesh_shm::list_regions().iter().any(|r| r.name == name));
}

/// On Windows a stale region still held by a process cannot be removed: `list_regions` calls it stale,
/// `cleanup_stale` does not claim to have removed it, and it goes with the last handle.
#[cfg(windows)]
#[test]
fn cleanup_on_windows_claims_only_what_is_gone() {
  use std::sync::atomic::Ordering;
  use tmesh_shm::layout::{END_PID, OFF_CREATOR};
  let name = uniq("held");
  let a = Channel::create(&name, &opts()).unwrap();
  // A pid that cannot exist: the region looks as if its creator died.
  a.mapping()
    .u32_at(OFF_CREATOR + END_PID)
    .store(0x7fff_fff0, Ordering::Release);
  let found = tmesh_shm::list_regions();
  assert!(
    found.iter().any(|r| r.name == name && r.status == "stale"),
    "{found:?}"
  );
  assert!(!tmesh_shm::cleanup_stale().contains(&name));
  assert!(region::region_exists(&name));
  drop(a);
  assert!(!region::region_exists(&name));
}
