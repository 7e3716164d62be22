//! Fixed-width text records, as both debit rails lay out their files: positions are 1-based and
//! inclusive (as the rail documents give them), alphanumeric fields are left-justified and
//! space-filled, numeric fields right-justified and zero-filled.
//!
//! Writing assumes values already checked (ASCII, within their width); an overlong value is an
//! invariant broken by this crate, not by input, and asserts. Reading never panics on any text.

use jiff::civil::Date;

use super::FileError;

/// Enough spaces for the widest blank field of any record.
const SPACES: &str =
    "                                                                                ";
/// Enough zeros for the widest numeric field.
const ZEROS: &str = "00000000000000000000";

/// A record under construction: fields are appended in order, and [`Record::end`] checks that
/// they fill the record's width exactly.
pub(crate) struct Record<'a> {
    out: &'a mut String,
    start: usize,
    width: usize,
}

impl<'a> Record<'a> {
    pub(crate) fn begin(out: &'a mut String, width: usize) -> Self {
        let start = out.len();
        Record { out, start, width }
    }

    /// A left-justified, space-filled field of `len` characters.
    pub(crate) fn alpha(&mut self, len: usize, value: &str) -> &mut Self {
        assert!(
            value.is_ascii() && value.len() <= len,
            "field value `{value}` exceeds {len} characters"
        );
        self.out.push_str(value);
        self.blank(len - value.len())
    }

    /// A right-justified, zero-filled number of `len` digits.
    pub(crate) fn num(&mut self, len: usize, value: u64) -> &mut Self {
        let mut buf = [b'0'; 20];
        let mut rest = value;
        let mut at = buf.len();
        while rest > 0 {
            at -= 1;
            buf[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let used = buf.len() - at;
        assert!(used <= len, "{value} exceeds {len} digits");
        self.out.push_str(&ZEROS[..len - used.min(len)]);
        // The buffer holds ASCII digits only.
        self.out.extend(buf[at..].iter().map(|&b| char::from(b)));
        self
    }

    /// `len` spaces: a control, filler or reserved field.
    pub(crate) fn blank(&mut self, len: usize) -> &mut Self {
        let mut left = len;
        while left > 0 {
            let n = left.min(SPACES.len());
            self.out.push_str(&SPACES[..n]);
            left -= n;
        }
        self
    }

    /// Closes the record with a line feed, checking that it has exactly its width.
    pub(crate) fn end(&mut self) {
        assert_eq!(
            self.out.len() - self.start,
            self.width,
            "a record is {} characters",
            self.width
        );
        self.out.push('\n');
    }
}

/// The records of a file: each with its 1-based line number. Lines end with LF or CRLF; the last
/// line's ending is optional. Refuses an empty file, any character outside printable ASCII
/// (0x20–0x7E) and any record not exactly `width` characters long.
pub(crate) fn records(text: &str, width: usize) -> Result<Vec<(usize, &str)>, FileError> {
    if text.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut out = Vec::new();
    for (i, raw) in body.split('\n').enumerate() {
        let line = i + 1;
        let record = raw.strip_suffix('\r').unwrap_or(raw);
        // Every byte before the first one out of range is ASCII, so its byte offset is its column.
        if let Some(at) = record.bytes().position(|b| !is_printable_byte(b)) {
            return Err(FileError::NotAscii {
                line,
                column: at + 1,
            });
        }
        if record.len() != width {
            return Err(FileError::RecordLength {
                line,
                expected: width,
                found: record.len(),
            });
        }
        out.push((line, record));
    }
    Ok(out)
}

/// The field at 1-based positions `pos..pos + len`; empty if the record is shorter (it never is
/// after [`records`], but cutting must not panic whatever it is given).
pub(crate) fn cut(record: &str, pos: usize, len: usize) -> &str {
    let start = pos.saturating_sub(1);
    record.get(start..start + len).unwrap_or("")
}

/// A field of digits only (no sign, no spaces) as a number; `None` otherwise.
pub(crate) fn digits(field: &str) -> Option<u64> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

/// A `DDMMYYYY` date.
pub(crate) fn ddmmyyyy(field: &str) -> Option<Date> {
    if field.len() != 8 {
        return None;
    }
    let day = digits(cut(field, 1, 2))?;
    let month = digits(cut(field, 3, 2))?;
    let year = digits(cut(field, 5, 4))?;
    Date::new(year as i16, month as i8, day as i8).ok()
}

/// A `YYMMDD` date, read in the years 2000–2099.
pub(crate) fn yymmdd(field: &str) -> Option<Date> {
    if field.len() != 6 {
        return None;
    }
    let year = digits(cut(field, 1, 2))?;
    let month = digits(cut(field, 3, 2))?;
    let day = digits(cut(field, 5, 2))?;
    Date::new(2000 + year as i16, month as i8, day as i8).ok()
}

/// A printable ASCII byte (space to `~`).
fn is_printable_byte(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Printable ASCII only (space to `~`).
pub(crate) fn is_printable(s: &str) -> bool {
    s.bytes().all(is_printable_byte)
}

/// Letters, digits, `-` and `_`: the characters of our references.
pub(crate) fn is_reference_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}
