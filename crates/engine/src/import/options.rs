//! The person's choices for an import: how to read the file (encoding,
//! delimiter, quotes, sheet), which column holds the addresses, the name,
//! and the draft it replaces; and the rule for changing one choice on the
//! preview.

use serde::{Deserialize, Serialize};

use crate::model::CampaignId;

/// How to import a file: how to read it, and what the import makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The campaign's name; the file's name without extension by default.
    pub name: Option<String>,
    /// How to read the file: what a preview shows and the import reads.
    pub choices: ImportChoices,
    /// A draft campaign this import supersedes (the same file imported again
    /// with other choices): in the import's own transaction its message moves
    /// to the new campaign and it is deleted, if it is still a draft.
    pub replaces: Option<CampaignId>,
}

/// How to read a file: the choices a person makes on the preview, as the
/// window keeps them between previews and both front ends pass to a preview
/// and an import. Each `None` (or `false`) is left to detection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ImportChoices {
    /// The header of the column holding addresses; found by its name otherwise.
    pub email_column: Option<String>,
    /// The file's encoding as a WHATWG label ("utf-8", "gbk", "windows-1252",
    /// "utf-16le", ...); detected otherwise. A byte-order mark always wins.
    pub encoding: Option<String>,
    /// The delimiter: `,` `;` `|` or `tab`; detected otherwise.
    pub delimiter: Option<String>,
    /// The sheet of a spreadsheet; the first one otherwise.
    pub sheet: Option<String>,
    /// Text files: read `"` as a character like any other, not as quoting
    /// (for a file whose quotes are not CSV quoting, such as a stray one).
    pub literal_quotes: bool,
}

/// One choice changed on the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
#[serde(tag = "choice", content = "value", rename_all = "snake_case")]
pub enum ImportChoice {
    EmailColumn(String),
    Encoding(String),
    Delimiter(String),
    Sheet(String),
    LiteralQuotes(bool),
}

impl ImportChoices {
    /// The choices after `change`. Another sheet, encoding, delimiter or
    /// reading of quotes gives other columns, so a column chosen as the
    /// email column under the old reading is forgotten: the next preview
    /// finds the email column of the new one (by its header, else by its
    /// values), and the person can choose again from its columns.
    #[must_use]
    pub fn choose(mut self, change: ImportChoice) -> ImportChoices {
        if !matches!(change, ImportChoice::EmailColumn(_)) {
            self.email_column = None;
        }
        match change {
            ImportChoice::EmailColumn(column) => self.email_column = Some(column),
            ImportChoice::Encoding(label) => self.encoding = Some(label),
            ImportChoice::Delimiter(delimiter) => self.delimiter = Some(delimiter),
            ImportChoice::Sheet(sheet) => self.sheet = Some(sheet),
            ImportChoice::LiteralQuotes(literal) => self.literal_quotes = literal,
        }
        self
    }
}

impl From<ImportChoices> for ImportOptions {
    fn from(choices: ImportChoices) -> ImportOptions {
        ImportOptions {
            choices,
            ..ImportOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen() -> ImportChoices {
        ImportChoices {
            email_column: Some("Contact".to_owned()),
            sheet: Some("Notes".to_owned()),
            ..ImportChoices::default()
        }
    }

    #[test]
    fn another_reading_forgets_the_chosen_email_column() {
        let changes = [
            ImportChoice::Sheet("Customers".to_owned()),
            ImportChoice::Encoding("gbk".to_owned()),
            ImportChoice::Delimiter(";".to_owned()),
            ImportChoice::LiteralQuotes(true),
        ];
        for change in changes {
            let after = chosen().choose(change.clone());
            assert_eq!(after.email_column, None, "{change:?}");
        }
        let after = chosen().choose(ImportChoice::Sheet("Customers".to_owned()));
        assert_eq!(after.sheet.as_deref(), Some("Customers"));
    }

    #[test]
    fn choosing_the_email_column_keeps_the_reading() {
        let after = chosen().choose(ImportChoice::EmailColumn("E-mail".to_owned()));
        assert_eq!(after.email_column.as_deref(), Some("E-mail"));
        assert_eq!(after.sheet.as_deref(), Some("Notes"));
    }

    #[test]
    fn choices_become_the_options_of_a_preview_and_an_import() {
        let options = ImportOptions::from(chosen().choose(ImportChoice::Delimiter("tab".to_owned())));
        assert_eq!(options.choices.email_column, None);
        assert_eq!(options.choices.sheet.as_deref(), Some("Notes"));
        assert_eq!(options.choices.delimiter.as_deref(), Some("tab"));
        assert_eq!((options.name, options.replaces), (None, None));
    }

    #[test]
    fn a_change_arrives_from_the_window_as_a_tagged_value() {
        let change: ImportChoice =
            serde_json::from_str(r#"{"choice":"sheet","value":"Customers"}"#).expect("a sheet change");
        assert_eq!(change, ImportChoice::Sheet("Customers".to_owned()));
    }
}
