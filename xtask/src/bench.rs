//! `cargo xtask bench`: the driver's own stress run in Wine, read back into a table.
//!
//! The numbers are what the driver measured with `KeQueryPerformanceCounter` and logged; this
//! only runs it (once per API path and thread count) and lines the results up. Under Wine they
//! show the relative cost of the paths on this machine, not Windows' absolute numbers.

use anyhow::{Context, Result, bail};

use crate::build;
use crate::cli::{Options, Value};
use crate::packages;
use crate::wine::{Load, Prefix};

/// One stress run's numbers.
#[derive(Debug, Default, PartialEq)]
pub struct Row {
    pub threads: u32,
    pub path: String,
    pub floor_ns: f64,
    pub lookaside_ns: f64,
    pub pool_ns: f64,
    pub hit_rate: String,
    pub balanced: bool,
}

/// The number before `" ns per pair"` on the line after `marker`.
fn ns_after(transcript: &[String], marker: &str) -> Option<(String, f64)> {
    transcript.iter().find_map(|line| {
        let rest = line.split(marker).nth(1)?;
        let (name, rest) = rest.split_once(": ")?;
        let ns = rest.split(" ns per pair").next()?.parse().ok()?;
        Some((name.to_owned(), ns))
    })
}

/// Reads the stress lines of one transcript.
pub fn row(transcript: &[String], threads: u32) -> Option<Row> {
    let (_, floor_ns) = ns_after(transcript, "Stress slist-floor")?;
    let (path, lookaside_ns) = ns_after(transcript, "Stress lookaside-")?;
    let (_, pool_ns) = ns_after(transcript, "Stress pool")?;
    let hit_rate = transcript.iter().find_map(|line| {
        line.split("Stress hit rate: ")
            .nth(1)?
            .split(' ')
            .next()
            .map(str::to_owned)
    })?;
    let balanced = transcript
        .iter()
        .any(|line| line.contains("Stress counters balance:"));
    Some(Row {
        threads,
        path,
        floor_ns,
        lookaside_ns,
        pool_ns,
        hit_rate,
        balanced,
    })
}

pub fn run(options: &Options) -> Result<()> {
    packages::ensure(&[packages::BUILD, packages::WINE], options.verbose)?;
    let artifacts = build::all(options)?;
    let prefix = Prefix::locate(options);
    prefix.prepare(&artifacts)?;
    let pairs = options
        .parameters
        .iter()
        .find_map(|(name, value)| match (name.as_str(), value) {
            ("StressIterations", Value::Dword(n)) => Some(*n),
            _ => None,
        })
        .unwrap_or(1_000_000);
    let threads = if options.bench_threads.is_empty() {
        vec![1, 2]
    } else {
        options.bench_threads.clone()
    };
    let mut rows = Vec::new();
    for &count in &threads {
        for (path, api_path) in [("exported", 1), ("inline", 2)] {
            let mut parameters: Vec<(String, Value)> = options
                .parameters
                .iter()
                .filter(|(name, _)| {
                    !["StressIterations", "StressThreads", "ApiPath"].contains(&name.as_str())
                })
                .cloned()
                .collect();
            parameters.push(("StressIterations".into(), Value::Dword(pairs)));
            parameters.push(("StressThreads".into(), Value::Dword(count)));
            parameters.push(("ApiPath".into(), Value::Dword(api_path)));
            prefix.set_parameters(&parameters)?;
            let load: Load = prefix.start()?;
            let row = row(&load.transcript, count).with_context(|| {
                format!("no stress results in the transcript ({path}, {count} threads)")
            })?;
            if !row.balanced {
                bail!("the counters did not balance ({path}, {count} threads)");
            }
            rows.push(row);
        }
    }
    println!();
    println!(
        "{pairs} alloc+free pairs per thread, 32-byte blocks, ns per pair per thread (Wine, this machine)"
    );
    println!(
        "{:>7}  {:<9} {:>11} {:>10} {:>9} {:>16} {:>15} {:>9}",
        "threads",
        "api path",
        "SList floor",
        "lookaside",
        "pool",
        "lookaside/floor",
        "pool/lookaside",
        "hit rate"
    );
    for row in &rows {
        println!(
            "{:>7}  {:<9} {:>11.1} {:>10.1} {:>9.1} {:>15.2}x {:>14.2}x {:>9}",
            row.threads,
            row.path,
            row.floor_ns,
            row.lookaside_ns,
            row.pool_ns,
            row.lookaside_ns / row.floor_ns,
            row.pool_ns / row.lookaside_ns,
            row.hit_rate
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::row;

    #[test]
    fn reads_the_stress_lines() {
        let transcript: Vec<String> = [
            "LookasideList:   Stress: 1000 alloc+free pairs per thread, 2 thread(s)",
            "LookasideList:   Stress slist-floor: 12.5 ns per pair, 2 thread(s)",
            "LookasideList:   Stress lookaside-inline: 30.1 ns per pair, 2 thread(s), 2.40x the floor",
            "LookasideList:   Stress pool: 150.0 ns per pair, 2 thread(s), 4.98x the lookaside list",
            "LookasideList:   Stress hit rate: 99.99% (1 misses in 2000 allocations, 0 failed)",
            "LookasideList:   Stress counters balance: TotalAllocates 2010 - TotalFrees 2010 = 0, failed allocations 0",
        ]
        .map(String::from)
        .to_vec();
        let row = row(&transcript, 2).expect("a row");
        assert_eq!(row.path, "inline");
        assert!((row.floor_ns - 12.5).abs() < 1e-9);
        assert!((row.lookaside_ns - 30.1).abs() < 1e-9);
        assert!((row.pool_ns - 150.0).abs() < 1e-9);
        assert_eq!(row.hit_rate, "99.99%");
        assert!(row.balanced);
        assert!(super::row(&transcript[..2], 2).is_none());
    }
}
