/// Masks the user information of anything URL-like (`scheme://USER:PASS@host`),
/// whether or not it parses as a URL, and the value of password-like query
/// parameters. Over-masking is fine; printing a password is not.
pub fn redact(raw: &str) -> String {
    let (scheme, rest) = match raw.find("://") {
        Some(i) => raw.split_at(i + 3),
        None => ("", raw),
    };
    // The last `@` ends the user information: a raw password may hold `@`, `/` or `?`.
    let rest = match rest.rfind('@') {
        Some(at) => format!("***{}", &rest[at..]),
        None => rest.to_owned(),
    };
    let masked = match rest.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if is_secret_key(key) => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => rest,
    };
    format!("{scheme}{masked}")
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "pass", "pwd", "secret", "token", "sslpassword"]
        .iter()
        .any(|k| key == *k)
}
