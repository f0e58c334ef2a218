//! Shared memory between nodes (docs/PROTOCOL.md section 8.2-8.3): a ShmOffer names a channel made by the
//! dialing node; this node opens it with the offered token (tmesh-shm, section 6) and serves it in a
//! thread of its own. Records: type = message type id; flags 0 plain, 0x10 REQUEST, 0x08 RESPONSE,
//! 0x28 RESPONSE + ERROR; data = bincode payload, prefixed by a u32 correlation id for requests and
//! responses.

use crate::messages::{from_bincode, ids, to_bincode, Echo, FileChunk, ShmAnswer, ShmOffer};
use crate::tally::Tally;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tmesh_shm::{Channel, ChannelOptions, Message, MessageMeta, ShmError};

/// Record flag: a request (data starts with the u32 correlation id).
pub const SHM_REQUEST: u16 = 0x10;
/// Record flag: a response to a request.
pub const SHM_RESPONSE: u16 = 0x08;
/// Record flag (with RESPONSE): the request failed; data is the correlation id then "E_CODE: message".
pub const SHM_ERROR: u16 = 0x20;

/// How long a reply may wait for ring space before the channel is given up.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a serving thread looks at the stop flag while the ring is idle.
const POLL: Duration = Duration::from_millis(100);

/// The node's shared-memory channels: one serving thread each, all stopped (and their channels closed,
/// so regions are unlinked) by `stop`.
pub struct ShmServer {
  tally: Arc<Tally>,
  stop: Arc<AtomicBool>,
  threads: Mutex<Vec<JoinHandle<()>>>,
}

impl ShmServer {
  /// A server counting into `tally`.
  pub fn new(tally: Arc<Tally>) -> ShmServer {
    ShmServer { tally, stop: Arc::new(AtomicBool::new(false)), threads: Mutex::new(Vec::new()) }
  }

  /// Answer a ShmOffer: open the channel in a new serving thread; accepted once it is open, else the reason.
  pub async fn offer(&self, offer: ShmOffer) -> ShmAnswer {
    let Ok(token) = <[u8; 16]>::try_from(offer.token.as_slice()) else {
      return ShmAnswer { accepted: false, reason: format!("E_SHM_TOKEN: token is {} bytes, not 16", offer.token.len()) };
    };
    if self.stop.load(Ordering::Acquire) {
      return ShmAnswer { accepted: false, reason: "E_CLOSED: node is shutting down".into() };
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), ShmError>>();
    let tally = self.tally.clone();
    let stop = self.stop.clone();
    let name = offer.name.clone();
    // A Channel is driven by one thread: open it in the thread that serves it.
    let spawned = std::thread::Builder::new().name(format!("shm-{name}")).spawn(move || {
      let opts = ChannelOptions { token: Some(token), ..ChannelOptions::default() };
      match Channel::open(&name, &opts) {
        Ok(ch) => {
          // One JSON line per event on stdout, like the ready line: tests and the demo follow the channels.
          println!("{}", serde_json::json!({ "shm": name }));
          let _ = tx.send(Ok(()));
          serve(ch, &tally, &stop);
        }
        Err(e) => {
          let _ = tx.send(Err(e));
        }
      }
    });
    let handle = match spawned {
      Ok(h) => h,
      Err(e) => return ShmAnswer { accepted: false, reason: format!("E_INTERNAL: no thread for the channel: {e}") },
    };
    {
      let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
      threads.retain(|t| !t.is_finished());
      threads.push(handle);
    }
    match rx.await {
      Ok(Ok(())) => ShmAnswer { accepted: true, reason: String::new() },
      Ok(Err(e)) => ShmAnswer { accepted: false, reason: e.to_string() },
      Err(_) => ShmAnswer { accepted: false, reason: "E_INTERNAL: the channel thread ended".into() },
    }
  }

  /// Stop every serving thread; each closes its channel (the last end to close unlinks the region).
  pub fn stop(&self) {
    self.stop.store(true, Ordering::Release);
    let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
    for t in threads {
      let _ = t.join();
    }
  }
}

fn serve(mut ch: Channel, tally: &Tally, stop: &AtomicBool) {
  let name = ch.name().to_owned();
  while !stop.load(Ordering::Acquire) {
    match ch.recv(Some(POLL)) {
      Ok(m) => {
        if let Err(e) = handle(&mut ch, tally, m) {
          // A record that cannot be decoded closes the transport (section 8.3).
          eprintln!("tmesh-rust-peer: shm channel {name}: {e}; closing it");
          break;
        }
      }
      Err(ShmError::Timeout(_)) => {}
      Err(ShmError::Closed(_)) | Err(ShmError::PeerGone(_)) => break,
      Err(e) => {
        eprintln!("tmesh-rust-peer: shm channel {name}: {e}; closing it");
        break;
      }
    }
  }
  ch.close();
}

fn handle(ch: &mut Channel, tally: &Tally, m: Message) -> Result<(), String> {
  let flags = m.meta.flags;
  let kind = m.meta.message_type;
  if flags & SHM_RESPONSE != 0 {
    return Ok(()); // this node sends no requests over shared memory
  }
  if flags & SHM_REQUEST == 0 {
    if kind == ids::FILE_CHUNK {
      let chunk: FileChunk = from_bincode(&m.data).map_err(|e| e.to_string())?;
      tally.take(&chunk);
    }
    return Ok(()); // other plain messages have no handler here
  }
  if m.data.len() < 4 {
    return Err(format!("E_SHM_CORRUPT: request record of {} bytes has no correlation id", m.data.len()));
  }
  let correlation = &m.data[..4];
  let (reply_type, reply_flags, payload) = if kind == ids::FILE_CHUNK {
    let chunk: FileChunk = from_bincode(&m.data[4..]).map_err(|e| e.to_string())?;
    (ids::METRICS, SHM_RESPONSE, to_bincode(&tally.answer(&chunk)))
  } else if kind == ids::ECHO {
    let echo: Echo = from_bincode(&m.data[4..]).map_err(|e| e.to_string())?;
    (ids::ECHO, SHM_RESPONSE, to_bincode(&echo))
  } else {
    let text = format!("E_UNKNOWN_MESSAGE_TYPE: rust peer has no request handler for message type {kind}");
    (kind, SHM_RESPONSE | SHM_ERROR, text.into_bytes())
  };
  let mut record = Vec::with_capacity(4 + payload.len());
  record.extend_from_slice(correlation);
  record.extend_from_slice(&payload);
  let meta = MessageMeta { message_type: reply_type, flags: reply_flags, ..MessageMeta::default() };
  ch.send(&record, meta, Some(SEND_TIMEOUT)).map_err(|e| e.to_string())
}
