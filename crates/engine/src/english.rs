//! English wording of counts, for what the engine and the CLI write in
//! English (`Display` of outcomes, the CLI's output, the log): a number with
//! its noun in the form English gives it, "1 recipient", "2 recipients". The
//! window says counts from its catalogs, with each language's plural rules.

use std::fmt;

/// `n` and its noun, `one` for exactly one and `other` for every other
/// number (zero included): `count(1, "recipient", "recipients")` writes
/// "1 recipient", `count(0, …)` "0 recipients".
pub fn count<N>(n: N, one: &'static str, other: &'static str) -> Counted<N>
where
    N: fmt::Display + PartialEq + From<u8>,
{
    Counted { n, one, other }
}

/// Whether English says `n` in the singular: only for exactly one.
pub fn is_one<N: PartialEq + From<u8>>(n: &N) -> bool {
    *n == N::from(1)
}

/// A count as [`count`] writes it.
#[derive(Debug, Clone, Copy)]
pub struct Counted<N> {
    n: N,
    one: &'static str,
    other: &'static str,
}

impl<N: fmt::Display + PartialEq + From<u8>> fmt::Display for Counted<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if is_one(&self.n) { self.one } else { self.other };
        write!(f, "{} {noun}", self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_number_plural() {
        assert_eq!(count(1_u64, "recipient", "recipients").to_string(), "1 recipient");
        assert_eq!(count(2_u64, "recipient", "recipients").to_string(), "2 recipients");
        assert_eq!(count(0_u64, "recipient", "recipients").to_string(), "0 recipients");
        assert_eq!(count(21_u32, "try", "tries").to_string(), "21 tries");
        assert_eq!(count(1_i64, "day", "days").to_string(), "1 day");
        assert_eq!(count(1_usize, "row", "rows").to_string(), "1 row");
    }
}
