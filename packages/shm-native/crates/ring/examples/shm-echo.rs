//! Echo peer in Rust for the cross-language test: `shm-echo <name>` opens the channel and sends back
//! every message (same type) until the other end closes. Uses the blocking API (futex waits).

use std::time::Duration;
use tmesh_shm::{Channel, ChannelOptions, MessageMeta, ShmError};

fn main() {
  let name = std::env::args().nth(1).expect("usage: shm-echo <name>");
  let mut ch = match Channel::open(&name, &ChannelOptions::default()) {
    Ok(c) => c,
    Err(e) => {
      eprintln!("{e}");
      std::process::exit(2);
    }
  };
  println!("ready");
  loop {
    match ch.recv(Some(Duration::from_secs(30))) {
      Ok(m) => {
        let meta = MessageMeta {
          message_type: m.meta.message_type,
          flags: m.meta.flags,
          ..Default::default()
        };
        if let Err(e) = ch.send(&m.data, meta, Some(Duration::from_secs(30))) {
          eprintln!("{e}");
          std::process::exit(1);
        }
      }
      Err(ShmError::Closed(_)) => break,
      Err(e) => {
        eprintln!("{e}");
        std::process::exit(1);
      }
    }
  }
  ch.close();
}
