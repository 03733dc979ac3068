//! The message a campaign sends: the draft a person writes, checked once against
//! the campaign's columns, then rendered and built into RFC 5322 bytes for each
//! recipient.
//!
//! Merge fields are minijinja expressions (`{{ first_name | default("there") }}`).
//! Everything that can be known before sending is checked by [`CompiledMessage::compile`]:
//! syntax errors and unknown fields are errors with their line, so a sent mail
//! never shows a blank or a literal `{{`. Rendering is sandboxed: no loader (a
//! template cannot read files), a fuel limit (it cannot loop forever), bounds
//! on every value it makes and on its output (see [`merge`]: it cannot take
//! the memory of the machine), and field values are HTML-escaped in the HTML
//! body.
//!
//! Headers are built by lettre, which MIME-encodes non-ASCII names and subjects
//! (RFC 2047). Addresses in headers have their domains in ASCII (IDNA), so the
//! header block is ASCII unless a local part is not: such a mail goes only to
//! a server that offers SMTPUTF8 (the client refuses it otherwise), where RFC
//! 6532 allows the UTF-8. Field values never reach a header unfiltered: line
//! breaks are replaced, so a value cannot start a header of its own.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use lettre::message::header::{self, ContentType, Header, HeaderName, HeaderValue, Headers};
use lettre::message::{Attachment, Mailbox, Mailboxes, MultiPart, SinglePart};
use minijinja::{Environment, Value};
use serde::Serialize;

use crate::error::{Error, Result};

pub mod attach;
mod compose;
pub mod merge;
mod paste;
mod problem;
mod quoted_printable;
pub use attach::ProtectedFiles;
pub use compose::{
    MessageCheck, MissingAttachment, RowPreview, SkippedRow, find_recipient_row, merge_fields, preview_message,
    save_message, send_test_message,
};
pub use paste::clean_pasted_html;
// The draft is plain data the store keeps, so it lives with the store's other plain types.
pub use crate::model::{MessageDraft, Unsubscribe};
pub use problem::{AddressRole, Construct, Made, TemplateCause, TemplateError, TemplatePart, TemplateProblem};

/// Width of the plain-text part derived from HTML.
const TEXT_WIDTH: usize = 78;

/// Who a campaign's mail is from (the SMTP account's sender).
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub address: String,
    pub name: Option<String>,
    pub reply_to: Option<String>,
}

/// Names that are stable per campaign, for Message-IDs.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignIdentity {
    pub id: i64,
    /// The campaign's creation time (Unix ms): two databases' campaign 1 differ.
    pub created_at: i64,
}

/// The merge-field name of each column, in column order: lower case, runs of
/// anything but letters and digits become `_`, unique (`name`, `name_2`).
/// `E-Mail Address` → `e_mail_address`, `邮箱` → `邮箱`, `2024 Sales` → `_2024_sales`.
pub fn field_names(columns: &[String]) -> Vec<String> {
    let mut seen = HashSet::with_capacity(columns.len());
    // The next suffix to try for each name, so that many columns with one
    // name cost one try each, not one per column before them.
    let mut next_suffix: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    columns
        .iter()
        .enumerate()
        .map(|(index, column)| {
            let mut name = String::with_capacity(column.len());
            for c in column.trim().chars().flat_map(char::to_lowercase) {
                if c.is_alphanumeric() {
                    name.push(c);
                } else if !name.ends_with('_') {
                    name.push('_');
                }
            }
            let mut name = name.trim_matches('_').to_owned();
            if name.is_empty() {
                name = format!("column_{}", index + 1);
            } else if name.starts_with(|c: char| c.is_numeric()) {
                name.insert(0, '_');
            } else if RESERVED.contains(&name.as_str()) {
                name.push('_');
            }
            if seen.insert(name.clone()) {
                return name;
            }
            let n = next_suffix.entry(name.clone()).or_insert(2);
            loop {
                let unique = format!("{name}_{n}");
                *n += 1;
                if seen.insert(unique.clone()) {
                    return unique;
                }
            }
        })
        .collect()
}

/// Every name a template may use: `email` (the recipient's address) and the
/// columns' field names.
pub fn available_fields(field_names: &[String]) -> Vec<String> {
    let mut fields = Vec::with_capacity(field_names.len() + 1);
    if !field_names.iter().any(|f| f == "email") {
        fields.push("email".to_owned());
    }
    fields.extend(field_names.iter().cloned());
    fields
}

/// Words the template language gives a meaning of its own, and its globals.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "none",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "loop",
    "self",
    "range",
    "dict",
    "namespace",
    "debug",
];

/// One recipient's data, as stored.
#[derive(Debug, Clone, Copy)]
pub struct RecipientData<'a> {
    pub row: u64,
    pub email: &'a str,
    /// Values in the campaign's column order.
    pub values: &'a [String],
}

impl<'a> From<&'a crate::store::QueuedRecipient> for RecipientData<'a> {
    fn from(recipient: &'a crate::store::QueuedRecipient) -> Self {
        RecipientData {
            row: recipient.row,
            email: &recipient.email,
            values: &recipient.values,
        }
    }
}

/// A message as one recipient receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct RenderedMessage {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub row: u64,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub message_id: String,
    /// File names as the recipient sees them.
    pub attachments: Vec<String>,
    /// The complete message (CRLF line ends, dot-stuffing not applied).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl RenderedMessage {
    /// The raw source as text, for the preview's "source" view.
    pub fn source(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// A shared attachment, read once.
#[derive(Debug)]
struct LoadedAttachment {
    name: String,
    content_type: ContentType,
    bytes: Vec<u8>,
}

/// A draft checked against a campaign's columns, ready to render many times.
#[derive(Debug)]
pub struct CompiledMessage {
    env: Environment<'static>,
    field_names: Vec<String>,
    /// `field_names` as template values, made once: each render reuses them.
    field_keys: Vec<Value>,
    has_text: bool,
    has_html: bool,
    has_unsubscribe_url: bool,
    /// The headers every mail has alike (From, Reply-To, MIME-Version,
    /// List-Unsubscribe-Post), encoded and folded once.
    fixed_headers: String,
    /// The Date header line and the second it is for: formatting a date
    /// costs more than copying one, and it changes once a second.
    date_line: std::sync::Mutex<(u64, String)>,
    /// The `mailto:` URI of List-Unsubscribe, encoded once.
    unsubscribe_mailto: Option<String>,
    attachments: Vec<LoadedAttachment>,
    attachment_column: Option<usize>,
    has_attachment_name: bool,
    attachment_folder: Option<PathBuf>,
    protected: ProtectedFiles,
    identity: CampaignIdentity,
    domain: String,
}

const SUBJECT: TemplatePart = TemplatePart::Subject;
const TEXT: TemplatePart = TemplatePart::Text;
const HTML: TemplatePart = TemplatePart::Html;
const UNSUBSCRIBE_URL: TemplatePart = TemplatePart::UnsubscribeUrl;
const ATTACHMENT_NAME: TemplatePart = TemplatePart::AttachmentName;

/// The unsubscribe link the draft asks for, if any: an http(s) URL (a
/// template, checked as one with the other parts).
fn unsubscribe_url(draft: &MessageDraft) -> Result<Option<&str>> {
    if !draft.unsubscribe.enabled {
        return Ok(None);
    }
    let url = draft
        .unsubscribe
        .url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if let Some(url) = url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(template_error(
            UNSUBSCRIBE_URL,
            None,
            TemplateProblem::UnsubscribeNotHttps,
        ));
    }
    Ok(url)
}

/// The headers every recipient's mail shares: From, Reply-To, MIME-Version,
/// and List-Unsubscribe-Post when there is an unsubscribe link.
fn fixed_headers(draft: &MessageDraft, sender: &Sender, has_unsubscribe_url: bool) -> Result<String> {
    let sender_mailbox = mailbox(sender.name.as_deref(), &sender.address, AddressRole::Sender)?;
    let reply_to = sender
        .reply_to
        .as_deref()
        .map(|r| mailbox(None, r, AddressRole::ReplyTo))
        .transpose()?;
    let mut fixed = Headers::new();
    fixed.set(header::From::from(Mailboxes::from(sender_mailbox)));
    if let Some(reply_to) = reply_to {
        fixed.set(header::ReplyTo::from(Mailboxes::from(reply_to)));
    }
    fixed.set(header::MIME_VERSION_1_0);
    if draft.unsubscribe.enabled && has_unsubscribe_url {
        fixed.set(ListUnsubscribePost);
    }
    Ok(fixed.to_string())
}

/// The `mailto:` of List-Unsubscribe when unsubscribing is on: the draft's
/// address, else the sender's.
fn unsubscribe_mailto(draft: &MessageDraft, sender: &Sender) -> Result<Option<String>> {
    if !draft.unsubscribe.enabled {
        return Ok(None);
    }
    let address = draft
        .unsubscribe
        .mailto
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .unwrap_or(&sender.address);
    mailbox(None, address, AddressRole::Unsubscribe)?;
    Ok(Some(mailto_uri(address)))
}

/// The files every recipient gets, read once (never one of `protected`).
fn shared_attachments(draft: &MessageDraft, protected: &ProtectedFiles) -> Result<Vec<LoadedAttachment>> {
    let mut attachments = Vec::with_capacity(draft.attachments.len());
    for path in &draft.attachments {
        let unusable = |problem| Error::AttachmentUnreadable { problem };
        let real = attach::check_shared_file(path, protected).map_err(unusable)?;
        let bytes = attach::read_checked(path, &real).map_err(unusable)?;
        attachments.push(LoadedAttachment {
            name: file_name(path),
            content_type: content_type_of(path),
            bytes,
        });
    }
    Ok(attachments)
}

/// The index among `columns` of the column naming each recipient's own
/// file, when the draft names one.
fn attachment_column(draft: &MessageDraft, columns: &[String]) -> Result<Option<usize>> {
    let Some(column) = draft.attachment_column.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let index = columns.iter().position(|c| c == column).ok_or_else(|| {
        template_error(
            TemplatePart::AttachmentColumn,
            None,
            TemplateProblem::UnknownColumn {
                name: column.to_owned(),
                suggestion: problem::nearest(column, columns.iter().map(String::as_str)),
                columns: columns.to_vec(),
            },
        )
    })?;
    Ok(Some(index))
}

impl CompiledMessage {
    /// Checks `draft` against `columns` (syntax, unknown fields, the sender,
    /// shared attachments) and prepares it for rendering. No file among
    /// `protected` (Mailroom's own, see [`ProtectedFiles::for_database`]) is
    /// ever attached.
    pub fn compile(
        draft: &MessageDraft,
        columns: &[String],
        sender: &Sender,
        identity: CampaignIdentity,
        protected: &ProtectedFiles,
    ) -> Result<CompiledMessage> {
        let field_names = field_names(columns);
        let text = draft.text.as_deref().filter(|t| !t.trim().is_empty());
        let html = draft.html.as_deref().filter(|t| !t.trim().is_empty());
        if draft.subject.trim().is_empty() {
            return Err(template_error(SUBJECT, None, TemplateProblem::EmptySubject));
        }
        if text.is_none() && html.is_none() {
            return Err(template_error(TEXT, None, TemplateProblem::NoBody));
        }

        let mut env = merge::environment();

        let unsubscribe_url = unsubscribe_url(draft)?;
        let attachment_name = draft.attachment_name.as_deref().filter(|n| !n.trim().is_empty());
        if attachment_name.is_some() && draft.attachment_column.as_deref().is_some_and(|c| !c.is_empty()) {
            return Err(template_error(
                ATTACHMENT_NAME,
                None,
                TemplateProblem::AttachmentColumnAndName,
            ));
        }
        let parts = [
            (SUBJECT, Some(draft.subject.as_str())),
            (TEXT, text),
            (HTML, html),
            (UNSUBSCRIBE_URL, unsubscribe_url),
            (ATTACHMENT_NAME, attachment_name),
        ];
        for (name, source) in parts {
            let Some(source) = source else { continue };
            add_part(&mut env, name, source, &field_names)?;
        }

        let fixed = fixed_headers(draft, sender, unsubscribe_url.is_some())?;
        let unsubscribe_mailto = unsubscribe_mailto(draft, sender)?;

        let attachment_folder = draft.attachment_folder.clone().filter(|f| !f.as_os_str().is_empty());
        let per_recipient =
            attachment_name.is_some() || draft.attachment_column.as_deref().is_some_and(|c| !c.is_empty());
        if per_recipient && attachment_folder.is_none() {
            return Err(template_error(
                TemplatePart::AttachmentFolder,
                None,
                TemplateProblem::NoAttachmentFolder,
            ));
        }
        let attachments = shared_attachments(draft, protected)?;
        let attachment_column = attachment_column(draft, columns)?;
        // The Message-IDs' right side: the sender's domain.
        let domain = sender
            .address
            .trim()
            .rsplit_once('@')
            .and_then(|(_, d)| crate::address::ascii_domain(d))
            .map_or_else(|| "mailroom.local".to_owned(), std::borrow::Cow::into_owned);

        Ok(CompiledMessage {
            env,
            field_keys: field_names.iter().map(|n| Value::from(n.as_str())).collect(),
            field_names,
            has_text: text.is_some(),
            has_html: html.is_some(),
            has_unsubscribe_url: unsubscribe_url.is_some(),
            fixed_headers: fixed,
            date_line: std::sync::Mutex::new((0, String::new())),
            unsubscribe_mailto,
            attachments,
            attachment_column,
            has_attachment_name: attachment_name.is_some(),
            attachment_folder,
            protected: protected.clone(),
            identity,
            domain,
        })
    }

    /// The merge-field names, in column order.
    pub fn field_names(&self) -> &[String] {
        &self.field_names
    }

    /// The Message-ID of a recipient's mail: the same on every attempt and
    /// every resend, so mailbox providers de-duplicate a resent message.
    pub fn message_id(&self, row: u64) -> String {
        format!(
            "<mailroom.{}.{}.{:x}@{}>",
            self.identity.id, row, self.identity.created_at, self.domain
        )
    }

    /// The per-recipient attachment's path, when the draft names a column (or
    /// a file name with merge fields) and this recipient's is not empty: a
    /// path inside the attachment folder, or the reason it cannot be (the
    /// file name template failed for this row, an absolute name, or one that
    /// climbs out with `..`). What is on disk there is checked by
    /// [`CompiledMessage::check_recipient_file`].
    pub fn recipient_attachment(&self, recipient: &RecipientData<'_>) -> Result<Option<PathBuf>, TemplateError> {
        let Some(name) = self.recipient_file_name(recipient)? else {
            return Ok(None);
        };
        if name.is_empty() {
            return Ok(None);
        }
        let Some(folder) = &self.attachment_folder else {
            return Err(attachment_error(attach::AttachmentProblem::NoFolder));
        };
        attach::inside_folder(folder, &name).map(Some).map_err(attachment_error)
    }

    /// The file name a recipient's row gives (from the column, or the file
    /// name template), as written.
    fn recipient_file_name(&self, recipient: &RecipientData<'_>) -> Result<Option<String>, TemplateError> {
        if self.has_attachment_name {
            return Ok(Some(one_line(
                &self.render_part(ATTACHMENT_NAME, &self.context(recipient))?,
            )));
        }
        Ok(self
            .attachment_column
            .and_then(|c| recipient.values.get(c))
            .map(|value| value.trim().to_owned()))
    }

    /// Checks a recipient's file (a path [`CompiledMessage::recipient_attachment`]
    /// gave) on disk: still inside the folder once links are followed, a
    /// regular file, none of Mailroom's own. The path to read.
    pub fn check_recipient_file(&self, path: &Path) -> Result<PathBuf, attach::AttachmentProblem> {
        let Some(folder) = &self.attachment_folder else {
            return Err(attach::AttachmentProblem::NoFolder);
        };
        attach::check_recipient_file(folder, path, &self.protected)
    }

    /// A recipient's values as the templates see them.
    fn context(&self, recipient: &RecipientData<'_>) -> Value {
        context(&self.field_keys, recipient)
    }

    fn render_part(&self, part: TemplatePart, context: &Value) -> Result<String, TemplateError> {
        merge::render(&self.env, part, context)
    }

    /// Renders every template part for `recipient` (nothing else: no file
    /// is read), for a save to find a template that cannot be made at all
    /// (over a limit) before anyone is sent it.
    pub fn render_templates(&self, recipient: RecipientData<'_>) -> Result<(), TemplateError> {
        let context = self.context(&recipient);
        let parts = [
            (SUBJECT, true),
            (TEXT, self.has_text),
            (HTML, self.has_html),
            (UNSUBSCRIBE_URL, self.has_unsubscribe_url),
            (ATTACHMENT_NAME, self.has_attachment_name),
        ];
        for (name, present) in parts {
            if present {
                self.render_part(name, &context).map_err(|e| e.for_row(recipient.row))?;
            }
        }
        Ok(())
    }

    /// Renders and builds one recipient's mail. An error is that recipient's
    /// (a missing per-recipient file, a render that ran out of fuel).
    pub fn render(&self, recipient: RecipientData<'_>) -> Result<RenderedMessage, TemplateError> {
        self.render_for(&recipient).map_err(|e| e.for_row(recipient.row))
    }

    fn render_for(&self, recipient: &RecipientData<'_>) -> Result<RenderedMessage, TemplateError> {
        let recipient = *recipient;
        let context = self.context(&recipient);
        let render = |part: TemplatePart| self.render_part(part, &context);
        let subject = one_line(&render(SUBJECT)?);
        let html = if self.has_html { Some(render(HTML)?) } else { None };
        let text = match (&html, self.has_text) {
            (_, true) => render(TEXT)?,
            (Some(html), false) => html2text::from_read(html.as_bytes(), TEXT_WIDTH).map_err(|e| {
                TemplateError::new(
                    TEXT,
                    None,
                    TemplateProblem::Render {
                        cause: TemplateCause::Other,
                        detail: Some(format!("cannot derive the plain-text part: {e}")),
                    },
                )
            })?,
            (None, false) => String::new(),
        };
        // An address, not a "Name <address>" mailbox: `Address` checks it
        // without the full mailbox grammar, which costs more than the template.
        let to_address = header_address(recipient.email).map_err(|problem| {
            TemplateError::new(
                TemplatePart::Recipient,
                None,
                TemplateProblem::BadAddress {
                    role: AddressRole::Recipient,
                    address: recipient.email.trim().to_owned(),
                    problem,
                },
            )
        })?;
        let message_id = self.message_id(recipient.row);
        // The mail is assembled here from lettre's parts rather than by its
        // message builder, which parses the From header back out of what it
        // wrote on every message: a tenth of the whole render.
        let mut headers = Headers::new();
        headers.set(header::To::from(Mailboxes::from(Mailbox::new(None, to_address))));
        headers.set(header::Subject::from(subject.clone()));
        headers.set(header::MessageId::from(message_id.clone()));
        if let Some(mailto) = &self.unsubscribe_mailto {
            let mut value = format!("<{mailto}?subject=unsubscribe>");
            if self.has_unsubscribe_url {
                let url = one_line(&render(UNSUBSCRIBE_URL)?);
                value = format!("{value}, <{}>", url.trim());
            }
            headers.set(ListUnsubscribe(value));
        }

        let mut names = Vec::new();
        let mut attachments = Vec::new();
        for attachment in &self.attachments {
            names.push(attachment.name.clone());
            attachments.push(
                Attachment::new(attachment.name.clone())
                    .body(attachment.bytes.clone(), attachment.content_type.clone()),
            );
        }
        if let Some(path) = self.recipient_attachment(&recipient)? {
            let bytes = self
                .check_recipient_file(&path)
                .and_then(|real| attach::read_checked(&path, &real))
                .map_err(attachment_error)?;
            let name = file_name(&path);
            names.push(name.clone());
            attachments.push(Attachment::new(name).body(bytes, content_type_of(&path)));
        }
        // Bodies go to lettre encoded (see `body`): its own CRLF pass cost
        // more than rendering the template.
        let content = match (&html, attachments.is_empty()) {
            (None, true) => SinglePart::plain(body(&text)).formatted(),
            (Some(html), true) => MultiPart::alternative_plain_html(body(&text), body(html)).formatted(),
            (html, false) => {
                let mut mixed = match html {
                    Some(html) => {
                        MultiPart::mixed().multipart(MultiPart::alternative_plain_html(body(&text), body(html)))
                    }
                    None => MultiPart::mixed().singlepart(SinglePart::plain(body(&text))),
                };
                for part in attachments {
                    mixed = mixed.singlepart(part);
                }
                mixed.formatted()
            }
        };
        // One header block: the mail's headers, then the content's own
        // (Content-Type, Content-Transfer-Encoding), then its body.
        let varying = headers.to_string();
        let mut bytes = Vec::with_capacity(self.fixed_headers.len() + 40 + varying.len() + content.len());
        self.write_date_line(&mut bytes);
        bytes.extend_from_slice(self.fixed_headers.as_bytes());
        bytes.extend_from_slice(varying.as_bytes());
        bytes.extend_from_slice(&content);

        Ok(RenderedMessage {
            row: recipient.row,
            to: recipient.email.trim().to_owned(),
            subject,
            text,
            html,
            message_id,
            attachments: names,
            bytes,
        })
    }
}

/// A text body for lettre, encoded here: lettre's `Body::new` would normalise
/// the line endings and choose the encoding again, a second and third pass
/// over every body, and its quoted-printable encoder is slow (see
/// [`quoted_printable`]). Plain ASCII with short lines (most mail) goes as 7bit;
/// the rest (non-ASCII, long lines) as quoted-printable or base64, by the
/// same choice lettre makes.
fn body(text: &str) -> lettre::message::Body {
    use email_encoding::body::Encoding;
    use lettre::message::header::ContentTransferEncoding;
    let normalized = crlf(text);
    match Encoding::choose(normalized.as_str(), false) {
        Encoding::SevenBit => {
            lettre::message::Body::dangerous_pre_encoded(normalized.into_bytes(), ContentTransferEncoding::SevenBit)
        }
        Encoding::QuotedPrintable => {
            let mut encoded = Vec::new();
            quoted_printable::encode(normalized.as_bytes(), &mut encoded);
            lettre::message::Body::dangerous_pre_encoded(encoded, ContentTransferEncoding::QuotedPrintable)
        }
        Encoding::Base64 => {
            let mut encoded = String::with_capacity(email_encoding::body::base64::encoded_len(normalized.len()));
            match email_encoding::body::base64::encode(normalized.as_bytes(), &mut encoded) {
                Ok(()) => {
                    lettre::message::Body::dangerous_pre_encoded(encoded.into_bytes(), ContentTransferEncoding::Base64)
                }
                Err(_) => lettre::message::Body::new(normalized),
            }
        }
        // 8bit and binary, which a choice for a server without SMTPUTF8
        // never makes for text: lettre handles them.
        _ => lettre::message::Body::new(normalized),
    }
}

/// `text` with every line ending as CRLF, in one pass.
fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32 + 2);
    let mut start = 0;
    for at in memchr::memchr_iter(b'\n', text.as_bytes()) {
        // `at` is an ASCII byte, so both slices end on character boundaries.
        let line = &text[start..at];
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push_str("\r\n");
        start = at + 1;
    }
    out.push_str(&text[start..]);
    out
}

impl CompiledMessage {
    /// Appends `Date: <now>` (RFC 5322), formatted at most once a second.
    fn write_date_line(&self, out: &mut Vec<u8>) {
        let now = std::time::SystemTime::now();
        let second = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut cached = self.date_line.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached.0 != second || cached.1.is_empty() {
            let mut line = Headers::new();
            line.set(header::Date::new(now));
            *cached = (second, line.to_string());
        }
        out.extend_from_slice(cached.1.as_bytes());
    }
}

/// Checks the part `name`'s template `source` (its size, syntax, what a
/// message may use, unknown fields) and compiles it into `env`.
fn add_part(env: &mut Environment<'static>, part: TemplatePart, source: &str, field_names: &[String]) -> Result<()> {
    let name = part.name();
    // Before minijinja compiles it: compiling folds constants, which can be
    // a memory bomb of its own.
    merge::check_template(source, merge::part_limit(name))
        .map_err(|refusal| template_error(part, refusal.line, refusal.problem))?;
    env.add_template_owned(name, source.to_owned())
        .map_err(|e| template_error(part, e.line(), merge::syntax_problem(&e, source)))?;
    let template = env
        .get_template(name)
        .map_err(|e| template_error(part, e.line(), merge::syntax_problem(&e, source)))?;
    let known: HashSet<&str> = field_names.iter().map(String::as_str).chain(["email", "row"]).collect();
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !known.contains(v.as_str()) && !GLOBALS.contains(&v.as_str()))
        .collect();
    unknown.sort();
    if let Some(field) = unknown.first() {
        let line = source.lines().position(|l| l.contains(field.as_str())).map(|i| i + 1);
        let fields = available_fields(field_names);
        return Err(template_error(
            part,
            line,
            TemplateProblem::UnknownField {
                name: field.clone(),
                suggestion: problem::nearest(field, fields.iter().map(String::as_str)),
                fields,
            },
        ));
    }
    Ok(())
}

/// A recipient's values as the templates see them.
fn context(field_keys: &[Value], recipient: &RecipientData<'_>) -> Value {
    Value::from_iter(
        field_keys
            .iter()
            .cloned()
            .zip(recipient.values.iter().map(|v| Value::from(v.as_str())))
            .chain([
                (Value::from("email"), Value::from(recipient.email)),
                (Value::from("row"), Value::from(recipient.row)),
            ]),
    )
}

/// One template on its own, checked and compiled as a message's plain-text
/// body is, and rendered under the same limits: the template compiler's
/// entry point for fuzzing, and for trying a template outside a campaign.
#[derive(Debug)]
pub struct MergeTemplate {
    env: Environment<'static>,
    field_keys: Vec<Value>,
}

impl MergeTemplate {
    /// Checks `source` against a list's `columns` (its size, syntax, what a
    /// message may use, unknown fields) and compiles it.
    pub fn compile(source: &str, columns: &[String]) -> Result<MergeTemplate> {
        let field_names = field_names(columns);
        let mut env = merge::environment();
        add_part(&mut env, TEXT, source, &field_names)?;
        Ok(MergeTemplate {
            env,
            field_keys: field_names.iter().map(|n| Value::from(n.as_str())).collect(),
        })
    }

    /// The text for one recipient (`values` in column order); an error is
    /// that recipient's, typed, with its part and line.
    pub fn render(&self, email: &str, values: &[String]) -> Result<String, TemplateError> {
        let recipient = RecipientData { row: 2, email, values };
        merge::render(&self.env, TEXT, &context(&self.field_keys, &recipient))
    }
}

/// Names a template may use that are not merge fields.
const GLOBALS: &[&str] = &["range", "loop"];

fn template_error(part: TemplatePart, line: Option<usize>, problem: TemplateProblem) -> Error {
    Error::Template(TemplateError::new(part, line, problem))
}

/// A recipient's own file that cannot be attached, as the problem its message
/// cannot be made with.
fn attachment_error(problem: attach::AttachmentProblem) -> TemplateError {
    TemplateError::new(TemplatePart::Recipient, None, TemplateProblem::Attachment { problem })
}

/// A header value on one line: CR and LF (and other controls) become spaces.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn mailbox(name: Option<&str>, address: &str, role: AddressRole) -> Result<Mailbox> {
    let address = header_address(address).map_err(|problem| {
        template_error(
            TemplatePart::Sender,
            None,
            TemplateProblem::BadAddress {
                role,
                address: address.trim().to_owned(),
                problem,
            },
        )
    })?;
    Ok(Mailbox::new(name.map(one_line).filter(|n| !n.is_empty()), address))
}

/// An address as headers carry it: its domain in ASCII (IDNA), its local
/// part as it is (see the module docs).
fn header_address(address: &str) -> std::result::Result<lettre::Address, crate::address::InvalidReason> {
    use crate::address::InvalidReason;
    use lettre::address::AddressError;
    let wire = crate::address::for_wire(address.trim())?;
    // lettre is stricter than `for_wire` in places; its reasons, said as ours.
    wire.text.parse::<lettre::Address>().map_err(|e| match e {
        AddressError::MissingParts => InvalidReason::MissingAt,
        AddressError::InvalidDomain => InvalidReason::BadDomain,
        _ => InvalidReason::BadLocalPart,
    })
}

/// A `mailto:` URI for `address` (RFC 6068): the domain in ASCII, and every
/// byte but the unreserved and the sub-delimiters percent-encoded (a `%`,
/// `?` or `#` in the local part, or UTF-8, would otherwise change the URI).
fn mailto_uri(address: &str) -> String {
    let address = address.trim();
    let wire = crate::address::for_wire(address).map_or_else(|_| address.to_owned(), |w| w.text);
    let mut uri = String::with_capacity(wire.len() + 7);
    uri.push_str("mailto:");
    for byte in wire.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$'()*+,;=:@".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

fn file_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or(Cow::Borrowed("attachment"), |n| n.to_string_lossy());
    one_line(&name)
}

fn content_type_of(path: &Path) -> ContentType {
    let guess = mime_guess::from_path(path).first_or_octet_stream();
    // A guessed type lettre cannot parse is sent as bytes; the file name still tells.
    ContentType::parse(guess.essence_str())
        .or_else(|_| ContentType::parse("application/octet-stream"))
        .unwrap_or(ContentType::TEXT_PLAIN)
}

/// `List-Unsubscribe: <mailto:...>, <https://...>`.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> std::result::Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

#[cfg(test)]
mod tests;
