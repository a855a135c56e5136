//! The list's cursor: where the next page of one list starts, as an opaque token.
//!
//! A page by cursor reads `WHERE id > after ORDER BY id LIMIT n` from an index, so it
//! costs the same wherever it is in the table, and a task present throughout a walk
//! is neither skipped nor repeated, whatever others insert or delete meanwhile.
//!
//! The token is base64url (no padding) of 15 bytes: a format version, the order, the
//! list's status filter, the last id of the page, and a CRC-32 of those. The checksum
//! catches a token that was cut short or edited; it is not a signature, and needs
//! none: a forged cursor can only start a page at another id of the same list, which
//! reveals nothing and costs the same. The filter is in the token so that a cursor
//! cannot continue a different list than the one it came from.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::TaskStatus;

const VERSION: u8 = 1;
/// The only order there is: id ascending. A new order gets a new byte.
const ORDER_BY_ID: u8 = 1;
const PAYLOAD_BYTES: usize = 11;
const TOKEN_BYTES: usize = PAYLOAD_BYTES + 4;
/// What a token is, as text: longer input is refused before decoding (and by the
/// `after` parameter's declared pattern).
const CURSOR_CHARS: usize = 20;

const CHECKSUM: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// A position in the list of tasks with `status` (all tasks when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub status: Option<TaskStatus>,
    /// The last id of the page before: the next page starts after it.
    pub after_id: i64,
}

/// Why an `after` value is refused; the message goes to the client as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("`after` is not a cursor this API issued (cut short, edited or made up)")]
    Malformed,
    #[error("`after` is a cursor of a format this server does not know")]
    UnknownFormat,
    #[error(
        "`after` is a cursor of another list (status filter {issued_for}, this request's is {asked_for})"
    )]
    OtherList {
        issued_for: &'static str,
        asked_for: &'static str,
    },
}

impl Cursor {
    pub fn encode(&self) -> String {
        let mut token = [0u8; TOKEN_BYTES];
        token[0] = VERSION;
        token[1] = ORDER_BY_ID;
        token[2] = status_byte(self.status);
        token[3..PAYLOAD_BYTES].copy_from_slice(&self.after_id.to_be_bytes());
        let sum = CHECKSUM.checksum(&token[..PAYLOAD_BYTES]);
        token[PAYLOAD_BYTES..].copy_from_slice(&sum.to_be_bytes());
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The id after which the page of the list filtered by `status` starts, if
    /// `raw` is a cursor of that list.
    pub fn parse_for(raw: &str, status: Option<TaskStatus>) -> Result<i64, CursorError> {
        let cursor = Self::parse(raw)?;
        if cursor.status != status {
            return Err(CursorError::OtherList {
                issued_for: filter_name(cursor.status),
                asked_for: filter_name(status),
            });
        }
        Ok(cursor.after_id)
    }

    fn parse(raw: &str) -> Result<Self, CursorError> {
        if raw.len() != CURSOR_CHARS {
            return Err(CursorError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| CursorError::Malformed)?;
        let token: [u8; TOKEN_BYTES] = bytes.try_into().map_err(|_| CursorError::Malformed)?;
        let (payload, sum) = token.split_at(PAYLOAD_BYTES);
        if CHECKSUM.checksum(payload).to_be_bytes() != sum {
            return Err(CursorError::Malformed);
        }
        if payload[0] != VERSION || payload[1] != ORDER_BY_ID {
            return Err(CursorError::UnknownFormat);
        }
        let status = match payload[2] {
            0 => None,
            1 => Some(TaskStatus::Todo),
            2 => Some(TaskStatus::InProgress),
            3 => Some(TaskStatus::Done),
            _ => return Err(CursorError::UnknownFormat),
        };
        let mut id = [0u8; 8];
        id.copy_from_slice(&payload[3..]);
        Ok(Self {
            status,
            after_id: i64::from_be_bytes(id),
        })
    }
}

fn status_byte(status: Option<TaskStatus>) -> u8 {
    match status {
        None => 0,
        Some(TaskStatus::Todo) => 1,
        Some(TaskStatus::InProgress) => 2,
        Some(TaskStatus::Done) => 3,
    }
}

fn filter_name(status: Option<TaskStatus>) -> &'static str {
    status.map_or("none", TaskStatus::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILTERS: [Option<TaskStatus>; 4] = [
        None,
        Some(TaskStatus::Todo),
        Some(TaskStatus::InProgress),
        Some(TaskStatus::Done),
    ];

    #[test]
    fn a_cursor_round_trips_for_its_own_list() {
        for status in FILTERS {
            for after_id in [i64::MIN, -1, 0, 1, 1_000_000, i64::MAX] {
                let token = Cursor { status, after_id }.encode();
                // The pattern `after` declares in the OpenAPI document.
                assert!(
                    token.len() == CURSOR_CHARS
                        && token
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                    "{token}: not ^[A-Za-z0-9_-]{{20}}$"
                );
                assert_eq!(
                    Cursor::parse_for(&token, status),
                    Ok(after_id),
                    "{status:?} after {after_id}: {token}"
                );
            }
        }
    }

    #[test]
    fn a_cursor_of_another_list_is_refused() {
        for issued in FILTERS {
            let token = Cursor {
                status: issued,
                after_id: 42,
            }
            .encode();
            for asked in FILTERS.into_iter().filter(|s| *s != issued) {
                assert!(
                    matches!(
                        Cursor::parse_for(&token, asked),
                        Err(CursorError::OtherList { .. })
                    ),
                    "a cursor of {issued:?} used for {asked:?}"
                );
            }
        }
    }

    #[test]
    fn every_edited_or_cut_cursor_is_refused() {
        let token = Cursor {
            status: Some(TaskStatus::Done),
            after_id: 123_456,
        }
        .encode();
        // Every single-character edit: what a tampered cursor is at the least.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for at in 0..token.len() {
            for c in alphabet.chars() {
                let mut edited: Vec<char> = token.chars().collect();
                if edited[at] == c {
                    continue;
                }
                edited[at] = c;
                // 15 bytes are exactly 20 characters: no character carries padding
                // bits, so every edit changes the bytes (at most 12 bits of them, a
                // burst CRC-32 always detects).
                let edited: String = edited.into_iter().collect();
                assert!(
                    Cursor::parse_for(&edited, Some(TaskStatus::Done)).is_err(),
                    "{edited} (from {token}) was accepted"
                );
            }
        }
        for cut in 0..token.len() {
            assert_eq!(
                Cursor::parse_for(&token[..cut], Some(TaskStatus::Done)),
                Err(CursorError::Malformed),
                "cut to {cut} characters"
            );
        }
    }

    #[test]
    fn malformed_input_is_refused() {
        let cases = [
            ("empty", String::new()),
            ("not base64", "!!!!".to_owned()),
            (
                "padded",
                format!(
                    "{}=",
                    Cursor {
                        status: None,
                        after_id: 1
                    }
                    .encode()
                ),
            ),
            ("a number", "100".to_owned()),
            ("too long", "A".repeat(CURSOR_CHARS + 4)),
            ("unicode", "é".repeat(10)),
        ];
        for (case, raw) in cases {
            assert_eq!(
                Cursor::parse_for(&raw, None),
                Err(CursorError::Malformed),
                "{case}"
            );
        }
    }

    #[test]
    fn a_cursor_of_an_unknown_format_says_so() {
        let mut token = [0u8; TOKEN_BYTES];
        token[0] = VERSION + 1;
        token[1] = ORDER_BY_ID;
        let sum = CHECKSUM.checksum(&token[..PAYLOAD_BYTES]);
        token[PAYLOAD_BYTES..].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(
            Cursor::parse_for(&URL_SAFE_NO_PAD.encode(token), None),
            Err(CursorError::UnknownFormat)
        );
    }
}
