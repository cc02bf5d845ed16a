//! The driver's expected `DbgPrint` transcript, shared by the host tests (src/tests.rs) and
//! the Wine end-to-end test (xtask), so both hold the driver to the same seed lines.

/// The seed's transcript, line for line, with addresses named `A0` (the lookaside control
/// block) and `A1`.. (the blocks, in order of first appearance).
pub const SEED: &str = include_str!("seed.txt");

/// Replaces each 16-digit address with `A<n>`, numbered by first appearance, so transcripts
/// compare exactly while the tests still see which block is which.
///
/// One pass over the words, allocating only the output and the addresses: the host tests run
/// it under Miri too, where every allocation is slow.
pub fn name_addresses(transcript: &str) -> (String, Vec<String>) {
    use std::fmt::Write as _;
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
/// spaces after the prefix (`LookasideList:   ...`).
pub fn seed_lines(transcript: &str) -> String {
    transcript
        .split_inclusive('\n')
        .filter(|line| !line.starts_with("LookasideList:   "))
        .collect()
}

/// The `!lookaside` counters the seed scenario must produce for a list of this `Depth`.
pub fn expected_counters(depth: u32) -> [(&'static str, u32); 6] {
    let (mut kept, mut allocate_misses, mut free_misses) = (0, 0, 0);
    let mut ops = Vec::new();
    for _ in 0..5 {
        ops.extend(['a', 'a', 'f']);
    }
    ops.extend(['f'; 5]);
    for op in ops {
        match op {
            'a' if kept > 0 => kept -= 1,
            'a' => allocate_misses += 1,
            _ if kept >= depth => free_misses += 1,
            _ => kept += 1,
        }
    }
    [
        ("TotalAllocates", 10),
        ("TotalFrees", 10),
        ("AllocateMisses", allocate_misses),
        ("FreeMisses", free_misses),
        ("Current Depth", kept),
        ("Max Depth", depth),
    ]
}

/// The value after `name = ` in the last statistics block: the list's, or with per-processor
/// lists, that of all lists together.
pub fn statistic(transcript: &str, name: &str) -> u32 {
    let line = transcript
        .lines()
        .rev()
        .find(|line| line.starts_with("LookasideList:     ") && line.contains(&format!("{name} ")))
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
pub fn expected_order(failing: u32) -> (Vec<u32>, Vec<u32>) {
    let (mut chain, mut removed, mut allocation, mut index) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..5 {
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

pub fn entry_numbers(transcript: &str, suffix: &str) -> Vec<u32> {
    transcript
        .lines()
        .filter_map(|line| line.strip_prefix("LookasideList: ")?.strip_suffix(suffix))
        .filter_map(|rest| rest.rsplit('#').next()?.parse().ok())
        .collect()
}

/// Checks that each block returned to the list is the one the next allocation hands out:
/// rounds 2 to 5 of the seed each start that way, so there must be exactly four such pairs.
///
/// # Errors
/// Which pair differs, or how many pairs there were.
pub fn check_block_reuse(transcript: &str) -> Result<(), String> {
    let lines: Vec<&str> = transcript.lines().collect();
    let mut reused = 0;
    for pair in lines.windows(2) {
        let freed = pair[0]
            .strip_prefix("LookasideList: - Memory block at address ")
            .and_then(|rest| rest.strip_suffix(" returned to lookaside list"));
        let next = pair[1].strip_prefix(
            "LookasideList: + Memory block allocated from lookaside list at address ",
        );
        if let (Some(freed), Some(next)) = (freed, next) {
            if freed != next {
                return Err(format!("freed {freed}, then allocated {next}"));
            }
            reused += 1;
        }
    }
    if reused == 4 {
        Ok(())
    } else {
        Err(format!("{reused} reuses, expected 4 (rounds 2 to 5)"))
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
        .filter(|line| line.contains("Memory block allocated") || line.contains("Very bad"))
        .collect();
    let failures = attempts
        .iter()
        .filter(|line| line.contains("Very bad"))
        .count();
    let at_k = attempts
        .get(k as usize - 1)
        .is_some_and(|line| line.contains("Very bad"));
    if failures != 1 || !at_k {
        return Err(format!(
            "the failure is not (only) allocation #{k}: {attempts:?}"
        ));
    }
    let (rounds, drain) = seed
        .split_once("\nLookasideList: Free the rest")
        .ok_or("no drain")?;
    let (left, removed) = expected_order(k);
    let got = (
        entry_numbers(rounds, " removed"),
        entry_numbers(drain, " removed"),
    );
    if got == (removed.clone(), left.clone()) {
        Ok(())
    } else {
        Err(format!("removed {got:?}, expected {:?}", (removed, left)))
    }
}
