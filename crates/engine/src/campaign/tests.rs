//! The campaign worker against a scripted in-memory transport, on tokio's
//! paused clock, with a real store: claiming before content, the pipelined
//! look-ahead and its give-back, a 421 that closes one connection, and the
//! quota slot a recipient taken ahead returns.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::pool::Placement;
use super::throttle::LiveLimits;
use super::transport::{Connector, Envelope, FinishedAndBegun, Transport};
use super::{CampaignEvent, Host, RunControl, RunOptions, RunOutcome, RunReport};
use crate::clock::TokioClock;
use crate::import::{ImportOptions, RecipientSource};
use crate::message::MessageDraft;
use crate::model::CampaignId;
use crate::secrets::SecretStore;
use crate::session::Session;
use crate::smtp::client::ConnectionSettings;
use crate::smtp::reply::Reply;
use crate::smtp::{AccountSettings, AuthMethod, Failure, Security, Stage};
use crate::store::Store;

/// How the scripted server answers one command (an envelope, or a content).
#[derive(Clone)]
enum Answer {
    /// 250 (or, for an envelope, MAIL, RCPT and DATA all accepted).
    Accept,
    /// This code and text; a 421 also closes the connection.
    Reply(u16, &'static str),
    /// The content went out and the connection drops with no answer.
    DropAfterContent,
    /// Calls the hook (a pause, say) as the answer is read, then answers.
    Then(Arc<dyn Fn() + Send + Sync>, Box<Answer>),
    /// Answers after this long (tokio's clock).
    After(Duration, Box<Answer>),
}

/// One connection's script: its answers in the order its commands come
/// (each envelope and each content takes the next; then every one is accepted).
#[derive(Clone)]
struct Script {
    pipelining: bool,
    answers: Vec<Answer>,
}

impl Script {
    fn accepting(pipelining: bool) -> Script {
        Script {
            pipelining,
            answers: Vec::new(),
        }
    }
}

/// What the transport saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Opened {
        connection: usize,
    },
    Envelope {
        connection: usize,
        to: String,
    },
    /// A content reached the transport; `status` is its recipient's status in
    /// the file at that moment, `sending` how many of the campaign's are `sending`.
    Content {
        connection: usize,
        to: String,
        status: String,
        sending: u64,
    },
    Quit {
        connection: usize,
    },
}

/// Opens scripted connections, in the order of `scripts` (then accepting ones).
#[derive(Debug)]
struct Scripted {
    shared: Arc<Shared>,
}

struct Shared {
    scripts: Mutex<VecDeque<Script>>,
    pipelining: bool,
    seen: Mutex<Vec<Seen>>,
    opened: Mutex<usize>,
    db: PathBuf,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    fn see(&self, seen: Seen) {
        self.seen.lock().expect("test step").push(seen);
    }

    /// The recipient's status, and how many are `sending`, as the file says now.
    fn in_file(&self, email: &str) -> (String, u64) {
        let db = rusqlite::Connection::open(&self.db).expect("test step");
        let status = db
            .query_row("SELECT status FROM recipients WHERE email = ?1", [email], |row| {
                row.get(0)
            })
            .expect("test step");
        let sending = db
            .query_row("SELECT COUNT(*) FROM recipients WHERE status = 'sending'", [], |row| {
                row.get(0)
            })
            .expect("test step");
        (status, sending)
    }
}

impl Scripted {
    fn new(db: &Path, pipelining: bool, scripts: Vec<Script>) -> Scripted {
        Scripted {
            shared: Arc::new(Shared {
                scripts: Mutex::new(scripts.into()),
                pipelining,
                seen: Mutex::new(Vec::new()),
                opened: Mutex::new(0),
                db: db.to_owned(),
            }),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("test step").clone()
    }

    /// The contents that reached the transport, as (connection, recipient).
    fn contents(&self) -> Vec<(usize, String)> {
        self.seen()
            .into_iter()
            .filter_map(|seen| match seen {
                Seen::Content { connection, to, .. } => Some((connection, to)),
                _ => None,
            })
            .collect()
    }

    fn envelopes(&self) -> Vec<(usize, String)> {
        self.seen()
            .into_iter()
            .filter_map(|seen| match seen {
                Seen::Envelope { connection, to } => Some((connection, to)),
                _ => None,
            })
            .collect()
    }
}

impl Connector for Scripted {
    fn open(&self, _settings: Arc<ConnectionSettings>) -> BoxFuture<'static, Result<Box<dyn Transport>, Failure>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let script = shared
                .scripts
                .lock()
                .expect("test step")
                .pop_front()
                .unwrap_or_else(|| Script::accepting(shared.pipelining));
            let connection = {
                let mut opened = shared.opened.lock().expect("test step");
                *opened += 1;
                *opened
            };
            shared.see(Seen::Opened { connection });
            Ok(Box::new(ScriptedConnection {
                shared,
                connection,
                pipelining: script.pipelining,
                answers: script.answers.into(),
                current: None,
                closed: false,
            }) as Box<dyn Transport>)
        })
    }
}

/// One scripted connection.
struct ScriptedConnection {
    shared: Arc<Shared>,
    connection: usize,
    pipelining: bool,
    answers: VecDeque<Answer>,
    /// The recipient of the open transaction.
    current: Option<String>,
    /// A 421 or a drop closed it: every later command finds it gone.
    closed: bool,
}

/// What a script's answer comes to, once its waits and hooks are done.
enum Said {
    Accepted,
    Replied(Reply),
    Dropped,
}

impl ScriptedConnection {
    async fn next_answer(&mut self) -> Said {
        if self.closed {
            return Said::Dropped;
        }
        let mut answer = self.answers.pop_front().unwrap_or(Answer::Accept);
        loop {
            answer = match answer {
                Answer::Accept => return Said::Accepted,
                Answer::Reply(code, text) => {
                    self.closed = code == 421;
                    return Said::Replied(Reply::new(code, text));
                }
                Answer::DropAfterContent => {
                    self.closed = true;
                    return Said::Dropped;
                }
                Answer::Then(hook, then) => {
                    hook();
                    *then
                }
                Answer::After(wait, then) => {
                    tokio::time::sleep(wait).await;
                    *then
                }
            };
        }
    }

    async fn envelope(&mut self, envelope: Envelope<'_>) -> Result<(), Failure> {
        let to = envelope.to.join(",");
        self.shared.see(Seen::Envelope {
            connection: self.connection,
            to: to.clone(),
        });
        self.current = Some(to);
        match self.next_answer().await {
            Said::Accepted => Ok(()),
            Said::Replied(reply) => Err(Failure::from_reply(Stage::Rcpt, &reply)),
            Said::Dropped => Err(Failure::lost(Stage::Mail, "connection reset by peer")),
        }
    }

    async fn content(&mut self) -> Result<Reply, Failure> {
        let to = self.current.take().unwrap_or_default();
        let (status, sending) = self.shared.in_file(&to);
        self.shared.see(Seen::Content {
            connection: self.connection,
            to,
            status,
            sending,
        });
        match self.next_answer().await {
            Said::Accepted => Ok(Reply::new(250, "2.0.0 queued")),
            Said::Replied(reply) => Err(Failure::from_reply(Stage::Data, &reply).after_content()),
            Said::Dropped => Err(Failure::lost(Stage::Data, "connection reset by peer").after_content()),
        }
    }
}

impl Transport for ScriptedConnection {
    fn begin<'a>(&'a mut self, envelope: Envelope<'a>) -> BoxFuture<'a, Result<(), Failure>> {
        Box::pin(self.envelope(envelope))
    }

    fn finish<'a>(&'a mut self, _content: &'a [u8]) -> BoxFuture<'a, Result<Reply, Failure>> {
        Box::pin(self.content())
    }

    fn can_begin_with_content(&self) -> bool {
        self.pipelining
    }

    fn finish_and_begin<'a>(&'a mut self, _content: &'a [u8], next: Envelope<'a>) -> BoxFuture<'a, FinishedAndBegun> {
        Box::pin(async move {
            let finished = self.content().await;
            // As the real client: no envelope answer is read after a lost
            // connection or a 421.
            if finished
                .as_ref()
                .is_err_and(|f| f.code.is_none() || f.code == Some(421))
            {
                // The envelope went out in the same write all the same.
                self.shared.see(Seen::Envelope {
                    connection: self.connection,
                    to: next.to.join(","),
                });
                return FinishedAndBegun { finished, next: None };
            }
            let next = self.envelope(next).await;
            FinishedAndBegun {
                finished,
                next: Some(next),
            }
        })
    }

    fn quit(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.shared.see(Seen::Quit {
                connection: self.connection,
            });
        })
    }
}

/// A store on tokio's clock with one campaign of `count` recipients
/// (`r0@example.com`, …) and a message, and an account "Test" as `account` says.
struct Fixture {
    _still: Still,
    _dir: tempfile::TempDir,
    db: PathBuf,
    session: Session,
    campaign: CampaignId,
    /// The account's id.
    profile: i64,
    limits: Arc<LiveLimits>,
}

async fn fixture(count: usize, account: AccountSettings) -> Fixture {
    let still = Still::hold();
    let dir = tempfile::tempdir().expect("test step");
    let db = dir.path().join("mailroom.db");
    let store = Store::open_with_clock(&db, Arc::new(TokioClock::at(1_790_000_000_000)))
        .await
        .expect("test step");
    let secrets = SecretStore::EncryptedFile {
        dir: dir.path().to_owned(),
    };
    let session = Session::with_secrets(store, secrets);
    let profile = crate::smtp::account::insert(session.store(), &account)
        .await
        .expect("test step");
    let file = dir.path().join("list.csv");
    let rows: String = (0..count).map(|i| format!("r{i}@example.com\n")).collect();
    std::fs::write(&file, format!("email\n{rows}")).expect("test step");
    let options = ImportOptions::default();
    let source = RecipientSource::open(&file, &options).await.expect("test step");
    let report = crate::import::import(session.store(), source, &options)
        .await
        .expect("test step");
    let campaign = report.campaign.id;
    let draft = MessageDraft {
        subject: "Hello".to_owned(),
        text: Some("Hi".to_owned()),
        ..MessageDraft::default()
    };
    session.save_message(campaign, &draft).await.expect("test step");
    Fixture {
        _still: still,
        _dir: dir,
        db,
        session,
        campaign,
        profile,
        limits: Arc::new(LiveLimits::default()),
    }
}

fn account(connections: u32) -> AccountSettings {
    AccountSettings {
        name: "Test".to_owned(),
        host: "192.0.2.1".to_owned(),
        port: 25,
        security: Security::None,
        auth: AuthMethod::None,
        from_address: Some("news@example.com".to_owned()),
        connections,
        retries: 3,
        ..AccountSettings::default()
    }
}

fn options() -> RunOptions {
    RunOptions {
        retry_base: Duration::from_secs(1),
        retry_cap: Duration::from_secs(4),
        progress_interval: Duration::from_secs(3600),
        ..RunOptions::default()
    }
}

impl Fixture {
    async fn send(&self, connector: &Arc<dyn Connector>, control: RunControl) -> (RunReport, Vec<CampaignEvent>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let events = events.clone();
            Arc::new(move |event: &CampaignEvent| events.lock().expect("test step").push(event.clone()))
        };
        let host = Host {
            store: self.session.store(),
            secrets: self.session.secrets().await,
            limits: &self.limits,
            connector,
            workers: Placement::CallersRuntime,
        };
        let run = super::send(host, self.campaign, &["Test"], options(), control, sink);
        let report = on_paused_clock(run).await.expect("test step");
        let events = events.lock().expect("test step").clone();
        (report, events)
    }

    /// Each recipient's (email, status, attempts), in file order.
    fn recipients(&self) -> Vec<(String, String, u32)> {
        let db = rusqlite::Connection::open(&self.db).expect("test step");
        let mut query = db
            .prepare("SELECT email, status, attempts FROM recipients ORDER BY row_number")
            .expect("test step");
        query
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .expect("test step")
            .collect::<Result<_, _>>()
            .expect("test step")
    }
}

/// Runs `work` on tokio's paused clock, moved by hand [`STEP`] at a time
/// while the runtime is given a moment of real time in between, instead of
/// letting the clock jump to the next timer whenever the runtime waits: the
/// store's queries run on threads of their own, and a jump while one is
/// under way would fire its pool's timeout (and every other timer) at once.
/// (Tokio does not move the clock by itself while the fixture's [`Still`] lives.)
async fn on_paused_clock<F: std::future::Future>(work: F) -> F::Output {
    let step = async {
        loop {
            tokio::time::advance(STEP).await;
            let _ignored = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_micros(100))).await;
        }
    };
    let output = tokio::select! {
        output = work => output,
        () = step => unreachable!("the clock stepped forever"),
    };
    output
}

/// Keeps tokio from moving its paused clock by itself (to the next timer,
/// whenever the runtime waits) while it lives: a blocking task that runs
/// until this is dropped does. The store's queries run on threads of their
/// own, and a jump while one is under way would fire its pool's timeout.
struct Still {
    _hold: std::sync::mpsc::Sender<()>,
}

impl Still {
    fn hold() -> Still {
        let (hold, held) = std::sync::mpsc::channel::<()>();
        tokio::task::spawn_blocking(move || {
            let _ignored = held.recv();
        });
        Still { _hold: hold }
    }
}

/// How far [`on_paused_clock`] moves the clock at a time.
const STEP: Duration = Duration::from_millis(2);

/// The run's connector; the test keeps `scripted` to read what it saw.
fn connector(scripted: &Arc<Scripted>) -> Arc<dyn Connector> {
    scripted.clone()
}

fn all(fixture: &Fixture, status: &str) -> bool {
    fixture.recipients().iter().all(|(_, s, _)| s == status)
}

#[tokio::test(start_paused = true)]
async fn a_recipient_is_sending_in_the_file_before_its_content_and_one_per_connection() {
    let fixture = fixture(5, account(1)).await;
    let scripted = Arc::new(Scripted::new(&fixture.db, true, Vec::new()));
    let (report, _) = fixture.send(&connector(&scripted), RunControl::default()).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    assert!(all(&fixture, "sent"), "{:?}", fixture.recipients());
    let contents: Vec<_> = scripted
        .seen()
        .into_iter()
        .filter(|seen| matches!(seen, Seen::Content { .. }))
        .collect();
    assert_eq!(contents.len(), 5, "{contents:?}");
    for seen in &contents {
        let Seen::Content { status, sending, .. } = seen else {
            unreachable!()
        };
        // Claimed in the file before any byte of its content, and the only
        // one `sending` on the run's one connection.
        assert_eq!(status, "sending", "{seen:?}");
        assert_eq!(*sending, 1, "{seen:?}");
    }
    // Pipelined: each envelope after the first rode with the previous
    // content, all on the one connection, in file order.
    let envelopes = scripted.envelopes();
    let expected: Vec<_> = (0..5).map(|i| (1, format!("r{i}@example.com"))).collect();
    assert_eq!(envelopes, expected);
    assert_eq!(scripted.contents(), expected);
    for (_, _, attempts) in fixture.recipients() {
        assert_eq!(attempts, 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_pause_while_the_next_envelope_is_open_gives_that_recipient_back_unclaimed() {
    let fixture = fixture(
        3,
        AccountSettings {
            // An hour's window: the clock here steps ahead of real time, and
            // no store delay may carry a run past it.
            per_hour: Some(2),
            ..account(1)
        },
    )
    .await;
    let control = RunControl::default();
    // The account's live limits are kept past the run, as another run on
    // the account would keep them: the next run joins them as they are.
    let kept = Arc::new(Mutex::new(None));
    let pause = {
        let (control, kept, limits, profile) = (control.clone(), kept.clone(), fixture.limits.clone(), fixture.profile);
        Arc::new(move || {
            control.pause();
            let live = limits.account(profile, || Err(crate::error::Error::Internal("no run".to_owned())));
            *kept.lock().expect("test step") = Some(live.expect("the run's limits").0);
        }) as Arc<dyn Fn() + Send + Sync>
    };
    // r0's envelope, then r0's content (r1's envelope rides with it): the
    // person pauses as r0's answer comes.
    let script = Script {
        pipelining: true,
        answers: vec![Answer::Accept, Answer::Then(pause, Box::new(Answer::Accept))],
    };
    let scripted = Arc::new(Scripted::new(&fixture.db, true, vec![script]));
    let (report, _) = fixture.send(&connector(&scripted), control).await;
    assert_eq!(report.outcome, RunOutcome::Paused, "{report:?}");
    assert_eq!(
        scripted.envelopes(),
        [(1, "r0@example.com".to_owned()), (1, "r1@example.com".to_owned())],
        "r1's envelope went out with r0's content"
    );
    assert_eq!(scripted.contents(), [(1, "r0@example.com".to_owned())]);
    assert_eq!(
        fixture.recipients(),
        [
            ("r0@example.com".to_owned(), "sent".to_owned(), 1),
            // Back unclaimed, no attempt used.
            ("r1@example.com".to_owned(), "pending".to_owned(), 0),
            ("r2@example.com".to_owned(), "pending".to_owned(), 0),
        ]
    );
    // Its transaction is dropped with the connection, not QUIT (which the
    // server would take for its content).
    assert!(!scripted.seen().contains(&Seen::Quit { connection: 1 }));

    // Its quota place came back: of the 2 an hour, the account's live
    // limits count r0's only, so one more goes now, and then no more.
    let limits = kept.lock().expect("test step").take().expect("the run's limits");
    let now = fixture.session.store().now_ms();
    let mut quotas = limits.quotas.lock().await;
    assert!(quotas.take(now).is_ok(), "r1's place was kept");
    assert!(quotas.take(now).is_err(), "r0's place was returned too");
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_after_content_gives_the_look_ahead_back_with_its_quota_slot() {
    let fixture = fixture(
        2,
        AccountSettings {
            // An hour's window: the clock here steps ahead of real time, and
            // no store delay may carry a run past it.
            per_hour: Some(2),
            ..account(1)
        },
    )
    .await;
    // r0's content (with r1's envelope) gets no answer: the connection is gone.
    let script = Script {
        pipelining: true,
        answers: vec![Answer::Accept, Answer::DropAfterContent],
    };
    let scripted = Arc::new(Scripted::new(&fixture.db, true, vec![script]));
    let (report, events) = fixture.send(&connector(&scripted), RunControl::default()).await;
    // r0 may have it: a person decides.
    assert_eq!(report.outcome, RunOutcome::Paused, "{report:?}");
    assert_eq!(
        fixture.recipients(),
        [
            ("r0@example.com".to_owned(), "uncertain".to_owned(), 1),
            // Given back unclaimed, sent on a new connection with its first attempt.
            ("r1@example.com".to_owned(), "sent".to_owned(), 1),
        ]
    );
    assert_eq!(
        scripted.envelopes(),
        [
            (1, "r0@example.com".to_owned()),
            (1, "r1@example.com".to_owned()),
            (2, "r1@example.com".to_owned()),
        ]
    );
    assert_eq!(
        scripted.contents(),
        [(1, "r0@example.com".to_owned()), (2, "r1@example.com".to_owned())]
    );
    // Its quota place came back with it: with 2 an hour, r0's and r1's, r1
    // did not wait for the next hour.
    assert!(
        !events.iter().any(|e| matches!(e, CampaignEvent::QuotaWait { .. })),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_421_closes_its_connection_only_and_nobody_is_lost_or_sent_twice() {
    let fixture = fixture(8, account(2)).await;
    // The first connection carries one message, then answers the second's
    // content with 421 and closes; the others accept everything.
    let closing = Script {
        pipelining: false,
        answers: vec![
            Answer::Accept,
            Answer::Accept,
            Answer::Accept,
            Answer::After(
                Duration::from_millis(50),
                Box::new(Answer::Reply(421, "4.3.2 service shutting down")),
            ),
        ],
    };
    let scripted = Arc::new(Scripted::new(&fixture.db, false, vec![closing]));
    let (report, _) = fixture.send(&connector(&scripted), RunControl::default()).await;
    assert_eq!(report.outcome, RunOutcome::Completed, "{report:?}");
    let recipients = fixture.recipients();
    assert!(all(&fixture, "sent"), "{recipients:?}");
    let contents = scripted.contents();
    // Refused on connection 1: which recipient that was.
    let refused = contents
        .iter()
        .filter(|(connection, _)| *connection == 1)
        .nth(1)
        .map(|(_, to)| to.clone())
        .expect("connection 1 carried two contents");
    for (email, _, attempts) in &recipients {
        let times = contents.iter().filter(|(_, to)| to == email).count();
        if *email == refused {
            // Retried once, on another connection, after its backoff.
            assert_eq!((times, *attempts), (2, 2), "{email}: {contents:?}");
        } else {
            assert_eq!((times, *attempts), (1, 1), "{email}: {contents:?}");
        }
    }
    // Connection 1 carried nothing after its 421; connection 2 was not
    // closed by it and kept sending.
    assert_eq!(contents.iter().filter(|(c, _)| *c == 1).count(), 2, "{contents:?}");
    let seen = scripted.seen();
    let refused_at = seen
        .iter()
        .position(|s| matches!(s, Seen::Content { connection: 1, to, .. } if *to == refused))
        .expect("test step");
    assert!(
        seen[refused_at..]
            .iter()
            .any(|s| matches!(s, Seen::Content { connection: 2, .. })),
        "connection 2 stopped with connection 1: {seen:?}"
    );
    assert!(
        seen.contains(&Seen::Opened { connection: 3 }),
        "no new connection: {seen:?}"
    );
    // Each content went out claimed, with at most one `sending` per connection.
    for seen in &seen {
        if let Seen::Content { status, sending, .. } = seen {
            assert_eq!(status, "sending", "{seen:?}");
            assert!(*sending <= 2, "{seen:?}");
        }
    }
}
