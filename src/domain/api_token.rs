//! API tokens: who may call the tasks operations, and what for. The tokens file
//! (`API_TOKENS_FILE`) holds one entry per line, `NAME SCOPE SHA256-HEX`: a name
//! for people, a scope (`read`, or `write`, which implies `read`) and the SHA-256 of
//! the token in hex, so the file never holds a token. Blank lines and lines
//! starting with `#` are ignored.
//!
//! Errors name the line, never its content: a line that does not parse may be a
//! token pasted where its hash should be.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token may do. `Write` implies `Read` (the order of the variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
}

impl Scope {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    /// Whether a token of this scope may do what `needed` names.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token's name: 1 to 64 characters from `A-Z a-z 0-9 . _ -` (it shows in
/// `token list` and log lines, so nothing there needs escaping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Option<Self> {
        let fits = (1..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        fits.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of a token, kept as four 64-bit words (little-endian bytes): the
/// form it is compared in, made once when the file is read and once per request.
/// Its `Debug` prints nothing of it.
#[derive(Clone)]
pub struct TokenHash([u64; 4]);

impl TokenHash {
    /// 64 hex digits.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(raw, &mut bytes).ok()?;
        Some(Self::from_bytes(&bytes))
    }

    pub fn of(token: &str) -> Self {
        Self::from_bytes(&Sha256::digest(token.as_bytes()).into())
    }

    fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut words = [0u64; 4];
        for (i, byte) in bytes.iter().enumerate() {
            words[i / 8] |= u64::from(*byte) << (8 * (i % 8));
        }
        Self(words)
    }

    pub fn to_hex(&self) -> String {
        let bytes: Vec<u8> = self.0.iter().flat_map(|w| w.to_le_bytes()).collect();
        hex::encode(bytes)
    }

    /// In constant time (`subtle`): how long it takes says nothing of how much of
    /// a hash matched. Four 64-bit words, not 32 bytes: `subtle` puts an
    /// optimisation barrier on every element, and each request compares its hash
    /// with every entry of the file (bench/cost.sh tokens).
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0[..].ct_eq(&other.0[..]).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(***)")
    }
}

/// A new random token: 256 bits from the operating system, as 64 hex digits.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// One line of the tokens file.
#[derive(Debug, Clone)]
pub struct TokenEntry {
    pub name: TokenName,
    pub scope: Scope,
    pub hash: TokenHash,
}

impl TokenEntry {
    /// The line as the file holds it, without its newline.
    pub fn to_line(&self) -> String {
        format!("{} {} {}", self.name, self.scope, self.hash.to_hex())
    }
}

/// Why a tokens file was refused: the line and the rule it breaks, never the
/// line's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct TokenFileError {
    pub line: usize,
    pub problem: &'static str,
}

/// Every entry of a tokens file, parsed. An empty set (a file with no entries)
/// is valid and lets no one in: removing the last token revokes it.
#[derive(Debug, Clone, Default)]
pub struct TokenSet {
    entries: Vec<TokenEntry>,
}

impl TokenSet {
    pub fn parse(text: &str) -> Result<Self, TokenFileError> {
        let mut entries: Vec<TokenEntry> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let fail = |problem| TokenFileError {
                line: line_no,
                problem,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [name, scope, hash] = fields[..] else {
                return Err(fail(
                    "expected three fields, NAME SCOPE SHA256-HEX, separated by spaces",
                ));
            };
            let name = TokenName::parse(name).ok_or_else(|| {
                fail("the name must be 1 to 64 characters from A-Z, a-z, 0-9, '.', '_', '-'")
            })?;
            let scope =
                Scope::parse(scope).ok_or_else(|| fail("the scope must be read or write"))?;
            let hash = TokenHash::parse(hash)
                .ok_or_else(|| fail("the hash must be a SHA-256 in hex (64 hex digits)"))?;
            if entries.iter().any(|e| e.name == name) {
                return Err(fail("the name is already used on an earlier line"));
            }
            entries.push(TokenEntry { name, scope, hash });
        }
        Ok(Self { entries })
    }

    pub fn entries(&self) -> &[TokenEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn named(&self, name: &TokenName) -> Option<&TokenEntry> {
        self.entries.iter().find(|e| e.name == *name)
    }

    /// The entry whose hash is the presented token's. Every entry is compared, with
    /// no early exit, so the time taken does not tell which entry matched.
    pub fn find(&self, presented: &str) -> Option<&TokenEntry> {
        let hash = TokenHash::of(presented);
        let mut found = None;
        for entry in &self.entries {
            if entry.hash.matches(&hash) {
                found = Some(entry);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hex_form_round_trips() {
        let hex = TokenHash::of("s3cret-token").to_hex();
        // What `printf %s s3cret-token | sha256sum` prints: operators may write lines by hand.
        assert_eq!(
            hex, "a81e611a041b13f078bf8ebe5dab4d4fd63fcc5594661c918bec093a2f416a7e",
            "the standard SHA-256 hex digits"
        );
        let again = TokenHash::parse(&hex).expect("64 hex digits");
        assert_eq!(
            again.to_hex(),
            hex,
            "parse then to_hex gives the same digits"
        );
        assert!(again.matches(&TokenHash::of("s3cret-token")));
    }

    #[test]
    fn a_hash_matches_itself_and_no_hash_that_differs_in_any_one_bit() {
        let hash = TokenHash::of("s3cret-token");
        assert!(hash.matches(&hash.clone()), "equal hashes match");
        for byte in 0..32 {
            for bit in 0..8 {
                let mut other = hash.clone();
                other.0[byte / 8] ^= 1 << (8 * (byte % 8) + bit);
                assert!(!hash.matches(&other), "byte {byte}, bit {bit} differs");
            }
        }
    }

    const TOKEN: &str = "s3cret-token";

    fn line(name: &str, scope: &str) -> String {
        format!("{name} {scope} {}", TokenHash::of(TOKEN).to_hex())
    }

    #[test]
    fn write_implies_read_and_read_is_not_write() {
        assert!(Scope::Write.allows(Scope::Read));
        assert!(Scope::Write.allows(Scope::Write));
        assert!(Scope::Read.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Write));
    }

    #[test]
    fn a_file_parses_with_comments_and_blank_lines() {
        let text = format!(
            "# dashboards\n\n{}\n  ci   write   {}  \n",
            line("dash", "read"),
            TokenHash::of("other").to_hex().to_uppercase()
        );
        let set = TokenSet::parse(&text).expect("valid file");
        assert_eq!(set.len(), 2);
        let dash = set.find(TOKEN).expect("the token is found by its hash");
        assert_eq!(dash.name.as_str(), "dash");
        assert_eq!(dash.scope, Scope::Read);
        assert_eq!(set.find("other").map(|e| e.scope), Some(Scope::Write));
        assert!(set.find("unknown").is_none());
        assert!(set.find("").is_none());
    }

    #[test]
    fn an_empty_file_is_an_empty_set() {
        let set = TokenSet::parse("# nobody yet\n").expect("valid");
        assert!(set.is_empty());
        assert!(set.find(TOKEN).is_none());
    }

    #[test]
    fn bad_lines_are_refused_by_number_without_their_content() {
        let hash = TokenHash::of(TOKEN).to_hex();
        let cases = [
            (format!("a read {hash} extra"), 1, "three fields"),
            ("a read".to_owned(), 1, "three fields"),
            (
                format!("# c\n{}\nbad/name read {hash}", line("a", "read")),
                3,
                "the name",
            ),
            (format!("a admin {hash}"), 1, "the scope"),
            (format!("a Read {hash}"), 1, "the scope"),
            (format!("a read {TOKEN}"), 1, "the hash"),
            (format!("a read {}", &hash[..63]), 1, "the hash"),
            (format!("a read {hash}0"), 1, "the hash"),
            (
                format!("{}\n{}", line("a", "read"), line("a", "write")),
                2,
                "already used",
            ),
        ];
        for (text, want_line, want) in cases {
            let err = TokenSet::parse(&text).expect_err(&format!("refused: {text:?}"));
            assert_eq!(err.line, want_line, "line of {text:?}");
            assert!(err.problem.contains(want), "{text:?}: {err}");
            let shown = err.to_string();
            assert!(
                !shown.contains(TOKEN) && !shown.contains(&hash[..16]),
                "{text:?}: the error shows content: {shown}"
            );
        }
    }

    #[test]
    fn a_hash_never_prints() {
        let hash = TokenHash::of(TOKEN);
        assert_eq!(format!("{hash:?}"), "TokenHash(***)");
        let set = TokenSet::parse(&line("a", "read")).unwrap();
        assert!(!format!("{set:?}").contains(&hash.to_hex()[..16]));
    }

    #[test]
    fn generated_tokens_are_256_bits_and_differ() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn an_entry_renders_the_line_it_was_parsed_from() {
        let text = line("ci", "write");
        let set = TokenSet::parse(&text).unwrap();
        assert_eq!(set.entries()[0].to_line(), text);
    }
}
