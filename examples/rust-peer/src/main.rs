//! tmesh-rust-peer: a Rust tmesh node written from docs/PROTOCOL.md. It accepts links over TCP (the
//! acceptor side of section 7) in the Rust and universal wires, announces itself in the runtime directory
//! (section 8.1), opens shared-memory channels offered to it (section 8.2), counts every FileChunk it
//! receives and answers FileChunk requests with a Metrics report.
//!
//! Usage: tmesh-rust-peer --id <id> --runtime-dir <dir> [--host 127.0.0.1] [--port 0] [--machine-id <id>] [--token <t>] [--compression zstd,lz4,deflate|none]

mod link;
mod record;
mod session;
mod shm;
mod tally;

// The frame and handshake layers live in the library target (src/lib.rs) so the fuzz targets reach them.
use tmesh_rust_peer::{compress, error, handshake, messages, wire};

use handshake::Identity;
use link::{LinkEnd, NodeContext};
use messages::Wire;
use record::{Announce, Record};
use session::{Sessions, Stream};
use shm::ShmServer;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tally::Tally;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use wire::FrameReader;

/// Limit for the whole handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

struct Args {
  id: String,
  runtime_dir: PathBuf,
  host: String,
  port: u16,
  machine_id: Option<String>,
  token: Option<String>,
  compression: Vec<compress::Algorithm>,
}

fn usage(problem: &str) -> ! {
  eprintln!("tmesh-rust-peer: {problem}");
  eprintln!("usage: tmesh-rust-peer --id <id> --runtime-dir <dir> [--host 127.0.0.1] [--port 0] [--machine-id <id>] [--token <t>] [--compression zstd,lz4,deflate|none]");
  std::process::exit(2);
}

fn parse_args() -> Args {
  let mut args = Args {
    id: String::new(),
    runtime_dir: PathBuf::new(),
    host: "127.0.0.1".into(),
    port: 0,
    machine_id: None,
    token: None,
    compression: compress::OFFERED.to_vec(),
  };
  let mut it = std::env::args().skip(1);
  while let Some(flag) = it.next() {
    let mut value = || it.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
    match flag.as_str() {
      "--id" => args.id = value(),
      "--runtime-dir" => args.runtime_dir = PathBuf::from(value()),
      "--host" => args.host = value(),
      "--port" => args.port = value().parse().unwrap_or_else(|_| usage("--port must be a number 0..65535")),
      "--machine-id" => args.machine_id = Some(value()),
      "--token" => args.token = Some(value()),
      "--compression" => {
        let list = value();
        args.compression = if list == "none" {
          Vec::new()
        } else {
          list
            .split(',')
            .map(|n| compress::Algorithm::from_name(n).unwrap_or_else(|| usage(&format!("unknown compression {n}"))))
            .collect()
        };
      }
      other => usage(&format!("unknown argument {other}")),
    }
  }
  let id_ok = !args.id.is_empty()
    && args.id.len() <= 128
    && args.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
  if !id_ok {
    usage("--id must be 1-128 characters of [A-Za-z0-9._-]");
  }
  if args.runtime_dir.as_os_str().is_empty() {
    usage("--runtime-dir is required");
  }
  args
}

/// --machine-id, else TMESH_MACHINE_ID, else /etc/machine-id (then /var/lib/dbus/machine-id), trimmed.
fn machine_id(given: Option<String>) -> String {
  if let Some(id) = given.filter(|s| !s.is_empty()) {
    return id;
  }
  if let Ok(id) = std::env::var("TMESH_MACHINE_ID") {
    if !id.is_empty() {
      return id;
    }
  }
  for file in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
    if let Ok(text) = std::fs::read_to_string(file) {
      let id = text.trim();
      if !id.is_empty() {
        return id.to_owned();
      }
    }
  }
  usage("no machine id: give --machine-id or TMESH_MACHINE_ID (no /etc/machine-id here)");
}

fn log_enabled() -> bool {
  std::env::var_os("TMESH_PEER_LOG").is_some()
}

async fn serve_connection(mut stream: TcpStream, me: Arc<Identity>, ctx: Arc<NodeContext>, shutdown: watch::Receiver<bool>) {
  let _ = stream.set_nodelay(true);
  let mut reader = FrameReader::new(Wire::Universal, handshake::MAX_HANDSHAKE_FRAME);
  // The peer's parked stream state, taken when its Hello names a session this node holds (section 7.5).
  let mut taken: Option<(String, Stream)> = None;
  let resume_point = |peer: &messages::Hello| {
    let state = ctx.sessions.take(&peer.session_id)?;
    let received = state.received;
    taken = Some((peer.session_id.clone(), state));
    Some(received)
  };
  let accepted = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake::accept(&mut stream, &mut reader, &me, resume_point)).await;
  if !matches!(accepted, Ok(Ok(_))) {
    if let Some((session, state)) = taken.take() {
      ctx.sessions.put_back(&session, state);
    }
  }
  let agreement = match accepted {
    Ok(Ok(a)) => a,
    Ok(Err(e)) => {
      eprintln!("tmesh-rust-peer {}: handshake failed: {e}", me.node_id);
      return;
    }
    Err(_) => {
      let e = error::PeerError::new("E_HANDSHAKE", format!("handshake timed out after {} ms", HANDSHAKE_TIMEOUT.as_millis()));
      use tokio::io::AsyncWriteExt;
      let _ = stream.write_all(&handshake::close_frame(Wire::Universal, &e)).await;
      eprintln!("tmesh-rust-peer {}: {e}", me.node_id);
      return;
    }
  };
  let peer = agreement.peer.node_id.clone();
  let session = agreement.peer.session_id.clone();
  // Resume only when both Auths named the other's session, in the same wire; otherwise both sides start
  // fresh streams (the peer fails what it had not got acknowledged, E_PEER_GONE).
  let resumable = taken.map(|(_, state)| state).filter(|state| {
    agreement.offered_resume && agreement.peer_auth.resume_session == me.session_id && state.wire == agreement.wire
  });
  let resumed_from = resumable.as_ref().map(|_| agreement.peer_auth.resume_received);
  let state = resumable.unwrap_or_else(|| Stream::fresh(agreement.wire));
  let owner = ctx.sessions.own(&session);
  if log_enabled() {
    let how = if resumed_from.is_some() { "resumed" } else { "fresh" };
    eprintln!("tmesh-rust-peer {}: link from {peer}: {} wire, version {}, {how}", me.node_id, agreement.wire.name(), agreement.version);
  }
  let (end, state) = link::run(stream, reader, state, resumed_from, ctx.clone(), shutdown).await;
  match end {
    LinkEnd::Failed(e) => {
      eprintln!("tmesh-rust-peer {}: link from {peer} dropped: {e}", me.node_id);
      ctx.sessions.park(&session, owner, state);
    }
    end => {
      if log_enabled() {
        eprintln!("tmesh-rust-peer {}: link from {peer} ended: {end:?}", me.node_id);
      }
      ctx.sessions.forget(&session, owner);
    }
  }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
  let args = parse_args();
  let machine_id = machine_id(args.machine_id.clone());
  let listener = match TcpListener::bind((args.host.as_str(), args.port)).await {
    Ok(l) => l,
    Err(e) => usage(&format!("cannot listen on {}:{}: {e}", args.host, args.port)),
  };
  let port = listener.local_addr().map(|a| a.port()).unwrap_or(args.port);
  let session: [u8; 12] = handshake::random_bytes();
  let me = Arc::new(Identity {
    node_id: args.id.clone(),
    machine_id: machine_id.clone(),
    token: args.token.clone(),
    session_id: session.iter().map(|b| format!("{b:02x}")).collect(),
    compression: args.compression.clone(),
  });
  let tally = Arc::new(Tally::new(&args.id));
  let ctx = Arc::new(NodeContext {
    node_id: args.id.clone(),
    tally: tally.clone(),
    shm: ShmServer::new(tally),
    sessions: Sessions::default(),
  });
  let record = match Record::write(&args.runtime_dir, &Announce { id: &args.id, machine_id: &machine_id, host: &args.host, port }) {
    Ok(r) => r,
    Err(e) => usage(&format!("cannot write the record in {}: {e}", args.runtime_dir.display())),
  };
  let (shutdown_tx, shutdown_rx) = watch::channel(false);
  let mut sigterm = signal(SignalKind::terminate()).expect("SIGTERM handler");
  let mut sigint = signal(SignalKind::interrupt()).expect("SIGINT handler");
  {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::json!({ "ready": args.id, "port": port }));
    let _ = out.flush();
  }
  let mut links = tokio::task::JoinSet::new();
  loop {
    tokio::select! {
      accepted = listener.accept() => match accepted {
        Ok((stream, _)) => {
          links.spawn(serve_connection(stream, me.clone(), ctx.clone(), shutdown_rx.clone()));
        }
        Err(e) => eprintln!("tmesh-rust-peer {}: accept failed: {e}", args.id),
      },
      Some(_) = links.join_next(), if !links.is_empty() => {}
      _ = sigterm.recv() => break,
      _ = sigint.recv() => break,
    }
  }
  // Clean shutdown: withdraw the record, send Close("") on every link, close every shm channel (the last
  // end to close unlinks its region).
  record.remove();
  drop(listener);
  let _ = shutdown_tx.send(true);
  let _ = tokio::time::timeout(Duration::from_secs(2), async {
    while links.join_next().await.is_some() {}
  })
  .await;
  let stopper = ctx.clone();
  let _ = tokio::task::spawn_blocking(move || stopper.shm.stop()).await;
  drop(record);
}
