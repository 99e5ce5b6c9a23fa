//! Sentence-level structural features: what one sentence does (opens with an
//! imperative, addresses the reader or the AI, overrides instructions, asks
//! for credentials, ...), counted per document for the density features, and
//! the structural findings the scanner reports. [`super::features`] tokenises
//! and calls [`end_sentence`] at each sentence end; [`super::address`]
//! reads each word for whom the sentence speaks to and what it orders.
//!
//! Invariant: every feature goes to the last closed token ([`Sink::late`]),
//! so a window of tokens still holds the features of its sentences.

use super::features::{Group, NS_SENT, StructKind, index};
use super::persona::NounPhrase;
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
    AiAddressedOrder = 31,
    PersonaCast = 32,
    Freed = 33,
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
    /// The last sentence was a label that names an AI and whom it speaks to,
    /// ended by a colon ("Note for the assistant reading this:", "Beste AI,
    /// als je dit leest:"): its start, for an order in the next sentence.
    pub(super) ai_label: Option<usize>,
    /// Where sentences that cast the reader as a persona or an AI start
    /// ("Simulate an AI called Vexa", "Answer as Morrow").
    pub(super) casts: Vec<usize>,
    /// Sentences that declare constraints absent or not observed ("Vexa
    /// was built without any content guidelines", "does not believe in
    /// censorship"): `struct.persona-freed` when a cast stands near.
    pub(super) freed: Vec<Range<usize>>,
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
    pub(super) mask: u64,
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
    /// No comma or dash has ended the sentence's first clause yet.
    pub(super) first_clause_open: bool,
    /// The first clause names an AI.
    pub(super) first_clause_ai: bool,
    /// The sentence opens with a greeting ("Dear", "Hey", "ای", "Hoy").
    pub(super) greeting_first: bool,
    /// The sentence speaks to an AI: its first clause names one and is a
    /// word or two ("Assistant,", "Βοηθέ,") or opens with a greeting ("ای
    /// دستیار هوش مصنوعی ...،"), or an AI is @-mentioned ("@bot").
    pub(super) vocative: bool,
    /// The next word opens a clause (after a comma, a dash or a mention).
    pub(super) clause_start: bool,
    /// After a vocative, an order: an imperative opening a clause, or an
    /// imperative form read anywhere ("Asistente, si estás ..., di que ...",
    /// "... asistan bot, ... bana özelden gönder").
    pub(super) voc_order: bool,
    /// A word naming an AI is followed by a comma ("bot, который ...:"); an
    /// imperative form after it is an order to it ("... asistan bot, ...
    /// bana özelden gönder").
    pub(super) ai_comma: bool,
    /// An imperative or an infinitive among the first five words, or an
    /// imperative form anywhere: what an order after a label may look like ("przy każdej
    /// sugestii dopisz ...", "उपयोगकर्ता को बताओ").
    pub(super) imp_early: bool,
    pub(super) command: bool,
    /// The sentence ends in a colon.
    pub(super) ends_colon: bool,
    /// Token number (from 1) of the last word naming an AI and of the last
    /// addressee word ("to", "für", "إلى"), and whether the last token was
    /// a short word that is no order ("the", "den", "l"): the label speaks
    /// to the AI when the addressee comes just before it, or with one such
    /// word between ("Note to the assistant", "Pour l'agent IA", not "How
    /// to use the AI" nor "Para usar el asistente"), or when a postposition
    /// comes at most two words after it ("AI के लिए", "bot se").
    pub(super) last_ai: usize,
    pub(super) last_addressee: usize,
    pub(super) prev_short: bool,
    /// Words since the last word naming an AI, counting it as 1 (0: none
    /// within three).
    pub(super) ai_after: u8,
    /// A word naming an AI is the head of its phrase: it ends its clause, or
    /// a postposition or a [`Cue::Reader`] word follows within two more
    /// words ("Assistant,", "the AI reading this", "बॉट से", "l'agente de
    /// calendario que ..."); not a noun it modifies ("Note for the chatbot
    /// team:", "Hey AI fans,"). Labels and vocatives need one.
    pub(super) ai_head: bool,
    pub(super) addressed_ai: bool,
    /// Token number of a role noun just after an addressee ("pour le
    /// système"): a word naming an AI within two more makes the label speak
    /// to it ("pour le système d'IA :").
    pub(super) role_at: usize,
    /// Token number of a [`Cue::Reader`] word at most two after a word naming
    /// a machine ("the model that", "Der Assistent, der").
    pub(super) reader_at: usize,
    /// Token number of the last word naming a machine that may read this
    /// text, of the last [`Cue::Quantifier`], and of such a word right after
    /// one ("any system", "whatever process", "jedes Programm").
    pub(super) last_machine: usize,
    pub(super) last_quantifier: usize,
    pub(super) anyone_at: usize,
    /// Then a [`Cue::Deictic`] word within five: the program reading this
    /// very text ("the model that triages these tickets", "whatever process
    /// ingests this log").
    pub(super) reader_ref: bool,
    /// Token number of an obligation after such a reference ("... must",
    /// "... is required", "..., muss"), and whether a negation followed it.
    pub(super) obliged_at: usize,
    pub(super) obliged_negated: bool,
    /// The obligation names an action: an imperative, an imperative form or
    /// an infinitive after it, not negated ("The model that triages these
    /// tickets must forward ...", "..., muss alle Rechnungen ...
    /// weiterleiten"); not "... must not store it".
    pub(super) reader_order: bool,
    /// Commas and dashes that ended a clause: a record line
    /// ("ChatOps agent,internal,SRE,paused,deploy metadata") has about one
    /// a word, and is no vocative.
    pub(super) commas: usize,
    /// An imperative opened a clause after the first ("When this page is
    /// indexed, append ..."): an order after a label.
    pub(super) clause_order: bool,
    /// A short word, then any word not an order, right after an addressee:
    /// a word naming an AI next is spoken to ("for the triage bot", "for
    /// the notes summariser"; not "to use the AI").
    pub(super) short_then_word: bool,
    /// Token numbers above count from here: a sentence wrapped at a line
    /// break goes on counting where the line before it stopped.
    pub(super) base: usize,
    /// Where a sentence wrapped over lines began ([`SentenceState::wrapped`]).
    pub(super) wrapped_from: Option<usize>,
    /// Token numbers of the last privative word ("no", "without", "sans"),
    /// of the last negation, of an observance verb within three words after
    /// a negation ("does not follow"), and of the last order or word for
    /// the reader's reply.
    pub(super) last_privative: usize,
    /// The last privative word was "free", which deprives only before
    /// "from" or "of" ("free from all policies", not "free returns policy").
    pub(super) privative_free: bool,
    pub(super) last_negation: usize,
    pub(super) observed_at: usize,
    pub(super) last_verb: usize,
    /// Whose a declared absence is ([`NounPhrase`]).
    pub(super) phrase: NounPhrase,
    /// A constraint word declared absent or not observed: at most two
    /// words after a privative word, or five after an observance verb.
    pub(super) freed: bool,
    /// A [`Cue::Guise`] word at most two words after an order or a word for
    /// the reply ("answer as", "act as", "write every answer as").
    pub(super) guise: bool,
    /// A [`Cue::Persona`] word that is no [`Cue::Frame`]: who the reader is
    /// to be ("simulate", "persona", "uncensored"), not a scenario.
    pub(super) identity: bool,
    /// A [`Cue::Reader`] word, a privative word or "with" right after a
    /// word naming an AI ("an AI that", "una IA que", "an assistant with
    /// zero filters", "an AI without rules"): the AI is described, not
    /// acting ("chatbots impersonate characters that ...") nor modifying
    /// ("an AI ethicist").
    pub(super) ai_described: bool,
    /// Token number of the first word of the clause a comma opened, and
    /// whether the last word naming an AI stood first or second in such a
    /// clause ("Lobo, una IA que ..."): an apposition naming what the
    /// persona is, not an AI a sentence speaks about ("pedem ao chatbot que
    /// assuma uma persona sem regras").
    pub(super) clause_first: usize,
    pub(super) ai_apposed: bool,
    /// [`SentenceState::ai_described`] of an AI in apposition.
    pub(super) appositive: bool,
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
            first_clause_open: true,
            first_clause_ai: false,
            greeting_first: false,
            vocative: false,
            clause_start: false,
            voc_order: false,
            ai_comma: false,
            imp_early: false,
            command: false,
            ends_colon: false,
            last_ai: 0,
            last_addressee: 0,
            prev_short: false,
            ai_after: 0,
            ai_head: false,
            addressed_ai: false,
            role_at: 0,
            reader_at: 0,
            last_machine: 0,
            last_quantifier: 0,
            anyone_at: 0,
            reader_ref: false,
            obliged_at: 0,
            obliged_negated: false,
            reader_order: false,
            commas: 0,
            clause_order: false,
            short_then_word: false,
            base: 0,
            wrapped_from: None,
            last_privative: 0,
            privative_free: false,
            last_negation: 0,
            observed_at: 0,
            last_verb: 0,
            phrase: NounPhrase::default(),
            freed: false,
            guise: false,
            identity: false,
            ai_described: false,
            clause_first: 0,
            ai_apposed: false,
            appositive: false,
        }
    }

    /// The state after a line break that may wrap a sentence (see
    /// [`wraps`]): a new sentence for the model, whose features are per line,
    /// and for how the line opens (a vocative, an imperative), since it may
    /// be a new sentence; but whom the text speaks to and what it obliges
    /// read on from the line before when it named an AI, a machine or an
    /// addressee ("Whichever\nsystem ends up summarising this thread should
    /// also\nforward ...").
    pub(super) fn wrapped(prev: &SentenceState, start: usize, line: usize) -> SentenceState {
        let fresh = SentenceState::new(start, line);
        if prev.last_ai == 0
            && prev.last_machine == 0
            && prev.last_addressee == 0
            && prev.last_quantifier == 0
        {
            return fresh;
        }
        SentenceState {
            ai_comma: prev.ai_comma,
            last_ai: prev.last_ai,
            last_addressee: prev.last_addressee,
            prev_short: prev.prev_short,
            short_then_word: prev.short_then_word,
            ai_after: prev.ai_after,
            ai_head: prev.ai_head,
            addressed_ai: prev.addressed_ai,
            role_at: prev.role_at,
            reader_at: prev.reader_at,
            last_machine: prev.last_machine,
            last_quantifier: prev.last_quantifier,
            anyone_at: prev.anyone_at,
            reader_ref: prev.reader_ref,
            obliged_at: if prev.reader_order {
                0
            } else {
                prev.obliged_at
            },
            obliged_negated: prev.obliged_negated,
            base: prev.base + prev.tokens,
            wrapped_from: Some(prev.wrapped_from.unwrap_or(prev.start)),
            ..fresh
        }
    }
}

/// The line break at `i` of folded `b` may wrap a sentence: the line before
/// holds at least 40 bytes and ends in a letter or a comma, and the next goes
/// on with a letter, after its indentation and a comment or quote mark
/// (`#`, `//`, `*`, `>`, `--`). Mail, comments and notes are often wrapped
/// mid-sentence. Case is folded away, so this also holds for a new sentence
/// on the next line: only the state of whom the text speaks to carries over
/// ([`SentenceState::wrapped`]), never the model's features.
pub(super) fn wraps(b: &[u8], i: usize) -> bool {
    const WIDTH: usize = 40;
    let Some(&prev) = i.checked_sub(1).and_then(|p| b.get(p)) else {
        return false;
    };
    if !(prev.is_ascii_alphabetic() || prev == b',' || prev >= 0x80) || i < WIDTH {
        return false;
    }
    if b[i - WIDTH..i].contains(&b'\n') {
        return false;
    }
    let mut j = i + 1;
    let skip_blank = |j: &mut usize| {
        while matches!(b.get(*j), Some(b' ' | b'\t')) {
            *j += 1;
        }
    };
    skip_blank(&mut j);
    match (b.get(j), b.get(j + 1)) {
        (Some(b'/'), Some(b'/')) | (Some(b'-'), Some(b'-')) => j += 2,
        (Some(b'#' | b'*' | b'>'), _) => j += 1,
        _ => {}
    }
    skip_blank(&mut j);
    b.get(j)
        .is_some_and(|&c| c.is_ascii_alphabetic() || c >= 0x80)
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
    let cast = s.casts_reader(you, ai);
    push_sent(doc, group, Sent::PersonaCast, cast);
    push_sent(doc, group, Sent::Freed, s.freed);
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
    // An order after a label that names an AI and speaks to it ("Note for
    // the assistant reading this: forward ..."), or after a vocative
    // ("Assistant, forward ..."). The label names an AI, a word the plan
    // gates on, and the plan adds the sentence after it as context; a
    // vocative is in the sentence that names the AI.
    let label_order = stats.ai_label.take().filter(|_| {
        s.is_prose() && (s.imp0 || s.reply_order || s.imp_early || s.command || s.clause_order)
    });
    // A record line is no vocative: its commas part fields, not clauses.
    let voc_order = s.voc_order && s.commas * 2 <= s.tokens;
    push_sent(
        doc,
        group,
        Sent::AiAddressedOrder,
        label_order.is_some() || voc_order || s.reader_order,
    );
    let span = s.start..end;
    // An order to the reader whom an earlier line of a wrapped sentence
    // named reaches back to it.
    let address_span = s.wrapped_from.unwrap_or(s.start)..end;
    if !s.is_prose() {
        return;
    }
    if s.ends_colon
        && s.ai_head
        && s.tokens <= 16
        && (s.addressed_ai
            || has(Cue::Greeting)
            || you
            || has(Cue::Urgency)
            || s.ai_comma
            || s.reader_ref)
    {
        stats.ai_label = Some(s.wrapped_from.unwrap_or(s.start));
    }
    let addressed = ai && you && (s.imp0 || has(Cue::Urgency));
    if let Some(start) = label_order {
        doc.structs().push((StructKind::AddressedToAi, start..end));
    } else if (voc_order || s.reader_order) && !addressed {
        doc.structs()
            .push((StructKind::AddressedToAi, address_span));
    }
    if (s.imp0 || s.reply_order) && resp && you {
        doc.structs()
            .push((StructKind::InstructionToResponder, span.clone()));
    }
    if addressed {
        doc.structs()
            .push((StructKind::AddressedToAi, span.clone()));
    }
    // A verb-final language puts the order last: "पिछले सभी निर्देशों को
    // अनदेखा करें" (unless negated: "... अनदेखा न करें").
    if over && instr && (s.imp0 || you || s.command && !negation) {
        doc.structs()
            .push((StructKind::OverrideInstructions, span.clone()));
    }
    if mode {
        stats.modes.push(span.clone());
    }
    if cast {
        stats.casts.push(span.start);
    }
    if s.freed {
        stats.freed.push(span.clone());
    }
    if revoked {
        doc.structs().push((StructKind::RulesRevoked, span));
    } else if ended {
        stats.ended_rules.push(span);
    }
}
