//! The transcript's checks, shared by the driver's host tests and `cargo xtask test`, so both
//! hold the driver to the same seed lines and counts.

use std::fmt::Write as _;

use crate::anchors::{
    ALLOCATION_FAILED, BLOCK_ALLOCATED, BLOCK_RETURNED, BLOCK_RETURNED_END, DRAIN, ENTRY_REMOVED,
    INDENTED, PER_PROCESSOR_LISTS, PREFIX, PROCESSOR_LIST, STATISTICS,
};
use crate::parameters::Parameter;
use crate::seed::{ALLOCATIONS, FREES, REUSES, ROUNDS};

/// The seed's transcript ([`crate::seed::TRANSCRIPT`]).
pub const SEED: &str = crate::seed::TRANSCRIPT;

/// Compares a transcript with the lines it should be, line by line.
///
/// `Ok` when equal, else the first difference named by its line in `source` (the file the
/// expected lines come from), so a changed wording or count points at that line rather than at
/// two whole transcripts.
///
/// # Errors
///
/// `source line N: got "…", expected "…"`, or the two line counts when one text is a
/// beginning of the other.
pub fn compare_lines(actual: &str, expected: &str, source: &str) -> Result<(), String> {
    if actual == expected {
        return Ok(());
    }
    let mut actual_lines = actual.split('\n');
    let mut expected_lines = expected.split('\n');
    for number in 1.. {
        match (actual_lines.next(), expected_lines.next()) {
            (Some(got), Some(want)) if got == want => {}
            (Some(got), Some(want)) => {
                return Err(format!(
                    "{source} line {number}: got {got:?}, expected {want:?}"
                ));
            }
            (got, want) => {
                return Err(format!(
                    "{source} line {number}: got {}, expected {}",
                    got.map_or_else(|| "the end".to_owned(), |line| format!("{line:?}")),
                    want.map_or_else(|| "the end".to_owned(), |line| format!("{line:?}")),
                ));
            }
        }
    }
    unreachable!("two finite texts that differ differ at some line")
}

/// [`compare_lines`] against the seed's transcript, `seed.txt`; `named` is a run's seed lines
/// ([`seed_lines`]) with their addresses named ([`name_addresses`]).
///
/// # Errors
///
/// The first line that differs from `seed.txt`, numbered as in that file.
pub fn check_seed(named: &str) -> Result<(), String> {
    compare_lines(named, SEED, "crates/contract/seed.txt")
}

/// Replaces each 16-digit address with `A<n>`, numbered by first appearance, so transcripts
/// compare exactly while the tests still see which block is which.
///
/// One pass over the words, allocating only the output and the addresses: the host tests run
/// it under Miri too, where every allocation is slow.
#[must_use]
pub fn name_addresses(transcript: &str) -> (String, Vec<String>) {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = String::with_capacity(transcript.len());
    for piece in transcript.split_inclusive([' ', '\n']) {
        let word = piece.trim_end_matches([' ', '\n']);
        let is_address = word.len() == 16
            && word
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
        if is_address {
            let n = seen.iter().position(|s| *s == word).unwrap_or_else(|| {
                seen.push(word);
                seen.len() - 1
            });
            let _ = write!(out, "A{n}");
        } else {
            out.push_str(word);
        }
        out.push_str(&piece[word.len()..]);
    }
    (out, seen.into_iter().map(str::to_owned).collect())
}

/// The lines of the seed: every line except the driver's additions, which are indented by two
/// spaces after the prefix ([`INDENTED`]).
#[must_use]
pub fn seed_lines(transcript: &str) -> String {
    transcript
        .split_inclusive('\n')
        .filter(|line| !line.starts_with(INDENTED))
        .collect()
}

/// The `!lookaside` counters the seed scenario must produce for a list of this `Depth`.
#[must_use]
pub fn expected_counters(depth: u32) -> [(&'static str, u32); 6] {
    let (mut kept, mut allocate_misses, mut free_misses) = (0, 0, 0);
    let mut ops = Vec::new();
    for _ in 0..ROUNDS {
        ops.extend(['a', 'a', 'f']);
    }
    // The drain frees what the rounds left on the chain.
    ops.extend(std::iter::repeat_n('f', (FREES - ROUNDS) as usize));
    for op in ops {
        match op {
            'a' if kept > 0 => kept -= 1,
            'a' => allocate_misses += 1,
            _ if kept >= depth => free_misses += 1,
            _ => kept += 1,
        }
    }
    [
        ("TotalAllocates", ALLOCATIONS),
        ("TotalFrees", FREES),
        ("AllocateMisses", allocate_misses),
        ("FreeMisses", free_misses),
        ("Current Depth", kept),
        ("Max Depth", depth),
    ]
}

/// The value after `name = ` in the last statistics block: the list's, or with per-processor
/// lists, that of all lists together.
///
/// # Panics
/// When there is no such statistic: the caller's test fails, naming it.
#[must_use]
pub fn statistic(transcript: &str, name: &str) -> u32 {
    let line = transcript
        .lines()
        .rev()
        .find(|line| line.starts_with(STATISTICS) && line.contains(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in the statistics"));
    let after = line.split(&format!("{name} ")).nth(1).unwrap();
    let value = after
        .trim_start_matches([' ', '='])
        .split_whitespace()
        .next()
        .unwrap();
    value.trim_end_matches('%').parse().unwrap()
}

/// The entries left on the chain when the drain starts, first to last, and the entries the
/// rounds removed, given which allocation (1-based) fails: the seed's logic, stated directly.
#[must_use]
pub fn expected_order(failing: u32) -> (Vec<u32>, Vec<u32>) {
    let (mut chain, mut removed, mut allocation, mut index) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..ROUNDS {
        for _ in 0..2 {
            allocation += 1;
            if allocation != failing {
                index += 1;
                chain.insert(0, index);
            }
        }
        if !chain.is_empty() {
            removed.push(chain.remove(0));
        }
    }
    (chain, removed)
}

/// The entry numbers of the seed lines that end with `suffix` (`" removed"`, `" added"`), in
/// order.
#[must_use]
pub fn entry_numbers(transcript: &str, suffix: &str) -> Vec<u32> {
    transcript
        .lines()
        .filter_map(|line| line.strip_prefix(PREFIX)?.strip_suffix(suffix))
        .filter_map(|rest| rest.rsplit('#').next()?.parse().ok())
        .collect()
}

/// Checks that each block returned to the list is the one the next allocation hands out:
/// every round after the first starts that way, so there must be exactly [`REUSES`] such
/// pairs.
///
/// # Errors
/// Which pair differs, or how many pairs there were.
pub fn check_block_reuse(transcript: &str) -> Result<(), String> {
    let lines: Vec<&str> = transcript.lines().collect();
    let mut reused = 0;
    for pair in lines.windows(2) {
        let freed = pair[0]
            .strip_prefix(BLOCK_RETURNED)
            .and_then(|rest| rest.strip_suffix(BLOCK_RETURNED_END));
        let next = pair[1].strip_prefix(BLOCK_ALLOCATED);
        if let (Some(freed), Some(next)) = (freed, next) {
            if freed != next {
                return Err(format!("freed {freed}, then allocated {next}"));
            }
            reused += 1;
        }
    }
    if reused == REUSES {
        Ok(())
    } else {
        Err(format!(
            "{reused} reuses, expected {REUSES} (every round after the first)"
        ))
    }
}

/// Checks the seed lines of a run with `FailAllocationAt = k`: the k-th allocation attempt and
/// only it failed, and the rounds and the drain removed the entries the seed's logic implies.
///
/// # Errors
/// What differs.
pub fn check_fault_injection(seed: &str, k: u32) -> Result<(), String> {
    let attempts: Vec<&str> = seed
        .lines()
        .filter(|line| line.starts_with(BLOCK_ALLOCATED) || line.contains(ALLOCATION_FAILED))
        .collect();
    let failures = attempts
        .iter()
        .filter(|line| line.contains(ALLOCATION_FAILED))
        .count();
    let at_k = (k as usize)
        .checked_sub(1)
        .and_then(|index| attempts.get(index))
        .is_some_and(|line| line.contains(ALLOCATION_FAILED));
    if failures != 1 || !at_k {
        return Err(format!(
            "the failure is not (only) allocation #{k}: {attempts:?}"
        ));
    }
    let (rounds, drain) = seed.split_once(&format!("\n{DRAIN}")).ok_or("no drain")?;
    let (left, removed) = expected_order(k);
    let got = (
        entry_numbers(rounds, ENTRY_REMOVED),
        entry_numbers(drain, ENTRY_REMOVED),
    );
    if got == (removed.clone(), left.clone()) {
        Ok(())
    } else {
        Err(format!("removed {got:?}, expected {:?}", (removed, left)))
    }
}

/// With more than one processor, a statistics block per list and one for all together, whose
/// totals are the seed's allocations and frees. (One processor: one list, as the shared one.)
///
/// # Errors
/// What differs.
pub fn check_per_processor_statistics(transcript: &str) -> Result<(), String> {
    let Some(lists) = transcript.lines().find_map(|line| {
        line.split(PER_PROCESSOR_LISTS)
            .nth(1)?
            .split(',')
            .next()?
            .parse::<usize>()
            .ok()
    }) else {
        return Ok(());
    };
    let blocks = transcript
        .lines()
        .filter(|line| line.contains(PROCESSOR_LIST))
        .count();
    if blocks != lists {
        return Err(format!(
            "{blocks} per-processor statistics blocks for {lists} lists"
        ));
    }
    let together = format!("All {lists} per-processor lists together:");
    if !transcript.contains(&together) {
        return Err(format!("no line {together:?}"));
    }
    for (name, expected) in [("TotalAllocates", ALLOCATIONS), ("TotalFrees", FREES)] {
        let total = statistic(transcript, name);
        if total != expected {
            return Err(format!(
                "{name} of all lists together = {total}, expected {expected}"
            ));
        }
    }
    Ok(())
}

/// Why the driver did not use a parameter's value, as its log line says it (after
/// [`INDENTED`]).
#[derive(Clone, Copy, Debug)]
pub enum Complaint {
    /// Not a 4-byte `REG_DWORD`: the `REG_*` type it has.
    NotDword(u32),
    /// Outside the parameter's range.
    OutOfRange(u32),
}

/// The driver's line for a parameter value it did not use (without [`INDENTED`]): what was
/// wrong, the allowed range and the default used instead.
#[must_use]
pub fn complaint(parameter: &Parameter, complaint: Complaint) -> String {
    let name = parameter.name_str();
    let (min, max, default) = (parameter.min, parameter.max, parameter.default);
    let what = match complaint {
        Complaint::NotDword(reg_type) => {
            format!("Parameter {name} is not a 4-byte REG_DWORD (type {reg_type})")
        }
        Complaint::OutOfRange(value) => format!("Parameter {name} = {value} is out of range"),
    };
    format!("{what}; allowed {min}..{max}, using the default {default}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_transcript_has_the_seeds_counts() {
        let (_, addresses) = name_addresses(SEED);
        assert!(
            addresses.is_empty(),
            "the seed's addresses are named already"
        );
        let named: Vec<&str> = SEED
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| {
                word.len() > 1
                    && word.starts_with('A')
                    && word[1..].bytes().all(|b| b.is_ascii_digit())
            })
            .collect();
        let mut distinct = named.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), crate::seed::ADDRESSES);
        assert_eq!(check_block_reuse(SEED), Ok(()));
        let added = entry_numbers(SEED, " added");
        assert_eq!(added, (1..=ALLOCATIONS).collect::<Vec<_>>());
        let (left, removed) = expected_order(0);
        let (rounds, drain) = SEED.split_once(DRAIN).unwrap();
        assert_eq!(entry_numbers(rounds, ENTRY_REMOVED), removed);
        assert_eq!(entry_numbers(drain, ENTRY_REMOVED), left);
    }

    #[test]
    fn complaints_read_as_the_driver_writes_them() {
        assert_eq!(
            complaint(
                &crate::parameters::STRESS_THREADS,
                Complaint::OutOfRange(100)
            ),
            "Parameter StressThreads = 100 is out of range; allowed 1..64, using the default 1"
        );
    }

    #[test]
    fn a_difference_is_named_by_its_line_in_the_source() {
        assert_eq!(check_seed(SEED), Ok(()));
        let changed = SEED.replacen("Entry #3 added", "Entry #3 put", 1);
        let line = SEED
            .lines()
            .position(|line| line.ends_with("Entry #3 added"))
            .unwrap()
            + 1;
        assert_eq!(
            check_seed(&changed),
            Err(format!(
                "crates/contract/seed.txt line {line}: got \"LookasideList: + Entry #3 put\", expected \"LookasideList: + Entry #3 added\""
            ))
        );
        assert_eq!(
            compare_lines("a\nb\n", "a\nb\nc\n", "x.txt"),
            Err("x.txt line 3: got \"\", expected \"c\"".to_owned())
        );
        assert_eq!(
            compare_lines("a\n", "a", "x.txt"),
            Err("x.txt line 2: got \"\", expected the end".to_owned())
        );
    }
}
