//! The acceptor's side of the link handshake (docs/PROTOCOL.md section 7): both sides send a Hello in
//! the universal wire, agree on version, wire and frame size from the two Hellos (the initiator's order
//! decides), then send an Auth carrying the HMAC-SHA256 token proof, or a Close naming the refusal.

use crate::compress::Algorithm;
use crate::error::PeerError;
use crate::messages::{Auth, Body, Close, Hello, Wire};
use crate::wire::{encode_frame, FrameReader, MAX_FRAME_SIZE};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest handshake frame accepted before the wire is agreed.
pub const MAX_HANDSHAKE_FRAME: usize = 64 * 1024;
/// The protocol versions this node speaks.
pub const PROTOCOL_VERSIONS: [u32; 1] = [1];
/// The wires this node accepts, in its order of preference.
pub const WIRES: [Wire; 2] = [Wire::Rust, Wire::Universal];

const AUTH_LABEL: &[u8] = b"tmesh-link-auth-v1";

/// Who this node is, as its Hello announces it.
#[derive(Clone, Debug)]
pub struct Identity {
  /// Node id.
  pub node_id: String,
  /// Machine id (equal ids mean shared memory is possible).
  pub machine_id: String,
  /// Shared token for the HMAC challenge, if configured.
  pub token: Option<String>,
  /// The server's session id, shared by every link it accepts.
  pub session_id: String,
  /// Compression algorithms offered in the Hello (section 7.9), in this node's order of preference.
  pub compression: Vec<Algorithm>,
}

/// What the handshake agreed on.
#[derive(Debug)]
pub struct Agreement {
  /// The wire of every frame after the handshake.
  pub wire: Wire,
  /// The agreed version.
  pub version: u32,
  /// Compression algorithms both sides offered, in the initiator's order (section 7.2).
  pub compressions: Vec<Algorithm>,
  /// The peer's Hello.
  pub peer: Hello,
  /// The peer's Auth (where it resumes this side's stream).
  pub peer_auth: Auth,
  /// Whether this side's Auth named the peer's session (it holds state to resume it).
  pub offered_resume: bool,
}

/// 16 fresh random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
  use std::io::Read;
  let mut out = [0u8; N];
  std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out)).expect("reading /dev/urandom");
  out
}

/// This node's Hello for one connection (a fresh nonce each time).
pub fn local_hello(me: &Identity) -> Hello {
  Hello {
    node_id: me.node_id.clone(),
    language: "rust".into(),
    machine_id: me.machine_id.clone(),
    protocol_versions: PROTOCOL_VERSIONS.to_vec(),
    wires: WIRES.iter().map(|w| w.name().to_owned()).collect(),
    // What this node reads; the initiator compresses only with algorithms both sides list (section 7.2).
    compression: me.compression.iter().map(|a| a.name().to_owned()).collect(),
    max_frame_size: MAX_FRAME_SIZE as u32,
    session_id: me.session_id.clone(),
    nonce: random_bytes::<16>().to_vec(),
  }
}

/// Agree from the initiator's and the acceptor's Hellos: the highest common version, the first wire of the
/// initiator's list that the acceptor also lists, the smaller frame limit.
pub fn agree(initiator: &Hello, acceptor: &Hello) -> Result<(u32, Wire, usize), PeerError> {
  let version = initiator.protocol_versions.iter().filter(|v| acceptor.protocol_versions.contains(v)).max().copied();
  let Some(version) = version else {
    return Err(PeerError::new(
      "E_VERSION_MISMATCH",
      format!(
        "no common protocol version: {} speaks {:?}, {} speaks {:?}",
        initiator.node_id, initiator.protocol_versions, acceptor.node_id, acceptor.protocol_versions
      ),
    ));
  };
  let known = ["rust", "swift", "universal"];
  let wire = initiator.wires.iter().find(|w| known.contains(&w.as_str()) && acceptor.wires.contains(w));
  let wire = match wire.map(String::as_str) {
    Some("rust") => Wire::Rust,
    Some("universal") => Wire::Universal,
    _ => {
      return Err(PeerError::new(
        "E_NO_COMMON_WIRE",
        format!(
          "no common wire: {} speaks {:?}, {} speaks {:?}",
          initiator.node_id, initiator.wires, acceptor.node_id, acceptor.wires
        ),
      ))
    }
  };
  let max = initiator.max_frame_size.min(acceptor.max_frame_size) as usize;
  Ok((version, wire, max))
}

/// The compression algorithms both Hellos list, in the initiator's order (unknown names are skipped).
pub fn agree_compression(initiator: &Hello, acceptor: &Hello) -> Vec<Algorithm> {
  initiator
    .compression
    .iter()
    .filter(|c| acceptor.compression.contains(c))
    .filter_map(|c| Algorithm::from_name(c))
    .collect()
}

/// HMAC-SHA256(key = token, "tmesh-link-auth-v1" 0 nodeId 0 || ownNonce || peerNonce).
pub fn auth_proof(token: &str, node_id: &str, own_nonce: &[u8], peer_nonce: &[u8]) -> Vec<u8> {
  let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes()).expect("HMAC takes keys of any length");
  mac.update(AUTH_LABEL);
  mac.update(&[0]);
  mac.update(node_id.as_bytes());
  mac.update(&[0]);
  mac.update(own_nonce);
  mac.update(peer_nonce);
  mac.finalize().into_bytes().to_vec()
}

/// Check the peer's proof, symmetric as in section 7.3: with a token, an empty or wrong proof is E_AUTH;
/// without one, a non-empty proof is E_AUTH (the peer demands a token this side cannot prove).
pub fn verify_proof(token: Option<&str>, peer: &Hello, own_nonce: &[u8], proof: &[u8]) -> Result<(), PeerError> {
  match token.filter(|t| !t.is_empty()) {
    None if proof.is_empty() => Ok(()),
    None => Err(PeerError::new("E_AUTH", format!("peer {} requires token authentication; this side has no token", peer.node_id))),
    Some(_) if proof.is_empty() => {
      Err(PeerError::new("E_AUTH", format!("peer {} sent no token proof; this side requires one", peer.node_id)))
    }
    Some(token) => {
      let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes()).expect("HMAC takes keys of any length");
      mac.update(AUTH_LABEL);
      mac.update(&[0]);
      mac.update(peer.node_id.as_bytes());
      mac.update(&[0]);
      mac.update(&peer.nonce);
      mac.update(own_nonce);
      // verify_slice compares in constant time.
      mac.verify_slice(proof).map_err(|_| PeerError::new("E_AUTH", format!("peer {} sent a wrong token proof", peer.node_id)))
    }
  }
}

/// A Close frame in the universal wire (the handshake's refusal).
pub fn close_frame(wire: Wire, error: &PeerError) -> Vec<u8> {
  let message: String = error.message.chars().take(512).collect();
  encode_frame(wire, &Body::Close(Close { code: error.code.to_owned(), message }), 0, 0)
}

/// Run the acceptor's handshake on `stream`. Bytes that follow the peer's Auth stay in `reader`.
/// `resume_point` gives, for the peer's Hello, the last sequence received from its session when this node
/// still holds that session's state (the Auth then names it, section 7.5). On a failure this side
/// detects, it sends a Close naming the code before returning the error.
pub async fn accept(
  stream: &mut TcpStream,
  reader: &mut FrameReader,
  me: &Identity,
  resume_point: impl FnOnce(&Hello) -> Option<u64>,
) -> Result<Agreement, PeerError> {
  let hello = local_hello(me);
  stream.write_all(&encode_frame(Wire::Universal, &Body::Hello(hello.clone()), 0, 0)).await?;
  match exchange(stream, reader, me, &hello, resume_point).await {
    Ok(a) => Ok(a),
    Err((error, send_close)) => {
      if send_close {
        let _ = stream.write_all(&close_frame(Wire::Universal, &error)).await;
        let _ = stream.shutdown().await;
      }
      Err(error)
    }
  }
}

async fn next_frame(stream: &mut TcpStream, reader: &mut FrameReader) -> Result<Body, (PeerError, bool)> {
  let mut buf = vec![0u8; 16 * 1024];
  loop {
    match reader.next_frame() {
      Ok(Some(frame)) => return Ok(frame.body),
      Ok(None) => {}
      Err(e) => return Err((PeerError::new("E_HANDSHAKE", format!("malformed handshake frame: {e}")), true)),
    }
    let n = stream.read(&mut buf).await.map_err(|e| (PeerError::from(e), false))?;
    if n == 0 {
      return Err((PeerError::new("E_CONNECTION", "connection closed during the handshake"), false));
    }
    reader.push(&buf[..n]);
  }
}

/// The peer's refusal fails this side with the code it names (section 7.3), E_HANDSHAKE if unknown here.
fn refused(close: &Close) -> (PeerError, bool) {
  const CODES: [&str; 6] = ["E_AUTH", "E_VERSION_MISMATCH", "E_NO_COMMON_WIRE", "E_CONNECTION", "E_FRAME_TOO_LARGE", "E_HANDSHAKE"];
  let code = CODES.iter().find(|c| **c == close.code).copied().unwrap_or("E_HANDSHAKE");
  (PeerError::new(code, format!("refused by the peer: {}: {}", close.code, close.message)), false)
}

async fn exchange(
  stream: &mut TcpStream,
  reader: &mut FrameReader,
  me: &Identity,
  hello: &Hello,
  resume_point: impl FnOnce(&Hello) -> Option<u64>,
) -> Result<Agreement, (PeerError, bool)> {
  let peer = match next_frame(stream, reader).await? {
    Body::Hello(h) => h,
    Body::Close(c) => return Err(refused(&c)),
    other => {
      return Err((PeerError::new("E_HANDSHAKE", format!("expected a Hello, got message type {}", other.id())), true))
    }
  };
  let (version, wire, max) = agree(&peer, hello).map_err(|e| (e, true))?;
  let compressions = agree_compression(&peer, hello);
  let proof = match me.token.as_deref().filter(|t| !t.is_empty()) {
    Some(token) => auth_proof(token, &me.node_id, &hello.nonce, &peer.nonce),
    None => Vec::new(),
  };
  let resume = resume_point(&peer);
  let auth = match resume {
    Some(received) => Auth { proof, resume_session: peer.session_id.clone(), resume_received: received },
    None => Auth { proof, resume_session: String::new(), resume_received: 0 },
  };
  stream.write_all(&encode_frame(Wire::Universal, &Body::Auth(auth), 0, 0)).await.map_err(|e| (e.into(), false))?;
  let peer_auth = match next_frame(stream, reader).await? {
    Body::Auth(a) => a,
    Body::Close(c) => return Err(refused(&c)),
    other => {
      return Err((PeerError::new("E_HANDSHAKE", format!("expected an Auth, got message type {}", other.id())), true))
    }
  };
  verify_proof(me.token.as_deref(), &peer, &hello.nonce, &peer_auth.proof).map_err(|e| (e, true))?;
  // The smaller of both sides' limits applies to every later frame.
  reader.switch(wire, max.min(MAX_FRAME_SIZE));
  reader.accept(&compressions);
  Ok(Agreement { wire, version, compressions, peer, peer_auth, offered_resume: resume.is_some() })
}

#[cfg(test)]
mod tests {
  use super::*;

  fn hello(id: &str, wires: &[&str]) -> Hello {
    Hello {
      node_id: id.into(),
      protocol_versions: vec![1],
      wires: wires.iter().map(|w| w.to_string()).collect(),
      max_frame_size: 1 << 20,
      ..Default::default()
    }
  }

  #[test]
  fn proof_matches_node_crypto() {
    // node -e "crypto.createHmac('sha256','secret').update('tmesh-link-auth-v1\0a\0')
    //   .update(Buffer.alloc(16,0xab)).update(Buffer.alloc(16,0xcd)).digest('hex')"
    let proof = auth_proof("secret", "a", &[0xab; 16], &[0xcd; 16]);
    let hex: String = proof.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "d89edcf8f48a83dd53d94c342258bf69e731cf9973904c2aa1009798aeaba919");
    let mut peer = hello("a", &[]);
    peer.nonce = vec![0xab; 16];
    assert!(verify_proof(Some("secret"), &peer, &[0xcd; 16], &proof).is_ok());
    assert_eq!(verify_proof(Some("other"), &peer, &[0xcd; 16], &proof).unwrap_err().code, "E_AUTH");
    assert_eq!(verify_proof(Some("secret"), &peer, &[0xcd; 16], &[]).unwrap_err().code, "E_AUTH");
    assert_eq!(verify_proof(None, &peer, &[0xcd; 16], &proof).unwrap_err().code, "E_AUTH");
    assert!(verify_proof(None, &peer, &[0xcd; 16], &[]).is_ok());
  }

  #[test]
  fn compression_is_what_both_offer_in_the_initiator_order() {
    let mut ts = hello("t", &["rust"]);
    ts.compression = vec!["lz4".into(), "brotli".into(), "zstd".into(), "deflate".into()];
    let mut me = hello("r", &["rust"]);
    me.compression = vec!["zstd".into(), "deflate".into(), "lz4".into()];
    assert_eq!(agree_compression(&ts, &me), vec![Algorithm::Lz4, Algorithm::Zstd, Algorithm::Deflate]);
    me.compression = vec!["deflate".into()];
    assert_eq!(agree_compression(&ts, &me), vec![Algorithm::Deflate]);
    me.compression.clear();
    assert!(agree_compression(&ts, &me).is_empty());
  }

  #[test]
  fn the_initiator_order_decides_the_wire() {
    let me = hello("r", &["rust", "universal"]);
    assert_eq!(agree(&hello("t", &["universal", "rust", "swift"]), &me).unwrap().1, Wire::Universal);
    assert_eq!(agree(&hello("t", &["swift", "rust", "universal"]), &me).unwrap().1, Wire::Rust);
    assert_eq!(agree(&hello("t", &["swift"]), &me).unwrap_err().code, "E_NO_COMMON_WIRE");
    let mut old = hello("t", &["rust"]);
    old.protocol_versions = vec![7];
    assert_eq!(agree(&old, &me).unwrap_err().code, "E_VERSION_MISMATCH");
  }
}
