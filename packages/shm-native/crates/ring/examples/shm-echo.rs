//! Echo peer in Rust for the cross-language test: `shm-echo <name> <token>` opens the channel (the token is
//! the creator's, 32 hex digits) and sends back
//! every message (same type) until the other end closes. Uses the blocking API (futex waits).

use std::time::Duration;
use tmesh_shm::{Channel, ChannelOptions, MessageMeta, ShmError};

fn main() {
  let mut args = std::env::args().skip(1);
  let (Some(name), Some(hex)) = (args.next(), args.next()) else {
    eprintln!("usage: shm-echo <name> <token: 32 hex digits>");
    std::process::exit(2);
  };
  let mut token = [0u8; 16];
  for (i, b) in token.iter_mut().enumerate() {
    match hex.get(2 * i..2 * i + 2).map(|h| u8::from_str_radix(h, 16)) {
      Some(Ok(v)) if hex.len() == 32 => *b = v,
      _ => {
        eprintln!("shm-echo: the token must be 32 hex digits");
        std::process::exit(2);
      }
    }
  }
  let opts = ChannelOptions { token: Some(token), ..ChannelOptions::default() };
  let mut ch = match Channel::open(&name, &opts) {
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
