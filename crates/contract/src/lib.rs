//! What the LookasideList driver and the tools that build, load and judge it share, each
//! written once:
//!
//! - [`parameters`]: the registry parameters' table (name, range, default, unit, the
//!   `cargo xtask` flag that sets it), from which the driver reads the registry and the tool
//!   makes its command line, its `--help` and the docs' table;
//! - [`seed`]: the seed's counts (rounds, allocations, addresses, reuses) and transcript;
//! - [`anchors`]: every piece of a line that a tool or a test parses out of the driver's, the
//!   Wine fixture's or Wine's own output (a host test proves each one occurs in the driver's
//!   simulated output, so a format string and its parser cannot drift apart);
//! - [`checks`] (feature `std`): the transcript's checks, used by the host tests and by
//!   `cargo xtask test` alike.
//!
//! `no_std` without the `std` feature: the driver takes the table and the counts.

#![cfg_attr(not(feature = "std"), no_std)]

pub mod anchors;
#[cfg(feature = "std")]
pub mod checks;
pub mod parameters;
pub mod seed;
