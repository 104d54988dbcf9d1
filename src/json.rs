//! A transformers `config.json` read into [`HfConfig`] with neither serde nor an allocator
//! ([`HfConfig::from_json`]), so that `no_std` builds and the C and wasm libraries read a
//! model's config in one call without carrying a JSON library.
//!
//! Two passes over the bytes. The first checks the whole document: JSON syntax, and every
//! field `HfConfig` reads has its type (other fields are skipped; a field given twice is an
//! error). The second reads the fields where the first found them, with the serde
//! reader's precedence (`hf_serde.rs`): `text_config` before the top level,
//! `rope_parameters` before `rope_scaling`, a `full_attention` block before the flat
//! parameters beside it. The stack holds one table of value offsets per object being read;
//! nesting is the schema's (four levels), values skipped are walked with a depth count.

use crate::config::{PairLayout, MAX_PAIRS};
use crate::error::RopeError;
use crate::hf::{FactorList, HfConfig, HfRopeParameters, RopeType};

/// Deepest nesting accepted (serde_json's limit).
const MAX_DEPTH: usize = 128;
/// Longest key or name compared (every known one is shorter).
const NAME: usize = 64;

/// What a known field holds (every one may also be `null`, which reads as absent).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
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
    Params,
    Leaf,
    Text,
}

/// A schema: each field's names (the first is the one errors give) and kind; a field's
/// slot in a [`Table`] is its index.
type Schema = &'static [(&'static [&'static str], Kind)];

/// The RoPE parameter fields, in this order at the start of `PARAMS` too.
const LEAF: Schema = &[
    (&["rope_type"], Kind::RopeType),
    (&["type"], Kind::RopeType),
    (&["rope_theta"], Kind::Float),
    (&["factor"], Kind::Float),
    (&["original_max_position_embeddings"], Kind::U64),
    (&["low_freq_factor"], Kind::Float),
    (&["high_freq_factor"], Kind::Float),
    (&["beta_fast"], Kind::Float),
    (&["beta_slow"], Kind::Float),
    (&["mscale"], Kind::Float),
    (&["mscale_all_dim"], Kind::Float),
    (&["attention_factor"], Kind::Float),
    (&["truncate"], Kind::Bool),
    (&["partial_rotary_factor"], Kind::Float),
    (&["short_factor"], Kind::List),
    (&["long_factor"], Kind::List),
    (&["mrope_section"], Kind::Sections),
    (&["mrope_interleaved"], Kind::Bool),
];
// Slots of `LEAF` (and of `PARAMS`, which starts with it).
const ROPE_TYPE: usize = 0;
const TYPE: usize = 1;
const SHORT: usize = 14;
const LONG: usize = 15;
const SECTIONS: usize = 16;
const MROPE_INTERLEAVED: usize = 17;

/// `LEAF`, then the blocks by layer type (transformers 5, Gemma 3).
const PARAMS: Schema = &[
    LEAF[0],
    LEAF[1],
    LEAF[2],
    LEAF[3],
    LEAF[4],
    LEAF[5],
    LEAF[6],
    LEAF[7],
    LEAF[8],
    LEAF[9],
    LEAF[10],
    LEAF[11],
    LEAF[12],
    LEAF[13],
    LEAF[14],
    LEAF[15],
    LEAF[16],
    LEAF[17],
    (&["full_attention"], Kind::Leaf),
    (&["sliding_attention"], Kind::Leaf),
];
const FULL: usize = 18;
const SLIDING: usize = 19;

/// The model-level fields (`TOP` adds `text_config`). GPT-J and GPT-2-style configs name
/// three of them `n_embd`, `n_head`, `n_positions`.
const TEXT: Schema = &[
    (&["model_type"], Kind::ModelType),
    (&["rope_interleave"], Kind::Bool),
    (&["head_dim"], Kind::Usize),
    (&["hidden_size", "n_embd"], Kind::Usize),
    (&["num_attention_heads", "n_head"], Kind::Usize),
    (&["qk_rope_head_dim"], Kind::Usize),
    (&["rotary_dim"], Kind::Usize),
    (&["partial_rotary_factor"], Kind::Float),
    (&["rotary_pct"], Kind::Float),
    (&["max_position_embeddings", "n_positions"], Kind::U64),
    (&["original_max_position_embeddings"], Kind::U64),
    (&["rope_theta"], Kind::Float),
    (&["rotary_emb_base"], Kind::Float),
    (&["rope_local_base_freq"], Kind::Float),
    (&["rope_scaling"], Kind::Params),
    (&["rope_parameters"], Kind::Params),
];
const TOP: Schema = &[
    TEXT[0],
    TEXT[1],
    TEXT[2],
    TEXT[3],
    TEXT[4],
    TEXT[5],
    TEXT[6],
    TEXT[7],
    TEXT[8],
    TEXT[9],
    TEXT[10],
    TEXT[11],
    TEXT[12],
    TEXT[13],
    TEXT[14],
    TEXT[15],
    (&["text_config"], Kind::Text),
];
// Slots of `TEXT` (and of `TOP`).
const MODEL_TYPE: usize = 0;
const ROPE_INTERLEAVE: usize = 1;
const HEAD_DIM: usize = 2;
const HIDDEN_SIZE: usize = 3;
const HEADS: usize = 4;
const QK_ROPE_HEAD_DIM: usize = 5;
const ROTARY_DIM: usize = 6;
const PARTIAL: usize = 7;
const ROTARY_PCT: usize = 8;
const MAX_POSITIONS: usize = 9;
const ORIGINAL_MAX: usize = 10;
const ROPE_THETA: usize = 11;
const ROTARY_EMB_BASE: usize = 12;
const LOCAL_BASE: usize = 13;
const ROPE_SCALING: usize = 14;
const ROPE_PARAMETERS: usize = 15;
const TEXT_CONFIG: usize = 16;

/// Where each field of one object starts (`None`: not given), by schema slot.
struct Table {
    at: [Option<usize>; 20],
}

/// A failure: where, which field (`""` outside one), what is wrong.
type Fail = (usize, &'static str, &'static str);

impl From<Fail> for RopeError {
    fn from((at, field, why): Fail) -> Self {
        RopeError::BadJson { at, field, why }
    }
}

/// A position in the document.
#[derive(Clone, Copy)]
struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn at(s: &'a [u8], i: usize) -> Self {
        Reader { s, i }
    }

    fn fail<T>(&self, field: &'static str, why: &'static str) -> Result<T, Fail> {
        Err((self.i, field, why))
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after white space, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.space();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, byte: u8, field: &'static str, why: &'static str) -> Result<(), Fail> {
        match self.peek() {
            Some(b) if b == byte => {
                self.i += 1;
                Ok(())
            }
            _ => self.fail(field, why),
        }
    }

    /// `null`, consumed, or nothing consumed.
    fn null(&mut self) -> bool {
        self.peek();
        let yes = self.s[self.i..].starts_with(b"null");
        if yes {
            self.i += 4;
        }
        yes
    }

    fn word(&mut self, w: &[u8], field: &'static str) -> Result<(), Fail> {
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
    fn string(&mut self, out: &mut [u8; NAME], field: &'static str) -> Result<Option<usize>, Fail> {
        self.expect(b'"', field, "expected a string")?;
        let start = self.i;
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
        let _ = start;
        self.i += 1;
        Ok((n <= NAME).then_some(n))
    }

    /// The code point of a `\u` escape (after the `\u`), pairing surrogates.
    fn escape(&mut self, field: &'static str) -> Result<u32, Fail> {
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
    fn number(&mut self, field: &'static str) -> Result<(&'a str, bool), Fail> {
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

    fn float(&mut self, field: &'static str) -> Result<f64, Fail> {
        let at = self.i;
        let (text, _) = self.number(field)?;
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err((at, field, "number out of range")),
        }
    }

    fn integer(&mut self, field: &'static str, max: u64) -> Result<u64, Fail> {
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

    fn boolean(&mut self, field: &'static str) -> Result<bool, Fail> {
        match self.peek() {
            Some(b't') => self.word(b"true", field).map(|_| true),
            Some(b'f') => self.word(b"false", field).map(|_| false),
            _ => self.fail(field, "expected true or false"),
        }
    }

    /// An array of numbers, each handed to `each`.
    fn list(&mut self, field: &'static str, each: &mut dyn FnMut(f64)) -> Result<(), Fail> {
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
    fn skip(&mut self, field: &'static str, depth: usize) -> Result<(), Fail> {
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

    fn key_colon(&mut self, field: &'static str) -> Result<(), Fail> {
        self.string(&mut [0; NAME], field)?;
        self.expect(b':', field, "expected : after a key")
    }

    /// The object here against `schema`: each known field's value checked (nested objects
    /// too, `depth` levels down already), others skipped; where each known one starts.
    fn object(&mut self, schema: Schema, field: &'static str, depth: usize) -> Result<Table, Fail> {
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
    fn check(&mut self, kind: Kind, field: &'static str, depth: usize) -> Result<(), Fail> {
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
            Kind::Params => self.object(PARAMS, field, depth).map(drop),
            Kind::Leaf => self.object(LEAF, field, depth).map(drop),
            Kind::Text => self.object(TEXT, field, depth).map(drop),
        }
    }

    fn sections(&mut self, field: &'static str) -> Result<[u32; 3], Fail> {
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

    fn rope_type(&mut self, field: &'static str) -> Result<RopeType, Fail> {
        let at = self.i;
        let mut name = [0u8; NAME];
        let len = self.string(&mut name, field)?;
        len.and_then(|n| core::str::from_utf8(&name[..n]).ok())
            .and_then(RopeType::from_name)
            .ok_or((at, field, "unknown rope type"))
    }
}

/// Reads the values of one object's known fields, found by [`Reader::object`].
struct Fields<'a> {
    s: &'a [u8],
    table: Table,
}

impl<'a> Fields<'a> {
    /// The object at `at` (checked already) against `schema`.
    fn of(s: &'a [u8], at: usize, schema: Schema) -> Result<Self, Fail> {
        let table = Reader::at(s, at).object(schema, "", 0)?;
        Ok(Fields { s, table })
    }

    /// Where field `slot` starts, when given and not `null`.
    fn value(&self, slot: usize) -> Option<Reader<'a>> {
        let mut r = Reader::at(self.s, self.table.at[slot]?);
        (!r.null()).then_some(r)
    }

    fn float(&self, slot: usize) -> Result<Option<f64>, Fail> {
        self.value(slot).map(|mut r| r.float("")).transpose()
    }

    fn int(&self, slot: usize, max: u64) -> Result<Option<u64>, Fail> {
        self.value(slot).map(|mut r| r.integer("", max)).transpose()
    }

    fn usize(&self, slot: usize) -> Result<Option<usize>, Fail> {
        Ok(self.int(slot, usize::MAX as u64)?.map(|v| v as usize))
    }

    fn boolean(&self, slot: usize) -> Result<Option<bool>, Fail> {
        self.value(slot).map(|mut r| r.boolean("")).transpose()
    }

    fn rope_type(&self, slot: usize) -> Result<Option<RopeType>, Fail> {
        self.value(slot).map(|mut r| r.rope_type("")).transpose()
    }

    fn object(&self, slot: usize, schema: Schema) -> Result<Option<Fields<'a>>, Fail> {
        self.value(slot)
            .map(|r| Fields::of(self.s, r.i, schema))
            .transpose()
    }

    /// The RoPE parameters of a `LEAF` (or the start of a `PARAMS`).
    fn parameters(&self) -> Result<HfRopeParameters, Fail> {
        let rope_type = self.rope_type(ROPE_TYPE)?.or(self.rope_type(TYPE)?);
        Ok(HfRopeParameters {
            rope_type: rope_type.unwrap_or_default(),
            rope_theta: self.float(2)?,
            factor: self.float(3)?,
            original_max_position_embeddings: self.int(4, u64::MAX)?,
            low_freq_factor: self.float(5)?,
            high_freq_factor: self.float(6)?,
            beta_fast: self.float(7)?,
            beta_slow: self.float(8)?,
            mscale: self.float(9)?,
            mscale_all_dim: self.float(10)?,
            attention_factor: self.float(11)?,
            truncate: self.boolean(12)?,
            partial_rotary_factor: self.float(13)?,
        })
    }

    /// A factor list, checked against the most a `FactorList` holds.
    fn factors(&self, slot: usize) -> Result<Option<FactorList>, Fail> {
        let Some(mut r) = self.value(slot) else {
            return Ok(None);
        };
        let (mut values, mut n) = ([0.0; MAX_PAIRS], 0usize);
        r.list(LEAF[slot].0[0], &mut |v| {
            if n < MAX_PAIRS {
                values[n] = v;
            }
            n += 1;
        })?;
        if n > MAX_PAIRS {
            return Err((
                self.table.at[slot].unwrap_or(0),
                LEAF[slot].0[0],
                "more factors than MAX_ROTARY_DIM / 2",
            ));
        }
        // At most `MAX_PAIRS` values: `new` accepts them.
        Ok(FactorList::new(&values[..n]).ok())
    }

    fn sections(&self, slot: usize) -> Result<Option<[u32; 3]>, Fail> {
        self.value(slot).map(|mut r| r.sections("")).transpose()
    }
}

impl HfConfig {
    /// Read a transformers `config.json` (its bytes, UTF-8), without serde or an
    /// allocator: the fields [`HfConfig::rope`] needs, read as the serde reader reads them
    /// (the same result; a multimodal model's `text_config` first).
    ///
    /// ```
    /// use rope_simd::{HfConfig, LayerKind};
    /// let json = br#"{"model_type": "llama", "head_dim": 128, "rope_theta": 500000.0,
    ///     "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
    ///     "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}"#;
    /// let config = HfConfig::from_json(json)?;
    /// assert_eq!(config.head_dim, Some(128));
    /// let rope = config.rope(LayerKind::Full, 4096)?;
    /// assert_eq!(rope.head_dim(), 128);
    /// # Ok::<(), rope_simd::RopeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RopeError::BadJson`] for text that is not JSON, a known field of the wrong type
    /// (`"head_dim": "big"`, a negative or fractional integer, a number out of range), a
    /// field given twice, an unknown `rope_type`, or a factor list longer than
    /// `MAX_ROTARY_DIM / 2`: with the byte offset and the field.
    pub fn from_json(json: &[u8]) -> Result<HfConfig, RopeError> {
        Ok(read(json)?)
    }
}

fn read(s: &[u8]) -> Result<HfConfig, Fail> {
    // Pass 1: the whole document.
    let mut r = Reader::at(s, 0);
    r.space();
    let start = r.i;
    r.object(TOP, "", 0)?;
    if r.peek().is_some() {
        return r.fail("", "text after the JSON object");
    }
    // Pass 2: the fields, `text_config`'s before the top level's.
    let top = Fields::of(s, start, TOP)?;
    let text = top.object(TEXT_CONFIG, TEXT)?;
    let levels = [text.as_ref(), Some(&top)];
    let pick = |slot: usize| levels.iter().flatten().find(|f| f.value(slot).is_some());
    macro_rules! get {
        ($method:ident, $slot:expr) => {
            match pick($slot) {
                Some(f) => f.$method($slot)?,
                None => None,
            }
        };
    }
    let mut model = [0u8; NAME];
    let model_type = match pick(MODEL_TYPE).and_then(|f| f.value(MODEL_TYPE)) {
        Some(mut r) => Some(r.string(&mut model, "model_type")?),
        None => None,
    };
    let interleave = get!(boolean, ROPE_INTERLEAVE);
    let layout = match model_type {
        // A name longer than any known one: none of the listed models.
        Some(Some(n)) => HfConfig::layout_of(core::str::from_utf8(&model[..n]).unwrap_or(""), None),
        Some(None) => PairLayout::HalfSplit,
        None => PairLayout::HalfSplit,
    };
    let layout = match (model_type.is_some(), layout, interleave) {
        (_, _, Some(true)) => PairLayout::InterleavedToHalfSplit,
        (true, PairLayout::InterleavedToHalfSplit, Some(false)) => PairLayout::HalfSplit,
        (_, layout, _) => layout,
    };
    let mut config = HfConfig::new(layout);
    config.head_dim = get!(usize, HEAD_DIM);
    config.hidden_size = get!(usize, HIDDEN_SIZE);
    config.num_attention_heads = get!(usize, HEADS);
    config.qk_rope_head_dim = get!(usize, QK_ROPE_HEAD_DIM);
    config.rotary_dim = get!(usize, ROTARY_DIM);
    config.partial_rotary_factor = get!(float, PARTIAL).or(get!(float, ROTARY_PCT));
    config.max_position_embeddings = match pick(MAX_POSITIONS) {
        Some(f) => f.int(MAX_POSITIONS, u64::MAX)?,
        None => None,
    };
    config.original_max_position_embeddings = match pick(ORIGINAL_MAX) {
        Some(f) => f.int(ORIGINAL_MAX, u64::MAX)?,
        None => None,
    };
    config.rope_theta = get!(float, ROPE_THETA).or(get!(float, ROTARY_EMB_BASE));
    let params = match pick(ROPE_PARAMETERS).or(pick(ROPE_SCALING)) {
        Some(f) if f.value(ROPE_PARAMETERS).is_some() => f.object(ROPE_PARAMETERS, PARAMS)?,
        Some(f) => f.object(ROPE_SCALING, PARAMS)?,
        None => None,
    };
    if let Some(p) = params {
        let full = p.object(FULL, LEAF)?;
        let main = full.as_ref().unwrap_or(&p);
        config.rope = main.parameters()?;
        config.sliding = match p.object(SLIDING, LEAF)? {
            Some(leaf) => Some(leaf.parameters()?),
            None => None,
        };
        config.short_factor = main.factors(SHORT)?;
        config.long_factor = main.factors(LONG)?;
        config.mrope_section = main.sections(SECTIONS)?;
        config.mrope_interleaved = main.boolean(MROPE_INTERLEAVED)?.unwrap_or(false);
    }
    if let (None, Some(theta)) = (&config.sliding, get!(float, LOCAL_BASE)) {
        // transformers 4's Gemma 3: local layers use the default schedule at this base.
        config.sliding = Some(HfRopeParameters {
            rope_theta: Some(theta),
            ..HfRopeParameters::new(RopeType::Default)
        });
    }
    Ok(config)
}
