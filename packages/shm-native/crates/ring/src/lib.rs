//! tmesh-shm: cross-process shared-memory channels for tmesh.
//!
//! A channel is one shared-memory region (POSIX shm; a named file mapping on Windows) holding two
//! single-producer single-consumer byte rings (one per direction), a header with each end's pid, state
//! and heartbeat, and wait words (a futex on Linux, a named event on Windows, polled on macOS). Records
//! carry the seed's SMEM header (magic, version, data size, timestamp) plus message type, flags and a
//! sequence number. Messages larger than a ring are streamed in fragments. The byte layout is in
//! docs/PROTOCOL.md section 6; every OS call is in `platform/`.
//!
//! ```no_run
//! use tmesh_shm::{Channel, ChannelOptions, MessageMeta};
//! let mut a = Channel::create("demo", &ChannelOptions::default())?;
//! // The opener needs the creator's token, passed out of band (the facade sends it in its ShmOffer).
//! let mut b = Channel::open("demo", &ChannelOptions { token: Some(a.token()), ..Default::default() })?;
//! a.send(b"hello", MessageMeta { message_type: 1, ..Default::default() }, None)?;
//! assert_eq!(b.recv(None)?.data, b"hello");
//! # Ok::<(), tmesh_shm::ShmError>(())
//! ```

mod channel;
mod error;
pub mod layout;
mod platform;
pub mod region;
pub mod ring;

pub use channel::{cleanup_stale, list_regions, Channel, ChannelOptions, PeerState, RegionInfo, Role};
pub use error::{Result, ShmError};
pub use ring::{Lend, LentRecord, Message, MessageMeta, Payload};
