//! The hash chain: each event carries the fingerprint of the previous one.
//!
//! An event's fingerprint is the SHA-256 of its canonical JSON
//! ([`super::canonical`]) without `attestation.fingerprint`; the event itself
//! carries it in `attestation.fingerprint.value`, and the next event carries it
//! in `attestation.prev_event.fingerprint.value`. This is the OCSF
//! `record_integrity` profile's `attestation` object.
//!
//! A chain is one log segment (one file): its `chain_uid` is the segment id and
//! its events are numbered from 0 (`attestation.uid` = `<segment>:<n>`). The first
//! event of a segment opened by rotation links to the last event of the previous
//! segment, so a deleted file shows too when both neighbours are verified.
//!
//! Invariant: [`Chain::seal`] is the only way an event gets its integrity
//! attributes, and it advances the chain exactly once per event. The writer keeps
//! a copy of the chain before a batch and restores it if the batch is not written,
//! so the chain never refers to an event that is not in the file.

use super::canonical;
use super::jsonw::EventWriter;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// A link to an event: its uid and fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// `attestation.uid` of the event.
    pub uid: String,
    /// Its SHA-256 fingerprint.
    pub fingerprint: [u8; 32],
}

/// Where a rendered format keeps the event's uid and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OCSF: `metadata.uid`, `metadata.sequence`.
    Ocsf,
    /// ECS: `event.id`, `event.sequence`.
    Ecs,
}

/// The state of one segment's chain.
#[derive(Debug, Clone)]
pub struct Chain {
    segment: String,
    next: u64,
    prev: Option<Link>,
    authority: Option<String>,
    body: Vec<u8>,
}

impl Chain {
    /// A new chain for `segment`, linked to `prev` (the previous segment's last
    /// event) when there is one. `authority` names the checkpoint signing key.
    pub fn new(segment: String, prev: Option<Link>, authority: Option<String>) -> Chain {
        Chain {
            segment,
            next: 0,
            prev,
            authority,
            body: Vec::new(),
        }
    }

    /// The segment id.
    pub fn segment(&self) -> &str {
        &self.segment
    }

    /// Events sealed so far in this segment.
    pub fn count(&self) -> u64 {
        self.next
    }

    /// The last event sealed (in this segment or, before any, the previous one).
    pub fn last(&self) -> Option<&Link> {
        self.prev.as_ref()
    }

    /// The uid and sequence number the next sealed event gets.
    pub fn next_stamp(&self) -> (String, u64) {
        (format!("{}:{}", self.segment, self.next), self.next)
    }

    /// Adds the attestation to an event rendered (with [`Chain::next_stamp`]'s
    /// uid) into `ev`, fingerprints it, and appends it to `out` with the
    /// fingerprint in place: one serialization per event.
    pub fn seal_fields(&mut self, mut ev: EventWriter<'_>, out: &mut Vec<u8>) {
        let (uid, _) = self.next_stamp();
        let mark = ev.field_marked("attestation", |w| {
            w.begin();
            if let Some(a) = &self.authority {
                w.lit("authority_uid", a);
            }
            w.lit("chain_uid", &self.segment);
            let hole = w.position();
            if let Some(prev) = &self.prev {
                w.obj("prev_event", |w| {
                    w.obj("fingerprint", |w| {
                        w.lit("algorithm", "SHA-256")
                            .n("algorithm_id", 3)
                            .lit("value", &crate::audit::jsonw::hex(&prev.fingerprint));
                    })
                    .lit("uid", &prev.uid);
                });
            }
            w.lit("uid", &uid);
            w.end();
            Some(hole)
        });
        let body = &mut self.body;
        body.clear();
        let start = ev.finish_marking(body, "attestation");
        let digest: [u8; 32] = Sha256::digest(&body[..]).into();
        let at = start
            .zip(mark)
            .map(|(s, m)| s + m)
            .filter(|at| *at <= body.len());
        let (head, tail) = body.split_at(at.unwrap_or(body.len()));
        out.reserve(body.len() + 100);
        out.extend_from_slice(head);
        if at.is_some() {
            out.extend_from_slice(
                br#","fingerprint":{"algorithm":"SHA-256","algorithm_id":3,"value":""#,
            );
            out.extend_from_slice(super::jsonw::hex(&digest).as_bytes());
            out.extend_from_slice(br#""}"#);
        }
        out.extend_from_slice(tail);
        self.prev = Some(Link {
            uid,
            fingerprint: digest,
        });
        self.next += 1;
    }

    /// Stamps `event` with its uid, sequence and attestation, and writes its final
    /// canonical form (without newline) to `out`.
    pub fn seal(&mut self, event: &mut Value, format: Format, out: &mut Vec<u8>) {
        let uid = format!("{}:{}", self.segment, self.next);
        stamp_ids(event, format, &uid, self.next);
        let mut attestation = Map::new();
        attestation.insert("uid".into(), json!(uid));
        attestation.insert("chain_uid".into(), json!(self.segment));
        if let Some(a) = &self.authority {
            attestation.insert("authority_uid".into(), json!(a));
        }
        if let Some(prev) = &self.prev {
            attestation.insert(
                "prev_event".into(),
                json!({"uid": prev.uid, "fingerprint": fingerprint_object(&prev.fingerprint)}),
            );
        }
        if let Value::Object(map) = event {
            map.insert("attestation".into(), Value::Object(attestation));
        }
        out.clear();
        // `uid` always sorts after `fingerprint`, so the mark is always found;
        // the fallback (serialize again) only guards the invariant.
        let mark = canonical::write_marking(event, "attestation", "fingerprint", out);
        let digest: [u8; 32] = Sha256::digest(&out[..]).into();
        match mark {
            Some(at) => {
                let mut entry = Vec::with_capacity(120);
                entry.extend_from_slice(br#""fingerprint":"#);
                canonical::write(&fingerprint_object(&digest), &mut entry);
                entry.push(b',');
                out.splice(at..at, entry);
            }
            None => {
                if let Some(Value::Object(att)) = event.get_mut("attestation") {
                    att.insert("fingerprint".into(), fingerprint_object(&digest));
                }
                out.clear();
                canonical::write(event, out);
            }
        }
        self.prev = Some(Link {
            uid,
            fingerprint: digest,
        });
        self.next += 1;
    }
}

fn stamp_ids(event: &mut Value, format: Format, uid: &str, seq: u64) {
    let holder = match format {
        Format::Ocsf => "metadata",
        Format::Ecs => "event",
    };
    if let Some(Value::Object(m)) = event.get_mut(holder) {
        let key = if format == Format::Ocsf { "uid" } else { "id" };
        m.insert(key.into(), json!(uid));
        m.insert("sequence".into(), json!(seq));
    }
}

/// The OCSF fingerprint object for a SHA-256 digest.
pub fn fingerprint_object(digest: &[u8; 32]) -> Value {
    json!({"algorithm_id": 3, "algorithm": "SHA-256", "value": hex::encode(digest)})
}

/// Recomputes the fingerprint of a parsed event: the SHA-256 of its canonical
/// form without `attestation.fingerprint`. Returns the recomputed digest and the
/// one the event claims (if readable).
pub fn recompute(event: &Value) -> ([u8; 32], Option<[u8; 32]>) {
    let mut copy = event.clone();
    let claimed = copy
        .get_mut("attestation")
        .and_then(Value::as_object_mut)
        .and_then(|a| a.remove("fingerprint"))
        .and_then(|f| {
            f.get("value")
                .and_then(Value::as_str)
                .and_then(parse_digest)
        });
    let digest: [u8; 32] = Sha256::digest(canonical::to_vec(&copy)).into();
    (digest, claimed)
}

/// Parses a 64-character hex digest.
pub fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_events_link_to_their_predecessor_and_verify() {
        let mut chain = Chain::new("seg".into(), None, None);
        let mut out = Vec::new();
        let mut first = json!({"metadata": {}, "x": 1});
        chain.seal(&mut first, Format::Ocsf, &mut out);
        let line1: Value = serde_json::from_slice(&out).unwrap();
        let mut second = json!({"metadata": {}, "x": 2});
        chain.seal(&mut second, Format::Ocsf, &mut out);
        let line2: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(line1["metadata"]["uid"], "seg:0");
        assert_eq!(line2["metadata"]["sequence"], 1);
        assert!(line1["attestation"].get("prev_event").is_none());
        let (d1, claimed1) = recompute(&line1);
        assert_eq!(Some(d1), claimed1);
        assert_eq!(
            line2["attestation"]["prev_event"]["fingerprint"]["value"],
            hex::encode(d1)
        );
        let mut tampered = line2.clone();
        tampered["x"] = json!(3);
        let (d2, claimed2) = recompute(&tampered);
        assert_ne!(Some(d2), claimed2);
        assert_eq!(chain.count(), 2);
    }
}
