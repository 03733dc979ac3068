//! Email address checks: whether an address is usable, why not, and the key
//! two addresses are compared by when looking for duplicates.

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
/// labels. Internationalised domains and local parts (UTF-8) are accepted.
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
                && atom
                    .chars()
                    .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c) || !c.is_ascii())
        })
}

fn valid_domain(domain: &str) -> bool {
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
    fn duplicates_ignore_case_and_surrounding_space() {
        assert_eq!(dedup_key("  Ann@Example.COM "), dedup_key("ann@example.com"));
        assert_ne!(dedup_key("ann@example.com"), dedup_key("anne@example.com"));
    }
}
