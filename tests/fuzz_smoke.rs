//! Fuzz smoke in `cargo test` (issue 9): every fuzz target's checks
//! (`fuzz/checks/<target>.rs`, the same code the libFuzzer targets run) on the
//! target's committed seeds (`fuzz/corpus/<target>/`), then on deterministic
//! mutations of those seeds for a short time.
//!
//! This is not coverage-guided fuzzing: it needs no instrumented build, so CI
//! runs it on every change; the long libFuzzer runs (`cargo fuzz run`,
//! `scripts/fuzz-smoke`) remain the ones that explore. See docs/RELIABILITY.md.
//!
//! Knobs (environment):
//! - `PORTCULLIS_FUZZ_SECONDS`: mutation time per target (default 5; 0 runs
//!   the seeds only).
//! - `PORTCULLIS_FUZZ_SEED`: the PRNG seed (decimal or `0x` hex; default
//!   [`DEFAULT_SEED`]); each target mixes its name into it.
//! - `PORTCULLIS_FUZZ_ITERATIONS`: run exactly this many mutants instead of a
//!   time budget, to replay a failure at iteration N deterministically.
//!
//! A failing input makes the test panic with the target, seed, iteration and
//! the input escaped and in hex; the input is also written to the system
//! temporary folder so `cargo fuzz run <target> <file>` can replay it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "../fuzz/checks/cedar.rs"]
mod cedar;
#[path = "../fuzz/checks/config.rs"]
mod config;
#[path = "../fuzz/checks/jsonrpc.rs"]
mod jsonrpc;
#[path = "../fuzz/checks/jwt.rs"]
mod jwt;
#[path = "../fuzz/checks/scan.rs"]
mod scan;
#[path = "../fuzz/checks/session.rs"]
mod session;
#[path = "../fuzz/checks/sse.rs"]
mod sse;

/// The PRNG seed when `PORTCULLIS_FUZZ_SEED` is unset.
const DEFAULT_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// Mutation time per target when `PORTCULLIS_FUZZ_SECONDS` is unset: seven
/// targets stay well under a minute of a debug-build test run.
const DEFAULT_SECONDS: f64 = 5.0;
/// Mutants never grow past this, so a run of inserts cannot slow a check down.
const MAX_LEN: usize = 64 * 1024;
/// Bytes that parsers branch on: JSON, SSE and token punctuation, NUL, high bytes.
const INTERESTING: &[u8] = b"\0\xff\x7f\x80\xc3\"{}[]:,.\\!\n\r \t0-e=";

#[test]
fn jsonrpc_checks_hold_on_seeds_and_mutants() {
    smoke("jsonrpc", jsonrpc::check);
}

#[test]
fn sse_checks_hold_on_seeds_and_mutants() {
    smoke("sse", sse::check);
}

#[test]
fn scan_checks_hold_on_seeds_and_mutants() {
    smoke("scan", scan::check);
}

#[test]
fn config_checks_hold_on_seeds_and_mutants() {
    smoke("config", config::check);
}

#[test]
fn cedar_checks_hold_on_seeds_and_mutants() {
    smoke("cedar", cedar::check);
}

#[test]
fn jwt_checks_hold_on_seeds_and_mutants() {
    smoke("jwt", jwt::check);
}

#[test]
fn session_checks_hold_on_seeds_and_mutants() {
    smoke("session", session::check);
}

#[test]
fn mutations_are_reproducible_from_the_seed() {
    let seeds = vec![b"{\"jsonrpc\":\"2.0\"}".to_vec(), b"data: x\n\n".to_vec()];
    let run = |seed| {
        let mut rng = Rng::new(seed);
        (0..200)
            .map(|_| mutate(&mut rng, &seeds))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

/// Runs `check` on every seed of `target`, then on mutants until the budget
/// is spent. Panics, with a replayable report, on the first failing input.
fn smoke(target: &str, check: fn(&[u8])) {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "no seeds in fuzz/corpus/{target}");
    let seed = env_seed() ^ fnv1a(target.as_bytes());
    let started = Instant::now();
    for (name, input) in &seeds {
        run_one(target, check, input, &format!("seed file {name}"), 0);
    }
    let inputs: Vec<Vec<u8>> = seeds.into_iter().map(|(_, input)| input).collect();
    let budget = Budget::from_env();
    let mutating = Instant::now();
    let mut rng = Rng::new(seed);
    let mut iteration: u64 = 0;
    while !budget.spent(iteration, mutating.elapsed()) {
        let input = mutate(&mut rng, &inputs);
        let origin = format!("mixed seed {seed:#x}, iteration {iteration}");
        run_one(target, check, &input, &origin, iteration + 1);
        iteration += 1;
    }
    println!(
        "fuzz smoke {target}: {} seeds, {iteration} mutants (seed {seed:#x}) in {:.1} s",
        inputs.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Calls `check` on one input; on a panic, saves the input and panics again
/// with everything needed to replay it: `replay` mutants reach this input.
fn run_one(target: &str, check: fn(&[u8]), input: &[u8], origin: &str, replay: u64) {
    let Err(payload) = catch_unwind(AssertUnwindSafe(|| check(input))) else {
        return;
    };
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(non-string panic)");
    let file = std::env::temp_dir().join(format!("portcullis-fuzz-{target}-{}", fnv1a(input)));
    let saved = match std::fs::write(&file, input) {
        Ok(()) => format!("saved to {}", file.display()),
        Err(e) => format!("not saved: {e}"),
    };
    let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
    panic!(
        "fuzz smoke {target}: check failed on {origin}: {message}\n\
         input ({} bytes, {saved}):\n  escaped: b\"{}\"\n  hex: {hex}\n\
         replay: PORTCULLIS_FUZZ_SEED={:#x} PORTCULLIS_FUZZ_ITERATIONS={replay} \
         cargo test --test main fuzz_smoke::{target}",
        input.len(),
        input.escape_ascii(),
        env_seed(),
    );
}

/// The committed seeds of `target`, sorted by file name so runs agree.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().expect("a file name");
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name.to_string_lossy().into_owned(), bytes)
        })
        .collect();
    seeds.sort();
    seeds
}

/// When a mutation run stops: after a fixed number of mutants, or a time.
enum Budget {
    Iterations(u64),
    Time(Duration),
}

impl Budget {
    fn from_env() -> Self {
        if let Ok(n) = std::env::var("PORTCULLIS_FUZZ_ITERATIONS") {
            let n = n
                .parse()
                .unwrap_or_else(|_| panic!("PORTCULLIS_FUZZ_ITERATIONS={n}: not a count"));
            return Self::Iterations(n);
        }
        let seconds = match std::env::var("PORTCULLIS_FUZZ_SECONDS") {
            Ok(s) => s
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .unwrap_or_else(|| panic!("PORTCULLIS_FUZZ_SECONDS={s}: not a duration")),
            Err(_) => DEFAULT_SECONDS,
        };
        Self::Time(Duration::from_secs_f64(seconds))
    }

    fn spent(&self, iterations: u64, elapsed: Duration) -> bool {
        match self {
            Self::Iterations(n) => iterations >= *n,
            Self::Time(limit) => elapsed >= *limit,
        }
    }
}

fn env_seed() -> u64 {
    let Ok(text) = std::env::var("PORTCULLIS_FUZZ_SEED") else {
        return DEFAULT_SEED;
    };
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("PORTCULLIS_FUZZ_SEED={text}: not a number"))
}

/// FNV-1a: mixes the target name into the seed, names saved inputs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// xorshift64*: small, fast, and the same sequence on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // xorshift never leaves zero.
        Self(if seed == 0 { DEFAULT_SEED } else { seed })
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`; 0 when `n` is 0.
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

/// One mutant: a seed with one to four stacked mutations.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(4) {
        mutate_once(rng, seeds, &mut data);
    }
    data.truncate(MAX_LEN);
    data
}

fn mutate_once(rng: &mut Rng, seeds: &[Vec<u8>], data: &mut Vec<u8>) {
    let len = data.len();
    let interesting = |rng: &mut Rng| INTERESTING[rng.below(INTERESTING.len())];
    match rng.below(9) {
        // Flip one bit.
        0 if len > 0 => {
            let at = rng.below(len);
            data[at] ^= 1 << rng.below(8);
        }
        // Insert an interesting byte.
        1 => {
            let byte = interesting(rng);
            data.insert(rng.below(len + 1), byte);
        }
        // Overwrite with an interesting byte.
        2 if len > 0 => {
            let at = rng.below(len);
            data[at] = interesting(rng);
        }
        // Overwrite with a random byte.
        3 if len > 0 => {
            let at = rng.below(len);
            data[at] = rng.byte();
        }
        // Delete a run of up to 8 bytes.
        4 if len > 0 => {
            let at = rng.below(len);
            let end = (at + 1 + rng.below(8)).min(len);
            data.drain(at..end);
        }
        // Splice: a prefix of this input, then a suffix of another seed.
        5 => {
            let other = &seeds[rng.below(seeds.len())];
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        // Truncate.
        6 => data.truncate(rng.below(len + 1)),
        // Duplicate a run of up to 32 bytes in place.
        7 if len > 0 => {
            let at = rng.below(len);
            let end = (at + 1 + rng.below(32)).min(len);
            let run = data[at..end].to_vec();
            data.splice(at..at, run);
        }
        // Insert a random byte (also the fallback for an empty input).
        _ => {
            let byte = rng.byte();
            data.insert(rng.below(len + 1), byte);
        }
    }
}
