//! What the app keeps between commands: the engine [`Session`] on the chosen
//! database (opened in the background as the app starts, see
//! [`open_store_in_background`], so a problem is shown in the window rather
//! than stopping the app, and replaced when another database is chosen in
//! Settings), the settings file and the log's level control. What runs (the
//! sandbox, campaigns, imports, tests) is the session's.

use std::path::Path;

use mailroom_engine::logging::LogControl;
use mailroom_engine::secrets::SecretStore;
use mailroom_engine::settings::SettingsFile;
use mailroom_engine::{Error, Session, Store, paths};
use tokio::sync::RwLock;

#[derive(Debug, Default)]
pub struct AppState {
    /// The session on the open database (none until first used).
    session: RwLock<Option<Session>>,
    /// The person's settings (none on a system without a home folder).
    pub settings: Option<SettingsFile>,
    /// The running log's level (none if the log could not be opened).
    pub log: Option<LogControl>,
    /// The bounce scan timer, told when a campaign finishes (set at start-up).
    pub scan_timer: std::sync::OnceLock<mailroom_engine::mailbox::schedule::ScanTimer>,
}

impl AppState {
    pub fn new(settings: Option<SettingsFile>, log: Option<LogControl>) -> AppState {
        AppState {
            settings,
            log,
            ..AppState::default()
        }
    }

    /// Whether a campaign is sending (when in doubt, yes: the lock is only
    /// held for a moment, and asking once too often beats losing a run).
    pub fn sending(&self) -> bool {
        self.session
            .try_read()
            .map_or(true, |session| session.as_ref().is_some_and(Session::sending))
    }

    /// The campaigns sending now (none before the database is open; this
    /// does not open it).
    pub async fn running(&self) -> Vec<mailroom_engine::model::CampaignId> {
        self.session
            .read()
            .await
            .as_ref()
            .map(Session::running)
            .unwrap_or_default()
    }

    /// Pauses every running campaign and returns once each has finished its
    /// in-flight messages and recorded them.
    pub async fn pause_all_runs(&self) {
        let session = self.session.read().await.clone();
        if let Some(session) = session {
            session.pause_all().await;
        }
    }

    /// The session on the database (`$MAILROOM_DB`, the file chosen in
    /// Settings, or the per-user default). Cheap: clones share it.
    pub async fn session(&self) -> Result<Session, Error> {
        if let Some(session) = self.session.read().await.as_ref() {
            return Ok(session.clone());
        }
        let mut slot = self.session.write().await;
        if let Some(session) = slot.as_ref() {
            return Ok(session.clone());
        }
        let session = Session::open(&paths::database_path(None)?).await?;
        *slot = Some(session.clone());
        Ok(session)
    }

    /// The session's password store.
    pub async fn secrets(&self) -> Result<SecretStore, Error> {
        Ok(self.session().await?.secrets().await.clone())
    }

    /// Opens `path` as the database from now on (and for the next start):
    /// refused while a campaign sends from the current one. The old session
    /// (its sandbox, its password store) ends; commands already running on
    /// it finish on their clone of it.
    pub async fn choose_database(&self, path: &Path) -> Result<Store, Error> {
        let mut slot = self.session.write().await;
        if slot.as_ref().is_some_and(Session::sending) {
            let current = slot.as_ref().map(|s| s.path().to_owned()).unwrap_or_default();
            return Err(Error::DatabaseInUse { path: current });
        }
        let settings = self.settings.as_ref().ok_or_else(|| Error::SettingsUnwritable {
            path: "(no home folder)".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "there is no home folder to keep settings in",
            ),
        })?;
        let store = settings.choose_database(path).await?;
        if let Some(old) = slot.replace(Session::new(store.clone())) {
            old.stop_sandboxes().await;
        }
        Ok(store)
    }
}

/// Opens the store while the WebView starts, so that the first screen's
/// first question (where the database is) finds it open: creating the
/// database and running its migrations on a first start is a tenth of a
/// second or more of fsyncs, off the critical path this way. A failure is
/// only logged: the window's first command opens the store again and shows
/// the error, as it would have without this.
pub fn open_store_in_background(app: tauri::AppHandle) {
    tauri::async_runtime::spawn(async move {
        use tauri::Manager as _;
        if let Err(e) = app.state::<AppState>().session().await {
            tracing::warn!(error = %e, "the database could not be opened at start");
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use mailroom_engine::campaign::{CampaignEvent, RunControl, RunOptions};
    use mailroom_engine::import::{ImportOptions, RecipientSource};
    use mailroom_engine::message::MessageDraft;
    use mailroom_engine::smtp::account;

    use super::AppState;

    /// Another database chosen in Settings: refused while a campaign sends
    /// (the session stays, nothing is remembered); otherwise every later
    /// command gets the new database, and the old file's sandbox is stopped.
    #[tokio::test]
    async fn choosing_a_database_swaps_the_session_unless_a_campaign_sends() {
        use mailroom_engine::settings::SettingsFile;
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = SettingsFile::at(dir.path().join("settings.json"));
        let state = AppState::new(Some(settings.clone()), None);
        assert!(!state.sending());
        let (first, second) = (dir.path().join("first.db"), dir.path().join("second.db"));
        state.choose_database(&first).await.expect("the first database");
        let session = state.session().await.expect("a session");
        assert_eq!(session.path(), first);

        // A campaign sending on the sandbox, slowly enough to be sending
        // when the other database is asked for.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let sandbox = mailroom_engine::smtp::AccountSettings {
            port,
            rate_per_second: Some(2.0),
            ..account::preset("sandbox").expect("the preset").settings("Local", None)
        };
        session.add_account(sandbox, None).await.expect("the account");
        let list = dir.path().join("list.csv");
        let rows: String = (0..50).map(|i| format!("p{i}@example.com\n")).collect();
        std::fs::write(&list, format!("email\n{rows}")).expect("the list");
        let options = ImportOptions::default();
        let source = RecipientSource::open(&list, &options).await.expect("the file");
        let campaign = session
            .import_source(source, &options)
            .await
            .expect("import")
            .campaign
            .id;
        let draft = MessageDraft {
            subject: "Hello".to_owned(),
            text: Some("Hi".to_owned()),
            ..MessageDraft::default()
        };
        session.save_message(campaign, &draft).await.expect("the message");
        let started = Arc::new(tokio::sync::Notify::new());
        let on_start = started.clone();
        let sink = Arc::new(move |event: &CampaignEvent| {
            if matches!(event, CampaignEvent::Started { .. }) {
                on_start.notify_one();
            }
        });
        let run = tokio::spawn({
            let session = session.clone();
            async move {
                session
                    .send(campaign, &["Local"], RunOptions::default(), RunControl::default(), sink)
                    .await
            }
        });
        tokio::time::timeout(Duration::from_secs(30), started.notified())
            .await
            .expect("the run started");
        assert!(state.sending());

        let refused = state.choose_database(&second).await.expect_err("refused while sending");
        assert_eq!(refused.kind(), mailroom_engine::ErrorKind::DatabaseInUse);
        assert_eq!(state.session().await.expect("a session").path(), first);
        assert_eq!(settings.load().database, Some(first.clone()));
        assert_eq!(session.sandbox_addresses().await.len(), 1, "the sandbox was stopped");

        state.pause_all_runs().await;
        run.await.expect("the task").expect("the run");
        assert!(!state.sending());
        state.choose_database(&second).await.expect("the second database");
        assert_eq!(state.session().await.expect("a session").path(), second);
        assert_eq!(settings.load().database, Some(second.clone()));
        assert!(
            session.sandbox_addresses().await.is_empty(),
            "the old database's sandbox still listens"
        );
    }
}
