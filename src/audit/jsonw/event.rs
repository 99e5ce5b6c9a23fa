//! [`EventWriter`]: an event's top-level fields, each rendered into a shared
//! scratch buffer in any order, written sorted by name.

use super::{W, write_int};

type Fields = Vec<(&'static str, usize, usize)>;

thread_local! {
    /// Buffers of finished event writers, reused by the next ones on this thread
    /// (the writer thread renders every event: this saves two allocations each).
    static SPARE: std::cell::RefCell<Vec<(Vec<u8>, Fields)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One event's top-level fields, written sorted by name.
pub struct EventWriter<'a> {
    scratch: Vec<u8>,
    fields: Fields,
    secrets: &'a [String],
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut fields = std::mem::take(&mut self.fields);
        scratch.clear();
        fields.clear();
        let _ = SPARE.try_with(|s| {
            if let Ok(mut spare) = s.try_borrow_mut()
                && spare.len() < 8
            {
                spare.push((scratch, fields));
            }
        });
    }
}

impl<'a> EventWriter<'a> {
    /// An empty event whose strings are redacted against `secrets`.
    pub fn new(secrets: &'a [String]) -> EventWriter<'a> {
        let reused = SPARE
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut spare| spare.pop()))
            .ok()
            .flatten();
        let (scratch, fields) =
            reused.unwrap_or_else(|| (Vec::with_capacity(2048), Vec::with_capacity(32)));
        EventWriter {
            scratch,
            fields,
            secrets,
        }
    }

    /// Adds a top-level field; the closure writes its value. Returns the offset
    /// of `mark` (a position the closure reported through its return value) from
    /// the start of the value, if any.
    pub fn field(&mut self, name: &'static str, f: impl FnOnce(&mut W<'_>)) -> &mut Self {
        self.field_marked(name, |w| {
            f(w);
            None
        });
        self
    }

    /// Like [`EventWriter::field`]; the closure may return a position in the
    /// value (from [`W::position`]), and this returns it relative to the value's start.
    pub fn field_marked(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&mut W<'_>) -> Option<usize>,
    ) -> Option<usize> {
        let start = self.scratch.len();
        let mark = {
            let mut w = W::new(&mut self.scratch, self.secrets);
            f(&mut w)
        };
        self.fields.push((name, start, self.scratch.len()));
        mark.map(|m| m - start)
    }

    /// A top-level string field.
    pub fn s(&mut self, name: &'static str, v: &str) -> &mut Self {
        self.field(name, |w| w.str_value(v))
    }

    /// A top-level string the gateway produced itself (see [`W::lit`]).
    pub fn lit(&mut self, name: &'static str, v: &str) -> &mut Self {
        self.field(name, |w| w.raw_str(v))
    }

    /// A top-level number field.
    pub fn n(&mut self, name: &'static str, v: impl Into<i128>) -> &mut Self {
        let v: i128 = v.into();
        self.field(name, |w| write_int(w.out, v))
    }

    /// A top-level boolean field.
    pub fn b(&mut self, name: &'static str, v: bool) -> &mut Self {
        self.field(name, |w| {
            w.out.extend_from_slice(if v { b"true" } else { b"false" })
        })
    }

    /// A top-level object field.
    pub fn obj(&mut self, name: &'static str, f: impl FnOnce(&mut W<'_>)) -> &mut Self {
        self.field(name, |w| {
            w.begin();
            f(w);
            w.end();
        })
    }

    /// Writes the event to `out` (appending).
    pub fn finish(self, out: &mut Vec<u8>) {
        self.finish_marking(out, "");
    }

    /// Writes the event to `out` (appending) and returns where the value of
    /// field `marked` starts in `out`, if the event has it.
    pub fn finish_marking(mut self, out: &mut Vec<u8>, marked: &str) -> Option<usize> {
        self.fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut mark = None;
        out.push(b'{');
        for (i, (name, start, end)) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            if *name == marked {
                mark = Some(out.len());
            }
            out.extend_from_slice(self.scratch.get(*start..*end).unwrap_or_default());
        }
        out.push(b'}');
        mark
    }
}
