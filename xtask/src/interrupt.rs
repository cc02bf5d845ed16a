//! Ctrl-C (SIGINT) and SIGTERM while the driver runs in Wine: the run stops what it started.
//!
//! The handler (the `ctrlc` crate, with its `termination` feature for SIGTERM) only raises a
//! flag; the loops that wait on Wine look at it, stop the prefix's wineserver (which ends every
//! process of the prefix: services.exe, the winedevice.exe hosting the driver), say so in one
//! line and exit with 130, as a shell does for a command ended by SIGINT.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler; a second call (another session in the same command) does nothing,
/// where `ctrlc` would refuse a second handler.
pub fn install() -> Result<()> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let mut outcome = Ok(());
    INSTALLED.call_once(|| {
        outcome = ctrlc::set_handler(|| REQUESTED.store(true, Ordering::SeqCst))
            .context("installing the Ctrl-C handler");
    });
    outcome
}

/// The exit status after an interruption.
pub const EXIT_STATUS: i32 = 130;

/// Whether Ctrl-C or SIGTERM arrived. (What the run started is stopped by its owner: the Wine
/// prefix, [`crate::wine::Prefix::stop_if_interrupted`].)
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// If the run was interrupted before it started anything in Wine: exits 130.
pub fn check_before_wine() {
    if REQUESTED.load(Ordering::SeqCst) {
        eprintln!("interrupted before the driver was started");
        std::process::exit(EXIT_STATUS);
    }
}
