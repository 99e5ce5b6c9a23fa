//! The literal prefilter, in two tiers (the shape ripgrep and Hyperscan use):
//!
//! 1. **Lanes**: the Aho-Corasick DFA over every literal walks four slices of
//!    the text in lockstep and only asks "does any literal occur in this
//!    slice?". A DFA walk is one dependent load chain per byte; four
//!    independent chains keep the load ports busy instead of waiting, which is
//!    what makes the no-hit path (almost all benign text) fast. The lanes walk
//!    a compact copy of the DFA's transitions (`Table`): the library's
//!    table pads each state's row to a power of two, which spreads the few
//!    states benign text visits over more cache than the core has.
//! 2. **Occurrences**: [`Prefilter::occurrences`] walks the same lanes and
//!    notes where each one passes through a match state; every pattern that
//!    state ends is an occurrence. (Asking the library's overlapping search
//!    for them again, slice by slice, had cost more than the whole rest of the
//!    scan on text with frequent hits.)
//!
//! Invariant: [`Prefilter::occurrences`] returns exactly the occurrences the
//! overlapping search over the whole text returns, in the same order (by end,
//! then by start: for one end offset the automaton reports the longest
//! pattern first). Slices overlap by the longest literal minus one byte, so
//! every occurrence lies whole inside the slice that holds its start.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};
use std::collections::HashMap;
use std::ops::Range;

/// Bytes per lane slice (before the overlap): small enough that a hit sends
/// little text to the exact pass, large enough that the lockstep loop runs long.
const SLICE: usize = 16 << 10;
/// Under this many bytes one lane walks the whole text.
const SMALL: usize = 256;

/// The mark on a lane table entry that leads to a match state (the top bit:
/// offsets stay below it).
const MATCH: u32 = 1 << 31;

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
    /// The DFA's transitions for the lanes.
    table: Table,
    /// Longest pattern minus one: the overlap between slices.
    overlap: usize,
}

/// The unanchored DFA's transitions, re-laid for the lanes: every state
/// reachable from the start, rows exactly as wide as the number of byte
/// classes, match states first, each entry marked with [`MATCH`] when it
/// leads to a match state.
///
/// Invariant: walking `next` from `start` passes through an entry marked
/// [`MATCH`] exactly when the DFA walked over the same bytes passes through a
/// match state (a test walks both over the same texts).
#[derive(Debug, Clone)]
struct Table {
    /// `next[state + class]`; states are row offsets (index times row width),
    /// with [`MATCH`] set on match states. Its length is a power of two (the
    /// rows, then unused zeros) no greater than [`MATCH`], so masking an
    /// index with the length also clears the mark.
    next: Vec<u32>,
    /// The class of each byte: bytes with the same transition from every
    /// state share one.
    classes: [u8; 256],
    start: u32,
    /// Row width: a match state's offset (unmarked) divided by it indexes
    /// `ends`; match states come first.
    width: u32,
    /// For match state `k`, `ends[k]..ends[k + 1]` indexes `ending`.
    ends: Vec<u32>,
    /// The patterns each match state ends, as (pattern, length), in the
    /// order the automaton reports them.
    ending: Vec<(u32, u32)>,
}

impl Prefilter {
    /// Builds the automaton over `patterns` (non-empty, folded).
    pub fn new(patterns: &[String]) -> Result<Prefilter, String> {
        let dfa = DFA::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(patterns)
            .map_err(|e| e.to_string())?;
        let overlap = patterns
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(1)
            .saturating_sub(1);
        let table = Table::new(&dfa)?;
        Ok(Prefilter { table, overlap })
    }

    /// True when some literal occurs in `text` (tier 1 only).
    pub fn any(&self, text: &[u8]) -> bool {
        let mut seen = Vec::new();
        self.slices(text.len())
            .any(|group| self.walk(text, &group, &mut seen, true))
    }

    /// Every occurrence in `text`, in the order of an overlapping search.
    pub fn occurrences(&self, text: &str) -> Vec<Occurrence> {
        let bytes = text.as_bytes();
        let t = &self.table;
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for group in self.slices(bytes.len()) {
            seen.clear();
            self.walk(bytes, &group, &mut seen, false);
            for &(lane, end, state) in &seen {
                let own = &group[usize::from(lane)];
                let k = ((state & !MATCH) / t.width) as usize;
                for &(pattern, len) in &t.ending[t.ends[k] as usize..t.ends[k + 1] as usize] {
                    let start = end - len as usize;
                    // The next lane's occurrences are its own to report.
                    if own.contains(&start) {
                        out.push(Occurrence {
                            pattern: pattern as usize,
                            start,
                            end,
                        });
                    }
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

    /// Walks the four slices (each extended by the overlap) in lockstep and
    /// notes every step that lands on a match state in `seen`, as (lane, end
    /// offset in `text`, state); with `first`, stops at the first. True when
    /// one was seen. (Noting into a buffer keeps the loop small: handling the
    /// occurrences inside it had slowed the walk over text without any.)
    fn walk(
        &self,
        text: &[u8],
        own: &[Range<usize>; 4],
        seen: &mut Vec<(u8, usize, u32)>,
        first: bool,
    ) -> bool {
        let ext = |r: &Range<usize>| &text[r.start..(r.end + self.overlap).min(text.len())];
        let s = [ext(&own[0]), ext(&own[1]), ext(&own[2]), ext(&own[3])];
        let t = &self.table;
        let next = &t.next[..];
        if next.is_empty() {
            return false;
        }
        // A state (its match mark aside) plus a class is an index below the
        // length, a power of two: the mask clears the mark, changes nothing
        // else, and proves the index in bounds.
        let mask = next.len() - 1;
        let step = |state: u32, b: u8| {
            next[(state as usize + usize::from(t.classes[usize::from(b)])) & mask]
        };
        // Slices of one length, so that the loop needs no bounds checks on them.
        let common = s.iter().map(|x| x.len()).min().unwrap_or(0);
        let l0 = &s[0][..common];
        let (l1, l2, l3) = (&s[1][..l0.len()], &s[2][..l0.len()], &s[3][..l0.len()]);
        let mut st = [t.start; 4];
        let mut i = 0;
        while i < l0.len() {
            st = [
                step(st[0], l0[i]),
                step(st[1], l1[i]),
                step(st[2], l2[i]),
                step(st[3], l3[i]),
            ];
            i += 1;
            // One test for the four lanes: a match state carries the mark.
            if (st[0] | st[1] | st[2] | st[3]) & MATCH != 0 {
                for (k, &state) in st.iter().enumerate() {
                    if state & MATCH != 0 {
                        seen.push((k as u8, own[k].start + i, state));
                    }
                }
                if first {
                    return true;
                }
            }
        }
        // The tails the lockstep loop left (slices of unequal length), one
        // lane at a time; `occurrences` sorts what is noted by end offset.
        for k in 0..4 {
            let mut state = st[k];
            for (j, &b) in s[k].iter().enumerate().skip(i) {
                state = step(state, b);
                if state & MATCH != 0 {
                    seen.push((k as u8, own[k].start + j + 1, state));
                    if first {
                        return true;
                    }
                }
            }
        }
        !seen.is_empty()
    }
}

impl Table {
    /// Copies the transitions of every state reachable from the unanchored
    /// start of `dfa`.
    fn new(dfa: &DFA) -> Result<Table, String> {
        let too_big = || "the literal automaton has too many states".to_string();
        let start = dfa.start_state(Anchored::No).map_err(|e| e.to_string())?;
        // Every reachable state, with its 256 successors; `index` maps the
        // DFA's state id to the position in `states`.
        let mut index: Vec<u32> = Vec::new();
        let mut position = |sid: StateID, states: &mut Vec<StateID>| {
            let at = sid.as_usize();
            if at >= index.len() {
                index.resize(at + 1, u32::MAX);
            }
            if index[at] == u32::MAX {
                index[at] = states.len() as u32;
                states.push(sid);
            }
            index[at] as usize
        };
        let mut states = Vec::new();
        position(start, &mut states);
        let mut succ: Vec<[u32; 256]> = Vec::new();
        while let Some(&sid) = states.get(succ.len()) {
            let mut row = [0u32; 256];
            for (b, to) in row.iter_mut().enumerate() {
                let next = dfa.next_state(Anchored::No, sid, b as u8);
                *to = position(next, &mut states) as u32;
            }
            succ.push(row);
        }
        // Byte classes: bytes whose column is the same in every row.
        let mut classes = [0u8; 256];
        let mut columns: HashMap<Vec<u32>, u8> = HashMap::new();
        for b in 0..256 {
            let column: Vec<u32> = succ.iter().map(|row| row[b]).collect();
            let n = columns.len();
            let class = *columns.entry(column).or_insert(n as u8);
            classes[b] = class;
        }
        let width = columns.len().max(1);
        // Match states first, each group in the order found (shallow first).
        let mut order: Vec<usize> = (0..states.len()).collect();
        order.sort_by_key(|&k| !dfa.is_match(states[k]));
        let matches = order.iter().filter(|&&k| dfa.is_match(states[k])).count();
        let mut offset = vec![0u32; states.len()];
        for (new, &old) in order.iter().enumerate() {
            offset[old] = u32::try_from(new * width).map_err(|_| too_big())?;
        }
        let mut ends = vec![0u32];
        let mut ending = Vec::new();
        for &old in &order[..matches] {
            let sid = states[old];
            for i in 0..dfa.match_len(sid) {
                let pattern = dfa.match_pattern(sid, i);
                let len = dfa.pattern_len(pattern);
                ending.push((pattern.as_u32(), len as u32));
            }
            ends.push(u32::try_from(ending.len()).map_err(|_| too_big())?);
        }
        // Padded to a power of two: the lanes mask their index with the
        // length, which spares them a bounds check per byte.
        let len = (states.len() * width).next_power_of_two();
        if len > MATCH as usize {
            return Err(too_big());
        }
        let mut next = vec![0u32; len];
        let marked = |to: usize| offset[to] | if dfa.is_match(states[to]) { MATCH } else { 0 };
        for (new, &old) in order.iter().enumerate() {
            for b in 0..256 {
                let to = succ[old][b] as usize;
                next[new * width + usize::from(classes[b])] = marked(to);
            }
        }
        Ok(Table {
            next,
            classes,
            start: marked(0),
            width: width as u32,
            ends,
            ending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;

    /// `len` items drawn from `alphabet` by an xorshift generator on `seed`.
    fn random<'a, T: Copy>(
        alphabet: &'a [T],
        len: usize,
        seed: &'a mut u64,
    ) -> impl Iterator<Item = T> + 'a {
        (0..len).map(move |_| alphabet[crate::scan::draw(seed, alphabet.len())])
    }

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
    fn the_lanes_table_agrees_with_the_automaton_on_every_prefix() {
        let patterns: Vec<String> = ["ignore", "игнор", "忽略", "<|im", "you", "ou r", "ré"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = Prefilter::new(&patterns).unwrap();
        let plain = AhoCorasick::new(&patterns).unwrap();
        // Random text over bytes the patterns use (and others).
        let alphabet: Vec<u8> = "ignoreyu r<|im忽略игнорé.x".bytes().collect();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..300 {
            let len = (seed % 700) as usize;
            let text: Vec<u8> = random(&alphabet, len, &mut seed).collect();
            assert_eq!(p.any(&text), plain.is_match(&text[..]), "{text:?}");
        }
    }

    #[test]
    fn occurrences_equal_a_plain_overlapping_search_on_random_text() {
        // Suffixes of one another, a duplicate, multi-byte and one-byte
        // patterns: several patterns end at the same byte.
        let patterns: Vec<String> = [
            "ignore", "nore", "ore", "re", "ore", "é", "you r", "u", "ré",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let p = Prefilter::new(&patterns).unwrap();
        let alphabet: Vec<char> = "ignore you ré.x".chars().collect();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for round in 0..200 {
            let len = [3, 40, 255, 256, 257, 1_000, 5_000, 70_000][round % 8];
            let text: String = random(&alphabet, len, &mut seed).collect();
            assert_eq!(p.occurrences(&text), reference(&patterns, &text), "{round}");
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
