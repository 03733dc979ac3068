//! Column detection: the header's names made usable as merge fields (blank
//! ones named, repeated ones numbered), and which column holds the addresses
//! (the one chosen, else the one whose header says so, else the one whose
//! first values are mostly addresses).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::address;
use crate::error::{Error, Result};

/// Rows read ahead to find the email column by its content.
pub(crate) const CONTENT_SAMPLE_ROWS: usize = 50;

/// Header names (lower-cased, without spaces, `-`, `_` or `.`) that name the
/// email column, in the languages Mailroom's users write headers in.
const EMAIL_HEADER_HINTS: &[&str] = &[
    "email",
    "emailaddress",
    "mail",
    "mailaddress",
    "emailadresse",
    "courriel",
    "correo",
    "correoelectronico",
    "邮箱",
    "邮件",
    "电子邮件",
    "电子邮箱",
    "邮箱地址",
    "電子郵件",
    "メール",
    "メールアドレス",
];

/// A text file's header cells as column names: trimmed, without the
/// byte-order mark Excel's "CSV UTF-8" starts with.
pub(crate) fn header_names(mut names: Vec<String>) -> Vec<String> {
    if let Some(first) = names.first_mut() {
        // Excel's "CSV UTF-8" starts with a byte-order mark.
        *first = first.trim_start_matches('\u{feff}').to_owned();
    }
    names.into_iter().map(|n| n.trim().to_owned()).collect()
}

/// Gives a blank header a name ("column 3") and a repeated one a suffix
/// ("name (2)"), so every column can be a merge field. Linear in the number
/// of columns: each name remembers the next suffix to try, so a header of
/// 16,000 columns all named `a` does not try 1, 2, 3, ... for each.
pub(crate) fn name_blank_and_repeated(columns: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::with_capacity(columns.len());
    let mut next_suffix: HashMap<String, usize> = HashMap::new();
    columns
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let base = if name.is_empty() {
                format!("column {}", i + 1)
            } else {
                name
            };
            let key = base.to_lowercase();
            if seen.insert(key.clone()) {
                return base;
            }
            // Every suffix tried and taken is a name in `seen` that no later
            // column of this name tries again: the loop is linear overall.
            let n = next_suffix.entry(key).or_insert(2);
            loop {
                let candidate = format!("{base} ({n})");
                *n += 1;
                if seen.insert(candidate.to_lowercase()) {
                    return candidate;
                }
            }
        })
        .collect()
}

/// The email column: the one the person named; else the one whose header
/// says so; else the one whose sampled values are mostly addresses.
/// `None` if there is none of those (importing then fails with
/// [`Error::NoEmailColumn`]; a preview asks the person).
pub(crate) fn resolve_email_column(
    path: &Path,
    columns: &[String],
    wanted: Option<&str>,
    sample: &[&Vec<String>],
) -> Result<Option<usize>> {
    if let Some(wanted) = wanted {
        return columns
            .iter()
            .position(|c| c.trim().eq_ignore_ascii_case(wanted.trim()))
            .map(Some)
            .ok_or_else(|| Error::UnknownColumn {
                path: path.to_owned(),
                wanted: wanted.to_owned(),
                columns: columns.to_vec(),
            });
    }
    Ok(find_email_column(columns).or_else(|| find_email_column_by_content(columns.len(), sample)))
}

/// The column where most non-empty sampled values are valid addresses (at
/// least half of them, and at least one).
fn find_email_column_by_content(width: usize, sample: &[&Vec<String>]) -> Option<usize> {
    (0..width)
        .map(|column| {
            let values: Vec<&str> = sample
                .iter()
                .filter_map(|row| row.get(column).map(|v| v.trim()))
                .filter(|v| !v.is_empty())
                .collect();
            let good = values.iter().filter(|v| address::validate(v).is_ok()).count();
            (column, good, values.len())
        })
        .filter(|&(_, good, total)| good > 0 && good * 2 >= total)
        .max_by_key(|&(column, good, _)| (good, std::cmp::Reverse(column)))
        .map(|(column, _, _)| column)
}

pub(crate) fn find_email_column(columns: &[String]) -> Option<usize> {
    let normalise = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_' | '.'))
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    columns
        .iter()
        .position(|c| EMAIL_HEADER_HINTS.contains(&normalise(c).as_str()))
}
