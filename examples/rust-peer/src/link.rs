//! One accepted link after its handshake (docs/PROTOCOL.md sections 7.4-7.7): numbered frames checked and
//! acknowledged cumulatively, Ping answered by Pong and sent every second, requests answered by ReplyTo +
//! a RESPONSE frame (or an ErrorReply), Close handled, a silent peer dropped after 5 s.

use crate::compress::Algorithm;
use crate::error::PeerError;
use crate::handshake::close_frame;
use crate::messages::{is_numbered, Ack, Body, Close, ErrorReply, Ping, Pong, ReplyTo, Wire};
use crate::session::{Sessions, Stream};
use crate::shm::ShmServer;
use crate::tally::Tally;
use crate::wire::{encode_frame, encode_frame_compressed, Frame, FrameReader, FLAG_REQUEST, FLAG_RESPONSE};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Interval of this side's Pings.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A peer that sent nothing for this long is declared gone and the connection dropped.
pub const DEAD_AFTER: Duration = Duration::from_secs(5);

/// What every link of the node shares.
pub struct NodeContext {
  /// This node's id (for messages).
  pub node_id: String,
  /// The counters.
  pub tally: Arc<Tally>,
  /// Shared-memory channels set up by ShmOffer.
  pub shm: ShmServer,
  /// Stream state of dropped links, for resumption.
  pub sessions: Sessions,
}

/// How a link ended.
#[derive(Debug)]
pub enum LinkEnd {
  /// The peer sent Close("") (graceful close).
  PeerClosed,
  /// This node is shutting down; it sent Close("").
  Shutdown,
  /// The connection failed or broke the protocol.
  Failed(PeerError),
}

struct LinkState {
  wire: Wire,
  /// Numbering and retained frames; survives the connection when the link resumes.
  stream: Stream,
  ack_sent: u64,
  ping_id: u32,
  out: Vec<u8>,
}

impl LinkState {
  fn unnumbered(&mut self, body: Body) {
    self.out.extend(encode_frame(self.wire, &body, 0, 0));
  }

  /// Queue a numbered frame (after `prefix`, an unnumbered frame that travels with it), retained until
  /// the peer acknowledges it; its payload is compressed with `compression` when large enough.
  fn numbered(&mut self, prefix: Option<Body>, body: Body, flags: u16, compression: Option<Algorithm>) -> Option<Algorithm> {
    let seq = self.stream.next_seq;
    self.stream.next_seq += 1;
    let mut bytes = prefix.map(|p| encode_frame(self.wire, &p, 0, 0)).unwrap_or_default();
    let (frame, used) = encode_frame_compressed(self.wire, &body, seq as u32, flags, compression);
    bytes.extend(frame);
    self.out.extend_from_slice(&bytes);
    self.stream.retained.push_back((seq, bytes));
    used
  }

  /// Answer request `request`; a request that came compressed is answered in kind (section 7.9: the
  /// algorithm is one the link agreed on, since the reader refused any other).
  fn reply(&mut self, request: u64, body: Body, compression: Option<Algorithm>) -> Option<Algorithm> {
    // ReplyTo immediately before the RESPONSE frame, written and retransmitted together (section 7.6).
    self.numbered(Some(Body::ReplyTo(ReplyTo { request })), body, FLAG_RESPONSE, compression)
  }

  fn ack_if_due(&mut self) {
    if self.stream.received > self.ack_sent {
      self.ack_sent = self.stream.received;
      self.unnumbered(Body::Ack(Ack { received: self.stream.received }));
    }
  }
}

/// Serve one link until it ends; returns how it ended and its stream state. `reader` holds the bytes that
/// followed the handshake. `resumed_from`: the peer's resume point when the link resumes `state` (its
/// unacknowledged frames after that point are retransmitted first).
pub async fn run(
  mut stream: TcpStream,
  mut reader: FrameReader,
  state: Stream,
  resumed_from: Option<u64>,
  ctx: Arc<NodeContext>,
  mut shutdown: watch::Receiver<bool>,
) -> (LinkEnd, Stream) {
  let mut st = LinkState { wire: state.wire, stream: state, ack_sent: 0, ping_id: 0, out: Vec::new() };
  if let Some(upto) = resumed_from {
    st.stream.release(upto);
    for (_, bytes) in &st.stream.retained {
      st.out.extend_from_slice(bytes);
    }
  }
  let mut buf = vec![0u8; 256 * 1024];
  let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
  let mut last_rx = Instant::now();
  let end = loop {
    // Frames that came with the handshake, or in the last read.
    match drain(&mut reader, &mut st, &ctx).await {
      Ok(None) => {}
      Ok(Some(end)) => break end,
      Err(e) => {
        // Protocol error: tell the peer why, then drop the connection (section 7.7).
        st.out.extend(close_frame(st.wire, &e));
        break LinkEnd::Failed(e);
      }
    }
    st.ack_if_due();
    if !st.out.is_empty() {
      let out = std::mem::take(&mut st.out);
      if let Err(e) = stream.write_all(&out).await {
        return (LinkEnd::Failed(e.into()), st.stream);
      }
    }
    tokio::select! {
      read = stream.read(&mut buf) => match read {
        Ok(0) => return (LinkEnd::Failed(PeerError::new("E_CONNECTION", "the peer closed the connection")), st.stream),
        Ok(n) => {
          last_rx = Instant::now();
          reader.push(&buf[..n]);
        }
        Err(e) => return (LinkEnd::Failed(e.into()), st.stream),
      },
      _ = heartbeat.tick() => {
        if last_rx.elapsed() > DEAD_AFTER {
          let e = PeerError::new("E_PEER_GONE", format!("no data from the peer for {} ms", DEAD_AFTER.as_millis()));
          return (LinkEnd::Failed(e), st.stream);
        }
        st.ping_id = st.ping_id.wrapping_add(1);
        st.unnumbered(Body::Ping(Ping { id: st.ping_id }));
      }
      _ = shutdown.changed() => {
        st.ack_if_due();
        st.unnumbered(Body::Close(Close { code: String::new(), message: "closed".into() }));
        break LinkEnd::Shutdown;
      }
    }
  };
  if !st.out.is_empty() {
    let _ = stream.write_all(&st.out).await;
  }
  let _ = stream.shutdown().await;
  (end, st.stream)
}

/// Handle every complete frame in `reader`; Some(end) when the link must stop.
async fn drain(reader: &mut FrameReader, st: &mut LinkState, ctx: &NodeContext) -> Result<Option<LinkEnd>, PeerError> {
  while let Some(frame) = reader.next_frame()? {
    if let Some(end) = on_frame(frame, st, ctx).await? {
      return Ok(Some(end));
    }
  }
  Ok(None)
}

async fn on_frame(
  frame: Frame,
  st: &mut LinkState,
  ctx: &NodeContext,
) -> Result<Option<LinkEnd>, PeerError> {
  let id = frame.body.id();
  if !is_numbered(id) {
    match frame.body {
      Body::Ack(a) => st.stream.release(a.received),
      // This node measures no RTT and sends no requests (so no ReplyTo announces a response it awaits).
      Body::Pong(_) | Body::ReplyTo(_) => {}
      Body::Ping(p) => st.unnumbered(Body::Pong(Pong { id: p.id })),
      Body::Close(c) if c.code.is_empty() => return Ok(Some(LinkEnd::PeerClosed)),
      Body::Close(c) => {
        return Ok(Some(LinkEnd::Failed(PeerError::new("E_CONNECTION", format!("peer dropped the connection: {}: {}", c.code, c.message)))))
      }
      other => return Err(PeerError::new("E_DECODE", format!("unexpected control message {} after the handshake", other.id()))),
    }
    return Ok(None);
  }
  // Widen the 32-bit wire sequence back to the stream position (section 7.4).
  let expected = st.stream.received + 1;
  let full = expected as i64 + i64::from(frame.sequence.wrapping_sub(expected as u32) as i32);
  if full <= st.stream.received as i64 {
    return Ok(None); // duplicate of a retransmission
  }
  if full as u64 != expected {
    return Err(PeerError::new("E_INTERNAL", format!("frame sequence {full} skips ahead of {expected}: the stream lost frames")));
  }
  st.stream.received = expected;
  if frame.flags & FLAG_RESPONSE != 0 {
    return Ok(None); // no request of this node is waiting for it
  }
  if let Some(a) = frame.compression {
    ctx.tally.compressed_in(a);
  }
  if frame.flags & FLAG_REQUEST != 0 {
    let request = expected;
    let kind = frame.compression;
    let used = match frame.body {
      Body::FileChunk(chunk) => {
        let metrics = ctx.tally.answer(&chunk);
        st.reply(request, Body::Metrics(metrics), kind)
      }
      Body::Echo(echo) => st.reply(request, Body::Echo(echo), kind),
      Body::ShmOffer(offer) => {
        let answer = ctx.shm.offer(offer).await;
        st.reply(request, Body::ShmAnswer(answer), kind)
      }
      other => {
        let message = format!("{} has no request handler for message type {}", ctx.node_id, other.id());
        let reply = ErrorReply { request, code: "E_UNKNOWN_MESSAGE_TYPE".into(), message };
        st.numbered(None, Body::ErrorReply(reply), FLAG_RESPONSE, None)
      }
    };
    if let Some(a) = used {
      ctx.tally.compressed_out(a);
    }
    return Ok(None);
  }
  if let Body::FileChunk(chunk) = &frame.body {
    ctx.tally.take(chunk);
  }
  Ok(None)
}

