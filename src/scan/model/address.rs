//! Whom a sentence speaks to and what it orders, read word by word: a
//! vocative ("Assistant, send ..."), a label that names an AI ("Note to the
//! assistant: ..."), an obligation laid on the program reading the text
//! ("The model that triages these tickets must forward ..."). The state is
//! [`SentenceState`]; [`super::persona`] reads who the reader is cast as.

use super::sentence::SentenceState;
use crate::scan::lexicon::Cue;

impl SentenceState {
    /// Reads one word (its cue `classes`) for whom the sentence speaks to
    /// and its orders: a vocative ("Assistant, send ...", "@bot esquece
    /// ..."), a label ("Note to the assistant: ..."). `mention`: an `@`
    /// right before it; `comma_after`: a comma right after it. Called
    /// before the word is counted in `tokens`. Most words are no cue and
    /// need nothing: a check here, before any call.
    #[inline(always)]
    pub(super) fn address_word(
        &mut self,
        word: &[u8],
        classes: u64,
        mention: bool,
        comma_after: bool,
    ) {
        let det = Cue::Determiner.bit();
        if classes & !det != 0
            || self.ai_after > 0
            || self.clause_start
            || self.last_privative != 0
            || self.last_addressee + 1 >= self.base + self.tokens && self.last_addressee > 0
        {
            self.address_word_read(word, classes, mention, comma_after);
        } else if classes != 0 || self.phrase.pending(self.base + self.tokens + 1) {
            // A determiner, or a plain word of a phrase one opened: only
            // whose phrase it is needs reading.
            let nth = self.base + self.tokens + 1;
            self.read_noun_phrase(word, 0, classes != 0, nth);
        }
    }

    fn address_word_read(&mut self, word: &[u8], classes: u64, mention: bool, comma_after: bool) {
        let nth = self.base + self.tokens + 1;
        if self.clause_start {
            self.clause_first = nth;
        }
        let after_addressee = self.last_addressee + 1 == nth;
        let second_after_addressee = self.last_addressee > 0 && self.last_addressee + 2 == nth;
        let det = classes & Cue::Determiner.bit() != 0;
        let classes = classes & !Cue::Determiner.bit();
        self.read_noun_phrase(word, classes, det, nth);
        if classes == 0 {
            self.read_plain_word(word, nth);
            self.clause_start &= super::text::is_leader(word);
            self.step_after_ai();
            self.short_then_word = second_after_addressee && self.prev_short;
            self.prev_short = after_addressee && is_short(word);
            return;
        }
        let has = |c: Cue| classes & c.bit() != 0;
        self.read_freedom(word, classes, nth);
        let gap = nth - self.last_addressee;
        let next_to_addressee = self.last_addressee > 0
            && (gap == 1 || gap == 2 && self.prev_short || gap == 3 && self.short_then_word);
        // A role noun names an AI right after a word that does, or one word
        // later ("AI reviewer", "automated systems", "GPT-powered helper").
        let role = has(Cue::Role);
        let role_ai = role && matches!(self.ai_after, 1 | 2);
        let ai = has(Cue::AiAddress) || has(Cue::Automated) || has(Cue::Machine) || role_ai;
        let (imp, command) = (has(Cue::Imperative), has(Cue::Command));
        let (addressee, post) = (has(Cue::Addressee), has(Cue::Postposition));
        if role && !role_ai && next_to_addressee {
            self.role_at = nth;
        }
        // A machine that may read this text: a word naming an AI or a
        // program, not one that as often names a person unless a word
        // naming an AI stands just before it ("AI agents").
        let machine =
            (ai || role) && (classes & Cue::Person.bit() == 0 || matches!(self.ai_after, 1 | 2));
        self.read_obligation(classes, nth, machine);
        if self.tokens == 0 {
            self.greeting_first = has(Cue::Greeting);
        }
        self.first_clause_ai |= ai && self.first_clause_open;
        // Notes put the order in the infinitive too ("... for the indexer:
        // mark this page as ...", "Nota para el asistente: enviar ...").
        self.imp_early |= (imp || has(Cue::Infinitive)) && self.tokens < 5;
        self.command |= command;
        if self.clause_start && !super::text::is_leader(word) {
            self.voc_order |= self.vocative && imp;
            self.clause_order |= imp;
            self.clause_start = false;
        }
        self.voc_order |= (self.vocative || self.ai_comma) && command;
        if ai {
            if mention {
                self.vocative = true;
                self.clause_start = true;
            }
            self.ai_comma |= comma_after;
            self.addressed_ai |= addressee
                || post
                || next_to_addressee
                || self.role_at > 0 && nth - self.role_at <= 2;
            self.last_ai = nth;
            self.ai_after = 1;
            self.ai_apposed = self.clause_first > 0 && nth - self.clause_first <= 1;
        } else {
            if post {
                self.addressed_ai |= self.last_ai > 0 && nth - self.last_ai <= 2;
            }
            if self.ai_after > 0 {
                self.ai_head |= post || has(Cue::Reader);
                if self.ai_after == 1 && (has(Cue::Reader) || has(Cue::Privative)) {
                    self.ai_described = true;
                    self.appositive |= self.ai_apposed;
                }
                self.step_after_ai();
            }
        }
        if addressee {
            self.last_addressee = nth;
        }
        let order = imp || has(Cue::Infinitive);
        self.short_then_word = second_after_addressee && self.prev_short && !order;
        self.prev_short = after_addressee && !imp && is_short(word);
    }

    /// Reads an obligation laid on the program reading this text: a word
    /// naming a machine (`machine`), then a [`Cue::Reader`] word, or a
    /// [`Cue::Quantifier`] before it; a [`Cue::Deictic`] word; an
    /// obligation; then an act not negated.
    fn read_obligation(&mut self, classes: u64, nth: usize, machine: bool) {
        let has = |c: Cue| classes & c.bit() != 0;
        if has(Cue::Reader) && self.last_machine > 0 && nth - self.last_machine <= 2 {
            self.reader_at = nth;
        }
        if machine {
            if self.last_quantifier > 0 && nth - self.last_quantifier <= 2 {
                self.anyone_at = nth;
            }
            self.last_machine = nth;
        }
        if has(Cue::Quantifier) {
            self.last_quantifier = nth;
        }
        if has(Cue::Deictic)
            && (self.reader_at > 0 && nth - self.reader_at <= 5
                || self.anyone_at > 0 && nth - self.anyone_at <= 5)
        {
            self.reader_ref = true;
        }
        if self.obliged_at > 0 {
            self.obliged_negated |= has(Cue::Negation);
            self.reader_order |= !self.obliged_negated
                && classes & (Cue::Imperative.bit() | Cue::Command.bit() | Cue::Infinitive.bit())
                    != 0;
        } else if self.reader_ref && classes & (Cue::Modal.bit() | Cue::Obliged.bit()) != 0 {
            self.obliged_at = nth;
        }
    }

    /// One more word since the last word naming an AI; past three, none.
    fn step_after_ai(&mut self) {
        self.ai_after = match self.ai_after {
            0 | 3 => 0,
            n => n + 1,
        };
    }
}

/// At most three characters: three bytes, or up to twelve of another script
/// ("τον" is six).
fn is_short(word: &[u8]) -> bool {
    word.len() <= 3 || word.len() <= 12 && word.iter().filter(|&&x| x & 0xC0 != 0x80).count() <= 3
}
