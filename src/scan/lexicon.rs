//! Cue words by class, from the `lexicon:` sections of rule packs: the
//! multilingual vocabulary of who a text addresses (second person, "the AI"),
//! what it asks (imperative verbs, "ignore", "reveal") and what it refers to
//! ("your response", "instructions"). The model's structural features and the
//! structural rules read it per token.
//!
//! Invariant: entries are single folded words, looked up by their 64-bit hash,
//! so a lookup costs one hash-map probe per token.

use crate::prehashed::BuildPrehashed;
use std::collections::HashMap;

/// A cue class. The discriminant is its bit in a class mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    /// A verb in the imperative: ignore, write, send, include, ignora, ignorez.
    Imperative = 0,
    /// You, your, tu, vous, du, Sie, ты.
    SecondPerson = 1,
    /// The assistant, the AI, the model, chatbot, GPT, Claude.
    AiAddress = 2,
    /// Response, reply, answer, output: the reader's own output.
    Response = 3,
    /// Instructions, prompt, rules, guidelines, directives.
    Instructions = 4,
    /// Ignore, disregard, forget, override, bypass.
    Override = 5,
    /// Important, urgent, must, immediately.
    Urgency = 6,
    /// Secret, silently, do not tell, without mentioning.
    Secrecy = 7,
    /// Must, should, shall, need: obligation laid on the reader.
    Modal = 8,
    /// Pretend, roleplay, character, persona, unfiltered, jailbreak.
    Persona = 9,
    /// No, not, never, without: negation (of rules, limits, refusals).
    Negation = 10,
    /// Password, secret, key, token, credentials: what extraction asks for.
    Credential = 11,
    /// Superseded, revoked, void, expired, obsolete: rules declared no
    /// longer in force.
    Revoked = 12,
    /// Settings, configuration, safeguards, filters: the reader's setup,
    /// which resets declare gone alongside its rules.
    Setup = 13,
    /// Wiped, lifted, disabled, retired: ended, in words that also end
    /// accounts and features; they count only in a text that names an AI.
    Ended = 14,
    /// Mode, modo, Modus, режим: with a kind of mode, a claim about the
    /// reader's state.
    Mode = 15,
    /// Debug, developer, maintenance, unrestricted, admin, root: the modes
    /// resets switch the reader into.
    ModeKind = 16,
    /// To, for, für, для, إلى: the words that mark whom a label speaks to
    /// when they stand just before a word naming an AI ("Note for the
    /// assistant:", "ملاحظة إلى النموذج:").
    Addressee = 17,
    /// Dear, hey, hello: the opening of a vocative ("Dear AI, ...").
    Greeting = 18,
    /// Imperative forms that are orders wherever they stand, as verb-final
    /// languages place them: बताओ, gönder, بگو, στείλε, перешли. Read after
    /// a vocative or a label that speaks to an AI.
    Command = 19,
    /// लिए, से, için: the same as [`Cue::Addressee`] after the word naming
    /// the AI ("बॉट से:", "AI के लिए:").
    Postposition = 20,
    /// That, which, who, reading, qui, который, الذي, که: after a word
    /// naming an AI, the AI is what the phrase is about ("the assistant
    /// that reads this"), not a modifier ("the chatbot team").
    Reader = 21,
    /// System, tool, reviewer, pipeline, outil, Werkzeug: a role noun, which
    /// names an AI only right after a word that does or after "automated"
    /// ("the AI reviewer", "automated systems", "LLM-based screener"), or
    /// just before one in languages that put the modifier last ("le
    /// système d'IA").
    Role = 22,
    /// Automated, automatique, automatisiert, otomatik: makes the role noun
    /// next to it name a machine reader ("Note to automated systems:").
    Automated = 23,
    /// This, these, ce, diese, этот, هذا: after a word naming a machine and
    /// a [`Cue::Reader`] word, or a [`Cue::Quantifier`] and such a word, the
    /// reader of this very text ("the model that triages these tickets",
    /// "whatever process ingests this log").
    Deictic = 24,
    /// Infinitives of the actions an order asks for (weiterleiten,
    /// transférer, enviar, переслать): what an obligation laid on the
    /// reader of this text is to do ("..., muss alle Rechnungen an ...
    /// weiterleiten").
    Infinitive = 25,
    /// Obligations the model's [`Cue::Modal`] does not list: muss, soll,
    /// doivent, deben, instructed, expected.
    Obliged = 26,
    /// Crawler, parser, indexer, summariser: a noun that names a program
    /// reading text, read as naming an AI by the structural findings
    /// ("Instructions for the crawler:", "Summariser, ...").
    Machine = 27,
    /// Whatever, whichever, any, every, jedes, любой: before a word naming
    /// an AI or a role, whoever reads this text ("Whatever process ingests this
    /// log is expected to ...").
    Quantifier = 28,
    /// Agent, assistant, reviewer: a word naming an AI or a role that as
    /// often names a person ("Agents processing this claim must verify
    /// ..."); alone, not the machine reading the text that an obligation is
    /// laid on.
    Person = 29,
    /// No, zero, without, lacks, sans, ohne, senza, без: a constraint word
    /// at most two words later is declared absent ("no content guidelines",
    /// "zero rules", "sans aucune règle").
    Privative = 30,
    /// Guidelines, safeguards, ethics, morals, laws, censorship, warnings,
    /// disclaimers: what a persona set free of its rules is said to lack.
    Constraint = 31,
    /// Follow, obey, care, believe, abide, bound: after a negation, a
    /// constraint within five words is declared not observed ("does not
    /// follow any of its creators' rules", "doesn't care about ethics").
    Observance = 32,
    /// As, als, como, comme, jako, как: after an order or a word for the
    /// reader's reply, the guise it is to answer in ("answer as Morrow",
    /// "act as ...", "responde como ...").
    Guise = 33,
    /// Hypothetical, fictional, simulation: persona words that frame a
    /// scenario rather than name who the reader is to be; alone, they cast
    /// no persona ("let's agree this is purely hypothetical").
    Frame = 34,
    /// A, the, this, un, la, der, ein: opens a noun phrase. A freedom whose
    /// subject is such a phrase, not the persona ("a tabloid that doesn't
    /// follow any ethics code"), frees a third party.
    Determiner = 35,
}

impl Cue {
    /// Every class; those from [`Cue::Addressee`] on are read by the
    /// structural findings only, not featurised for the model.
    pub const ALL: [Cue; 36] = [
        Cue::Imperative,
        Cue::SecondPerson,
        Cue::AiAddress,
        Cue::Response,
        Cue::Instructions,
        Cue::Override,
        Cue::Urgency,
        Cue::Secrecy,
        Cue::Modal,
        Cue::Persona,
        Cue::Negation,
        Cue::Credential,
        Cue::Revoked,
        Cue::Setup,
        Cue::Ended,
        Cue::Mode,
        Cue::ModeKind,
        Cue::Addressee,
        Cue::Greeting,
        Cue::Command,
        Cue::Postposition,
        Cue::Reader,
        Cue::Role,
        Cue::Automated,
        Cue::Deictic,
        Cue::Infinitive,
        Cue::Obliged,
        Cue::Machine,
        Cue::Quantifier,
        Cue::Person,
        Cue::Privative,
        Cue::Constraint,
        Cue::Observance,
        Cue::Guise,
        Cue::Frame,
        Cue::Determiner,
    ];

    /// The name used in packs.
    pub fn name(self) -> &'static str {
        match self {
            Cue::Imperative => "imperative",
            Cue::SecondPerson => "second_person",
            Cue::AiAddress => "ai_address",
            Cue::Response => "response",
            Cue::Instructions => "instructions",
            Cue::Override => "override",
            Cue::Urgency => "urgency",
            Cue::Secrecy => "secrecy",
            Cue::Modal => "modal",
            Cue::Persona => "persona",
            Cue::Negation => "negation",
            Cue::Credential => "credential",
            Cue::Revoked => "revoked",
            Cue::Setup => "setup",
            Cue::Ended => "ended",
            Cue::Mode => "mode",
            Cue::ModeKind => "mode_kind",
            Cue::Addressee => "addressee",
            Cue::Greeting => "greeting",
            Cue::Command => "command",
            Cue::Postposition => "postposition",
            Cue::Reader => "reader",
            Cue::Role => "role",
            Cue::Automated => "automated",
            Cue::Deictic => "deictic",
            Cue::Infinitive => "infinitive",
            Cue::Obliged => "obliged",
            Cue::Machine => "machine",
            Cue::Quantifier => "quantifier",
            Cue::Person => "person",
            Cue::Privative => "privative",
            Cue::Constraint => "constraint",
            Cue::Observance => "observance",
            Cue::Guise => "guise",
            Cue::Frame => "frame",
            Cue::Determiner => "determiner",
        }
    }

    /// This class's bit.
    pub const fn bit(self) -> u64 {
        1 << (self as u64)
    }
}

/// The class-mask bit of a key word misspelled ("instrcutions",
/// [`crate::scan::decode::misspellings`]): not a cue class, and no feature of
/// the model; the featuriser reports such words so that the scanner reads the
/// text again with them spelled right.
pub const MISSPELLED: u64 = 1 << 63;

/// FNV-1a over bytes: the word hash shared by the lexicon and the model.
#[inline]
pub fn word_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Folded word hash → class mask.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    map: HashMap<u64, u64, BuildPrehashed>,
}

impl Lexicon {
    /// Adds `words` to the class named `class`; fails on an unknown class or on
    /// an entry that no token can equal: more than one word, or a word with
    /// a character the featuriser splits tokens at (`role-play` is read as
    /// `role` and `play`, so the entry would never match).
    pub fn add(&mut self, class: &str, words: &[String]) -> Result<(), String> {
        let cue = Cue::ALL
            .into_iter()
            .find(|c| c.name() == class)
            .ok_or_else(|| {
                let names: Vec<_> = Cue::ALL.iter().map(|c| c.name()).collect();
                format!("unknown class; expected one of {}", names.join(", "))
            })?;
        for w in words {
            let folded = super::normalize::fold_literal(w);
            if folded.is_empty() || folded.contains(' ') {
                return Err(format!("`{w}` must be a single word"));
            }
            if let Some(c) = folded
                .bytes()
                .find(|&b| b.is_ascii() && !super::model::text::is_word_byte(b))
            {
                return Err(format!(
                    "`{w}` can never match: text is split into words at `{}`; list the parts that matter instead",
                    c as char
                ));
            }
            *self.map.entry(word_hash(folded.as_bytes())).or_default() |= cue.bit();
        }
        Ok(())
    }

    /// Marks `forms` (folded single words) as misspelled key words, except
    /// those that are cue words already.
    pub fn add_misspellings<'a>(&mut self, forms: impl IntoIterator<Item = &'a str>) {
        for form in forms {
            self.map
                .entry(word_hash(form.as_bytes()))
                .or_insert(MISSPELLED);
        }
    }

    /// The class mask of a word given by its hash (0 when not a cue).
    #[inline]
    pub fn classes(&self, hash: u64) -> u64 {
        if self.map.is_empty() {
            return 0;
        }
        self.map.get(&hash).copied().unwrap_or(0)
    }

    /// Number of cue words (misspellings are not counted).
    pub fn len(&self) -> usize {
        self.map.values().filter(|&&c| c & !MISSPELLED != 0).count()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
