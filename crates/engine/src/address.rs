//! Email address checks: whether an address is usable, why not, and the key
//! two addresses are compared by when looking for duplicates; and the forms
//! an address takes on the wire: its domain in ASCII (IDNA, punycode) for
//! SMTP commands and headers, and whether its local part needs SMTPUTF8.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// Why an address cannot be used; shown next to the row it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum InvalidReason {
    Empty,
    Spaces,
    MissingAt,
    BadLocalPart,
    BadDomain,
    TooLong,
    /// Not the address's fault: the row has more values than the header has
    /// columns, so which value belongs where is a guess.
    TooManyValues,
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidReason::Empty => "the address is empty",
            InvalidReason::Spaces => "the address contains spaces",
            InvalidReason::MissingAt => "the address has no @",
            InvalidReason::BadLocalPart => "the part before the @ is not valid",
            InvalidReason::BadDomain => "the domain after the @ is not valid",
            InvalidReason::TooLong => "the address is longer than 254 characters",
            InvalidReason::TooManyValues => "the row has more values than the header has columns",
        })
    }
}

/// RFC 5321's limits: 64 octets before the @, 254 for the path as a whole.
const MAX_LOCAL: usize = 64;
const MAX_ADDRESS: usize = 254;
const MAX_LABEL: usize = 63;

/// Checks an address (already trimmed) the way a sending server will: a local
/// part of RFC 5322 "atext" dot-atoms, an @, and a domain of at least two
/// labels. Internationalised domains (that IDNA can write in ASCII) and
/// local parts (UTF-8, sent with SMTPUTF8) are accepted; control and
/// invisible characters are not.
pub fn validate(address: &str) -> Result<(), InvalidReason> {
    if address.is_empty() {
        return Err(InvalidReason::Empty);
    }
    if address.chars().any(char::is_whitespace) {
        return Err(InvalidReason::Spaces);
    }
    if address.len() > MAX_ADDRESS {
        return Err(InvalidReason::TooLong);
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(InvalidReason::MissingAt);
    };
    if !valid_local_part(local) {
        return Err(InvalidReason::BadLocalPart);
    }
    if !valid_domain(domain) {
        return Err(InvalidReason::BadDomain);
    }
    Ok(())
}

fn valid_local_part(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= MAX_LOCAL
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom.chars().all(|c| {
                    c.is_alphanumeric()
                        || "!#$%&'*+/=?^_`{|}~-".contains(c)
                        || (!c.is_ascii() && !c.is_control() && !is_invisible(c))
                })
        })
}

/// Characters that show as nothing (or reorder what is shown): an address
/// with one looks like another.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

fn valid_domain(domain: &str) -> bool {
    if domain.is_ascii() {
        return valid_ascii_domain(domain);
    }
    // An internationalised domain must have an ASCII form that is valid.
    domain
        .chars()
        .all(|c| !c.is_control() && !is_invisible(c) && !c.is_whitespace())
        && ascii_domain(domain).is_some_and(|ascii| ascii.len() <= MAX_ADDRESS && valid_ascii_domain(&ascii))
}

fn valid_ascii_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        // A top-level domain is never all digits ("user@10.0.0.1" needs brackets).
        && labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

/// `domain` as it goes on the wire: unchanged when ASCII, else its IDNA
/// ASCII form (`bücher.de` → `xn--bcher-kva.de`); `None` when IDNA cannot
/// write it.
pub fn ascii_domain(domain: &str) -> Option<Cow<'_, str>> {
    if domain.is_ascii() {
        return Some(Cow::Borrowed(domain));
    }
    idna::domain_to_ascii(domain)
        .ok()
        .filter(|d| !d.is_empty())
        .map(Cow::Owned)
}

/// An address as SMTP commands and headers carry it: the domain in ASCII,
/// the local part as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireAddress {
    pub text: String,
    /// The local part is not ASCII: only a server offering SMTPUTF8 takes
    /// it (RFC 6531), and headers carry it as UTF-8 (RFC 6532).
    pub needs_smtputf8: bool,
}

/// `address` for the wire ([`WireAddress`]). Checks only what keeps it one
/// safe token on a command line (no spaces, controls, invisible characters
/// or angle brackets; an @ with something on both sides; RFC 5321's length)
/// and that its domain has an ASCII form; the full syntax is [`validate`]'s,
/// at import and when an account is saved.
pub fn for_wire(address: &str) -> Result<WireAddress, InvalidReason> {
    if address.is_empty() {
        return Err(InvalidReason::Empty);
    }
    if address.chars().any(char::is_whitespace) {
        return Err(InvalidReason::Spaces);
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(InvalidReason::MissingAt);
    };
    let unsafe_char = |c: char| c.is_control() || is_invisible(c) || c == '<' || c == '>';
    if local.is_empty() || local.chars().any(unsafe_char) {
        return Err(InvalidReason::BadLocalPart);
    }
    if domain.is_empty() || domain.chars().any(unsafe_char) {
        return Err(InvalidReason::BadDomain);
    }
    let domain = ascii_domain(domain).ok_or(InvalidReason::BadDomain)?;
    let text = format!("{local}@{domain}");
    if text.len() > MAX_ADDRESS {
        return Err(InvalidReason::TooLong);
    }
    Ok(WireAddress {
        needs_smtputf8: !local.is_ascii(),
        text,
    })
}

/// The key duplicates are found by: two addresses that differ only in case or
/// surrounding whitespace reach the same mailbox in practice.
pub fn dedup_key(address: &str) -> String {
    address.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_and_international_addresses() {
        for ok in [
            "ann@example.com",
            "first.last+tag@sub.example.co.uk",
            "o'brien@example.ie",
            "用户@例子.中国",
            "x@xn--fiqs8s.cn",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn says_why_an_address_is_rejected() {
        let cases = [
            ("", InvalidReason::Empty),
            ("ann @example.com", InvalidReason::Spaces),
            ("ann.example.com", InvalidReason::MissingAt),
            ("@example.com", InvalidReason::BadLocalPart),
            ("ann..b@example.com", InvalidReason::BadLocalPart),
            ("a@b@example.com", InvalidReason::BadLocalPart),
            ("ann@example", InvalidReason::BadDomain),
            ("ann@-example.com", InvalidReason::BadDomain),
            ("ann@example..com", InvalidReason::BadDomain),
            ("ann@10.0.0.1", InvalidReason::BadDomain),
        ];
        for (input, reason) in cases {
            assert_eq!(validate(input), Err(reason), "{input:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(validate(&long), Err(InvalidReason::TooLong));
    }

    #[test]
    fn control_and_invisible_characters_are_not_an_address() {
        for bad in [
            "a\u{0}b@example.com",
            "a\u{8d}b@example.com",
            "a\u{202e}b@example.com",
            "ab@exa\u{200b}mple.com",
            "ab@ex\u{85}ample.com",
        ] {
            assert!(validate(bad).is_err(), "{bad:?}");
            assert!(for_wire(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domains_go_out_in_ascii_and_local_parts_as_they_are() {
        assert_eq!(
            for_wire("user@bücher.de"),
            Ok(WireAddress {
                text: "user@xn--bcher-kva.de".into(),
                needs_smtputf8: false
            })
        );
        assert_eq!(
            for_wire("用户@例子.广告"),
            Ok(WireAddress {
                text: "用户@xn--fsqu00a.xn--4rr70v".into(),
                needs_smtputf8: true
            })
        );
        assert_eq!(
            for_wire("Ann@Example.COM").map(|a| a.text),
            Ok("Ann@Example.COM".into())
        );
        assert_eq!(for_wire("a@b>\r\nRCPT TO:<c@d"), Err(InvalidReason::Spaces));
        assert_eq!(for_wire("a>b@example.com"), Err(InvalidReason::BadLocalPart));
        assert_eq!(for_wire("nobody"), Err(InvalidReason::MissingAt));
        // IDNA cannot write it: not a domain.
        assert_eq!(validate("a@xn--.de"), Err(InvalidReason::BadDomain));
        assert_eq!(validate("a@☃\u{FFFF}.de"), Err(InvalidReason::BadDomain));
        assert_eq!(validate("user@bücher.de"), Ok(()));
    }

    #[test]
    fn duplicates_ignore_case_and_surrounding_space() {
        assert_eq!(dedup_key("  Ann@Example.COM "), dedup_key("ann@example.com"));
        assert_ne!(dedup_key("ann@example.com"), dedup_key("anne@example.com"));
    }
}
