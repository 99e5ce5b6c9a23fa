//! The literal prefilter, in two tiers (the shape ripgrep and Hyperscan use):
//!
//! 1. **Lanes**: the Aho-Corasick DFA over every literal walks four slices of
//!    the text in lockstep and only asks "does any literal occur in this
//!    slice?". A DFA walk is one dependent load chain per byte; four
//!    independent chains keep the load ports busy instead of waiting, which is
//!    what makes the no-hit path (almost all benign text) fast.
//! 2. **Exact pass**: only slices that reached a match state are searched
//!    again with the overlapping search, which reports every occurrence.
//!
//! Invariant: [`Prefilter::occurrences`] returns exactly the occurrences the
//! overlapping search over the whole text returns, in the same order (by end,
//! then by start: for one end offset the automaton reports the longest
//! pattern first). Slices overlap by the longest literal minus one byte, so
//! every occurrence lies whole inside the slice that holds its start.

use aho_corasick::automaton::{Automaton, OverlappingState};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, Input, MatchKind};
use std::ops::Range;

/// Bytes per lane slice (before the overlap): small enough that a hit sends
/// little text to the exact pass, large enough that the lockstep loop runs long.
const SLICE: usize = 16 << 10;
/// Under this many bytes one lane walks the whole text.
const SMALL: usize = 256;

/// One literal occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// Pattern index.
    pub pattern: usize,
    /// Start byte offset.
    pub start: usize,
    /// End byte offset.
    pub end: usize,
}

/// The compiled literal automaton.
#[derive(Debug, Clone)]
pub struct Prefilter {
    dfa: DFA,
    /// Longest pattern minus one: the overlap between slices.
    overlap: usize,
}

impl Prefilter {
    /// Builds the automaton over `patterns` (non-empty, folded).
    pub fn new(patterns: &[String]) -> Result<Prefilter, aho_corasick::BuildError> {
        let dfa = DFA::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(patterns)?;
        let overlap = patterns
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(1)
            .saturating_sub(1);
        Ok(Prefilter { dfa, overlap })
    }

    /// True when some literal occurs in `text` (tier 1 only).
    pub fn any(&self, text: &[u8]) -> bool {
        self.slices(text.len()).any(|group| {
            let hits = self.lanes(text, &group);
            hits.iter().any(|h| *h)
        })
    }

    /// Every occurrence in `text`, in the order of an overlapping search.
    pub fn occurrences(&self, text: &str) -> Vec<Occurrence> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        for group in self.slices(bytes.len()) {
            let hits = self.lanes(bytes, &group);
            for (own, hit) in group.iter().zip(hits) {
                if hit {
                    self.exact(text, own.clone(), &mut out);
                }
            }
        }
        // Occurrences from neighbouring slices interleave by end offset.
        out.sort_by_key(|o| (o.end, o.start));
        out
    }

    /// Groups of up to four adjacent slices, each given by the range of start
    /// offsets it owns.
    fn slices(&self, len: usize) -> impl Iterator<Item = [Range<usize>; 4]> {
        let per = if len <= SMALL {
            len.max(1)
        } else {
            len.div_ceil(4).min(SLICE)
        };
        let group = per * 4;
        (0..len.div_ceil(group).max(1)).map(move |g| {
            let base = g * group;
            std::array::from_fn(|k| {
                let a = (base + k * per).min(len);
                a..(a + per).min(len)
            })
        })
    }

    /// Walks the four slices (each extended by the overlap) in lockstep; true
    /// for each slice in which a match state was reached.
    fn lanes(&self, text: &[u8], own: &[Range<usize>; 4]) -> [bool; 4] {
        let ext = |r: &Range<usize>| &text[r.start..(r.end + self.overlap).min(text.len())];
        let s = [ext(&own[0]), ext(&own[1]), ext(&own[2]), ext(&own[3])];
        let mut hit = [false; 4];
        let Ok(start) = self.dfa.start_state(Anchored::No) else {
            return [true; 4];
        };
        let d = &self.dfa;
        let common = s.iter().map(|x| x.len()).min().unwrap_or(0);
        let mut st = [start; 4];
        let mut i = 0;
        while i < common {
            st[0] = d.next_state(Anchored::No, st[0], s[0][i]);
            st[1] = d.next_state(Anchored::No, st[1], s[1][i]);
            st[2] = d.next_state(Anchored::No, st[2], s[2][i]);
            st[3] = d.next_state(Anchored::No, st[3], s[3][i]);
            if d.is_match(st[0]) || d.is_match(st[1]) || d.is_match(st[2]) || d.is_match(st[3]) {
                for k in 0..4 {
                    hit[k] |= d.is_match(st[k]);
                }
                if hit.iter().all(|h| *h) {
                    return hit;
                }
            }
            i += 1;
        }
        for k in 0..4 {
            let mut sid = st[k];
            for &b in &s[k][i.min(s[k].len())..] {
                if hit[k] {
                    break;
                }
                sid = d.next_state(Anchored::No, sid, b);
                hit[k] = d.is_match(sid);
            }
        }
        hit
    }

    /// The overlapping search over one slice (extended by the overlap),
    /// keeping occurrences that start inside the slice.
    fn exact(&self, text: &str, own: Range<usize>, out: &mut Vec<Occurrence>) {
        let end = (own.end + self.overlap).min(text.len());
        let input = Input::new(text).span(own.start..end);
        let mut state = OverlappingState::start();
        loop {
            if self.dfa.try_find_overlapping(&input, &mut state).is_err() {
                return;
            }
            let Some(m) = state.get_match() else {
                return;
            };
            if own.contains(&m.start()) {
                out.push(Occurrence {
                    pattern: m.pattern().as_usize(),
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;

    fn reference(patterns: &[String], text: &str) -> Vec<Occurrence> {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .unwrap();
        ac.find_overlapping_iter(text)
            .map(|m| Occurrence {
                pattern: m.pattern().as_usize(),
                start: m.start(),
                end: m.end(),
            })
            .collect()
    }

    #[test]
    fn occurrences_equal_a_plain_overlapping_search_at_every_size() {
        let patterns: Vec<String> = [
            "ignore",
            "ignore previous",
            "previous",
            "ore",
            "<|im_start|>",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = Prefilter::new(&patterns).unwrap();
        let unit = "the quick fox. please ignore previous words <|im_start|> and more ";
        for reps in [0, 1, 3, 7, 50, 400, 2000] {
            let mut text = "x".repeat(reps % 13);
            for i in 0..reps {
                text.push_str(if i % 5 == 0 {
                    unit
                } else {
                    "plain benign words here, "
                });
            }
            assert_eq!(p.occurrences(&text), reference(&patterns, &text), "{reps}");
            assert_eq!(
                p.any(text.as_bytes()),
                !reference(&patterns, &text).is_empty()
            );
        }
    }

    #[test]
    fn an_occurrence_across_a_slice_edge_is_found_once() {
        let patterns = vec!["abcdef".to_string()];
        let p = Prefilter::new(&patterns).unwrap();
        for at in 0..198 {
            let mut text = "z".repeat(1000);
            text.replace_range(at * 5..at * 5 + 6, "abcdef");
            let found = p.occurrences(&text);
            assert_eq!(found.len(), 1, "{at}");
            assert_eq!(found, reference(&patterns, &text));
        }
    }
}
