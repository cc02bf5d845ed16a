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
