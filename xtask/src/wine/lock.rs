//! One run per prefix at a time: a lock file beside the prefix (`target/wine.lock`).
//!
//! Two runs in one prefix would replace each other's service and parameters and kill each
//! other's wineserver. The second waits, saying once which run it waits for (the holder writes
//! its process id and command line into the file), then runs with its own parameters. The lock
//! is the kernel's (`flock`): a run that ends in any way, killed included, releases it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::{interrupt, process};

/// The held lock; released when dropped (or when the process ends).
pub struct PrefixLock {
    _file: File,
}

/// The lock file of the prefix `dir`.
fn lock_path(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    dir.with_file_name(name)
}

impl PrefixLock {
    /// Takes the prefix's lock, waiting for the run that holds it.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let path = lock_path(dir);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if !said {
                        said = true;
                        let holder = fs::read_to_string(&path).unwrap_or_default();
                        process::progress(&format!(
                            "waiting for the run that is using the prefix {}: {}",
                            dir.display(),
                            holder.trim()
                        ));
                    }
                    interrupt::check_before_wine();
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::Error(error)) => {
                    return Err(error).with_context(|| format!("locking {}", path.display()));
                }
            }
        }
        let command: Vec<String> = std::env::args().skip(1).collect();
        file.set_len(0)?;
        write!(
            file,
            "process {} (cargo xtask {})",
            std::process::id(),
            command.join(" ")
        )?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_until_the_first_is_released() {
        let dir = std::env::temp_dir().join(format!("xtask-lock-{}/wine", std::process::id()));
        let first = PrefixLock::acquire(&dir).unwrap();
        let path = lock_path(&dir);
        assert!(fs::read_to_string(&path).unwrap().starts_with("process "));
        let other = File::open(&path).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        drop(first);
        other.try_lock().unwrap();
        let _ = fs::remove_dir_all(dir.parent().unwrap());
    }
}
