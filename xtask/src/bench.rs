//! `cargo xtask bench`: the driver's own stress run in Wine, read back into a table and
//! `target/bench/latest.json`.
//!
//! The numbers are what the driver measured with `KeQueryPerformanceCounter` and logged; this
//! only runs it (once per list mode, thread count and API path) and lines the results up.
//! Under Wine they show the relative cost of the paths on this machine, not Windows' absolute
//! numbers (the pool, in particular, is Wine's heap, not the NT pool).

use std::fmt::Write as _;
use std::fs;

use anyhow::{Context, Result, bail};

use crate::build;
use crate::cli::{Options, Value};
use crate::packages;
use crate::wine::{Load, Session};

/// The list modes, as the table names them, with their `ListMode` values.
const LIST_MODES: [(&str, u32); 2] = [("shared", 0), ("per-processor", 1)];
/// The API paths, as the table names them, with their `ApiPath` values.
const API_PATHS: [(&str, u32); 2] = [("exported", 1), ("inline", 2)];

/// Single thread: lookaside alloc+free at most this many times the SList floor.
const FLOOR_GOAL: f64 = 1.25;
/// Per-processor lists: one thread's cost at 2 threads at most this many times its cost alone.
const SCALING_GOAL: f64 = 1.5;
/// Hit rate in every row, in percent.
const HIT_RATE_GOAL: f64 = 99.0;

/// One stress run's numbers.
#[derive(Debug, Default, PartialEq)]
pub struct Row {
    pub threads: u32,
    pub path: String,
    pub list: String,
    pub floor_ns: f64,
    pub lookaside_ns: f64,
    pub pool_ns: f64,
    /// Percent.
    pub hit_rate: f64,
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
pub fn row(transcript: &[String], threads: u32, list: &str) -> Option<Row> {
    let (_, floor_ns) = ns_after(transcript, "Stress slist-floor")?;
    let (path, lookaside_ns) = ns_after(transcript, "Stress lookaside-")?;
    let (_, pool_ns) = ns_after(transcript, "Stress pool")?;
    let hit_rate = transcript.iter().find_map(|line| {
        line.split("Stress hit rate: ")
            .nth(1)?
            .split('%')
            .next()?
            .parse()
            .ok()
    })?;
    let balanced = transcript
        .iter()
        .any(|line| line.contains("Stress tallies balance:"));
    Some(Row {
        threads,
        path,
        list: list.to_owned(),
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
    let session = Session::open(options, &artifacts)?;
    let given = |wanted: &str| {
        options
            .parameters
            .iter()
            .find_map(|(name, value)| match (name.as_str(), value) {
                (name, Value::Dword(n)) if name == wanted => Some(*n),
                _ => None,
            })
    };
    let pairs = given("StressIterations").unwrap_or(1_000_000);
    let modes: Vec<(&str, u32)> = match given("ListMode") {
        Some(mode) => LIST_MODES.into_iter().filter(|m| m.1 == mode).collect(),
        None => LIST_MODES.to_vec(),
    };
    // ApiPath 1 or 2 measures that path alone; 0 (auto) or none, both.
    let paths: Vec<(&str, u32)> = match given("ApiPath") {
        Some(path @ 1..=2) => API_PATHS.into_iter().filter(|p| p.1 == path).collect(),
        _ => API_PATHS.to_vec(),
    };
    let threads = if options.bench_threads.is_empty() {
        vec![1, 2]
    } else {
        options.bench_threads.clone()
    };
    let mut rows = Vec::new();
    for &(list, list_mode) in &modes {
        for &count in &threads {
            for &(path, api_path) in &paths {
                let mut parameters: Vec<(String, Value)> = options
                    .parameters
                    .iter()
                    .filter(|(name, _)| {
                        !["StressIterations", "StressThreads", "ApiPath", "ListMode"]
                            .contains(&name.as_str())
                    })
                    .cloned()
                    .collect();
                parameters.push(("StressIterations".into(), Value::Dword(pairs)));
                parameters.push(("StressThreads".into(), Value::Dword(count)));
                parameters.push(("ApiPath".into(), Value::Dword(api_path)));
                parameters.push(("ListMode".into(), Value::Dword(list_mode)));
                let load: Load = session.load(&parameters)?;
                let row = row(&load.transcript, count, list).with_context(|| {
                    format!("no stress results in the transcript ({list}, {path}, {count} threads)")
                })?;
                if !row.balanced {
                    bail!("the threads' tallies did not balance ({list}, {path}, {count} threads)");
                }
                rows.push(row);
            }
        }
    }
    println!();
    print!("{}", table(pairs, &rows));
    print!("{}", goals(&rows));
    let json = build::root().join("target/bench/latest.json");
    fs::create_dir_all(json.parent().expect("a directory"))?;
    fs::write(&json, to_json(pairs, &rows))
        .with_context(|| format!("writing {}", json.display()))?;
    println!("written: {}", json.display());
    Ok(())
}

/// The table as printed.
fn table(pairs: u32, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{pairs} alloc+free pairs per thread, 32-byte blocks, ns per pair per thread (Wine, this machine)"
    );
    let _ = writeln!(
        out,
        "{:<13}  {:>7}  {:<9} {:>11} {:>10} {:>9} {:>16} {:>15} {:>9}",
        "list",
        "threads",
        "api path",
        "SList floor",
        "lookaside",
        "pool",
        "lookaside/floor",
        "pool/lookaside",
        "hit rate"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<13}  {:>7}  {:<9} {:>11.1} {:>10.1} {:>9.1} {:>15.2}x {:>14.2}x {:>8.2}%",
            row.list,
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
    out
}

/// The issue's goals, judged on these rows (printed, never failing the command: the numbers
/// of a shared, noisy machine).
fn goals(rows: &[Row]) -> String {
    let mut out = String::from("goals, this run:\n");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    for row in rows.iter().filter(|row| row.threads == 1) {
        let ratio = row.lookaside_ns / row.floor_ns;
        let _ = writeln!(
            out,
            "  1 thread, {} {}: lookaside {ratio:.2}x the floor (goal <= {FLOOR_GOAL}x): {}",
            row.list,
            row.path,
            verdict(ratio <= FLOOR_GOAL)
        );
    }
    for row in rows
        .iter()
        .filter(|row| row.list == "per-processor" && row.threads == 2)
    {
        let alone = rows
            .iter()
            .find(|one| one.list == row.list && one.path == row.path && one.threads == 1);
        if let Some(alone) = alone {
            let ratio = row.lookaside_ns / alone.lookaside_ns;
            let _ = writeln!(
                out,
                "  per-processor {}: one thread at 2 threads {ratio:.2}x its cost alone (goal <= {SCALING_GOAL}x): {}",
                row.path,
                verdict(ratio <= SCALING_GOAL)
            );
        }
    }
    let lowest = rows
        .iter()
        .map(|row| row.hit_rate)
        .fold(f64::INFINITY, f64::min);
    let _ = writeln!(
        out,
        "  lowest hit rate {lowest:.2}% (goal >= {HIT_RATE_GOAL}% in every row): {}",
        verdict(lowest >= HIT_RATE_GOAL)
    );
    out
}

/// `{"pairs": N, "rows": [{"threads": 1, "api_path": "exported", "list": "shared", ...}]}`:
/// the numbers the table shows, as the driver printed them.
fn to_json(pairs: u32, rows: &[Row]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{{\"threads\": {}, \"api_path\": \"{}\", \"list\": \"{}\", \"floor_ns\": {:?}, \
                 \"lookaside_ns\": {:?}, \"pool_ns\": {:?}, \"hit_rate\": {:?}}}",
                row.threads,
                row.path,
                row.list,
                row.floor_ns,
                row.lookaside_ns,
                row.pool_ns,
                row.hit_rate
            )
        })
        .collect();
    format!(
        "{{\"pairs\": {pairs}, \"rows\": [\n  {}\n]}}\n",
        rows.join(",\n  ")
    )
}

#[cfg(test)]
mod tests {
    use super::{Row, row, to_json};

    fn transcript() -> Vec<String> {
        [
            "LookasideList:   Stress: 1000 alloc+free pairs per thread, 2 thread(s)",
            "LookasideList:   Stress slist-floor: 12.5 ns per pair, 2 thread(s)",
            "LookasideList:   Stress lookaside-inline: 30.1 ns per pair, 2 thread(s), 2.40x the floor",
            "LookasideList:   Stress pool: 150.0 ns per pair, 2 thread(s), 4.98x the lookaside list",
            "LookasideList:   Stress hit rate: 99.95% (1 misses in 2000 allocations, 0 failed)",
            "LookasideList:   Stress tallies balance: 6000 blocks allocated and 6000 freed, 0 allocations failed",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn reads_the_stress_lines() {
        let transcript = transcript();
        let row = row(&transcript, 2, "per-processor").expect("a row");
        assert_eq!(row.path, "inline");
        assert_eq!(row.list, "per-processor");
        assert!((row.floor_ns - 12.5).abs() < 1e-9);
        assert!((row.lookaside_ns - 30.1).abs() < 1e-9);
        assert!((row.pool_ns - 150.0).abs() < 1e-9);
        assert!((row.hit_rate - 99.95).abs() < 1e-9);
        assert!(row.balanced);
        assert!(super::row(&transcript[..2], 2, "shared").is_none());
        let unbalanced: Vec<String> = transcript[..5].to_vec();
        assert!(!super::row(&unbalanced, 2, "shared").unwrap().balanced);
    }

    #[test]
    fn json_has_the_issues_shape_and_the_printed_numbers() {
        let rows = [
            Row {
                threads: 1,
                path: "exported".into(),
                list: "shared".into(),
                floor_ns: 18.2,
                lookaside_ns: 33.4,
                pool_ns: 66.1,
                hit_rate: 100.0,
                balanced: true,
            },
            row(&transcript(), 2, "per-processor").unwrap(),
        ];
        assert_eq!(
            to_json(1_000_000, &rows),
            "{\"pairs\": 1000000, \"rows\": [\n  \
             {\"threads\": 1, \"api_path\": \"exported\", \"list\": \"shared\", \"floor_ns\": 18.2, \
             \"lookaside_ns\": 33.4, \"pool_ns\": 66.1, \"hit_rate\": 100.0},\n  \
             {\"threads\": 2, \"api_path\": \"inline\", \"list\": \"per-processor\", \"floor_ns\": 12.5, \
             \"lookaside_ns\": 30.1, \"pool_ns\": 150.0, \"hit_rate\": 99.95}\n]}\n"
        );
    }
}
