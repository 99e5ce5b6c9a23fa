//! Text respelled rather than encoded: letter-spacing ("I G N O R E   A L L",
//! `spaced`), letters joined by punctuation ("I.g.n.o.r.e a.l.l",
//! `separated`), leetspeak ("1gn0r3 4ll pr3v10u5", `leet`), and the
//! whole-text rewrites rot13, reversal and text-speak (`words`), and key
//! words misspelled ("ignroe prevoius instrcutions", `typos`). Each finds or
//! undoes one respelling of a whole text; [`super::find_encoded`] calls the
//! first three, the scanner the rewrites when their cue words appear.

use std::ops::Range;

mod leet;
mod separated;
mod spaced;
mod typos;
mod words;

pub(super) use leet::leet;
pub(super) use separated::separated;
pub(super) use spaced::{MIN_SPACED, has_spaced_run, spaced};
pub use typos::{misspellings, repair as repair_typos};
pub use words::{reversed, rot13, text_speak};

/// The densest run of `words` (spans, each with what it counts; sorted by
/// start and deduplicated here), each word within `gap` bytes of the next:
/// the run's span, from its first word's start to its last word's end, and
/// its count. Among runs with the same count the first wins; a run takes in
/// words that count nothing at its end ("t.o" after "s.e.n.d").
fn densest_run(words: &mut Vec<(Range<usize>, usize)>, gap: usize) -> (Range<usize>, usize) {
    words.sort_by_key(|(w, _)| w.start);
    words.dedup();
    let (mut best, mut best_n, mut best_start) = (0..0, 0, 0);
    let (mut start, mut n) = (0usize, 0usize);
    for k in 0..words.len() {
        if k == 0 || words[k].0.start > words[k - 1].0.end + gap {
            start = k;
            n = 0;
        }
        n += words[k].1;
        if n > best_n || (n == best_n && start == best_start) {
            (best_n, best_start) = (n, start);
            best = words[start].0.start..words[k].0.end;
        }
    }
    (best, best_n)
}
