//! Buffers a COPY stream from the source and finds complete rows in it, so the
//! copy can cut the stream into chunks at row boundaries. Binary streams have
//! a header, length-prefixed fields and a trailer; text streams are one line a
//! row (a newline inside a value is escaped) and simply end.

use bytes::{Buf, BytesMut};

use super::format::{self, Next};
use crate::mover::error::MoveError;

/// Buffers the source stream and finds complete rows in it.
#[derive(Default)]
pub struct RowReader {
    pub buf: BytesMut,
    /// A text-format stream.
    text: bool,
    header_done: bool,
    /// Bytes at the front of `buf` that are complete rows not yet sent.
    ready: usize,
    pub unreported: u64,
    pub ended: bool,
}

impl RowReader {
    pub fn new(text: bool) -> Self {
        Self {
            text,
            header_done: text,
            ..Self::default()
        }
    }

    /// The source has sent everything: the end of a text stream.
    pub fn source_ended(&mut self) -> bool {
        if self.text && self.buf.len() == self.ready {
            self.ended = true;
        }
        self.ended
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), MoveError> {
        self.buf.extend_from_slice(bytes);
        if !self.header_done {
            let header = format::header_len(&self.buf)
                .map_err(|e| MoveError::CopyFormat("source".into(), e))?;
            if let Some(len) = header {
                self.buf.advance(len);
                self.header_done = true;
            }
        }
        Ok(())
    }

    /// Marks up to `max` more complete rows as ready; returns (rows found, ready bytes).
    pub fn take_rows(&mut self, max: u64) -> Result<(u64, usize), MoveError> {
        let mut rows = 0;
        while self.header_done && !self.ended && rows < max {
            let next = if self.text {
                match self.buf[self.ready..].iter().position(|b| *b == b'\n') {
                    Some(end) => Next::Row(end + 1),
                    None => Next::Incomplete,
                }
            } else {
                format::next(&self.buf[self.ready..])
                    .map_err(|e| MoveError::CopyFormat("source".into(), e))?
            };
            match next {
                Next::Row(len) => {
                    self.ready += len;
                    rows += 1;
                }
                Next::End => self.ended = true,
                Next::Incomplete => break,
            }
        }
        self.unreported += rows;
        Ok((rows, self.ready))
    }

    pub fn sent(&mut self, bytes: usize) {
        self.ready -= bytes;
        if self.ended && self.ready == 0 {
            self.buf.clear(); // only the source's trailer is left
        }
    }
}
