//! The `.npy` array header, parsed and validated here rather than by a general parser:
//! magic, version, a bounded header length, and a Python dict literal with exactly the
//! keys `descr`, `fortran_order` and `shape`. See docs/formats.md.
//!
//! The grammar accepted is the one NumPy writes: `{'descr': '<f8', 'fortran_order':
//! False, 'shape': (3, 4), }` padded with spaces and a newline. Values are strings,
//! `True`/`False`, or a tuple of integers: nothing nests deeper, so parsing is linear in
//! the header's length, which is at most [`MAX_HEADER_LEN`] bytes.

/// Largest header accepted, in bytes (NumPy's own loader refuses more than 10,000 by
/// default).
pub const MAX_HEADER_LEN: usize = 65_536;

/// Element types accepted, by their NumPy `descr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elem {
    F8,
    F4,
    I8,
    I4,
    I1,
}

impl Elem {
    fn from_descr(descr: &str) -> Option<Elem> {
        Some(match descr {
            "<f8" => Elem::F8,
            "<f4" => Elem::F4,
            "<i8" => Elem::I8,
            "<i4" => Elem::I4,
            "|i1" => Elem::I1,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Elem::F8 | Elem::I8 => 8,
            Elem::F4 | Elem::I4 => 4,
            Elem::I1 => 1,
        }
    }

    /// Whether the type is an integer type.
    pub fn integer(self) -> bool {
        matches!(self, Elem::I8 | Elem::I4 | Elem::I1)
    }

    /// Converts little-endian raw bytes to f64 values.
    pub fn decode(self, raw: &[u8], out: &mut Vec<f64>) {
        match self {
            Elem::F8 => out.extend(raw.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))),
            Elem::F4 => out.extend(raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64)),
            Elem::I8 => out.extend(raw.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64)),
            Elem::I4 => out.extend(raw.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64)),
            Elem::I1 => out.extend(raw.iter().map(|&c| c as i8 as f64)),
        }
    }
}

/// A validated `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NpyHeader {
    /// Element type, or the unsupported `descr` as written.
    pub elem: Result<Elem, String>,
    /// Whether the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Bytes before the data: magic, version, length field and header.
    pub data_offset: usize,
}

/// Bytes of the fixed prefix for a version: magic (6), version (2), length (2 or 4).
pub(crate) fn prefix_len(major: u8) -> Option<usize> {
    match major {
        1 => Some(10),
        2 | 3 => Some(12),
        _ => None,
    }
}

/// Parses the fixed prefix (`\x93NUMPY`, version, header length), returning the header
/// length and the prefix length. `prefix` holds at least the first 12 bytes of the array
/// (or all of it when shorter).
pub(crate) fn parse_prefix(prefix: &[u8]) -> Result<(usize, usize), String> {
    if prefix.len() < 10 || &prefix[..6] != b"\x93NUMPY" {
        return Err("not an .npy array (bad magic)".into());
    }
    let major = prefix[6];
    let plen = prefix_len(major).ok_or_else(|| format!("unsupported .npy version {}.{}", major, prefix[7]))?;
    if prefix.len() < plen {
        return Err("truncated .npy header".into());
    }
    let hlen = if plen == 10 {
        u16::from_le_bytes([prefix[8], prefix[9]]) as usize
    } else {
        let n = u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]);
        usize::try_from(n).unwrap_or(usize::MAX)
    };
    if hlen > MAX_HEADER_LEN {
        return Err(format!(".npy header length {hlen} exceeds the limit of {MAX_HEADER_LEN} bytes"));
    }
    Ok((hlen, plen))
}

/// Parses the header text (the dict literal) that follows the prefix.
pub(crate) fn parse_header(text: &[u8], data_offset: usize) -> Result<NpyHeader, String> {
    let text = std::str::from_utf8(text).map_err(|_| ".npy header is not UTF-8".to_string())?;
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    p.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        let dup = match key.as_str() {
            "descr" => descr.replace(p.string()?).is_some(),
            "fortran_order" => fortran.replace(p.boolean()?).is_some(),
            "shape" => shape.replace(p.tuple()?).is_some(),
            other => return Err(format!("unexpected key {other:?} in .npy header")),
        };
        if dup {
            return Err(format!("key {key:?} appears twice in .npy header"));
        }
        p.ws();
        if p.eat(b',') {
            continue;
        }
        p.ws();
        p.expect(b'}')?;
        break;
    }
    if p.s[p.i..].iter().any(|c| !c.is_ascii_whitespace()) {
        return Err("trailing characters after the .npy header".into());
    }
    let descr = descr.ok_or("missing 'descr' in .npy header")?;
    Ok(NpyHeader {
        elem: Elem::from_descr(&descr).ok_or(descr),
        fortran_order: fortran.ok_or("missing 'fortran_order' in .npy header")?,
        shape: shape.ok_or("missing 'shape' in .npy header")?,
        data_offset,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("malformed .npy header: expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let q = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("malformed .npy header: expected a string at byte {}", self.i)),
        };
        let start = self.i + 1;
        let len = self.s[start..].iter().position(|&c| c == q).ok_or("unterminated string in .npy header")?;
        let v = &self.s[start..start + len];
        if v.len() > 64 || v.iter().any(|&c| c == b'\\' || c.is_ascii_control()) {
            return Err("malformed string in .npy header".into());
        }
        self.i = start + len + 1;
        Ok(String::from_utf8_lossy(v).into_owned())
    }

    fn boolean(&mut self) -> Result<bool, String> {
        for (word, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(v);
            }
        }
        Err(format!("malformed .npy header: expected True or False at byte {}", self.i))
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            if dims.len() >= 32 {
                return Err(".npy shape has more than 32 dimensions".into());
            }
            dims.push(self.integer()?);
            self.ws();
            if !self.eat(b',') {
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }

    fn integer(&mut self) -> Result<usize, String> {
        let start = self.i;
        let mut v: usize = 0;
        while let Some(&c) = self.s.get(self.i) {
            if !c.is_ascii_digit() {
                break;
            }
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add((c - b'0') as usize))
                .ok_or(".npy shape dimension overflows")?;
            self.i += 1;
        }
        if self.i == start {
            return Err(format!("malformed .npy header: expected a dimension at byte {}", self.i));
        }
        self.eat(b'L'); // Python 2's long suffix.
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_headers() {
        let h = parse_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   \n", 64).unwrap();
        assert_eq!(h.elem, Ok(Elem::F8));
        assert_eq!(h.shape, vec![3, 4]);
        assert!(!h.fortran_order);
        let h = parse_header(b"{'descr': '|i1', 'fortran_order': True, 'shape': (5,)}", 64).unwrap();
        assert_eq!((h.elem, h.shape, h.fortran_order), (Ok(Elem::I1), vec![5], true));
        let h = parse_header(b"{\"descr\":\">f8\",\"fortran_order\":False,\"shape\":()}", 64).unwrap();
        assert_eq!((h.elem, h.shape), (Err(">f8".to_string()), vec![]));
    }

    #[test]
    fn malformed_headers() {
        for bad in [
            &b"{{{{{{{{{{{{{{"[..],
            b"{'descr': '<f8', 'fortran_order': False}",
            b"{'descr': '<f8', 'fortran_order': False, 'shape': ((3,),)}",
            b"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': ()}",
            b"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
            b"{'descr': [1], 'fortran_order': False, 'shape': ()}",
            b"{'descr': '<f8', 'fortran_order': False, 'shape': ()} x",
            b"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}",
        ] {
            assert!(parse_header(bad, 64).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let mut prefix = b"\x93NUMPY\x02\x00\xff\xff\xff\xff".to_vec();
        assert!(parse_prefix(&prefix).unwrap_err().contains("exceeds"));
        prefix[6] = 9;
        assert!(parse_prefix(&prefix).unwrap_err().contains("version"));
    }
}
