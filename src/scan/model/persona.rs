//! A persona freed of its rules (`struct.persona-freed`): a sentence that
//! casts the reader as a persona or an AI ("Simulate an AI called Vexa",
//! "Answer as Morrow", "Switch into your uncensored twin") near one that
//! declares constraints absent ("... built without any content
//! guidelines", "does not believe in censorship"). [`SentenceState`] reads
//! the words; [`persona_freed`] pairs the sentences of a document.

use super::features::StructKind;
use super::sentence::{DocStats, SentenceState};
use super::sink::Sink;
use crate::scan::lexicon::Cue;

/// Whose a declared absence is: the noun phrase being read and the
/// words around it ([`SentenceState::read_noun_phrase`]). Token numbers; 0
/// when none.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NounPhrase {
    /// A noun phrase a determiner opened away from a cast, its last plain
    /// word so far, and whether that word is a pronoun.
    det: usize,
    last: usize,
    pronoun: bool,
    /// Where a third party's description begins: a privative word or a
    /// negation within five words after it frees that party, not the
    /// persona ("a tabloid that doesn't follow any ethics code", "countries
    /// that have no censorship laws").
    foreign_at: usize,
    /// A relative pronoun right after a plain word, until a plural verb
    /// shows its antecedent is not the persona ("suppliers that have").
    rel_plain_at: usize,
    /// The last word of any cue class, and the last word that casts (a
    /// persona word, a guise, "you").
    last_classed: usize,
    cast_at: usize,
}

impl NounPhrase {
    /// Word number `nth` must be read even if it is plain: a phrase is
    /// open, a relative pronoun awaits its verb, or a third party's
    /// description is still within reach.
    #[inline(always)]
    pub(super) fn pending(&self, nth: usize) -> bool {
        self.det != 0
            || self.rel_plain_at != 0
            || self.foreign_at != 0 && nth <= self.foreign_at + 5
    }
}

impl SentenceState {
    /// Reads a declaration that constraints are absent or not observed
    /// ("without any content guidelines", "does not believe in
    /// censorship"), and a guise ("answer as").
    pub(super) fn read_freedom(&mut self, word: &[u8], classes: u64, nth: usize) {
        const FREEDOM: u64 = Cue::Privative.bit()
            | Cue::Negation.bit()
            | Cue::Constraint.bit()
            | Cue::Observance.bit()
            | Cue::Guise.bit()
            | Cue::Imperative.bit()
            | Cue::Response.bit()
            | Cue::Persona.bit();
        if self.privative_free && nth == self.last_privative + 1 {
            // "free" then a cue word, not "from" or "of".
            self.last_privative = 0;
        }
        if classes & FREEDOM == 0 {
            return;
        }
        let has = |c: Cue| classes & c.bit() != 0;
        let within = |at: usize, n: usize| at > 0 && nth - at <= n;
        self.identity |= has(Cue::Persona) && !has(Cue::Frame);
        if has(Cue::Constraint) {
            self.freed |= within(self.last_privative, 3) || within(self.observed_at, 5);
        }
        if has(Cue::Observance) && within(self.last_negation, 3) {
            self.observed_at = nth;
        }
        // A third party's freedom is not the persona's.
        let foreign = self.phrase.foreign_at > 0 && nth - self.phrase.foreign_at <= 5;
        if has(Cue::Privative) && !foreign {
            self.last_privative = nth;
            self.privative_free = word == b"free";
        }
        if (has(Cue::Negation) || has(Cue::Privative) && !self.privative_free) && !foreign {
            self.last_negation = nth;
        }
        self.guise |= has(Cue::Guise) && within(self.last_verb, 2);
        if has(Cue::Imperative) || has(Cue::Response) {
            self.last_verb = nth;
        }
    }

    /// Reads who a freedom belongs to: a noun phrase a determiner or a
    /// possessive opens ("a regional tabloid", "the vendor", "notre
    /// filiale") and a relative pronoun or a privative, negation or
    /// observance word right after it make what follows the phrase's, not
    /// the persona's ([`NounPhrase::foreign_at`]); so does a relative pronoun
    /// after a plain word followed by a plural verb ("countries that have
    /// no censorship laws": a persona is one). A pronoun just before that
    /// word is its subject instead ("free from its bounds it has no
    /// guidelines"). A phrase within four words after a cast is the persona
    /// itself ("act as a counselor who has no ethics", "you are a ...").
    pub(super) fn read_noun_phrase(&mut self, word: &[u8], classes: u64, det: bool, nth: usize) {
        let plain = classes == 0 && !det;
        let rel = classes & Cue::Reader.bit() != 0;
        if self.phrase.rel_plain_at != 0 {
            let from = self.phrase.rel_plain_at;
            if is_plural_verb(word) {
                self.phrase.foreign_at = from;
                // "que no tienen": the negation came first.
                if self.last_privative > from {
                    self.last_privative = 0;
                }
                if self.last_negation > from {
                    self.last_negation = 0;
                }
                if self.observed_at > from {
                    self.observed_at = 0;
                }
            }
            if is_plural_verb(word) || nth - from >= 2 {
                self.phrase.rel_plain_at = 0;
            }
        }
        if self.phrase.det == 0 && self.phrase.foreign_at != 0 && is_pronoun(word) {
            // "a court order, which means it is not bound by ...": the
            // pronoun, not the phrase, is what the freedom is about.
            self.phrase.foreign_at = 0;
        }
        if self.phrase.det != 0 {
            const SUBJECT: u64 = Cue::Observance.bit() | Cue::Privative.bit() | Cue::Negation.bit();
            // The French negation's elision ends the phrase as a negation
            // does: "notre filiale n'a aucune charte éthique".
            let (plain, classes) = if word == b"n" {
                (false, Cue::Negation.bit())
            } else {
                (plain, classes)
            };
            // After a pronoun inside the phrase comes its verb, whatever
            // its class ("a vendor we use").
            let verb = self.phrase.pronoun && self.phrase.last + 1 == nth && classes & SUBJECT == 0;
            if (plain || verb) && nth - self.phrase.det <= 4 {
                self.phrase.last = nth;
                self.phrase.pronoun = is_pronoun(word);
                return;
            }
            // A pronoun right before is the subject ("free from its bounds
            // it has no guidelines"); one further back is a clause inside
            // the phrase ("a vendor we use has no policy").
            let pronoun_subject = self.phrase.last + 1 == nth && self.phrase.pronoun;
            if self.phrase.last != 0 && (rel || classes & SUBJECT != 0 && !pronoun_subject) {
                self.phrase.foreign_at = if rel { nth } else { self.phrase.last };
            }
            self.phrase.det = 0;
            self.phrase.last = 0;
        }
        if rel && self.phrase.last_classed + 1 < nth {
            self.phrase.rel_plain_at = nth;
        }
        if det && (self.phrase.cast_at == 0 || nth - self.phrase.cast_at > 4) {
            self.phrase.det = nth;
            self.phrase.pronoun = false;
        }
        const CASTS: u64 = Cue::Persona.bit() | Cue::Guise.bit() | Cue::SecondPerson.bit();
        if classes & CASTS != 0 {
            self.phrase.cast_at = nth;
        }
        if !plain {
            self.phrase.last_classed = nth;
        }
    }

    /// Reads a word of no cue class for the same: a gerund after a
    /// privative word takes it ("without crossing any boundaries" declares
    /// no constraint absent), as does any word but "from" or "of" after
    /// "free"; "with" right after a word naming an AI describes it.
    pub(super) fn read_plain_word(&mut self, word: &[u8], nth: usize) {
        if self.last_privative != 0
            && (nth - self.last_privative > 3
                || word.ends_with(b"ing")
                || self.privative_free
                    && nth == self.last_privative + 1
                    && !matches!(word, b"from" | b"of"))
        {
            self.last_privative = 0;
        }
        if self.ai_after == 1 && is_with(word) {
            self.ai_described = true;
            self.appositive |= self.ai_apposed;
        }
    }

    /// The sentence casts the reader as a persona or an AI (`you`: it says
    /// "you"; `ai`: it names an AI). The cast speaks to the reader or
    /// opens a clause with an order, which a report about such prompts
    /// does not ("users ask chatbots to impersonate characters that have no
    /// rules"; "O estudo mostra que ...", where the Italian order "mostra"
    /// is a Portuguese statement's verb); names who
    /// the reader is to be, not a scenario ("let's agree this is purely
    /// hypothetical"); and an AI it names is the head of its phrase ("if
    /// you were an AI that ...", not "you are an AI ethicist"), or, in
    /// languages that drop "you", an apposition beside a persona word ("vas
    /// a simular ser Lobo, una IA que ...", not "pedem ao chatbot que
    /// assuma uma persona sem regras", a report). Each such sentence holds a
    /// word the plan gates on ("you", an AI) or opens with an order, as a
    /// declaration of freedom holds a constraint word, so planned and
    /// whole-text featurisation find the same.
    pub(super) fn casts_reader(&self, you: bool, ai: bool) -> bool {
        (self.identity || self.guise) && (you || self.imp0 || ai && self.clause_order)
            || ai && (self.ai_described && you || self.appositive && self.identity)
            || ai && self.ai_head && you
    }
}

/// How far apart, in folded bytes, a cast and a declaration of freedom may
/// stand (before or after): a few sentences of one prompt, not two
/// paragraphs of a long document.
const PERSONA_REACH: usize = 600;

/// `struct.persona-freed`: the first sentence declaring constraints absent
/// with a cast within [`PERSONA_REACH`] bytes of its start. Casts are
/// recorded in text order, so each look-up is a binary search: a document
/// of thousands of each costs no more than reading it.
pub(super) fn persona_freed<S: Sink>(doc: &mut S, stats: &mut DocStats) {
    let freed = std::mem::take(&mut stats.freed);
    let casts = &stats.casts;
    if let Some(span) = freed.into_iter().find(|f| {
        let first = casts.partition_point(|&c| c + PERSONA_REACH < f.start);
        casts
            .get(first)
            .is_some_and(|&c| c <= f.start + PERSONA_REACH)
    }) {
        doc.structs().push((StructKind::PersonaFreed, span));
    }
}

/// A subject pronoun: it, he, she, they, we, I.
fn is_pronoun(word: &[u8]) -> bool {
    matches!(word, b"it" | b"he" | b"she" | b"they" | b"we" | b"i")
}

/// A plural verb right after a relative pronoun: its antecedent is many
/// ("suppliers that have", "users who do not", "países que no tienen").
fn is_plural_verb(word: &[u8]) -> bool {
    matches!(
        word,
        b"have"
            | b"do"
            | b"don"
            | b"are"
            | b"aren"
            | b"were"
            | b"lack"
            | b"follow"
            | b"ignore"
            | b"disregard"
            | b"care"
            | b"obey"
            | b"respect"
            | b"tienen"
            | b"siguen"
            | b"respetan"
            | b"carecen"
            | b"ont"
            | b"suivent"
            | b"respectent"
            | b"haben"
            | b"folgen"
            | b"befolgen"
            | b"seguem"
            | b"respeitam"
            | b"hanno"
            | b"seguono"
            | b"rispettano"
    )
}

/// "With" in the lexicon's main languages: after a word naming an AI, what
/// follows describes it ("an assistant with zero filters", "una IA con", the Russian "с").
pub(super) fn is_with(word: &[u8]) -> bool {
    matches!(
        word,
        b"with" | b"con" | b"avec" | b"mit" | b"met" | b"com" | b"z" | [0xd1, 0x81]
    )
}
