//! Where things are: the workspace root and the folders under `target/` the commands use.

use std::path::{Path, PathBuf};

/// The workspace root (the driver package's folder).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}
