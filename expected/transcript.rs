//! The driver's expected `DbgPrint` transcript, shared by the host tests (src/tests.rs) and
//! the Wine end-to-end test (xtask), so both hold the driver to the same seed lines.

/// The seed's transcript, line for line, with addresses named `A0` (the lookaside control
/// block) and `A1`.. (the blocks, in order of first appearance).
pub const SEED: &str = include_str!("seed.txt");

/// Replaces each 16-digit address with `A<n>`, numbered by first appearance, so transcripts
/// compare exactly while the tests still see which block is which.
pub fn name_addresses(transcript: &str) -> (String, Vec<String>) {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::new();
    for line in transcript.split_inclusive('\n') {
        let words: Vec<String> = line
            .trim_end_matches('\n')
            .split(' ')
            .map(|word| {
                let is_address = word.len() == 16
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
                if !is_address {
                    return word.to_owned();
                }
                let n = seen.iter().position(|s| s == word).unwrap_or_else(|| {
                    seen.push(word.to_owned());
                    seen.len() - 1
                });
                format!("A{n}")
            })
            .collect();
        out.push_str(&words.join(" "));
        out.push_str(&line[line.trim_end_matches('\n').len()..]);
    }
    (out, seen)
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

/// The value after `name = ` in the statistics block.
pub fn statistic(transcript: &str, name: &str) -> u32 {
    let line = transcript
        .lines()
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
