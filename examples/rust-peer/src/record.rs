//! The runtime-directory record (docs/PROTOCOL.md section 8.1): `<dir>/<id>.json`, mode 0600, written to
//! a temporary name then renamed, removed when the node stops.

use crate::wire::now_ms;
use serde_json::json;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The node's own record; removes the file when dropped.
pub struct Record {
  path: PathBuf,
}

/// What the record announces.
pub struct Announce<'a> {
  /// Node id.
  pub id: &'a str,
  /// Machine id.
  pub machine_id: &'a str,
  /// TCP host and port listened on.
  pub host: &'a str,
  /// TCP port.
  pub port: u16,
}

impl Record {
  /// Write `<dir>/<id>.json` (creating `dir` with mode 0700 if needed).
  pub fn write(dir: &Path, a: &Announce<'_>) -> std::io::Result<Record> {
    if !dir.exists() {
      fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let meta = fs::metadata(dir)?;
    if meta.permissions().mode() & 0o077 != 0 {
      fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    let record = json!({
      "info": {
        "id": a.id,
        "machineId": a.machine_id,
        "language": "rust",
        "endpoints": [
          { "kind": "tcp", "host": a.host, "port": a.port },
          { "kind": "shm", "name": a.id },
        ],
        "wires": ["rust", "universal"],
        "protocolVersions": [1],
      },
      "pid": std::process::id(),
      "announcedAt": now_ms(),
    });
    let path = dir.join(format!("{}.json", a.id));
    let tmp = dir.join(format!("{}.json.{}.tmp", a.id, std::process::id()));
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    f.write_all(record.to_string().as_bytes())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &path)?;
    Ok(Record { path })
  }

  /// Remove the record now.
  pub fn remove(&self) {
    let _ = fs::remove_file(&self.path);
  }
}

impl Drop for Record {
  fn drop(&mut self) {
    self.remove();
  }
}
