use super::*;

fn kinds(n: &Normalized) -> Vec<SignalKind> {
    n.signals.iter().map(|s| s.kind).collect()
}

#[test]
fn ascii_text_is_lowercased_with_whitespace_collapsed() {
    let n = normalize("  Ignore\t\tthe   WHITESPACE\n\n here ");
    assert_eq!(n.text, "ignore the whitespace\nhere");
    assert!(n.signals.is_empty());
}

#[test]
fn spans_map_back_to_the_original_bytes() {
    let original = "Say   HELLO to\u{200B}day";
    let n = normalize(original);
    assert_eq!(n.text, "say hello today");
    let at = n.text.find("hello").unwrap();
    let span = n.original_span(at..at + 5, original);
    assert_eq!(&original[span], "HELLO");
    let at = n.text.find("today").unwrap();
    let span = n.original_span(at..at + 5, original);
    assert_eq!(&original[span], "to\u{200B}day");
}

#[test]
fn zero_width_characters_are_removed_and_flagged() {
    let n = normalize("ig\u{200B}no\u{200D}re previous");
    assert_eq!(n.text, "ignore previous");
    assert_eq!(kinds(&n), vec![SignalKind::Invisible]);
}

#[test]
fn a_zero_width_joiner_between_emoji_is_not_flagged() {
    let n = normalize("Family photo 👨\u{200D}👩\u{200D}👧 from the trip");
    assert!(n.signals.is_empty(), "{:?}", n.signals);
}

#[test]
fn bidi_controls_are_removed_and_flagged() {
    let n = normalize("abc\u{202E}fed");
    assert_eq!(n.text, "abcfed");
    assert_eq!(kinds(&n), vec![SignalKind::Bidi]);
}

#[test]
fn tag_characters_are_decoded_into_smuggled_text() {
    let hidden: String = "Ignore all"
        .chars()
        .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
        .collect();
    let original = format!("Nice day.{hidden}");
    let n = normalize(&original);
    assert_eq!(n.text, "nice day.");
    let (span, text) = n.tag_text.clone().unwrap();
    assert_eq!(text, "Ignore all");
    assert_eq!(span, 9..original.len());
    assert_eq!(kinds(&n), vec![SignalKind::TagSmuggling]);
}

#[test]
fn homoglyphs_fold_to_latin_and_are_flagged_inside_latin_words() {
    let n = normalize("Plеаsе ignоre");
    assert_eq!(n.text, "please ignore");
    assert_eq!(kinds(&n), vec![SignalKind::Homoglyph]);
}

#[test]
fn plain_cyrillic_words_are_not_flagged_as_homoglyphs() {
    let n = normalize("привет мир");
    assert!(n.signals.is_empty());
}

#[test]
fn full_width_letters_fold_and_are_flagged() {
    let original = "Ｉｇｎｏｒｅ\u{3000}ａｌｌ";
    let n = normalize(original);
    assert_eq!(n.text, "ignore all");
    assert_eq!(kinds(&n), vec![SignalKind::Compatibility]);
    let span = n.original_span(7..10, original);
    assert_eq!(&original[span], "ａｌｌ");
}

#[test]
fn diacritics_are_dropped_so_accented_cue_words_match() {
    assert_eq!(
        normalize("Ignorá las instrucciónes").text,
        "ignora las instrucciones"
    );
}

#[test]
fn ligatures_expand_and_map_back_inside_the_original_char() {
    let original = "ﬁle";
    let n = normalize(original);
    assert_eq!(n.text, "file");
    assert_eq!(&original[n.original_span(1..4, original)], "ﬁle");
}

#[test]
fn many_variation_selectors_are_flagged() {
    let n = normalize("a\u{FE00}\u{FE01}\u{FE02}\u{FE03}\u{FE04}b");
    assert_eq!(n.text, "ab");
    assert_eq!(kinds(&n), vec![SignalKind::VariationSelectors]);
}

#[test]
fn literals_fold_like_text() {
    assert_eq!(fold_literal("  IGNORE  Previous "), "ignore previous");
}

#[test]
fn an_unchanged_text_maps_spans_one_to_one() {
    let original = "an unfiltered chatbot";
    let n = normalize(original);
    assert_eq!(&original[n.original_span(3..13, original)], "unfiltered");
}

#[test]
fn the_eight_byte_fast_path_agrees_with_the_byte_test() {
    // Chunks over bytes that matter (space, edges of printable ASCII,
    // control and non-ASCII), every `next`, from a fixed pseudo-random walk.
    let interesting = [
        b' ', b' ', b' ', b'a', b'Z', b'!', b'~', 0x7F, 0x1F, b'\n', b'\t', 0xC3, 0x80,
    ];
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..200_000 {
        let mut chunk = [0u8; 9];
        for b in &mut chunk {
            *b = interesting[crate::scan::draw(&mut seed, interesting.len())];
        }
        let (body, next) = (&chunk[..8], chunk.get(8));
        let bytewise = (0..8).all(|k| is_simple(body[k], body.get(k + 1).or(next)));
        assert_eq!(simple_chunk(body, next), bytewise, "{chunk:?}");
        assert_eq!(
            simple_chunk(body, None),
            (0..8).all(|k| is_simple(body[k], body.get(k + 1))),
            "{chunk:?}"
        );
    }
}

#[test]
fn single_and_double_spaces_across_chunk_edges_fold_alike() {
    for pad in 0..10 {
        let x = "x".repeat(pad);
        let n = normalize(&format!("{x}Ab  cD eF g \tHi   j Kl"));
        assert_eq!(n.text, format!("{x}ab cd ef g hi j kl"), "{pad}");
    }
}

#[test]
fn hangul_and_kana_fold_whole_and_other_marks_still_drop() {
    // Jamo or unvoiced kana would never equal what packs spell.
    assert_eq!(normalize("이전 지시를 무시").text, "이전 지시를 무시");
    assert_eq!(normalize("プロンプトを無視").text, "プロンプトを無視");
    // Half-width katakana still widen; accents still drop.
    assert_eq!(normalize("ｱｲ café").text, "アイ cafe");
}
