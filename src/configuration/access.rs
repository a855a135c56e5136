//! Who may call the API: `API_TOKENS_FILE` and `DOCS_REQUIRE_TOKEN`; and which web
//! pages may call it from another origin: `CORS_ALLOWED_ORIGINS`,
//! `CORS_MAX_AGE_SECS`. The tokens file itself is read at start-up (`access`), since
//! it is read again whenever it changes.

use std::path::PathBuf;
use std::time::Duration;

use super::SettingsError;
use super::parse;

#[derive(Debug, Clone, Default)]
pub struct AccessSettings {
    /// The tokens file; `None` (the default) leaves every operation open.
    pub tokens_file: Option<PathBuf>,
    /// Whether `/docs` and `/openapi.json` need a token too (when tokens are on).
    pub docs_require_token: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CorsSettings {
    /// Exact origins (`https://app.example.com`); empty: no CORS headers at all.
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight's answer.
    pub max_age: Duration,
}

/// The longest `CORS_MAX_AGE_SECS`: a day, Firefox's own cap (Chromium caps at 2 h).
pub(super) const MAX_CORS_MAX_AGE_SECS: u64 = 86_400;

pub(super) fn access(
    tokens_file: Option<String>,
    docs_require_token: &str,
) -> Result<AccessSettings, SettingsError> {
    Ok(AccessSettings {
        tokens_file: tokens_file.map(PathBuf::from),
        docs_require_token: parse::boolean("DOCS_REQUIRE_TOKEN", docs_require_token)?,
    })
}

pub(super) fn cors(origins: &str, max_age: &str) -> Result<CorsSettings, SettingsError> {
    let allowed_origins = origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| origin(origins, o))
        .collect::<Result<Vec<_>, _>>()?;
    let max_age = parse::number("CORS_MAX_AGE_SECS", max_age, 0, MAX_CORS_MAX_AGE_SECS)?;
    Ok(CorsSettings {
        allowed_origins,
        max_age: Duration::from_secs(max_age),
    })
}

/// An origin exactly as a browser sends it in `Origin`: `scheme://host[:port]`,
/// lower case, no default port, no path. Anything else could never match, so it
/// is refused rather than silently ignored.
fn origin(all: &str, raw: &str) -> Result<String, SettingsError> {
    let refuse = |why: &str| {
        SettingsError::new(
            "CORS_ALLOWED_ORIGINS",
            all,
            format!(
                "{raw:?} {why}; expected comma-separated origins as browsers send them, \
                 such as https://app.example.com or http://127.0.0.1:8080"
            ),
        )
    };
    let url = url::Url::parse(raw).map_err(|_| refuse("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("is not http or https"));
    }
    let serialized = url.origin().ascii_serialization();
    if serialized != raw {
        return Err(refuse(&format!(
            "is not an exact origin (the browser would send {serialized:?})"
        )));
    }
    Ok(serialized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_empty_means_none() {
        let ok = [
            ("", vec![]),
            (" , ", vec![]),
            ("https://app.example.com", vec!["https://app.example.com"]),
            (
                "http://127.0.0.1:8080, https://a.example",
                vec!["http://127.0.0.1:8080", "https://a.example"],
            ),
        ];
        for (raw, want) in ok {
            let got = cors(raw, "600").expect(raw).allowed_origins;
            assert_eq!(got, want, "{raw:?}");
        }
        let bad = [
            "*",
            "null",
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://App.example.com",
            "https://app.example.com:443",
            "ftp://app.example.com",
            "https://user@app.example.com",
        ];
        for raw in bad {
            let err = cors(raw, "600").expect_err(raw);
            assert_eq!(err.setting, "CORS_ALLOWED_ORIGINS", "{raw:?}");
        }
    }

    #[test]
    fn max_age_is_bounded() {
        assert_eq!(cors("", "0").unwrap().max_age, Duration::ZERO);
        assert!(cors("", "86401").is_err());
        assert!(cors("", "-1").is_err());
    }
}
