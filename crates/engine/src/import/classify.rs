//! Row classification: each data row of a file becomes a recipient, `pending`
//! or `skipped` with its reason (an invalid address, more values than
//! columns, a duplicate of an earlier row, a suppressed address), and the
//! import's tally of every row counted once.

use std::collections::HashMap;
use std::path::PathBuf;

use super::limits::{self, excerpt};
use crate::address::{self, InvalidReason};
use crate::error::{Error, Result};
use crate::model::{DuplicateRow, InvalidRow, RecipientStatus, SuppressedRow};
use crate::outcome::RecipientReason;
use crate::store::NewRecipient;

/// Rows kept for the preview table.
pub(crate) const PREVIEW_ROWS: usize = 20;

/// What the parser saw, row by row.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) path: PathBuf,
    pub(super) rows: u64,
    pub(super) valid: u64,
    pub(super) invalid: Vec<InvalidRow>,
    pub(super) duplicates: Vec<DuplicateRow>,
    pub(super) suppressed: Vec<SuppressedRow>,
    pub(super) preview: Vec<Vec<String>>,
}

/// Classifies the rows of one file in order, remembering what it needs to
/// (the addresses seen, the cells stored) and tallying what it found.
pub(super) struct Classifier<'a> {
    email_index: usize,
    /// The header's width: the columns every row is stored with.
    width: usize,
    /// Suppressed addresses by dedup key, with the list's reason.
    suppressed: &'a HashMap<String, String>,
    // First row each address appeared on (the first occurrence wins), kept
    // as a 96-bit hash of its dedup key and the row: 17 bytes an address in
    // the table instead of the address itself. Two of a million different
    // addresses share a hash with odds near 10^-17, far below a disk's
    // undetected error rate. (Rows past 4,294,967,295 would need a file of
    // hundreds of gigabytes; their number is clamped.)
    first_seen: HashMap<[u32; 3], u32>,
    /// Cells stored so far, against [`limits::TOTAL_CELLS`].
    cells: u64,
    tally: Tally,
}

impl<'a> Classifier<'a> {
    /// `estimated_rows` sizes the duplicate check once instead of growing
    /// it (growing holds the old and new tables at once).
    pub(super) fn new(
        path: PathBuf,
        email_index: usize,
        width: usize,
        suppressed: &'a HashMap<String, String>,
        estimated_rows: usize,
    ) -> Classifier<'a> {
        Classifier {
            email_index,
            width,
            suppressed,
            first_seen: HashMap::with_capacity(estimated_rows),
            cells: 0,
            tally: Tally {
                path,
                ..Tally::default()
            },
        }
    }

    /// Data rows counted so far.
    pub(super) fn rows(&self) -> u64 {
        self.tally.rows
    }

    /// What became of the rows classified.
    pub(super) fn finish(self) -> Tally {
        self.tally
    }

    /// The recipient row `row` becomes; `None` for a blank row, which is
    /// not a recipient and not an error.
    pub(super) fn classify(&mut self, row: u64, mut values: Vec<String>) -> Result<Option<NewRecipient>> {
        if values.iter().all(|v| v.trim().is_empty()) {
            return Ok(None);
        }
        let width = self.width;
        self.tally.rows += 1;
        // Trailing empty cells beyond the header are what spreadsheets write
        // for a ragged row; anything else beyond it is a misaligned row.
        while values.len() > width && values.last().is_some_and(|v| v.trim().is_empty()) {
            values.pop();
        }
        let too_many = values.len() > width;
        values.resize(width.max(values.len()), String::new());
        // Every row is stored with the header's columns at least: a header
        // of 16,000 columns over a million short rows is 16 billion cells.
        self.cells += values.len() as u64;
        if self.cells > limits::TOTAL_CELLS {
            return Err(Error::FileTooLarge {
                path: self.tally.path.clone(),
                place: format!(", row {row}"),
                problem: format!(
                    "the file has more than {} cells ({} columns a row); Mailroom imports at most that many",
                    limits::grouped(limits::TOTAL_CELLS),
                    limits::grouped(width as u64)
                ),
            });
        }
        let email = values[self.email_index].trim().to_owned();

        let (status, reason) = if too_many {
            self.invalid(row, &email, InvalidReason::TooManyValues)
        } else if let Err(why) = address::validate(&email) {
            self.invalid(row, &email, why)
        } else {
            self.valid(row, &email)
        };

        if self.tally.preview.len() < PREVIEW_ROWS {
            self.tally.preview.push(values.clone());
        }
        NewRecipient::new(row, email, &values, status, reason.as_ref()).map(Some)
    }

    /// A valid address: the first of its kind is pending unless suppressed;
    /// a later one is a duplicate of the first.
    fn valid(&mut self, row: u64, email: &str) -> (RecipientStatus, Option<RecipientReason>) {
        let key = address::dedup_key(email);
        let hash = dedup_hash(&key);
        let row_u32 = u32::try_from(row).unwrap_or(u32::MAX);
        if let Some(&first_row) = self.first_seen.get(&hash) {
            self.tally.duplicates.push(DuplicateRow {
                row,
                email: email.to_owned(),
                first_row: u64::from(first_row),
            });
            return (
                RecipientStatus::Skipped,
                Some(RecipientReason::Duplicate {
                    first_row: u64::from(first_row),
                }),
            );
        }
        self.first_seen.insert(hash, row_u32);
        if let Some(why) = self.suppressed.get(&key) {
            self.tally.suppressed.push(SuppressedRow {
                row,
                email: email.to_owned(),
                reason: why.clone(),
            });
            return (
                RecipientStatus::Skipped,
                Some(RecipientReason::Suppressed {
                    reason: Some(why.clone()).filter(|r| !r.is_empty()),
                }),
            );
        }
        self.tally.valid += 1;
        (RecipientStatus::Pending, None)
    }

    fn invalid(&mut self, row: u64, value: &str, reason: InvalidReason) -> (RecipientStatus, Option<RecipientReason>) {
        // The report quotes the value; the recipient keeps it whole.
        self.tally.invalid.push(InvalidRow {
            row,
            value: excerpt(value),
            reason,
        });
        (
            RecipientStatus::Skipped,
            Some(RecipientReason::InvalidAddress { problem: reason }),
        )
    }
}

/// 96 bits of a dedup key's 128-bit SipHash (fixed keys: the same address
/// always gives the same hash, so a run can be reproduced).
fn dedup_hash(key: &str) -> [u32; 3] {
    use siphasher::sip128::{Hasher128, SipHasher13};
    use std::hash::Hasher;
    let mut hasher = SipHasher13::new();
    hasher.write(key.as_bytes());
    let hash = hasher.finish128();
    [(hash.h1 >> 32) as u32, hash.h1 as u32, hash.h2 as u32]
}
