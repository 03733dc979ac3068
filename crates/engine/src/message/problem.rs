//! What is wrong with a message's template, as data: the part, the line and
//! a typed [`TemplateProblem`] with its parameters (the unknown name and the
//! nearest one, the offending text verbatim, sizes and limits), never a
//! finished sentence. The window renders it from its catalogs (`template.`
//! keys in `ui/src/lib/i18n`); the CLI and the log from the English
//! `Display` here.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::attach::AttachmentProblem;
use crate::address::InvalidReason;

/// The part of a message a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum TemplatePart {
    Subject,
    Text,
    Html,
    UnsubscribeUrl,
    AttachmentName,
    AttachmentFolder,
    AttachmentColumn,
    /// The sender, reply-to and unsubscribe addresses.
    Sender,
    /// The recipient's own address and file, when a message is made for one.
    Recipient,
}

impl TemplatePart {
    /// The part's name as the compiled templates know it (and English says it).
    pub fn name(self) -> &'static str {
        match self {
            TemplatePart::Subject => "subject",
            TemplatePart::Text => "text",
            TemplatePart::Html => "html",
            TemplatePart::UnsubscribeUrl => "unsubscribe_url",
            TemplatePart::AttachmentName => "attachment_name",
            TemplatePart::AttachmentFolder => "attachment_folder",
            TemplatePart::AttachmentColumn => "attachment_column",
            TemplatePart::Sender => "sender",
            TemplatePart::Recipient => "recipient",
        }
    }
}

/// What the template engine said went wrong, by a name of Mailroom's own
/// (minijinja's kinds, the ones a message can meet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum TemplateCause {
    Syntax,
    BadEscape,
    InvalidOperation,
    Undefined,
    TooManyArguments,
    MissingArgument,
    CannotUnpack,
    /// The render ran past its instruction budget (a loop too long).
    OutOfFuel,
    Other,
}

impl TemplateCause {
    pub(crate) fn of(kind: minijinja::ErrorKind) -> TemplateCause {
        use minijinja::ErrorKind as K;
        match kind {
            K::SyntaxError => TemplateCause::Syntax,
            K::BadEscape => TemplateCause::BadEscape,
            K::InvalidOperation | K::NonPrimitive | K::NonKey => TemplateCause::InvalidOperation,
            K::UndefinedError => TemplateCause::Undefined,
            K::TooManyArguments => TemplateCause::TooManyArguments,
            K::MissingArgument => TemplateCause::MissingArgument,
            K::CannotUnpack => TemplateCause::CannotUnpack,
            K::OutOfFuel => TemplateCause::OutOfFuel,
            _ => TemplateCause::Other,
        }
    }
}

impl fmt::Display for TemplateCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TemplateCause::Syntax => "syntax error",
            TemplateCause::BadEscape => "bad string escape",
            TemplateCause::InvalidOperation => "invalid operation",
            TemplateCause::Undefined => "undefined value",
            TemplateCause::TooManyArguments => "too many arguments",
            TemplateCause::MissingArgument => "missing argument",
            TemplateCause::CannotUnpack => "cannot unpack",
            TemplateCause::OutOfFuel => "the template runs too long (a loop with too many turns?)",
            TemplateCause::Other => "template error",
        })
    }
}

/// Something of the template language a message may not use (see
/// `merge`'s module doc for why each is left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum Construct {
    RecursiveLoop,
    SetBlock,
    FilterBlock,
    Macro,
    CallBlock,
    Do,
    OtherTemplates,
    /// `{% set a.b = … %}`: only a name can be set.
    SetTarget,
    Slice,
    /// `*`, which repeats text.
    Repeat,
    /// `~`, which joins text.
    Concat,
    /// `+` on anything but a number written in the template.
    AddText,
    /// A call of anything but `range()`.
    Call,
    /// A statement a later minijinja added, refused until looked at.
    UnknownStatement,
}

impl fmt::Display for Construct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Construct::RecursiveLoop => "recursive loops are not available in a message",
            Construct::SetBlock => {
                "{% set %}…{% endset %} blocks are not available in a message; use {% set name = … %}"
            }
            Construct::FilterBlock => {
                "{% filter %} blocks are not available in a message; apply the filter to a value: {{ name | upper }}"
            }
            Construct::Macro => "macros are not available in a message",
            Construct::CallBlock => "{% call %} is not available in a message",
            Construct::Do => "{% do %} is not available in a message",
            Construct::OtherTemplates => {
                "{% include %}, {% import %}, {% extends %} and {% block %} are not available in a message"
            }
            Construct::SetTarget => "only a name can be set: {% set name = … %}",
            Construct::Slice => "slices ([a:b]) are not available in a message",
            Construct::Repeat => "* is not available in a message (it repeats text)",
            Construct::Concat => {
                "~ is not available in a message; write the parts one after the other: {{ a }} {{ b }}"
            }
            Construct::AddText => {
                "+ adds a number written in the message to another ({{ loop.index + 1 }}); to join text write the \
                 parts one after the other: {{ a }} {{ b }}"
            }
            Construct::Call => "only range() can be called in a message",
            Construct::UnknownStatement => "the template uses a statement that is not available in a message",
        })
    }
}

/// What a render made too much of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum Made {
    /// One value a filter would make.
    Value,
    /// All the values made for one recipient together.
    AllValues,
}

/// Why a message cannot be compiled, or made for a recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum TemplateProblem {
    EmptySubject,
    NoBody,
    /// The template itself is over its part's limit.
    TooLong {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        bytes: u64,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        limit: u64,
    },
    /// A tag or block that is never closed (`{{ name`, `{% if x %}` with no
    /// `{% endif %}`); `text` is the offending line, verbatim.
    Unclosed {
        text: String,
    },
    /// Any other syntax error: its cause, the offending line verbatim, and
    /// minijinja's own English words (for the CLI and the curious).
    Syntax {
        cause: TemplateCause,
        text: String,
        detail: Option<String>,
    },
    NotAvailable {
        construct: Construct,
    },
    /// A merge field that is not a column; the nearest name, if one is near.
    UnknownField {
        name: String,
        suggestion: Option<String>,
        fields: Vec<String>,
    },
    UnknownFilter {
        name: String,
        suggestion: Option<String>,
    },
    UnknownTest {
        name: String,
        suggestion: Option<String>,
    },
    /// The attachment column chosen is not one of the list's.
    UnknownColumn {
        name: String,
        suggestion: Option<String>,
        columns: Vec<String>,
    },
    UnsubscribeNotHttps,
    AttachmentColumnAndName,
    NoAttachmentFolder,
    /// An address the message is sent from or to cannot be used.
    BadAddress {
        role: AddressRole,
        address: String,
        problem: InvalidReason,
    },
    /// The rendered text would be longer than the part may be.
    OutputTooLong {
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        limit: u64,
    },
    /// A filter would make more than a message allows.
    TooLarge {
        made: Made,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        bytes: u64,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        limit: u64,
    },
    /// The template failed for this recipient's values: its cause and
    /// minijinja's own English words.
    Render {
        cause: TemplateCause,
        detail: Option<String>,
    },
    /// The recipient's own file cannot be attached.
    Attachment {
        problem: AttachmentProblem,
    },
}

/// Which address a [`TemplateProblem::BadAddress`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum AddressRole {
    Sender,
    ReplyTo,
    Unsubscribe,
    Recipient,
}

impl fmt::Display for AddressRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressRole::Sender => "the sender address",
            AddressRole::ReplyTo => "the reply-to address",
            AddressRole::Unsubscribe => "the unsubscribe address",
            AddressRole::Recipient => "the recipient's address",
        })
    }
}

/// English, for the CLI and the log.
impl fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use super::merge::describe_size;
        let size = |n: u64| describe_size(usize::try_from(n).unwrap_or(usize::MAX));
        let did_you_mean = |f: &mut fmt::Formatter<'_>, suggestion: &Option<String>| match suggestion {
            Some(s) => write!(f, "; did you mean \"{s}\"?"),
            None => Ok(()),
        };
        match self {
            TemplateProblem::EmptySubject => f.write_str("the subject is empty"),
            TemplateProblem::NoBody => f.write_str("the message has no body"),
            TemplateProblem::TooLong { bytes, limit } => write!(
                f,
                "it is {} long; this part of a message may be at most {}",
                size(*bytes),
                size(*limit)
            ),
            TemplateProblem::Unclosed { text } => {
                write!(f, "a tag or block is not closed: \"{text}\"")
            }
            TemplateProblem::Syntax { cause, text, detail } => {
                write!(f, "{cause}")?;
                if let Some(detail) = detail {
                    write!(f, ": {detail}")?;
                }
                if !text.is_empty() {
                    write!(f, " in \"{text}\"")?;
                }
                Ok(())
            }
            TemplateProblem::NotAvailable { construct } => write!(f, "{construct}"),
            TemplateProblem::UnknownField {
                name,
                suggestion,
                fields,
            } => {
                write!(f, "there is no merge field \"{name}\"")?;
                did_you_mean(f, suggestion)?;
                write!(f, " (the fields are: {})", fields.join(", "))
            }
            TemplateProblem::UnknownFilter { name, suggestion } => {
                write!(f, "there is no filter \"{name}\" in a message")?;
                did_you_mean(f, suggestion)?;
                write!(f, " (the filters are: {})", super::merge::FILTERS.join(", "))
            }
            TemplateProblem::UnknownTest { name, suggestion } => {
                write!(f, "there is no test \"{name}\" in a message")?;
                did_you_mean(f, suggestion)?;
                write!(f, " (the tests are: {})", super::merge::TESTS.join(", "))
            }
            TemplateProblem::UnknownColumn {
                name,
                suggestion,
                columns,
            } => {
                write!(f, "there is no column \"{name}\"")?;
                did_you_mean(f, suggestion)?;
                write!(f, " (the columns are: {})", columns.join(", "))
            }
            TemplateProblem::UnsubscribeNotHttps => f.write_str("the unsubscribe link must start with https://"),
            TemplateProblem::AttachmentColumnAndName => {
                f.write_str("choose either a column or a file name for each recipient's file, not both")
            }
            TemplateProblem::NoAttachmentFolder => f.write_str(
                "choose the folder that holds each recipient's file: a recipient's file is only ever taken from it",
            ),
            TemplateProblem::BadAddress { role, address, problem } => {
                write!(f, "{role} {address} is not valid: {problem}")
            }
            TemplateProblem::OutputTooLong { limit } => write!(
                f,
                "the text would be longer than {}, the most this part of a message may be",
                size(*limit)
            ),
            TemplateProblem::TooLarge { made, bytes, limit } => {
                let what = match made {
                    Made::Value => "a value",
                    Made::AllValues => "all the values made for this recipient",
                };
                write!(
                    f,
                    "{what} would be {}, more than the {} a message allows",
                    size(*bytes),
                    size(*limit)
                )
            }
            TemplateProblem::Render { cause, detail } => {
                write!(f, "{cause}")?;
                match detail {
                    Some(detail) => write!(f, ": {detail}"),
                    None => Ok(()),
                }
            }
            TemplateProblem::Attachment { problem } => write!(f, "{problem}"),
        }
    }
}

/// A problem in a message, where it is: the part, the spreadsheet row whose
/// values it was made for (none when the template itself is wrong), and
/// the line in the part's template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TemplateError {
    pub part: TemplatePart,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub row: Option<u64>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub line: Option<usize>,
    pub problem: TemplateProblem,
}

impl TemplateError {
    pub(crate) fn new(part: TemplatePart, line: Option<usize>, problem: TemplateProblem) -> TemplateError {
        TemplateError {
            part,
            row: None,
            line,
            problem,
        }
    }

    /// The same problem, as met making row `row`'s message.
    pub(crate) fn for_row(mut self, row: u64) -> TemplateError {
        self.row = Some(row);
        self
    }
}

/// "row 3, subject, line 2: …", in English.
impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(row) = self.row {
            write!(f, "row {row}, ")?;
        }
        f.write_str(self.part.name())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for TemplateError {}

/// The name among `known` nearest to `wanted`, when one is near enough to
/// be what was meant (a typo, two letters swapped, a different case): at
/// most a third of its letters apart.
pub(crate) fn nearest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let wanted_lower = wanted.to_lowercase();
    known
        .into_iter()
        .map(|name| (strsim::osa_distance(&wanted_lower, &name.to_lowercase()), name))
        .filter(|(distance, name)| *distance <= (wanted.chars().count().max(name.chars().count()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.to_owned())
}

/// Line `line` (1-based) of `source`, trimmed and cut to a readable length:
/// the offending text a syntax error quotes.
pub(crate) fn source_line(source: &str, line: Option<usize>) -> String {
    const SHOWN: usize = 80;
    let Some(text) = line.and_then(|l| source.lines().nth(l.saturating_sub(1))) else {
        return String::new();
    };
    let text = text.trim();
    match text.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
