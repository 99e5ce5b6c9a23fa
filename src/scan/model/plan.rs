//! Where the structural analysis and the model look in server data: the
//! sentences that could carry an instruction, and nothing else. A sentence is
//! looked at when it opens with an imperative (after an optional "please",
//! "now", ...), when it is a question, when it holds a rule literal or a cue
//! word (second person, "the AI", "ignore", "instructions", urgency, secrecy),
//! and always when it is the first or last sentence (for the edge features).
//! One sentence either side of each is added as context for the model.
//!
//! Why: featurising every token of a 1 MiB tool result costs ten times more
//! than normalising and matching it, and benign code, prose and JSON hardly
//! ever hold such sentences. The structural findings only fire on sentences
//! with an imperative opening, an AI address, an override word or a
//! second-person word, which this plan always includes, so they are the same
//! as over the whole text (tested on every development row: `scan eval
//! --whole-text` gives the same figures).
//!
//! Invariants: regions are sorted, disjoint, start at a sentence start and
//! end just after a sentence end (or at the end of the text); the scan is one
//! pass over the bytes plus one word hash per sentence.

use super::text::{is_cjk_at, is_leader, is_word_byte, line_kind, utf8_len};
use crate::scan::lexicon::{Cue, Lexicon, word_hash};
use std::ops::Range;

/// A byte that can end a sentence, as the featuriser reads it: not a dot
/// inside a word or number, nor a `!` or `?` that closes a quotation ('Add
/// "Get rich overnight!" to your reply.' is one sentence).
#[inline]
pub fn ends_sentence(b: &[u8], i: usize) -> bool {
    match b[i] {
        b'.' => !b.get(i + 1).is_some_and(u8::is_ascii_alphanumeric),
        b'!' | b'?' => !matches!(b.get(i + 1), Some(b'"' | b'\'')),
        b'\n' | b';' | b':' | b'|' => true,
        _ => false,
    }
}

/// The end of the token starting at `i` (a word, a non-ASCII letter run, or
/// one CJK character), or `None` when no token starts there.
#[inline(always)]
pub fn token_at(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    let c = *b.get(i)?;
    let run = |mut j: usize| {
        while j < b.len() && (is_word_byte(b[j]) || (b[j] >= 0x80 && !is_cjk_at(text, j))) {
            j += if b[j] >= 0x80 { utf8_len(b[j]) } else { 1 };
        }
        j.min(b.len())
    };
    if is_word_byte(c) {
        return Some(run(i + 1));
    }
    if c < 0x80 {
        return None;
    }
    let len = utf8_len(c);
    if is_cjk_at(text, i) {
        return Some((i + len).min(b.len()));
    }
    if text
        .get(i..)?
        .chars()
        .next()
        .is_some_and(char::is_alphanumeric)
    {
        return Some(run(i + len));
    }
    None
}

/// Texts up to this many bytes are featurised whole: a few sentences, most
/// of which the plan would keep anyway.
pub const WHOLE: usize = 256;

/// Document-level counts at a point of the text, as the featuriser keeps
/// them: lines passed, record-like lines, code characters, and sentences
/// finished on the current line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Newlines before the point.
    pub line: usize,
    /// Record-like lines begun before the point, after the first line (the
    /// featuriser reads whether the first line is one only when a feature
    /// needs it: most texts it sees are a single line).
    pub data_lines: usize,
    /// Of those, table rows (lines opening with `|`).
    pub table_lines: usize,
    /// Code characters (`=(){}[]<>$#`) before the point.
    pub code_chars: usize,
    /// Sentences finished on the point's line before it.
    pub sentences_on_line: usize,
}

/// A stretch of text to featurise, with the counts at its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Folded byte range.
    pub range: Range<usize>,
    /// Counts at `range.start`.
    pub at: Counters,
}

impl Region {
    /// The whole text, featurised from its start.
    pub fn whole(text: &str) -> Region {
        Region {
            range: 0..text.len(),
            at: Counters::default(),
        }
    }
}

/// Byte classes: 1 = can end a sentence, 2 = newline, 4 = code character,
/// 8 = a word byte or the lead of a non-ASCII character.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if matches!(b, b'.' | b'!' | b'?' | b'\n' | b';' | b':' | b'|') {
            t[c] |= 1;
        }
        if b == b'\n' {
            t[c] |= 2;
        }
        if matches!(
            b,
            b'=' | b'(' | b')' | b'{' | b'}' | b'[' | b']' | b'<' | b'>' | b'$' | b'#'
        ) {
            t[c] |= 4;
        }
        if b.is_ascii_alphanumeric() || b == b'_' || b >= 0xC0 {
            t[c] |= 8;
        }
        c += 1;
    }
    t
};

/// The regions of folded `text` to featurise, given the folded offsets of
/// literal and cue-word occurrences (`gates`, sorted).
pub fn regions(text: &str, lexicon: &Lexicon, gates: &[usize]) -> Vec<Region> {
    if text.len() <= WHOLE {
        return vec![Region::whole(text)];
    }
    let b = text.as_bytes();
    // Sentences with the counts at their start and a flag: does the analysis need it?
    let mut sentences: Vec<(Region, bool)> = Vec::new();
    let mut at = Region::whole(text).at;
    let mut start = 0usize;
    let mut start_at = at;
    let mut tokens = 0usize;
    let mut leader = false;
    let mut wanted = false;
    let mut g = 0usize;
    let mut i = 0usize;
    while i < b.len() {
        let c = b[i];
        let class = CLASS[c as usize];
        if c < 0x80 && class & 8 == 0 {
            let ended = class & 1 != 0 && tokens > 0 && ends_sentence(b, i);
            if ended {
                wanted |= c == b'?';
                while g < gates.len() && gates[g] <= i {
                    wanted = true;
                    g += 1;
                }
                let range = start..i + 1;
                sentences.push((
                    Region {
                        range,
                        at: start_at,
                    },
                    wanted,
                ));
                at.sentences_on_line += 1;
                tokens = 0;
                leader = false;
                wanted = false;
            }
            if class & 2 != 0 {
                at.line += 1;
                at.sentences_on_line = 0;
                let (data, table) = line_kind(&b[i + 1..]);
                at.data_lines += usize::from(data);
                at.table_lines += usize::from(table);
            }
            at.code_chars += usize::from(class & 4 != 0);
            i += 1;
            if ended {
                start = i;
                start_at = at;
            }
            continue;
        }
        let Some(end) = token_at(text, i) else {
            i += utf8_len(c);
            continue;
        };
        if tokens == 0 || (tokens == 1 && leader) {
            let word = &b[i..end];
            if tokens == 0 && is_leader(word) {
                leader = true;
            } else if lexicon.classes(word_hash(word)) & Cue::Imperative.bit() != 0 {
                wanted = true;
            }
        }
        tokens += 1;
        i = end;
        // Past the opening (one word, or two after a leader such as
        // "please"), only sentence ends and the counts matter.
        if tokens >= 2 || !leader {
            while i < b.len() {
                // Eight bytes at a time while none of them matters.
                while let Some(eight) = b.get(i..i + 8)
                    && eight.iter().fold(0, |a, &c| a | CLASS[usize::from(c)]) & 5 == 0
                {
                    i += 8;
                }
                let Some(&c) = b.get(i) else { break };
                let class = CLASS[usize::from(c)];
                if class & 1 != 0 && ends_sentence(b, i) {
                    break;
                }
                at.code_chars += usize::from(class & 4 != 0);
                i += 1;
            }
        }
    }
    if start < b.len() {
        wanted |= g < gates.len();
        sentences.push((
            Region {
                range: start..b.len(),
                at: start_at,
            },
            wanted,
        ));
    }
    select(sentences)
}

/// Keeps the wanted sentences with one either side, and the first and last
/// sentences; merges neighbours.
fn select(sentences: Vec<(Region, bool)>) -> Vec<Region> {
    let n = sentences.len();
    let mut out: Vec<Region> = Vec::new();
    for k in 0..n {
        let wanted = |d: isize| {
            let j = k as isize + d;
            j >= 0 && (j as usize) < n && sentences[j as usize].1
        };
        // The first and last sentences are read for the edge features only.
        if k == 0 || k + 1 == n || wanted(0) || wanted(-1) || wanted(1) {
            let r = &sentences[k].0;
            match out.last_mut() {
                Some(last) if last.range.end == r.range.start => last.range.end = r.range.end,
                _ => out.push(r.clone()),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        let mut l = Lexicon::default();
        l.add("imperative", &["send".to_string(), "explain".to_string()])
            .unwrap();
        l
    }

    /// Nine plain sentences; `k`-th replaced by `special` when given.
    fn text(special: &[(usize, &str)]) -> String {
        (0..9)
            .map(|k| {
                special.iter().find(|(at, _)| *at == k).map_or(
                    format!("Plain sentence number {k} with some filler words."),
                    |s| s.1.to_string(),
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }

    fn picked(t: &str, r: &[Region]) -> Vec<String> {
        r.iter()
            .map(|r| t[r.range.clone()].trim().to_string())
            .collect()
    }

    #[test]
    fn plain_sentences_are_skipped_and_orders_kept_with_context() {
        let t = text(&[(4, "Explain the theory of relativity now.")]);
        let got = picked(&t, &regions(&t, &lexicon(), &[]));
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].starts_with("plain sentence number 0") && !got[0].contains("number 1"));
        assert!(
            got[1].starts_with("plain sentence number 3")
                && got[1].ends_with("number 5 with some filler words.")
        );
        assert!(got[2].starts_with("plain sentence number 8"));
    }

    #[test]
    fn an_order_after_a_leader_is_kept_and_one_later_in_a_sentence_is_not() {
        // The plan reads the first word, and the second after a leader.
        let t = text(&[
            (4, "Please send the ledger to me."),
            (6, "The team will send it."),
        ]);
        let got = picked(&t, &regions(&t, &lexicon(), &[]));
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[1].starts_with("plain sentence number 3")
                && got[1].ends_with("number 5 with some filler words.")
        );
    }

    #[test]
    fn gates_and_questions_mark_their_sentence() {
        let t = text(&[(2, "Is this a question?")]);
        let gate = t.find("number 6").unwrap();
        let got = picked(&t, &regions(&t, &Lexicon::default(), &[gate]));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].starts_with("plain sentence number 0")
                && got[0].ends_with("number 3 with some filler words.")
        );
        assert!(got[1].starts_with("plain sentence number 5") && got[1].contains("number 8"));
    }

    #[test]
    fn counts_at_a_region_start_are_those_of_the_whole_text() {
        let t = format!(
            "{}\n| a | b |\nx = (1)\n{}",
            text(&[]),
            text(&[(2, "Send it.")])
        );
        let r = regions(&t, &lexicon(), &[]);
        let send = r
            .iter()
            .find(|r| t[r.range.clone()].contains("send it"))
            .unwrap();
        assert_eq!(send.at.line, 3);
        assert_eq!(send.at.data_lines, 1);
        assert_eq!(send.at.table_lines, 1);
        assert_eq!(send.at.code_chars, 3);
    }

    #[test]
    fn short_texts_and_texts_without_sentence_ends_are_one_region() {
        let t = "no punctuation at all here";
        assert_eq!(regions(t, &Lexicon::default(), &[]), vec![Region::whole(t)]);
        let long = "word ".repeat(100);
        assert_eq!(regions(&long, &Lexicon::default(), &[]).len(), 1);
    }
}
