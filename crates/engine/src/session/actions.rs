//! The session's calls, one per action a person takes in either front end:
//! each resolves the campaign it is given (an id from the window, a name or
//! `#N` from the command line) and makes the engine call on the session's
//! store, secret store and sandbox.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::Session;
use crate::campaign::{self, SendPlan};
use crate::error::Result;
use crate::export;
use crate::import::{self, ImportOptions, RecipientSource};
use crate::mailbox::diagnose::{MailboxDiagnosis, MailboxStageReport};
use crate::message::{self, MessageCheck, MessageDraft, RenderedMessage, RowPreview};
use crate::model::{
    CampaignId, CampaignSummary, ImportProgress, ImportReport, Recipient, RecipientStatus, StatusCounts,
    UncertainDecision,
};
use crate::progress::{Cancellable, Sink};
use crate::results::{
    RecipientFacets, RecipientHistory, RecipientPage, RecipientQuery, ResendChoice, ResendPlan, RunRecord, StateFilter,
};
use crate::smtp::account::{Account, AccountSettings};
use crate::smtp::diagnose::{Diagnosis, StageReport};
use crate::smtp::manage;
use crate::smtp::rules::AppliedRule;
use crate::smtp::sandbox::{CapturedMessage, parse_captured};
use crate::store::SuppressionPage;
use crate::store::{CapturedSummary, TemplateSummary};
use crate::suppression::{self, SuppressionImport};

/// A campaign as a front end names it: by id (the window), or by the text a
/// person typed (`#7`, a name, an id; see `Store::resolve_campaign`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignRef<'a> {
    Id(CampaignId),
    Text(&'a str),
}

impl From<CampaignId> for CampaignRef<'_> {
    fn from(id: CampaignId) -> Self {
        CampaignRef::Id(id)
    }
}

impl<'a> From<&'a str> for CampaignRef<'a> {
    fn from(text: &'a str) -> Self {
        CampaignRef::Text(text)
    }
}

impl<'a> From<&'a String> for CampaignRef<'a> {
    fn from(text: &'a String) -> Self {
        CampaignRef::Text(text)
    }
}

impl Session {
    /// The id of the campaign `campaign` names; an error listing the
    /// candidates when a name fits more than one.
    pub async fn resolve(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<CampaignId> {
        match campaign.into() {
            CampaignRef::Id(id) => Ok(id),
            CampaignRef::Text(text) => self.store().resolve_campaign(text).await,
        }
    }

    /// Imports a recipient file as a new draft campaign (replacing the draft
    /// `options.replaces`). `progress` is pushed how far it got after each
    /// batch; its [`Flow::Stop`](crate::progress::Flow) or
    /// [`Session::cancel_import`]`(import)` cancels it and nothing is saved.
    pub async fn import(
        &self,
        path: &Path,
        options: &ImportOptions,
        import: u32,
        progress: &dyn Sink<ImportProgress>,
    ) -> Result<ImportReport> {
        let sink = Cancellable::new(progress);
        let _running = self.inner.imports.insert(import, sink.token());
        let source = RecipientSource::open(path, options).await?;
        import::import_with_progress(self.store(), source, options, &sink).await
    }

    /// Imports an opened recipient file (read before the database is
    /// touched, so a file that cannot be read changes nothing) as a new draft.
    pub async fn import_source(&self, source: RecipientSource, options: &ImportOptions) -> Result<ImportReport> {
        import::import(self.store(), source, options).await
    }

    /// Test connection for account `name` (and a test message to `send_to`),
    /// each stage pushed to `on_stage` as it completes; the sandbox is started
    /// first for the Sandbox account. [`Session::cancel_test`]`(test)` stops it.
    pub async fn test_account(
        &self,
        name: &str,
        send_to: Option<&str>,
        test: u32,
        on_stage: &dyn Sink<StageReport>,
    ) -> Result<Diagnosis> {
        self.sandbox_for_account(name).await?;
        let sink = Cancellable::new(on_stage);
        let _running = self.inner.tests.insert(test, sink.token());
        manage::test_account(self.store(), self.secrets().await, name, send_to, &sink).await
    }

    /// Test connection for mailbox (IMAP) `account`, each step told to
    /// `on_stage`; its stop or [`Session::cancel_test`]`(test)` stops it.
    pub async fn test_mailbox(
        &self,
        account: &str,
        test: u32,
        on_stage: &dyn Sink<MailboxStageReport>,
    ) -> Result<MailboxDiagnosis> {
        let sink = Cancellable::new(on_stage);
        let _running = self.inner.tests.insert(test, sink.token());
        crate::mailbox::manage::test_mailbox(self.store(), self.secrets().await, account, &sink).await
    }

    /// Sends row `row`'s message to `to` through `account`, as "Send a test"
    /// does; [`Session::cancel_test`]`(test)` gives up on it.
    pub async fn send_test_message(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        row: Option<u64>,
        account: &str,
        to: &str,
        test: u32,
    ) -> Result<RenderedMessage> {
        let id = self.resolve(campaign).await?;
        self.sandbox_for_account(account).await?;
        let cancel = CancellationToken::new();
        let _running = self.inner.tests.insert(test, cancel.clone());
        message::send_test_message(self.store(), self.secrets().await, id, row, account, to, &cancel).await
    }

    /// Stops a campaign: one sending in this session winds down (the
    /// recipients not yet sent are cancelled as it ends; `None`), a paused or
    /// interrupted one is stopped now, under its lease (its counts).
    pub async fn stop(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<Option<StatusCounts>> {
        let id = self.resolve(campaign).await?;
        if self.inner.runs.with(&id, campaign::RunControl::stop).is_some() {
            return Ok(None);
        }
        campaign::stop_idle(self.store(), id).await.map(Some)
    }

    /// Stops a paused or interrupted campaign now, under its lease; its counts.
    pub async fn stop_idle(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<StatusCounts> {
        let id = self.resolve(campaign).await?;
        campaign::stop_idle(self.store(), id).await
    }

    /// Every saved template.
    pub async fn templates(&self) -> Result<Vec<TemplateSummary>> {
        self.store().templates().await
    }

    /// The message of template `name`.
    pub async fn template(&self, name: &str) -> Result<MessageDraft> {
        self.store().template(name).await
    }

    /// Saves `draft` as template `name` (replacing one of that name).
    pub async fn save_template(&self, name: &str, draft: &MessageDraft) -> Result<()> {
        self.store().save_template(name, draft).await
    }

    /// Saves the campaign's message as template `name`.
    pub async fn save_template_from(&self, campaign: impl Into<CampaignRef<'_>>, name: &str) -> Result<()> {
        let id = self.resolve(campaign).await?;
        let summary = self.store().campaign_summary(id).await?;
        let draft = self
            .store()
            .message_draft(id)
            .await?
            .ok_or(crate::Error::NoMessage(summary.name))?;
        self.store().save_template(name, &draft).await
    }

    /// Gives the campaign template `name`'s message (checked against its columns).
    pub async fn apply_template(&self, name: &str, campaign: impl Into<CampaignRef<'_>>) -> Result<MessageCheck> {
        let id = self.resolve(campaign).await?;
        let draft = self.store().template(name).await?;
        message::save_message(self.store(), id, &draft).await
    }

    /// Copies template `from` under the name `to`.
    pub async fn copy_template(&self, from: &str, to: &str) -> Result<()> {
        let draft = self.store().template(from).await?;
        self.store().save_template(to, &draft).await
    }

    pub async fn delete_template(&self, name: &str) -> Result<()> {
        self.store().delete_template(name).await
    }

    pub async fn campaign_summary(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<CampaignSummary> {
        let id = self.resolve(campaign).await?;
        campaign::summary(self.store(), id).await
    }

    pub async fn campaigns(&self) -> Result<Vec<CampaignSummary>> {
        campaign::list(self.store()).await
    }

    /// Deletes a campaign that is not sending, with its recipients and history.
    pub async fn delete_campaign(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<CampaignId> {
        let id = self.resolve(campaign).await?;
        campaign::delete(self.store(), id).await?;
        Ok(id)
    }

    /// A campaign's accounts in order (its list, else the one it last ran on).
    pub async fn campaign_accounts(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<Vec<String>> {
        let id = self.resolve(campaign).await?;
        campaign::accounts(self.store(), id).await
    }

    /// What starting `campaign` on `accounts` would do (see [`SendPlan`]).
    pub async fn send_plan(&self, campaign: impl Into<CampaignRef<'_>>, accounts: &[&str]) -> Result<SendPlan> {
        let id = self.resolve(campaign).await?;
        campaign::send_plan(self.store(), id, accounts).await
    }

    /// The campaign's saved message, if any.
    pub async fn message_draft(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<Option<MessageDraft>> {
        let id = self.resolve(campaign).await?;
        self.store().message_draft(id).await
    }

    /// Checks and saves the campaign's message.
    pub async fn save_message(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        draft: &MessageDraft,
    ) -> Result<MessageCheck> {
        let id = self.resolve(campaign).await?;
        message::save_message(self.store(), id, draft).await
    }

    /// The message as the recipient on `row` (the first when `None`) gets it
    /// through `account`, or why that row gets none.
    pub async fn preview_message(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        row: Option<u64>,
        account: Option<&str>,
    ) -> Result<RowPreview> {
        let id = self.resolve(campaign).await?;
        message::preview_message(self.store(), id, row, account).await
    }

    /// The merge fields the campaign's message may use (`email` first).
    pub async fn merge_fields(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<Vec<String>> {
        let id = self.resolve(campaign).await?;
        message::merge_fields(self.store(), id).await
    }

    /// The spreadsheet row of the first recipient whose address contains `query`.
    pub async fn find_recipient_row(&self, campaign: impl Into<CampaignRef<'_>>, query: &str) -> Result<u64> {
        let id = self.resolve(campaign).await?;
        message::find_recipient_row(self.store(), id, query).await
    }

    /// Writes the campaign's recipients in `statuses` to a CSV file at `path`; how many.
    pub async fn export_recipients(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        statuses: &[RecipientStatus],
        path: &Path,
    ) -> Result<u64> {
        let id = self.resolve(campaign).await?;
        export::export_recipients(self.store(), id, statuses, path).await
    }

    /// What Resend failed with `choice` would include and leave out.
    pub async fn resend_plan(&self, campaign: impl Into<CampaignRef<'_>>, choice: &ResendChoice) -> Result<ResendPlan> {
        let id = self.resolve(campaign).await?;
        self.store().resend_plan(id, choice).await
    }

    /// Resend failed as chosen: the chosen failed recipients back to pending,
    /// ready for the next run.
    pub async fn requeue_for_resend(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        choice: &ResendChoice,
    ) -> Result<ResendPlan> {
        let id = self.resolve(campaign).await?;
        self.store().requeue_for_resend(id, choice).await
    }

    /// The person's decision about uncertain recipients (those on `rows`, or
    /// all): send again, or count as sent. How many changed.
    pub async fn settle_uncertain(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        rows: Option<&[u64]>,
        decision: UncertainDecision,
    ) -> Result<u64> {
        let id = self.resolve(campaign).await?;
        self.store().settle_uncertain_rows(id, rows, decision).await
    }

    /// Every SMTP account (never with its password).
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        manage::list_accounts(self.store(), self.secrets().await).await
    }

    /// Removes account `name` and its password (refused while it sends).
    pub async fn remove_account(&self, name: &str) -> Result<()> {
        manage::remove_account(self.store(), self.secrets().await, name).await
    }

    /// Adds an account (its password, if any, to the secret store).
    pub async fn add_account(&self, settings: AccountSettings, password: Option<String>) -> Result<Account> {
        manage::add_account(self.store(), self.secrets().await, settings, password).await
    }

    /// Changes account `id`'s settings and, as `password` says, its password.
    pub async fn update_account(
        &self,
        id: i64,
        settings: AccountSettings,
        password: manage::PasswordChange,
    ) -> Result<Account> {
        manage::update_account(self.store(), self.secrets().await, id, settings, password).await
    }

    /// The account form's Save: adds the account (`id` none) or changes
    /// account `id`. An empty password typed into the form means "keep the
    /// one stored" (the field shows a stored one as empty), never "set an
    /// empty one".
    pub async fn save_account(
        &self,
        id: Option<i64>,
        settings: AccountSettings,
        password: manage::PasswordChange,
    ) -> Result<Account> {
        let password = match password {
            manage::PasswordChange::Set(typed) if typed.is_empty() => manage::PasswordChange::Keep,
            change => change,
        };
        match id {
            None => self.add_account(settings, password.into_new()).await,
            Some(id) => self.update_account(id, settings, password).await,
        }
    }

    /// Account `name`: its id and settings.
    pub async fn account_settings(&self, name: &str) -> Result<(i64, AccountSettings)> {
        crate::smtp::account::load(self.store(), name).await
    }

    /// Account `name` as the front ends show it (never with its password).
    pub async fn account(&self, name: &str) -> Result<Account> {
        manage::get_account(self.store(), self.secrets().await, name).await
    }

    /// Ends account `name`'s suspension now ("Resume now"); whether it was suspended.
    pub async fn resume_account(&self, name: &str) -> Result<bool> {
        manage::resume_account(self.store(), name).await
    }

    /// The rules that apply to account `name`, in the order they are tried.
    pub async fn account_rules(&self, name: &str) -> Result<Vec<AppliedRule>> {
        manage::account_rules(self.store(), name).await
    }

    /// Changes account `name`'s own rules; the rules that apply now.
    pub async fn change_rules(&self, name: &str, change: manage::RuleChange) -> Result<Vec<AppliedRule>> {
        manage::change_rules(self.store(), name, change).await
    }

    /// The account offered first: the last used, else the sandbox.
    pub async fn default_account(&self) -> Result<Option<String>> {
        manage::default_account(self.store()).await
    }

    /// Where passwords are kept, when it is not the system keychain.
    pub async fn secret_store_notice(&self) -> Option<String> {
        self.secrets().await.notice()
    }

    /// The sandbox's captured mail, newest first.
    pub async fn captured_messages(&self, offset: i64, limit: i64) -> Result<Vec<CapturedSummary>> {
        self.store().captured_messages(offset, limit).await
    }

    /// One captured message, taken apart for the viewer.
    pub async fn captured_message(&self, id: i64) -> Result<CapturedMessage> {
        let (summary, raw) = self.store().captured_message(id).await?;
        Ok(parse_captured(summary, &raw))
    }

    /// Forgets every captured message; how many.
    pub async fn clear_captured(&self) -> Result<u64> {
        self.store().clear_captured().await
    }

    /// A page of the campaign's recipients in file order (those in `status`, or all).
    pub async fn recipients(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        status: Option<RecipientStatus>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Recipient>> {
        let id = self.resolve(campaign).await?;
        self.store().recipients(id, status, offset, limit).await
    }

    /// A page of the campaign's recipients as Results filters them.
    pub async fn recipient_page(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        query: &RecipientQuery,
    ) -> Result<RecipientPage> {
        let id = self.resolve(campaign).await?;
        self.store().recipient_page(id, query).await
    }

    /// The counts Results' filters show.
    pub async fn recipient_facets(
        &self,
        campaign: impl Into<CampaignRef<'_>>,
        filter: Option<StateFilter>,
    ) -> Result<RecipientFacets> {
        let id = self.resolve(campaign).await?;
        self.store().recipient_facets(id, filter).await
    }

    /// The history of the recipient on spreadsheet row `row`.
    pub async fn recipient_history(&self, campaign: impl Into<CampaignRef<'_>>, row: u64) -> Result<RecipientHistory> {
        let id = self.resolve(campaign).await?;
        self.store().recipient_history(id, row).await
    }

    /// The history of the recipient `who` names: a spreadsheet row number,
    /// else an address (an error when no recipient has it).
    pub async fn recipient_history_of(&self, campaign: &str, who: &str) -> Result<RecipientHistory> {
        let id = self.resolve(campaign).await?;
        let row = match who.trim().parse::<u64>() {
            Ok(row) => row,
            Err(_) => self
                .store()
                .row_of_address(id, who)
                .await?
                .ok_or_else(|| crate::Error::NoRecipientMatches {
                    campaign: campaign.to_owned(),
                    query: who.to_owned(),
                })?,
        };
        self.store().recipient_history(id, row).await
    }

    /// Each run of the campaign.
    pub async fn runs(&self, campaign: impl Into<CampaignRef<'_>>) -> Result<Vec<RunRecord>> {
        let id = self.resolve(campaign).await?;
        self.store().runs(id).await
    }

    /// A page of the suppression list, searched.
    pub async fn suppressions(&self, search: &str, offset: u64, limit: u64) -> Result<SuppressionPage> {
        self.store().suppressions(search, offset, limit).await
    }

    /// Adds an address to the suppression list; whether it was not there yet.
    pub async fn add_suppression(&self, email: &str, reason: Option<&str>) -> Result<bool> {
        suppression::add(self.store(), email, reason).await
    }

    /// Takes an address off the suppression list.
    pub async fn remove_suppression(&self, email: &str) -> Result<()> {
        suppression::remove(self.store(), email).await
    }

    /// Reads a file of addresses to suppress (saving them when `save`).
    pub async fn import_suppressions(
        &self,
        path: &Path,
        options: &ImportOptions,
        mode: suppression::ImportMode,
    ) -> Result<SuppressionImport> {
        suppression::import(self.store(), path, options, mode).await
    }

    /// Writes the suppression list to `path`; how many.
    pub async fn export_suppressions(&self, path: &Path) -> Result<u64> {
        export::export_suppressions(self.store(), path).await
    }
}
