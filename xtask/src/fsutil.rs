//! Files under `target/` written so that an unchanged input leaves them untouched: cargo and
//! build scripts decide what to rebuild from modification times.

use std::path::Path;

use anyhow::{Context, Result};

/// Writes `contents` to `path` unless it holds exactly that already; whether it wrote.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// Makes `link` a symbolic link to `target`, replacing whatever else is there.
pub fn symlink_fresh(target: &Path, link: &Path) -> Result<()> {
    if std::fs::read_link(link).is_ok_and(|old| old == target) {
        return Ok(());
    }
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(link)?,
        Ok(_) => std::fs::remove_file(link)?,
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} to {}", link.display(), target.display()))
}

/// FNV-1a over `bytes`: a stable name for a content (not a defence against anyone).
pub fn content_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_what_changed_and_relinks() {
        let dir = std::env::temp_dir().join(format!("xtask-fsutil-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let file = dir.join("a/b.txt");
        assert!(write_if_changed(&file, b"one").unwrap());
        assert!(!write_if_changed(&file, b"one").unwrap());
        assert!(write_if_changed(&file, b"two").unwrap());
        let link = dir.join("link");
        symlink_fresh(&file, &link).unwrap();
        symlink_fresh(&dir, &link).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), dir);
        assert_ne!(content_hash(b"one"), content_hash(b"two"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
