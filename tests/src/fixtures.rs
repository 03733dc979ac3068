//! What the tests that drive the engine directly (not through the CLI) set
//! up again and again: an account for a server on this machine, and a
//! campaign imported from a CSV with its message.

use std::path::Path;

use mailroom_engine::import::{self, ImportOptions, RecipientSource};
use mailroom_engine::message::{MessageDraft, save_message};
use mailroom_engine::model::CampaignId;
use mailroom_engine::smtp::{AccountSettings, AuthMethod, Security};
use mailroom_engine::store::Store;

/// Account `name` for a server on 127.0.0.1:`port`: no encryption, no login,
/// sending as news@example.com, one connection, each step timed out after
/// 2 s (a scripted server answers at once); the rest the engine's defaults.
/// A test changes what it is about with struct update syntax.
pub fn local_account(name: &str, port: u16) -> AccountSettings {
    AccountSettings {
        name: name.to_owned(),
        host: "127.0.0.1".to_owned(),
        port,
        security: Security::None,
        auth: AuthMethod::None,
        from_address: Some("news@example.com".to_owned()),
        connections: 1,
        connect_timeout_ms: 2_000,
        command_timeout_ms: 2_000,
        data_timeout_ms: 2_000,
        ..AccountSettings::default()
    }
}

/// Imports `csv` (a file's text, written to `dir` as `name`.csv) as a new
/// campaign and gives it a message of `subject` and `text`: its id.
pub async fn campaign_with_message(
    store: &Store,
    dir: &Path,
    name: &str,
    csv: &str,
    subject: &str,
    text: &str,
) -> CampaignId {
    let list = dir.join(format!("{name}.csv"));
    std::fs::write(&list, csv).unwrap_or_else(|e| panic!("write {}: {e}", list.display()));
    let options = ImportOptions::default();
    let source = RecipientSource::open(&list, &options)
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", list.display()));
    let campaign = import::import(store, source, &options)
        .await
        .unwrap_or_else(|e| panic!("import {}: {e}", list.display()))
        .campaign
        .id;
    let draft = MessageDraft {
        subject: subject.to_owned(),
        text: Some(text.to_owned()),
        ..MessageDraft::default()
    };
    save_message(store, campaign, &draft)
        .await
        .unwrap_or_else(|e| panic!("save the message: {e}"));
    campaign
}

/// The `i`-th recipient's address in the numbered campaigns.
pub fn address(i: usize) -> String {
    format!("user{i:04}@example.org")
}

/// A campaign of `n` numbered recipients ([`address`], first names
/// "Name 0", "Name 1", ...) with the subject "Hello {{ first_name }}" and
/// `text`: its id.
pub async fn numbered_campaign(store: &Store, dir: &Path, n: usize, text: &str) -> CampaignId {
    let mut csv = String::from("email,first_name\n");
    for i in 0..n {
        csv.push_str(&format!("{},Name {i}\n", address(i)));
    }
    campaign_with_message(store, dir, "list", &csv, "Hello {{ first_name }}", text).await
}
