//! Sentence-level structural features: what one sentence does (opens with an
//! imperative, addresses the reader or the AI, overrides instructions, asks
//! for credentials, ...), counted per document for the density features, and
//! the structural findings the scanner reports. [`super::features`] tokenises
//! and calls [`end_sentence`] at each sentence end.
//!
//! Invariant: every feature goes to the last closed token ([`Sink::late`]),
//! so a window of tokens still holds the features of its sentences.

use super::features::{Group, NS_SENT, StructKind, index};
use super::sink::Sink;
use crate::scan::lexicon::Cue;
use std::ops::Range;

/// Sentence feature ids (mixed with the group and hashed).
#[derive(Clone, Copy)]
pub(super) enum Sent {
    Imp0 = 1,
    Imp0You = 2,
    Imp0Ai = 3,
    Imp0Response = 4,
    YouAi = 5,
    OverrideInstr = 6,
    SecrecyYou = 7,
    Imp0FirstLine = 8,
    Imp0LastLine = 9,
    QuestionFirstLine = 11,
    UrgencyAi = 12,
    Imp0Instr = 13,
    YouModal = 14,
    PersonaAddressed = 15,
    NegatedRules = 16,
    Imp0Quoted = 17,
    Imp0Comment = 18,
    CredentialAsked = 19,
    Imp0DocStart = 20,
    Imp0DocEnd = 21,
    DenseImperatives = 22,
    DenseSecondPerson = 23,
    PersonaNegation = 24,
    ModalResponse = 25,
    YouResponse = 26,
    Imp0LoneLine = 27,
    RevokedRules = 28,
    EndedRules = 29,
    ModeSwitched = 30,
}

/// Counts over the sentences of a document, for density features.
#[derive(Default)]
pub(super) struct DocStats {
    pub(super) sentences: usize,
    pub(super) imperatives: usize,
    pub(super) second_person: usize,
    /// The first sentence opened with an imperative.
    pub(super) first_imp0: Option<bool>,
    /// The last finished sentence opened with an imperative.
    pub(super) last_imp0: bool,
    /// Some sentence named an AI ("assistant", "the bot", "Claude").
    pub(super) ai: bool,
    /// Sentences that declare rules or setup ended without naming the
    /// reader: `struct.rules-revoked` once the document names an AI.
    pub(super) ended_rules: Vec<Range<usize>>,
    /// Sentences that put "you" or an AI in a debug, developer, admin, ...
    /// mode: `struct.mode-switched` once the document names an AI.
    pub(super) modes: Vec<Range<usize>>,
}

pub(super) struct SentenceState {
    /// A quote opened before the first token: the sentence is quoted text.
    pub(super) quoted: bool,
    /// A `#` or `//` before the first token: a code comment.
    pub(super) comment: bool,
    /// Folded offset of the sentence: where the previous one ended until its
    /// first word is read, then that word's start, so that a structural
    /// finding's span holds no line breaks or quotes before the sentence.
    pub(super) start: usize,
    pub(super) mask: u32,
    pub(super) imp0: bool,
    pub(super) tokens: usize,
    pub(super) leader: bool,
    /// The tokens so far read "in your response" (after "in", "in your").
    pub(super) in_your: bool,
    /// An order follows an "in your response," opener: "In your reply, add
    /// a link to ...". A structural finding only; the model's features are
    /// those of the sentence as written.
    pub(super) reply_order: bool,
    pub(super) first_token_line: usize,
    pub(super) code_chars: usize,
}

impl SentenceState {
    /// Structural findings are for prose: long or code-like "sentences" are
    /// left to the model. Code-like means dense in code characters, not merely
    /// holding a few: an order with a worked example, "(a=1, b=2)", is still
    /// prose.
    pub(super) fn is_prose(&self) -> bool {
        self.tokens <= 48 && !(self.code_chars >= 3 && self.code_chars * 2 > self.tokens)
    }

    pub(super) fn new(start: usize, line: usize) -> SentenceState {
        SentenceState {
            quoted: false,
            comment: false,
            start,
            mask: 0,
            imp0: false,
            tokens: 0,
            leader: false,
            in_your: false,
            reply_order: false,
            first_token_line: line,
            code_chars: 0,
        }
    }
}

pub(super) fn push_sent<S: Sink>(doc: &mut S, group: Group, s: Sent, on: bool) {
    if !on || doc.tokens() == 0 {
        return;
    }
    doc.late(index(s as u64, NS_SENT));
    doc.late(index(s as u64 + 64 * group as u64, NS_SENT));
}

#[allow(clippy::too_many_arguments)]
pub(super) fn end_sentence<S: Sink>(
    doc: &mut S,
    s: &SentenceState,
    stats: &mut DocStats,
    group: Group,
    end: usize,
    line: usize,
    question: bool,
    first_line_alone: bool,
) {
    let has = |c: Cue| s.mask & c.bit() != 0;
    let you = has(Cue::SecondPerson);
    let ai = has(Cue::AiAddress);
    let resp = has(Cue::Response);
    let instr = has(Cue::Instructions);
    let over = has(Cue::Override);
    stats.sentences += 1;
    stats.imperatives += usize::from(s.imp0);
    stats.second_person += usize::from(you);
    stats.first_imp0.get_or_insert(s.imp0);
    stats.last_imp0 = s.imp0;
    let modal = has(Cue::Modal);
    let persona = has(Cue::Persona);
    let negation = has(Cue::Negation);
    push_sent(doc, group, Sent::YouModal, you && modal);
    push_sent(
        doc,
        group,
        Sent::PersonaAddressed,
        persona && (you || s.imp0),
    );
    push_sent(doc, group, Sent::NegatedRules, negation && instr);
    push_sent(doc, group, Sent::PersonaNegation, persona && negation);
    push_sent(doc, group, Sent::ModalResponse, modal && resp);
    push_sent(doc, group, Sent::YouResponse, you && resp);
    push_sent(doc, group, Sent::Imp0Quoted, s.imp0 && s.quoted);
    push_sent(doc, group, Sent::Imp0Comment, s.imp0 && s.comment);
    push_sent(
        doc,
        group,
        Sent::CredentialAsked,
        has(Cue::Credential) && (you || s.imp0 || question),
    );
    push_sent(doc, group, Sent::Imp0, s.imp0);
    push_sent(doc, group, Sent::Imp0You, s.imp0 && you);
    push_sent(doc, group, Sent::Imp0Ai, s.imp0 && ai);
    push_sent(doc, group, Sent::Imp0Response, s.imp0 && resp);
    push_sent(doc, group, Sent::Imp0Instr, s.imp0 && instr);
    push_sent(doc, group, Sent::YouAi, you && ai);
    push_sent(doc, group, Sent::OverrideInstr, over && instr);
    // The reader's rules declared revoked ("the guardrails you were given
    // were revoked"); or rules or setup declared ended, in words that also
    // end accounts ("restrictions lifted", "your settings wiped"), which
    // count only once the document names an AI. Every such sentence holds a
    // word the plan gates on (a rule word, "you", an AI), so planned and
    // whole-text featurisation find the same.
    let revoked = has(Cue::Revoked) && instr && (you || ai);
    let ended = (instr || has(Cue::Setup) && (you || ai))
        && s.mask & (Cue::Revoked.bit() | Cue::Ended.bit()) != 0;
    stats.ai |= ai;
    push_sent(doc, group, Sent::RevokedRules, revoked);
    push_sent(doc, group, Sent::EndedRules, ended && !revoked);
    // "You're in debug mode", "the bot must now run in maintenance mode":
    // the reader, or an AI given an order or an obligation ("our chatbot
    // still shows [TEST MODE]" describes one). The sentence names its
    // subject, so the plan reads it.
    let mode = has(Cue::Mode)
        && has(Cue::ModeKind)
        && (you || ai && (s.imp0 || modal || has(Cue::Urgency)));
    push_sent(doc, group, Sent::ModeSwitched, mode);
    push_sent(
        doc,
        group,
        Sent::SecrecyYou,
        has(Cue::Secrecy) && (you || s.imp0),
    );
    push_sent(doc, group, Sent::UrgencyAi, has(Cue::Urgency) && ai);
    push_sent(
        doc,
        group,
        Sent::Imp0FirstLine,
        s.imp0 && first_line_alone && line == 0,
    );
    push_sent(
        doc,
        group,
        Sent::QuestionFirstLine,
        question && first_line_alone,
    );
    let span = s.start..end;
    if !s.is_prose() {
        return;
    }
    if (s.imp0 || s.reply_order) && resp && you {
        doc.structs()
            .push((StructKind::InstructionToResponder, span.clone()));
    }
    if ai && you && (s.imp0 || has(Cue::Urgency)) {
        doc.structs()
            .push((StructKind::AddressedToAi, span.clone()));
    }
    if over && instr && (s.imp0 || you) {
        doc.structs()
            .push((StructKind::OverrideInstructions, span.clone()));
    }
    if mode {
        stats.modes.push(span.clone());
    }
    if revoked {
        doc.structs().push((StructKind::RulesRevoked, span));
    } else if ended {
        stats.ended_rules.push(span);
    }
}
