//! Character classes and folding tables used by normalisation.
//!
//! Invariant: every function here is total and allocation-free; the tables are
//! small sorted arrays searched with `binary_search`, so adding an entry keeps
//! them sorted (a unit test checks it).

/// What normalisation does with one character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    /// An ordinary character: fold and keep it.
    Keep,
    /// Zero-width and other invisible formatting: dropped, flagged.
    Invisible,
    /// Bidirectional embedding, override and isolate controls: dropped, flagged.
    Bidi,
    /// A Unicode tag character: dropped; U+E0020..=U+E007E decode to ASCII.
    Tag(Option<u8>),
    /// A variation selector: dropped, flagged when many (they can carry bytes).
    Variation,
    /// Whitespace of any kind: collapsed.
    Space,
}

/// Classifies a non-ASCII character.
pub fn classify(c: char) -> CharClass {
    match c as u32 {
        0x200B..=0x200D | 0x2060..=0x2064 | 0xFEFF | 0x00AD | 0x034F | 0x180B..=0x180F => {
            CharClass::Invisible
        }
        0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x3164 | 0xFFA0 | 0x2065 | 0x206A..=0x206F => {
            CharClass::Invisible
        }
        0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A => CharClass::Invisible,
        0x202A..=0x202E | 0x2066..=0x2069 => CharClass::Bidi,
        // Left/right marks are ordinary in Arabic and Hebrew text: dropped, not flagged.
        0x200E | 0x200F | 0x061C => CharClass::Invisible,
        0xE0000..=0xE007F => {
            let v = c as u32 - 0xE0000;
            CharClass::Tag((0x20..=0x7E).contains(&v).then_some(v as u8))
        }
        0xFE00..=0xFE0F | 0xE0100..=0xE01EF => CharClass::Variation,
        _ if c.is_whitespace() => CharClass::Space,
        _ => CharClass::Keep,
    }
}

/// True for the marks that are ordinary inside words and not worth a signal.
pub fn is_quiet_invisible(c: char) -> bool {
    matches!(c as u32, 0x200E | 0x200F | 0x061C | 0x00AD)
}

/// Typographic punctuation folded to its ASCII form, so that `don’t` and
/// `don't`, or `“x”` and `"x"`, read the same; and the full stops, commas and
/// question marks of Arabic, Devanagari and CJK text (`،`, `।`, `。`, `、`),
/// so that their sentences and clauses end where the featuriser looks.
pub fn punctuation(c: char) -> Option<char> {
    match c {
        '\u{060C}' | '\u{3001}' => Some(','),
        '\u{061B}' => Some(';'),
        '\u{061F}' => Some('?'),
        '\u{0964}' | '\u{0965}' | '\u{06D4}' | '\u{3002}' => Some('.'),
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{02BC}'
        | '\u{FF07}' => Some('\''),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
        | '\u{00BB}' => Some('"'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Some('-'),
        '\u{2026}' => Some('.'),
        _ => None,
    }
}

/// Lowercase letters from other scripts that look like ASCII letters, and what
/// they look like. Sorted by code point.
const CONFUSABLES: &[(char, char)] = &[
    ('ı', 'i'),
    ('ȷ', 'j'),
    ('ɑ', 'a'),
    ('ɡ', 'g'),
    ('ɩ', 'i'),
    ('ɪ', 'i'),
    ('ɴ', 'n'),
    ('ʀ', 'r'),
    ('ʏ', 'y'),
    ('ʜ', 'h'),
    ('ʟ', 'l'),
    ('α', 'a'),
    ('β', 'b'),
    ('γ', 'y'),
    ('ε', 'e'),
    ('η', 'n'),
    ('ι', 'i'),
    ('κ', 'k'),
    ('μ', 'u'),
    ('ν', 'v'),
    ('ο', 'o'),
    ('ρ', 'p'),
    ('σ', 'o'),
    ('τ', 't'),
    ('υ', 'u'),
    ('χ', 'x'),
    ('ω', 'w'),
    ('а', 'a'),
    ('в', 'b'),
    ('г', 'r'),
    ('е', 'e'),
    ('к', 'k'),
    ('м', 'm'),
    ('н', 'h'),
    ('о', 'o'),
    ('п', 'n'),
    ('р', 'p'),
    ('с', 'c'),
    ('т', 't'),
    ('у', 'y'),
    ('х', 'x'),
    ('ь', 'b'),
    ('ѐ', 'e'),
    ('ё', 'e'),
    ('ђ', 'h'),
    ('ѕ', 's'),
    ('і', 'i'),
    ('ї', 'i'),
    ('ј', 'j'),
    ('һ', 'h'),
    ('ӏ', 'l'),
    ('ԁ', 'd'),
    ('ԛ', 'q'),
    ('ԝ', 'w'),
    ('ᴀ', 'a'),
    ('ᴄ', 'c'),
    ('ᴅ', 'd'),
    ('ᴇ', 'e'),
    ('ᴊ', 'j'),
    ('ᴋ', 'k'),
    ('ᴍ', 'm'),
    ('ᴏ', 'o'),
    ('ᴘ', 'p'),
    ('ᴛ', 't'),
    ('ᴜ', 'u'),
    ('ᴠ', 'v'),
    ('ᴡ', 'w'),
    ('ᴢ', 'z'),
    ('ꜱ', 's'),
];

/// The ASCII letter a lowercase character is confusable with, if any.
pub fn confusable(c: char) -> Option<char> {
    CONFUSABLES
        .binary_search_by_key(&c, |&(k, _)| k)
        .ok()
        .map(|i| CONFUSABLES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confusables_table_is_sorted_and_lowercase() {
        for w in CONFUSABLES.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?} before {:?}", w[0], w[1]);
        }
        for (c, _) in CONFUSABLES {
            assert_eq!(c.to_lowercase().next(), Some(*c), "{c}");
        }
    }

    #[test]
    fn sentence_and_clause_marks_of_other_scripts_fold_to_ascii() {
        // Arabic comma and question mark, Devanagari danda, Urdu and CJK full stops.
        for (c, ascii) in [
            ('،', ','),
            ('؟', '?'),
            ('।', '.'),
            ('۔', '.'),
            ('。', '.'),
            ('、', ','),
        ] {
            assert_eq!(punctuation(c), Some(ascii), "{c}");
        }
        assert_eq!(punctuation('ب'), None);
    }

    #[test]
    fn cyrillic_and_greek_lookalikes_fold_to_latin() {
        assert_eq!(confusable('а'), Some('a'));
        assert_eq!(confusable('ο'), Some('o'));
        assert_eq!(confusable('ж'), None);
    }

    #[test]
    fn invisible_bidi_and_tag_characters_are_classified() {
        assert_eq!(classify('\u{200B}'), CharClass::Invisible);
        assert_eq!(classify('\u{202E}'), CharClass::Bidi);
        assert_eq!(classify('\u{E0041}'), CharClass::Tag(Some(b'A')));
        assert_eq!(classify('\u{E007F}'), CharClass::Tag(None));
        assert_eq!(classify('\u{FE0F}'), CharClass::Variation);
        assert_eq!(classify('\u{3000}'), CharClass::Space);
        assert_eq!(classify('é'), CharClass::Keep);
    }
}
