//! Stream state kept across connections so a link resumes after a reconnect (docs/PROTOCOL.md section
//! 7.5): this side's numbered frames not yet acknowledged (retransmitted on resume) and the count of the
//! peer's numbered frames received in order. A dropped link's state is parked for the resume window,
//! keyed by the peer's session id; a peer that returns with the same session resumes it.

use crate::messages::Wire;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a dropped link's state waits for the peer to come back (the TypeScript default).
pub const RESUME_WINDOW: Duration = Duration::from_secs(10);

/// One direction pair of a link's numbered streams.
#[derive(Debug)]
pub struct Stream {
  /// The wire the retained frames are encoded in; a reconnect in another wire starts fresh.
  pub wire: Wire,
  /// Next sequence number of this side's numbered frames.
  pub next_seq: u64,
  /// Highest sequence of the peer's numbered frames received in order.
  pub received: u64,
  /// This side's numbered frames not yet acknowledged: (sequence, bytes to retransmit, including the
  /// ReplyTo that precedes a response).
  pub retained: VecDeque<(u64, Vec<u8>)>,
}

impl Stream {
  /// A fresh stream: numbering from 1, nothing received.
  pub fn fresh(wire: Wire) -> Stream {
    Stream { wire, next_seq: 1, received: 0, retained: VecDeque::new() }
  }

  /// Drop retained frames up to `upto` (a cumulative Ack, or the peer's resume point).
  pub fn release(&mut self, upto: u64) {
    while self.retained.front().is_some_and(|(seq, _)| *seq <= upto) {
      self.retained.pop_front();
    }
  }
}

struct Parked {
  stream: Stream,
  at: Instant,
  owner: u64,
}

#[derive(Default)]
struct Inner {
  parked: HashMap<String, Parked>,
  /// The connection currently serving each peer session: only it may park the state.
  owners: HashMap<String, u64>,
  next_owner: u64,
}

/// Parked streams of every peer session.
#[derive(Default)]
pub struct Sessions {
  inner: Mutex<Inner>,
}

impl Sessions {
  fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
    self.inner.lock().unwrap_or_else(|p| p.into_inner())
  }

  /// Take the parked state of `peer_session`, if it is still inside the resume window.
  pub fn take(&self, peer_session: &str) -> Option<Stream> {
    let mut inner = self.lock();
    inner.parked.retain(|_, p| p.at.elapsed() < RESUME_WINDOW);
    inner.parked.remove(peer_session).map(|p| p.stream)
  }

  /// Register a new connection serving `peer_session`; returns its owner id.
  pub fn own(&self, peer_session: &str) -> u64 {
    let mut inner = self.lock();
    inner.next_owner += 1;
    let id = inner.next_owner;
    inner.owners.insert(peer_session.to_owned(), id);
    id
  }

  /// The connection `owner` dropped: park its state for the resume window, unless a newer connection
  /// of the same peer session took over meanwhile.
  pub fn park(&self, peer_session: &str, owner: u64, stream: Stream) {
    let mut inner = self.lock();
    if inner.owners.get(peer_session) != Some(&owner) {
      return;
    }
    inner.owners.remove(peer_session);
    inner.parked.insert(peer_session.to_owned(), Parked { stream, at: Instant::now(), owner });
  }

  /// Put back state taken for a handshake that then failed.
  pub fn put_back(&self, peer_session: &str, stream: Stream) {
    let mut inner = self.lock();
    if !inner.owners.contains_key(peer_session) && !inner.parked.contains_key(peer_session) {
      inner.parked.insert(peer_session.to_owned(), Parked { stream, at: Instant::now(), owner: 0 });
    }
  }

  /// The link of `owner` closed for good (graceful close): its state is not kept.
  pub fn forget(&self, peer_session: &str, owner: u64) {
    let mut inner = self.lock();
    if inner.owners.get(peer_session) == Some(&owner) {
      inner.owners.remove(peer_session);
    }
    if inner.parked.get(peer_session).is_some_and(|p| p.owner == owner) {
      inner.parked.remove(peer_session);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn park_take_and_ownership() {
    let s = Sessions::default();
    let a = s.own("p");
    let mut st = Stream::fresh(Wire::Rust);
    st.received = 5;
    st.retained.extend([(1, vec![1]), (2, vec![2]), (3, vec![3])]);
    st.release(2);
    assert_eq!(st.retained.len(), 1);
    // A newer connection of the same session took over: the old one does not park stale state.
    let b = s.own("p");
    s.park("p", a, Stream::fresh(Wire::Rust));
    assert!(s.take("p").is_none());
    s.park("p", b, st);
    let back = s.take("p").unwrap();
    assert_eq!(back.received, 5);
    assert!(s.take("p").is_none());
  }
}
