//! JSON syntax for the config.json reader (`json.rs`): a position in the bytes that reads
//! strings, numbers, `true`/`false`/`null` and arrays of numbers, skips any value (walked
//! with a depth count, not recursion), and walks an object against a schema of known
//! fields, checking each one's value and noting where it starts ([`Table`]); [`Fields`]
//! then reads those values. No allocation: names are compared in a 64-byte buffer.

use crate::error::RopeError;
use crate::hf::RopeType;

/// Deepest nesting accepted (serde_json's limit).
pub(super) const MAX_DEPTH: usize = 128;
/// Longest key or name compared (every known one is shorter).
pub(super) const NAME: usize = 64;

/// What a known field holds (every one may also be `null`, which reads as absent).
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    Float,
    /// A non-negative integer that fits in a `usize`.
    Usize,
    U64,
    Bool,
    /// Exactly three `u32`.
    Sections,
    RopeType,
    /// Any string (the layout it implies).
    ModelType,
    /// An array of numbers.
    List,
    /// An object of this schema.
    Object(Schema),
}

/// A schema: each field's names (the first is the one errors give) and kind; a field's
/// slot in a [`Table`] is its index.
pub(super) type Schema = &'static [(&'static [&'static str], Kind)];

/// Where each field of one object starts (`None`: not given), by schema slot.
pub(super) struct Table {
    pub(super) at: [Option<usize>; 20],
}

/// A failure: where, which field (`""` outside one), what is wrong.
pub(super) type Fail = (usize, &'static str, &'static str);

impl From<Fail> for RopeError {
    fn from((at, field, why): Fail) -> Self {
        RopeError::BadJson { at, field, why }
    }
}

/// A position in the document.
#[derive(Clone, Copy)]
pub(super) struct Reader<'a> {
    pub(super) s: &'a [u8],
    pub(super) i: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn at(s: &'a [u8], i: usize) -> Self {
        Reader { s, i }
    }

    pub(super) fn fail<T>(&self, field: &'static str, why: &'static str) -> Result<T, Fail> {
        Err((self.i, field, why))
    }

    pub(super) fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after white space, not consumed.
    pub(super) fn peek(&mut self) -> Option<u8> {
        self.space();
        self.s.get(self.i).copied()
    }

    pub(super) fn expect(
        &mut self,
        byte: u8,
        field: &'static str,
        why: &'static str,
    ) -> Result<(), Fail> {
        match self.peek() {
            Some(b) if b == byte => {
                self.i += 1;
                Ok(())
            }
            _ => self.fail(field, why),
        }
    }

    /// `null`, consumed, or nothing consumed.
    pub(super) fn null(&mut self) -> bool {
        self.peek();
        let yes = self.s[self.i..].starts_with(b"null");
        if yes {
            self.i += 4;
        }
        yes
    }

    pub(super) fn word(&mut self, w: &[u8], field: &'static str) -> Result<(), Fail> {
        self.peek();
        match self.s[self.i..].starts_with(w) {
            true => {
                self.i += w.len();
                Ok(())
            }
            false => self.fail(field, "not a JSON value"),
        }
    }

    /// A string, decoded into `out` as far as it fits: its length, or `None` when longer.
    pub(super) fn string(
        &mut self,
        out: &mut [u8; NAME],
        field: &'static str,
    ) -> Result<Option<usize>, Fail> {
        self.expect(b'"', field, "expected a string")?;
        let mut n = 0usize;
        let mut push = |bytes: &[u8], n: &mut usize| {
            if *n + bytes.len() <= NAME {
                out[*n..*n + bytes.len()].copy_from_slice(bytes);
            }
            *n += bytes.len();
        };
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return self.fail(field, "unterminated string");
            };
            match b {
                b'"' => break,
                0..=0x1f => return self.fail(field, "control character in a string"),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i + 1) else {
                        return self.fail(field, "unterminated string");
                    };
                    self.i += 2;
                    let c = match e {
                        b'"' | b'\\' | b'/' => e as u32,
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => 10,
                        b'r' => 13,
                        b't' => 9,
                        b'u' => self.escape(field)?,
                        _ => return self.fail(field, "bad escape in a string"),
                    };
                    let mut buf = [0u8; 4];
                    // `escape` gave a scalar value.
                    let ch = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
                    push(ch.encode_utf8(&mut buf).as_bytes(), &mut n);
                }
                _ => {
                    // Raw bytes: checked as UTF-8 in one go below.
                    let run = self.s[self.i..]
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                        .unwrap_or(self.s.len() - self.i);
                    let bytes = &self.s[self.i..self.i + run];
                    if core::str::from_utf8(bytes).is_err() {
                        return self.fail(field, "invalid UTF-8 in a string");
                    }
                    push(bytes, &mut n);
                    self.i += run;
                }
            }
        }
        self.i += 1;
        Ok((n <= NAME).then_some(n))
    }

    /// The code point of a `\u` escape (after the `\u`), pairing surrogates.
    pub(super) fn escape(&mut self, field: &'static str) -> Result<u32, Fail> {
        let hex = |r: &mut Self| -> Result<u32, Fail> {
            let digits =
                r.s.get(r.i..r.i + 4)
                    .and_then(|d| core::str::from_utf8(d).ok());
            match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
                Some(v) if digits.is_some_and(|d| d.bytes().all(|b| b.is_ascii_hexdigit())) => {
                    r.i += 4;
                    Ok(v)
                }
                _ => r.fail(field, "bad \\u escape"),
            }
        };
        let hi = hex(self)?;
        match hi {
            0xd800..=0xdbff => {
                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                    return self.fail(field, "lone surrogate in a string");
                }
                self.i += 2;
                let lo = hex(self)?;
                if !(0xdc00..=0xdfff).contains(&lo) {
                    return self.fail(field, "lone surrogate in a string");
                }
                Ok(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
            }
            0xdc00..=0xdfff => self.fail(field, "lone surrogate in a string"),
            _ => Ok(hi),
        }
    }

    /// A number's text, checked against JSON's grammar; whether it is an integer.
    pub(super) fn number(&mut self, field: &'static str) -> Result<(&'a str, bool), Fail> {
        self.space();
        let start = self.i;
        let digits = |r: &mut Self| {
            let n = r.s[r.i..].iter().take_while(|b| b.is_ascii_digit()).count();
            r.i += n;
            n
        };
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let first = self.s.get(self.i).copied();
        let int = digits(self);
        if int == 0 || (int > 1 && first == Some(b'0')) {
            self.i = start;
            return self.fail(field, "not a JSON number");
        }
        let mut integer = true;
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            integer = false;
            if digits(self) == 0 {
                return self.fail(field, "not a JSON number");
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return self.fail(field, "not a JSON number");
            }
        }
        // The grammar above admits only ASCII.
        let text = core::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        Ok((text, integer))
    }

    pub(super) fn float(&mut self, field: &'static str) -> Result<f64, Fail> {
        let at = self.i;
        let (text, _) = self.number(field)?;
        let v = super::float::parse(text);
        if v.is_finite() {
            Ok(v)
        } else {
            Err((at, field, "number out of range"))
        }
    }

    pub(super) fn integer(&mut self, field: &'static str, max: u64) -> Result<u64, Fail> {
        let at = self.i;
        let (text, integer) = self.number(field)?;
        if !integer {
            return Err((at, field, "expected an integer"));
        }
        match text.parse::<u64>() {
            Ok(v) if v <= max => Ok(v),
            _ if text == "-0" => Ok(0),
            _ if text.starts_with('-') => Err((at, field, "expected a non-negative integer")),
            _ => Err((at, field, "integer out of range")),
        }
    }

    pub(super) fn boolean(&mut self, field: &'static str) -> Result<bool, Fail> {
        match self.peek() {
            Some(b't') => self.word(b"true", field).map(|_| true),
            Some(b'f') => self.word(b"false", field).map(|_| false),
            _ => self.fail(field, "expected true or false"),
        }
    }

    /// An array of numbers, each handed to `each`.
    pub(super) fn list(
        &mut self,
        field: &'static str,
        each: &mut dyn FnMut(f64),
    ) -> Result<(), Fail> {
        self.expect(b'[', field, "expected an array of numbers")?;
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            each(self.float(field)?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return self.fail(field, "expected , or ] in an array"),
            }
        }
    }

    /// Skip any JSON value, checking its syntax.
    pub(super) fn skip(&mut self, field: &'static str, depth: usize) -> Result<(), Fail> {
        // Open arrays and objects above this value: bit `d` set for an object.
        let mut open = 0usize;
        let mut objects = [0u8; MAX_DEPTH / 8];
        loop {
            // A value.
            match self.peek() {
                Some(b'{' | b'[') if depth + open >= MAX_DEPTH => {
                    return self.fail(field, "nested too deep")
                }
                Some(b'{') => {
                    self.i += 1;
                    objects[open / 8] |= 1 << (open % 8);
                    open += 1;
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        open -= 1;
                    } else {
                        self.key_colon(field)?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    objects[open / 8] &= !(1 << (open % 8));
                    open += 1;
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        open -= 1;
                    } else {
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string(&mut [0; NAME], field)?;
                }
                Some(b't') => self.word(b"true", field)?,
                Some(b'f') => self.word(b"false", field)?,
                Some(b'n') => self.word(b"null", field)?,
                _ => {
                    self.number(field)?;
                }
            }
            // After a value: close what ends here, or go on to the next element.
            loop {
                if open == 0 {
                    return Ok(());
                }
                let object = objects[(open - 1) / 8] & (1 << ((open - 1) % 8)) != 0;
                match (self.peek(), object) {
                    (Some(b','), true) => {
                        self.i += 1;
                        self.key_colon(field)?;
                        break;
                    }
                    (Some(b','), false) => {
                        self.i += 1;
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.i += 1;
                        open -= 1;
                    }
                    _ => return self.fail(field, "expected , or the end of an array or object"),
                }
            }
        }
    }

    pub(super) fn key_colon(&mut self, field: &'static str) -> Result<(), Fail> {
        self.string(&mut [0; NAME], field)?;
        self.expect(b':', field, "expected : after a key")
    }

    /// The object here against `schema`: each known field's value checked (nested objects
    /// too, `depth` levels down already), others skipped; where each known one starts.
    pub(super) fn object(
        &mut self,
        schema: Schema,
        field: &'static str,
        depth: usize,
    ) -> Result<Table, Fail> {
        let mut table = Table { at: [None; 20] };
        if depth >= MAX_DEPTH {
            return self.fail(field, "nested too deep");
        }
        self.expect(b'{', field, "expected an object")?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(table);
        }
        loop {
            let mut key = [0u8; NAME];
            let key_at = self.i;
            let len = self.string(&mut key, field)?;
            self.expect(b':', field, "expected : after a key")?;
            let known = len.and_then(|n| {
                schema
                    .iter()
                    .position(|(names, _)| names.iter().any(|k| k.as_bytes() == &key[..n]))
            });
            match known {
                Some(slot) => {
                    let (names, kind) = schema[slot];
                    if table.at[slot].is_some() {
                        return Err((key_at, names[0], "duplicate field"));
                    }
                    self.space();
                    table.at[slot] = Some(self.i);
                    self.check(kind, names[0], depth + 1)?;
                }
                None => self.skip(field, depth + 1)?,
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(table);
                }
                _ => return self.fail(field, "expected , or } in an object"),
            }
        }
    }

    /// Check a value of `kind` (or `null`).
    pub(super) fn check(
        &mut self,
        kind: Kind,
        field: &'static str,
        depth: usize,
    ) -> Result<(), Fail> {
        if self.null() {
            return Ok(());
        }
        match kind {
            Kind::Float => self.float(field).map(drop),
            Kind::Usize => self.integer(field, usize::MAX as u64).map(drop),
            Kind::U64 => self.integer(field, u64::MAX).map(drop),
            Kind::Bool => self.boolean(field).map(drop),
            Kind::Sections => self.sections(field).map(drop),
            Kind::RopeType => self.rope_type(field).map(drop),
            Kind::ModelType => self.string(&mut [0; NAME], field).map(drop),
            Kind::List => self.list(field, &mut |_| {}),
            Kind::Object(schema) => self.object(schema, field, depth).map(drop),
        }
    }

    pub(super) fn sections(&mut self, field: &'static str) -> Result<[u32; 3], Fail> {
        let mut out = [0u32; 3];
        self.expect(b'[', field, "expected an array of three integers")?;
        for (i, v) in out.iter_mut().enumerate() {
            if i > 0 {
                self.expect(b',', field, "expected an array of three integers")?;
            }
            *v = self.integer(field, u32::MAX.into())? as u32;
        }
        self.expect(b']', field, "expected an array of three integers")?;
        Ok(out)
    }

    pub(super) fn rope_type(&mut self, field: &'static str) -> Result<RopeType, Fail> {
        let at = self.i;
        let mut name = [0u8; NAME];
        let len = self.string(&mut name, field)?;
        len.and_then(|n| core::str::from_utf8(&name[..n]).ok())
            .and_then(RopeType::from_name)
            .ok_or((at, field, "unknown rope type"))
    }
}

/// Reads the values of one object's known fields, found by [`Reader::object`].
pub(super) struct Fields<'a> {
    pub(super) s: &'a [u8],
    pub(super) table: Table,
}

impl<'a> Fields<'a> {
    /// The object at `at` (checked already) against `schema`.
    pub(super) fn of(s: &'a [u8], at: usize, schema: Schema) -> Result<Self, Fail> {
        let table = Reader::at(s, at).object(schema, "", 0)?;
        Ok(Fields { s, table })
    }

    /// Where field `slot` starts, when given and not `null`.
    pub(super) fn value(&self, slot: usize) -> Option<Reader<'a>> {
        let mut r = Reader::at(self.s, self.table.at[slot]?);
        (!r.null()).then_some(r)
    }

    pub(super) fn float(&self, slot: usize) -> Result<Option<f64>, Fail> {
        self.value(slot).map(|mut r| r.float("")).transpose()
    }

    pub(super) fn int(&self, slot: usize, max: u64) -> Result<Option<u64>, Fail> {
        self.value(slot).map(|mut r| r.integer("", max)).transpose()
    }

    pub(super) fn u64(&self, slot: usize) -> Result<Option<u64>, Fail> {
        self.int(slot, u64::MAX)
    }

    pub(super) fn usize(&self, slot: usize) -> Result<Option<usize>, Fail> {
        Ok(self.int(slot, usize::MAX as u64)?.map(|v| v as usize))
    }

    pub(super) fn boolean(&self, slot: usize) -> Result<Option<bool>, Fail> {
        self.value(slot).map(|mut r| r.boolean("")).transpose()
    }

    pub(super) fn rope_type(&self, slot: usize) -> Result<Option<RopeType>, Fail> {
        self.value(slot).map(|mut r| r.rope_type("")).transpose()
    }

    pub(super) fn object(&self, slot: usize, schema: Schema) -> Result<Option<Fields<'a>>, Fail> {
        self.value(slot)
            .map(|r| Fields::of(self.s, r.i, schema))
            .transpose()
    }

    pub(super) fn sections(&self, slot: usize) -> Result<Option<[u32; 3]>, Fail> {
        self.value(slot).map(|mut r| r.sections("")).transpose()
    }
}
