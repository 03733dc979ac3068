//! Keeping credentials out of what a server says back. A hostile or careless
//! server may echo the AUTH line in its refusal ("535 AUTH PLAIN AGFsaWNl…
//! rejected"), and a reply's text travels on into failures, pause reasons,
//! the attempts table, logs and CLI output. The client redacts every reply
//! line as it reads it, before any of those see it.
//!
//! What is redacted: the password as typed; the exact tokens the client
//! sends (AUTH PLAIN's base64 of `\0user\0password`, AUTH LOGIN's base64 of
//! the password); and, for passwords long enough to tell apart from
//! ordinary words, every base64 stretch that encodes the password wherever
//! it sits in a longer encoded blob (the three alignments a byte string can
//! have in base64), so a server that re-encodes or cuts the token does not
//! leak it either.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, STANDARD_NO_PAD as BASE64_NO_PAD};

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";
/// Shorter stretches of base64 would match ordinary words.
const MIN_ENCODED: usize = 6;

/// The secrets to take out of text, longest first.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    /// Redacts the password of a login as `user`, and its encodings as AUTH
    /// PLAIN and AUTH LOGIN send them.
    pub fn for_login(user: Option<&str>, password: Option<&str>) -> Redactor {
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return Redactor::default();
        };
        let mut needles = vec![
            password.to_owned(),
            BASE64.encode(password),
            BASE64.encode(format!("\0{}\0{password}", user.unwrap_or(""))),
        ];
        // The password's bytes at each offset (mod 3) of an encoded stream:
        // the characters that depend on those bytes alone.
        for offset in 0..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(password.as_bytes());
            let encoded = BASE64_NO_PAD.encode(&bytes);
            let first = (8 * offset).div_ceil(6);
            let last = (8 * bytes.len()) / 6;
            if let Some(core) = encoded.get(first..last).filter(|c| c.len() >= MIN_ENCODED) {
                needles.push(core.to_owned());
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Redactor { needles }
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub fn apply(&self, text: &str) -> String {
        let mut text = Cow::Borrowed(text);
        for needle in &self.needles {
            if text.contains(needle.as_str()) {
                text = Cow::Owned(text.replace(needle.as_str(), REDACTED));
            }
        }
        text.into_owned()
    }

    /// Whether there is anything to redact.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaks(text: &str, password: &str) -> bool {
        text.contains(password)
            || text.contains(&BASE64.encode(password))
            || (0..3).any(|offset| {
                // Any stream that carries the password, re-encoded.
                let mut bytes = vec![b'x'; offset];
                bytes.extend_from_slice(password.as_bytes());
                bytes.extend_from_slice(b"tail");
                let encoded = BASE64.encode(&bytes);
                let core = &encoded[(8 * offset).div_ceil(6)..(8 * (offset + password.len())) / 6];
                text.contains(core)
            })
    }

    #[test]
    fn echoed_auth_lines_lose_the_password_in_every_form() {
        let password = "Pa55-w0rd-long";
        let redactor = Redactor::for_login(Some("me@example.com"), Some(password));
        let plain = BASE64.encode(format!("\0me@example.com\0{password}"));
        let login = BASE64.encode(password);
        for echoed in [
            format!("5.7.8 AUTH PLAIN {plain} rejected"),
            format!("5.7.8 you said {login}"),
            format!("5.7.8 wrong password {password}!"),
            // Re-encoded with something in front: another alignment.
            format!("5.7.8 {}", BASE64.encode(format!("user=me pass={password} end"))),
            format!("5.7.8 {}", BASE64.encode(format!("ab{password}"))),
        ] {
            let redacted = redactor.apply(&echoed);
            assert!(!leaks(&redacted, password), "{echoed} → {redacted}");
            assert!(redacted.contains(REDACTED), "{redacted}");
        }
        assert_eq!(
            redactor.apply("5.7.8 Authentication failed"),
            "5.7.8 Authentication failed"
        );
    }

    #[test]
    fn no_password_redacts_nothing() {
        assert!(Redactor::for_login(Some("me"), None).is_empty());
        assert!(Redactor::for_login(Some("me"), Some("")).is_empty());
        assert_eq!(Redactor::default().apply("250 ok"), "250 ok");
    }

    proptest::proptest! {
        #[test]
        fn a_password_in_any_base64_blob_is_redacted(
            password in "[ -~]{5,40}",
            before in proptest::collection::vec(proptest::num::u8::ANY, 0..8),
            after in proptest::collection::vec(proptest::num::u8::ANY, 0..8),
        ) {
            let redactor = Redactor::for_login(Some("user"), Some(&password));
            let mut blob = before.clone();
            blob.extend_from_slice(password.as_bytes());
            blob.extend_from_slice(&after);
            let echoed = format!("535 {} and {password}", BASE64.encode(&blob));
            let redacted = redactor.apply(&echoed);
            proptest::prop_assert!(!redacted.contains(&password));
            let offset = before.len() % 3;
            let mut aligned = vec![0u8; offset];
            aligned.extend_from_slice(password.as_bytes());
            let core = BASE64_NO_PAD.encode(&aligned);
            let core = &core[(8 * offset).div_ceil(6)..(8 * aligned.len()) / 6];
            if core.len() >= MIN_ENCODED {
                proptest::prop_assert!(!redacted.contains(core), "{} still has {}", redacted, core);
            }
        }
    }
}
