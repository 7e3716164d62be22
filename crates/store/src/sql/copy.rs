//! PostgreSQL's `COPY … FROM STDIN` in text format: the fastest way rows go in, no bind limit and
//! no statement to parse. The bulk booking and the batch of commands write through it.

use crate::StoreError;

/// Rows in PostgreSQL's COPY text format: fields separated by tabs, rows by newlines,
/// backslash, tab, newline and carriage return escaped, `\N` for NULL.
#[derive(Default)]
pub(super) struct CopyText {
    buf: Vec<u8>,
    /// Whether the row being written has a field yet.
    started: bool,
}

impl CopyText {
    pub(super) fn sep(&mut self) {
        if self.started {
            self.buf.push(b'\t');
        }
        self.started = true;
    }

    pub(super) fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        let bytes = s.as_bytes();
        if !bytes
            .iter()
            .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
        {
            self.buf.extend_from_slice(bytes);
            return self;
        }
        for &b in bytes {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                _ => self.buf.push(b),
            }
        }
        self
    }

    pub(super) fn opt(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => {
                self.sep();
                self.buf.extend_from_slice(b"\\N");
                self
            }
        }
    }

    pub(super) fn int(&mut self, n: i64) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(n.to_string().as_bytes());
        self
    }

    pub(super) fn opt_int(&mut self, n: Option<i64>) -> &mut Self {
        match n {
            Some(n) => self.int(n),
            None => self.opt(None),
        }
    }

    pub(super) fn end(&mut self) {
        self.buf.push(b'\n');
        self.started = false;
    }
}

/// Bytes of COPY data sent at a time.
const COPY_PIECE: usize = 1 << 20;

/// Stream `rows` into `table` (`name (columns…)`) with one COPY; `err` maps the database's
/// errors (a unique violation means something else to each caller).
pub(super) async fn copy_rows<T: Sync>(
    err: fn(sqlx::Error) -> StoreError,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &str,
    rows: &[T],
    write: impl Fn(&mut CopyText, &T) + Send + Sync,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut text = CopyText::default();
    for row in rows {
        write(&mut text, row);
        text.end();
    }
    let mut copy = tx
        .copy_in_raw(&format!("COPY {table} FROM STDIN"))
        .await
        .map_err(err)?;
    for piece in text.buf.chunks(COPY_PIECE) {
        copy.send(piece).await.map_err(err)?;
    }
    copy.finish().await.map_err(err)?;
    Ok(())
}
