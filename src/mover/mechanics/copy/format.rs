//! Just enough of Postgres's binary COPY format to find row boundaries, so a
//! single COPY stream can be cut into checkpointed chunks without decoding values.
//! Layout: 11-byte signature, int32 flags, int32 extension length + extension,
//! then per row an int16 field count and per field an int32 length (-1 = NULL)
//! and the bytes; an int16 -1 ends the stream. `SEND_BYTES` is how much of a
//! stream goes to the target's socket at once.

use bytes::BytesMut;

/// Bytes gathered before handing them to the target socket: COPY OUT sends one
/// message per row, and forwarding each alone costs a syscall per row.
pub const SEND_BYTES: usize = 256 * 1024;

pub const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// The header we send to the target: signature, no flags, no extension.
pub const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
pub const TRAILER: &[u8; 2] = &[0xff, 0xff];

#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A complete row of this many bytes starts the buffer.
    Row(usize),
    /// The end-of-data marker starts the buffer.
    End,
    /// More bytes are needed.
    Incomplete,
}

/// Length of the header at the start of `buf`, once all of it has arrived.
pub fn header_len(buf: &[u8]) -> Result<Option<usize>, String> {
    if buf.len() < HEADER.len() {
        return Ok(None);
    }
    if &buf[..SIGNATURE.len()] != SIGNATURE {
        return Err("missing binary COPY signature".into());
    }
    let ext = i32::from_be_bytes(buf[15..19].try_into().expect("4 bytes"));
    let ext = usize::try_from(ext).map_err(|_| "negative header extension length".to_string())?;
    let total = HEADER.len() + ext;
    Ok((buf.len() >= total).then_some(total))
}

/// Finds the row (or end marker) at the start of `buf`.
pub fn next(buf: &[u8]) -> Result<Next, String> {
    let Some(count) = read_i16(buf, 0) else {
        return Ok(Next::Incomplete);
    };
    if count == -1 {
        return Ok(Next::End);
    }
    if count < 0 {
        return Err(format!("invalid field count {count}"));
    }
    let mut pos = 2;
    for _ in 0..count {
        let Some(len) = read_i32(buf, pos) else {
            return Ok(Next::Incomplete);
        };
        pos += 4;
        if len >= 0 {
            pos += len as usize;
        } else if len != -1 {
            return Err(format!("invalid field length {len}"));
        }
        if pos > buf.len() {
            return Ok(Next::Incomplete);
        }
    }
    Ok(Next::Row(pos))
}

fn read_i16(buf: &[u8], at: usize) -> Option<i16> {
    buf.get(at..at + 2)
        .map(|b| i16::from_be_bytes(b.try_into().expect("2 bytes")))
}

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    buf.get(at..at + 4)
        .map(|b| i32::from_be_bytes(b.try_into().expect("4 bytes")))
}

/// Rows to send, with binary COPY's header before a chunk's first rows and its
/// trailer after its last, in the same write: sent alone, a few bytes wait
/// for the server's delayed acknowledgement of the previous write (Nagle's
/// algorithm; sqlx leaves it on), some 40 ms per chunk.
pub(crate) fn framed(binary: bool, (first, last): (bool, bool), rows: BytesMut) -> BytesMut {
    if !binary || !(first || last) {
        return rows;
    }
    let mut framed = BytesMut::with_capacity(HEADER.len() + rows.len() + TRAILER.len());
    if first {
        framed.extend_from_slice(HEADER);
    }
    framed.extend_from_slice(&rows);
    if last {
        framed.extend_from_slice(TRAILER);
    }
    framed
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = HEADER.to_vec();
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for field in row {
                match field {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(bytes) => {
                        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                        out.extend_from_slice(bytes);
                    }
                }
            }
        }
        out.extend_from_slice(TRAILER);
        out
    }

    fn rows_strategy() -> impl Strategy<Value = Vec<Vec<Option<Vec<u8>>>>> {
        let field = proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20));
        proptest::collection::vec(proptest::collection::vec(field, 1..5), 0..30)
    }

    proptest! {
        /// Feeding the stream in arbitrary pieces finds exactly the rows encoded.
        #[test]
        fn rows_are_found_whatever_the_stream_is_cut_into(rows in rows_strategy(), cut in 1usize..40) {
            let stream = encode(&rows);
            let mut buf: Vec<u8> = Vec::new();
            let mut header_done = false;
            let mut found = Vec::new();
            let mut ended = false;
            for piece in stream.chunks(cut) {
                buf.extend_from_slice(piece);
                if !header_done {
                    match header_len(&buf).unwrap() {
                        Some(n) => { buf.drain(..n); header_done = true; }
                        None => continue,
                    }
                }
                loop {
                    match next(&buf).unwrap() {
                        Next::Row(n) => found.push(buf.drain(..n).collect::<Vec<u8>>()),
                        Next::End => { ended = true; break; }
                        Next::Incomplete => break,
                    }
                }
            }
            prop_assert!(ended);
            prop_assert_eq!(found.len(), rows.len());
            let reencoded: Vec<u8> = HEADER.iter().copied()
                .chain(found.concat())
                .chain(TRAILER.iter().copied())
                .collect();
            prop_assert_eq!(reencoded, stream);
        }
    }

    #[test]
    fn a_stream_without_the_signature_is_rejected() {
        assert!(header_len(b"not a binary copy stream").is_err());
    }
}
