//! The Message screen's engine calls: save a campaign's draft (checked first),
//! preview it for any row (a skipped row says why it gets nothing), the
//! merge fields it may use, send a row as a test, and list recipients whose own attachment is
//! missing or cannot be attached.

use std::path::PathBuf;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::attach::AttachmentProblem;
use super::{
    CampaignIdentity, CompiledMessage, MessageDraft, ProtectedFiles, RecipientData, RenderedMessage, Sender,
    TemplateError,
};
use crate::error::{Error, Result};
use crate::model::CampaignId;
use crate::outcome::RecipientReason;
use crate::secrets::SecretStore;
use crate::smtp::client::Connection;
use crate::store::{QueuedRecipient, Store};

/// Stands in for the sender until the campaign has an account.
const PLACEHOLDER_SENDER: &str = "sender@sandbox.mailroom.local";
/// Rows read per query when checking attachments.
const PAGE: i64 = 1000;
/// Missing attachments listed at most (the count is exact).
const MAX_LISTED: usize = 1000;

/// A recipient whose per-recipient attachment is not there, or cannot be
/// attached.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct MissingAttachment {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub row: u64,
    pub email: String,
    /// The file looked for (the name from the list, when no path could be made of it).
    #[cfg_attr(feature = "ts-bindings", ts(type = "string"))]
    pub path: PathBuf,
    /// Why it cannot be attached, as the recipient's message would fail with
    /// it (outside the folder, not a regular file, one of Mailroom's own, a
    /// file name its template cannot make); none when it is only not there
    /// yet.
    pub problem: Option<TemplateError>,
}

/// What saving a draft found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct MessageCheck {
    /// The merge fields the message may use, in column order (`email` first).
    pub fields: Vec<String>,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub missing_attachment_count: u64,
    pub missing_attachments: Vec<MissingAttachment>,
    /// The size of the first recipient's mail, attachments included (a
    /// campaign checks each mail against the server's SIZE when it sends).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number | null"))]
    pub message_bytes: Option<u64>,
}

/// Checks `draft` against the campaign (syntax, fields, shared attachments)
/// and saves it. Per-recipient files that are missing are listed, not
/// refused: a person may still be copying them; so are those that cannot be
/// attached (outside the folder, one of Mailroom's own), with the reason,
/// and those recipients fail with it if the campaign is sent as it is.
pub async fn save_message(store: &Store, campaign: CampaignId, draft: &MessageDraft) -> Result<MessageCheck> {
    crate::campaign::refuse_while_sending(store, campaign, "change its message").await?;
    let compiled = compile_for(store, campaign, draft, None).await?;
    let first = store.recipient_at(campaign, None).await?;
    // A template that cannot be made for the first recipient (a value or
    // the text over its limit) is refused now, not found by the campaign.
    if let Some(first) = &first {
        compiled
            .render_templates(RecipientData::from(first))
            .map_err(Error::Template)?;
    }
    store.save_message_draft(campaign, draft).await?;
    let mut missing = Vec::new();
    let mut count = 0_u64;
    if draft.attachment_column.is_some() || draft.attachment_name.is_some() {
        let mut after = 0;
        loop {
            let page = store.pending_recipients(campaign, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for recipient in &page {
                let data = RecipientData::from(recipient);
                let unusable = match compiled.recipient_attachment(&data) {
                    Ok(Some(path)) => match compiled.check_recipient_file(&path) {
                        Ok(_) => None,
                        Err(AttachmentProblem::Missing { .. }) => Some((path, None)),
                        Err(problem) => Some((path, Some(super::attachment_error(problem)))),
                    },
                    Ok(None) => None,
                    // A name that cannot be made into a path inside the folder.
                    Err(reason) => Some((PathBuf::from(own_name(&compiled, &data)), Some(reason))),
                };
                if let Some((path, problem)) = unusable {
                    count += 1;
                    if missing.len() < MAX_LISTED {
                        missing.push(MissingAttachment {
                            row: recipient.row,
                            email: recipient.email.clone(),
                            path,
                            problem,
                        });
                    }
                }
            }
        }
    }
    let message_bytes = first
        .and_then(|r| render_row(&compiled, &r, &r.email).ok())
        .map(|m| m.bytes.len() as u64);
    Ok(MessageCheck {
        fields: super::available_fields(compiled.field_names()),
        missing_attachment_count: count,
        missing_attachments: missing,
        message_bytes,
    })
}

/// The name a recipient's row gives its file, as written (for listing one
/// that cannot be attached).
fn own_name(compiled: &CompiledMessage, recipient: &RecipientData<'_>) -> String {
    compiled
        .recipient_file_name(recipient)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The merge fields a campaign's message may use, in column order (`email`
/// first): the same list saving the message reports, known before anything
/// is saved.
pub async fn merge_fields(store: &Store, campaign: CampaignId) -> Result<Vec<String>> {
    let summary = store.campaign_summary(campaign).await?;
    Ok(super::available_fields(&super::field_names(&summary.columns)))
}

/// A row that was skipped at import: it gets no message, and this says why.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct SkippedRow {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub row: u64,
    pub email: String,
    /// None only for a row skipped by a version that kept no reason.
    pub reason: Option<RecipientReason>,
}

/// What previewing a row shows: its message, or that it is skipped and why.
#[derive(Debug, Clone, PartialEq)]
pub enum RowPreview {
    Message(RenderedMessage),
    Skipped(SkippedRow),
}

/// The campaign's message as the recipient on spreadsheet row `row` gets it
/// (the first recipient when `None`), from `account`'s sender or the
/// campaign's last account; a row skipped at import says so, with its reason.
pub async fn preview_message(
    store: &Store,
    campaign: CampaignId,
    row: Option<u64>,
    account: Option<&str>,
) -> Result<RowPreview> {
    if let Some(row) = row
        && let Some((email, reason)) = store.skipped_at(campaign, row).await?
    {
        return Ok(RowPreview::Skipped(SkippedRow { row, email, reason }));
    }
    let (compiled, recipient) = message_for_row(store, campaign, row, account).await?;
    render_row(&compiled, &recipient, &recipient.email).map(RowPreview::Message)
}

/// The row of the first recipient whose address contains `query`, for the
/// preview's "find an address".
pub async fn find_recipient_row(store: &Store, campaign: CampaignId, query: &str) -> Result<u64> {
    match store.row_matching(campaign, query).await? {
        Some(row) => Ok(row),
        None => Err(Error::NoRecipientMatches {
            campaign: store.campaign_summary(campaign).await?.name,
            query: query.trim().to_owned(),
        }),
    }
}

/// Sends row `row`'s message (its merge values) to `to` through `account`,
/// as "Send a test" on the Message screen does. `{{ email }}` is `to` in it.
/// Cancelling `cancel` gives up at once (the connection is dropped). Starts
/// no server: for the Sandbox account, the `Session` has started it first.
pub async fn send_test_message(
    store: &Store,
    secrets: &SecretStore,
    campaign: CampaignId,
    row: Option<u64>,
    account: &str,
    to: &str,
    cancel: &CancellationToken,
) -> Result<RenderedMessage> {
    let (compiled, recipient) = message_for_row(store, campaign, row, Some(account)).await?;
    let to = to.trim();
    let rendered = render_row(&compiled, &recipient, to)?;
    let (_, settings) = crate::smtp::account::load(store, account).await?;
    let from = settings
        .sender_address()
        .unwrap_or_else(|| PLACEHOLDER_SENDER.to_owned());
    let password = secrets.get(account).await?;
    let failed =
        |f: crate::smtp::Failure| Error::TestSendFailed(format!("{f}. {}", f.advice(&settings.host, settings.port)));
    let deliver = async {
        let mut connection = Connection::open(settings.connection_settings(password))
            .await
            .map_err(failed)?;
        connection.send(&from, &[to], &rendered.bytes).await.map_err(failed)?;
        connection.quit().await;
        Ok::<(), Error>(())
    };
    // Each step is bounded by the account's own timeouts; a person may
    // also give up sooner.
    tokio::select! {
        sent = deliver => sent?,
        () = cancel.cancelled() => return Err(Error::TestSendFailed("cancelled".to_owned())),
    }
    Ok(rendered)
}

/// The campaign's message, compiled with `account`'s sender, and the
/// recipient on row `row` (the first when `None`).
async fn message_for_row(
    store: &Store,
    campaign: CampaignId,
    row: Option<u64>,
    account: Option<&str>,
) -> Result<(CompiledMessage, QueuedRecipient)> {
    let summary = store.campaign_summary(campaign).await?;
    let draft = store
        .message_draft(campaign)
        .await?
        .ok_or_else(|| Error::NoMessage(summary.name.clone()))?;
    let compiled = compile_for(store, campaign, &draft, account).await?;
    let recipient = store
        .recipient_at(campaign, row)
        .await?
        .ok_or_else(|| Error::RowNotFound {
            campaign: summary.name,
            row: row.unwrap_or(2),
        })?;
    Ok((compiled, recipient))
}

/// Renders `recipient`'s row addressed to `to`.
fn render_row(compiled: &CompiledMessage, recipient: &QueuedRecipient, to: &str) -> Result<RenderedMessage> {
    compiled
        .render(RecipientData {
            row: recipient.row,
            email: to,
            values: &recipient.values,
        })
        .map_err(Error::Template)
}

async fn compile_for(
    store: &Store,
    campaign: CampaignId,
    draft: &MessageDraft,
    account: Option<&str>,
) -> Result<CompiledMessage> {
    let summary = store.campaign_summary(campaign).await?;
    let account = match account {
        Some(name) => Some(name.to_owned()),
        None => summary.account.clone(),
    };
    let sender = match account {
        Some(name) => {
            let (_, settings) = crate::smtp::account::load(store, &name).await?;
            Sender {
                address: settings
                    .sender_address()
                    .unwrap_or_else(|| PLACEHOLDER_SENDER.to_owned()),
                name: settings.from_name,
                reply_to: settings.reply_to,
            }
        }
        None => Sender {
            address: PLACEHOLDER_SENDER.to_owned(),
            name: None,
            reply_to: None,
        },
    };
    CompiledMessage::compile(
        draft,
        &summary.columns,
        &sender,
        CampaignIdentity {
            id: campaign,
            created_at: summary.created_at,
        },
        &ProtectedFiles::for_database(store.path()),
    )
}
