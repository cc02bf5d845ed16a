//! The seed's story in numbers: what the KmdKit original does, and so what its transcript
//! holds.

/// Rounds of add, add, remove.
pub const ROUNDS: u32 = 5;

/// Block allocations the rounds make (two a round).
pub const ALLOCATIONS: u32 = 2 * ROUNDS;

/// Blocks freed back to the list: one a round, then the rest in the drain.
pub const FREES: u32 = ALLOCATIONS;

/// Distinct addresses the transcript shows: the control block, and the blocks (each round
/// after the first hands out the block the round before returned, then one more).
pub const ADDRESSES: usize = 1 + (ROUNDS as usize + 1);

/// Rounds whose first allocation hands out the block the round before returned.
pub const REUSES: u32 = ROUNDS - 1;

/// Timed runs of the stress run, the fastest kept.
pub const STRESS_RUNS: u32 = 5;

/// The seed's transcript, line for line (its blank lines included), with each address named
/// `A0` (the lookaside control block) and `A1`.. (the blocks, in order of first appearance).
pub const TRANSCRIPT: &str = include_str!("../seed.txt");
