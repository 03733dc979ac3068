//! The bounce scan: read the mailbox's new messages (UIDs above the last
//! scan's, under the same UIDVALIDITY), find the delivery status
//! notifications and unsubscribe replies among them, match each notice to
//! its campaign and recipient, and record it.
//!
//! Cheap on a big mailbox: one `UID SEARCH` lists the new UIDs; a few header
//! fields of each, a chunk of 500 at a time, pick the candidates (from a mail
//! system, a report, a bounce subject, or a reply); only those are fetched,
//! and only their first 256 KB (a returned message's attachments come after
//! everything needed). Each chunk's findings and the new position commit in
//! one transaction, so a scan stopped anywhere resumes where it was, and a
//! notice read twice (a new UIDVALIDITY, a copy) is recorded once.
//!
//! Matching: the returned Message-ID `<mailroom.{campaign}.{row}.{created:x}@…>`
//! names the recipient (the creation time tells campaign 7 of this database
//! from another's); without one, the notice's failed address is matched to
//! the most recently sent recipient of that address.

use std::time::Instant;

use serde::Serialize;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;

use super::ProcessedAction;
use super::client::{self, Fetched, ImapSettings, Session};
use super::failure::{MailboxFailure, MailboxProblem, MailboxStage};
use crate::address::dedup_key;
use crate::bounce::{self, Analysis, Notice};
use crate::error::Result;
use crate::secrets::{SecretKind, SecretStore};
use crate::smtp::Security;
use crate::store::{BounceRecord, BounceTarget, Store, StoredMailbox, SuppressedAddress};

/// Messages whose headers are read per request.
const CHUNK: usize = 500;
/// Candidates whose first 256 KB are read per request.
const BODIES_PER_REQUEST: usize = 25;
/// The header fields that pick candidates.
const HEADER_QUERY: &str = "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID CONTENT-TYPE \
     RETURN-PATH AUTO-SUBMITTED X-AUTOREPLY X-AUTORESPOND X-AUTORESPONDER PRECEDENCE X-FAILED-RECIPIENTS)])";

/// How a scan went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ScanReport {
    /// The SMTP account whose mailbox was scanned.
    pub account: String,
    pub folder: String,
    /// Whether the scan read every new message.
    pub ok: bool,
    /// Why it stopped, when it did not finish (what was read before is kept).
    pub failure: Option<MailboxFailure>,
    /// The server scanned, which the advice for a failure names
    /// (`MailboxFailure::advice`).
    pub host: String,
    pub port: u16,
    /// The folder's UIDVALIDITY changed since the last scan: every message
    /// was read again (and nothing recorded twice).
    pub uid_validity_changed: bool,
    /// New messages looked at.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub messages: u64,
    /// Delivery failure notices among them.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub notices: u64,
    /// Bounces recorded now.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub hard: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub soft: u64,
    /// Bounces this scan found again (already recorded).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub already_known: u64,
    /// Notices about no recipient Mailroom sent to (other mail's bounces).
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub unmatched: u64,
    /// Delay warnings and other reports that are not failures.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub not_failures: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub auto_replies: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub unsubscribes: u64,
    /// Addresses that joined the suppression list, and why.
    pub suppressed: Vec<SuppressedAddress>,
    /// Notices flagged or moved in the mailbox.
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub processed: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub duration_ms: u64,
}

/// How far a scan has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct ScanProgress {
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub read: u64,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub total: u64,
}

/// Scans the mailbox of SMTP account `account`. A server that fails or
/// stalls, or a cancel, ends the scan with `ok: false` and the reason; what
/// was recorded before stays. Errors are for the store and the secret store.
pub async fn scan(
    store: &Store,
    secrets: &SecretStore,
    account: &str,
    cancel: CancellationToken,
    mut on_progress: impl FnMut(ScanProgress) + Send,
) -> Result<ScanReport> {
    let mailbox = store.mailbox(account).await?;
    let password = secrets.get_kind(SecretKind::Mailbox, account).await?;
    let own = own_addresses(store, &mailbox).await?;
    let settings = imap_settings(&mailbox, password);
    let started = Instant::now();
    let mut report = ScanReport {
        account: account.to_owned(),
        folder: mailbox.settings.folder.clone(),
        host: settings.host.clone(),
        port: settings.port,
        ..ScanReport::default()
    };
    let outcome = tokio::select! {
        biased;
        () = cancel.cancelled() => Err(MailboxFailure::cancelled(MailboxStage::Fetch)),
        outcome = run(store, &mailbox, &settings, &own, &mut report, &mut on_progress) => outcome,
    };
    report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(()) => {
            report.ok = true;
            store.finish_scan(mailbox.id, None).await?;
        }
        Err(failure) => {
            store.finish_scan(mailbox.id, Some(&failure.to_string())).await?;
            tracing::warn!(account, %failure, "bounce scan stopped");
            report.failure = Some(failure);
        }
    }
    tracing::info!(
        account,
        messages = report.messages,
        hard = report.hard,
        soft = report.soft,
        unsubscribes = report.unsubscribes,
        "bounce scan ended"
    );
    Ok(report)
}

/// The account's own addresses: its mail is never an unsubscribe request.
async fn own_addresses(store: &Store, mailbox: &StoredMailbox) -> Result<Vec<String>> {
    let (_, account) = crate::smtp::account::load(store, &mailbox.account).await?;
    Ok([
        Some(mailbox.settings.username.clone()),
        account.from_address,
        account.username,
        account.reply_to,
    ]
    .into_iter()
    .flatten()
    .filter(|a| a.contains('@'))
    .collect())
}

async fn run(
    store: &Store,
    mailbox: &StoredMailbox,
    settings: &ImapSettings,
    own: &[String],
    report: &mut ScanReport,
    on_progress: &mut (impl FnMut(ScanProgress) + Send),
) -> std::result::Result<(), MailboxFailure> {
    let mut session = open(settings).await?;
    let result = read_new(store, mailbox, settings, &mut session, own, report, on_progress).await;
    client::logout(settings, &mut session).await;
    result
}

/// DNS, TCP, TLS, greeting, STARTTLS, LOGIN: the steps Test connection times one by one.
pub async fn open(settings: &ImapSettings) -> std::result::Result<Session, MailboxFailure> {
    let addrs = client::resolve(settings).await?;
    let tcp = client::connect(settings, &addrs).await?;
    let mut imap = if settings.security == Security::Tls {
        let (tls, _) = client::handshake(settings, tcp).await?;
        client::client(settings, Either::Right(Box::new(tls)))
    } else {
        client::client(settings, Either::Left(tcp))
    };
    client::greeting(settings, &mut imap).await?;
    if settings.security == Security::Starttls {
        imap = client::starttls(settings, imap).await?.0;
    }
    client::login(settings, imap).await
}

async fn read_new(
    store: &Store,
    mailbox: &StoredMailbox,
    settings: &ImapSettings,
    session: &mut Session,
    own: &[String],
    report: &mut ScanReport,
    on_progress: &mut (impl FnMut(ScanProgress) + Send),
) -> std::result::Result<(), MailboxFailure> {
    let selected = client::select(settings, session, &mailbox.settings.folder).await?;
    // A server without UIDVALIDITY (RFC 3501 requires it) is read whole each time.
    let validity = selected.uid_validity.unwrap_or(0);
    let mut after = match mailbox.scan.uid_validity {
        Some(known) if known == validity && validity != 0 => mailbox.scan.last_uid,
        Some(_) => {
            report.uid_validity_changed = true;
            0
        }
        None => 0,
    };
    if selected.exists == 0 || selected.uid_next.is_some_and(|next| next <= after.saturating_add(1)) {
        record(store, mailbox, validity, after, &[], &[], report).await?;
        return Ok(());
    }
    let uids = client::uids_after(settings, session, after).await?;
    let total = uids.len() as u64;
    on_progress(ScanProgress { read: 0, total });
    for chunk in uids.chunks(CHUNK) {
        let chunk_total = settings.command_timeout.saturating_mul(4);
        let headers = client::fetch(session, chunk, HEADER_QUERY, chunk_total, client::ANSWER_BUDGET).await?;
        let candidates: Vec<u32> = headers.iter().filter(|h| is_candidate(h)).map(|h| h.uid).collect();
        let mut bounces = Vec::new();
        let mut unsubscribes = Vec::new();
        let mut notices_read = Vec::new();
        // A few candidates per request: each answer is bounded by the read
        // limit per message, and a stall is caught within the timeout.
        let mut notices: Vec<(u32, Notice)> = Vec::new();
        for group in candidates.chunks(BODIES_PER_REQUEST) {
            let query = format!("(UID BODY.PEEK[]<0.{}>)", bounce::READ_LIMIT);
            let per_message = u64::try_from(bounce::READ_LIMIT).unwrap_or(u64::MAX) + 16 * 1024;
            let budget = per_message * group.len() as u64 + 64 * 1024;
            let wait = settings.command_timeout.saturating_mul(2);
            for message in client::fetch(session, group, &query, wait, budget).await? {
                match bounce::analyse(&message.bytes, own) {
                    Analysis::Bounce(notice) => notices.push((message.uid, notice)),
                    Analysis::NotAFailure => report.not_failures += 1,
                    Analysis::AutoReply => report.auto_replies += 1,
                    Analysis::Unsubscribe { address } => {
                        report.unsubscribes += 1;
                        unsubscribes.push(address);
                    }
                    Analysis::Other => {}
                }
            }
        }
        report.notices += notices.len() as u64;
        let matched = match_notices(store, &notices).await.map_err(|e| store_failure(&e))?;
        for (uid, records) in matched {
            if records.is_empty() {
                report.unmatched += 1;
            } else {
                notices_read.push(uid);
                bounces.extend(records);
            }
        }
        after = chunk.last().copied().unwrap_or(after);
        report.messages += chunk.len() as u64;
        record(store, mailbox, validity, after, &bounces, &unsubscribes, report).await?;
        match mailbox.settings.processed {
            ProcessedAction::Leave => {}
            ProcessedAction::Flag => {
                client::flag(settings, session, &notices_read).await?;
                report.processed += notices_read.len() as u64;
            }
            ProcessedAction::Move => {
                let folder = mailbox
                    .settings
                    .processed_folder
                    .as_deref()
                    .unwrap_or("Mailroom Bounces");
                client::move_to(settings, session, &notices_read, folder).await?;
                report.processed += notices_read.len() as u64;
            }
        }
        on_progress(ScanProgress {
            read: report.messages,
            total,
        });
    }
    Ok(())
}

async fn record(
    store: &Store,
    mailbox: &StoredMailbox,
    validity: u32,
    last_uid: u32,
    bounces: &[BounceRecord],
    unsubscribes: &[String],
    report: &mut ScanReport,
) -> std::result::Result<(), MailboxFailure> {
    let outcome = store
        .record_scan_chunk(
            mailbox.id,
            &mailbox.account,
            validity,
            last_uid,
            bounces,
            unsubscribes,
            mailbox.settings.soft_bounce_limit,
        )
        .await
        .map_err(|e| store_failure(&e))?;
    report.hard += outcome.hard;
    report.soft += outcome.soft;
    report.already_known += outcome.already_known;
    report.suppressed.extend(outcome.suppressed);
    Ok(())
}

fn store_failure(e: &crate::Error) -> MailboxFailure {
    MailboxFailure::new(
        MailboxStage::Store,
        MailboxProblem::ServerError,
        format!("cannot record the scan: {e}"),
    )
}

/// Whether a message's header fields make it worth reading: from a mail
/// system, a report, a bounce or reply subject, X-Failed-Recipients.
fn is_candidate(headers: &Fetched) -> bool {
    let text = String::from_utf8_lossy(&headers.bytes).to_lowercase();
    let field = |name: &str| -> String {
        let mut value = String::new();
        let mut in_field = false;
        for line in text.lines() {
            if line.starts_with([' ', '\t']) {
                if in_field {
                    value.push_str(line);
                }
            } else {
                in_field = line.starts_with(name) && line[name.len()..].starts_with(':');
                if in_field {
                    value.push_str(&line[name.len() + 1..]);
                }
            }
        }
        value
    };
    let from = field("from");
    let subject = field("subject");
    let content_type = field("content-type");
    from.contains("mailer-daemon")
        || from.contains("postmaster")
        || from.contains("mail delivery")
        || field("return-path").trim() == "<>"
        || content_type.contains("multipart/report")
        || !field("x-failed-recipients").trim().is_empty()
        // Automatic replies are read to be told apart (and counted).
        || !field("auto-submitted").trim().is_empty()
        || !field("x-autoreply").trim().is_empty()
        || !field("x-autorespond").trim().is_empty()
        || [
            "undeliver",
            "undelivered",
            "delivery status",
            "delivery fail",
            "returned mail",
            "failure notice",
            "mail delivery",
            "could not be delivered",
            "退信",
            "投递失败",
            "unsubscribe",
            "退订",
            "re:",
            "回复",
            "答复",
        ]
        .iter()
        .any(|word| subject.contains(word))
        || subject.trim().is_empty()
}

/// Each notice's records: one per failed recipient Mailroom sent to (none
/// when the notice is about someone else's mail).
async fn match_notices(store: &Store, notices: &[(u32, Notice)]) -> Result<Vec<(u32, Vec<BounceRecord>)>> {
    // Notices without a returned Message-ID are matched by address, all at once.
    let by_address: Vec<String> = notices
        .iter()
        .filter(|(_, n)| n.returned.is_none())
        .flat_map(|(_, n)| n.recipients.iter().map(|r| r.address.clone()))
        .collect();
    let latest = store.latest_sent_to(&by_address).await?;
    let now = store.now_ms();
    let mut out = Vec::with_capacity(notices.len());
    for (uid, notice) in notices {
        let mut records = Vec::new();
        let record = |target: &BounceTarget, failed: Option<&bounce::FailedRecipient>| BounceRecord {
            recipient_id: target.recipient_id,
            email: target.email.clone(),
            kind: failed.map_or(crate::model::BounceKind::Soft, |f| f.kind),
            status_code: failed.and_then(|f| f.status.clone()),
            diagnostic: failed.map_or_else(|| "delivery failed".to_owned(), |f| f.diagnostic.clone()),
            reporting_mta: notice.reporting_mta.clone(),
            bounced_at: notice.date_ms.unwrap_or(now),
            fingerprint: notice.fingerprint.clone(),
        };
        if let Some(id) = notice.returned {
            let target = store
                .bounce_target(id.campaign, id.row)
                .await?
                .filter(|t| t.campaign_created_at == id.created_at && t.sent);
            if let Some(target) = target {
                let key = dedup_key(&target.email);
                // The entry about this recipient; a notice about one address
                // (the usual case) is about it whatever the spelling.
                let failed = notice
                    .recipients
                    .iter()
                    .find(|r| dedup_key(&r.address) == key)
                    .or_else(|| (notice.recipients.len() == 1).then(|| &notice.recipients[0]));
                if failed.is_some() || notice.recipients.is_empty() {
                    records.push(record(&target, failed));
                }
            }
        } else {
            for failed in &notice.recipients {
                if let Some(target) = latest.get(&dedup_key(&failed.address)) {
                    records.push(record(target, Some(failed)));
                }
            }
        }
        out.push((*uid, records));
    }
    Ok(out)
}

/// A stored mailbox's client settings.
pub(crate) fn imap_settings(mailbox: &StoredMailbox, password: Option<String>) -> ImapSettings {
    let s = &mailbox.settings;
    ImapSettings {
        host: s.host.clone(),
        port: s.port,
        security: s.security,
        username: s.username.clone(),
        password,
        folder: s.folder.clone(),
        connect_timeout: s.connect_timeout(),
        command_timeout: s.command_timeout(),
        accept_invalid_certs: s.accept_invalid_certs,
    }
}
