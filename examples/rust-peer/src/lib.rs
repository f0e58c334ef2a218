//! The frame and handshake layers of tmesh-rust-peer as a library, so that the fuzz targets in `fuzz/`
//! (and the unit tests) reach the same parsers the binary runs. The binary (`src/main.rs`) uses these
//! modules from here; the link, session, shared-memory and runtime-record parts stay in the binary.

pub mod compress;
pub mod error;
pub mod handshake;
pub mod messages;
pub mod wire;
