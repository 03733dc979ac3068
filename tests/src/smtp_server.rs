//! The scripted SMTP test server: the engine's ESMTP server with a policy
//! that injects the faults real providers produce — 454 throttling above a
//! rate, 421 and close after N messages on a connection, a reset after DATA
//! at a seeded probability, an answer to the content that trickles in or
//! never comes in time (a frozen server), 451 to a burst of RCPTs, a black
//! hole that never greets, slow replies, 550 for chosen recipients, 535 for
//! wrong credentials, STARTTLS or implicit TLS with a self-signed
//! certificate, a server that goes down after N messages. It records every
//! message it received, so tests can check "everyone got it, nobody twice".

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mailroom_engine::smtp::Stage;
use mailroom_engine::smtp::server::{self, Action, Envelope, Event, Policy, ServerConfig};
use mailroom_engine::smtp::tls::self_signed_server_config;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What the server does wrong. `Script::default()` is a well-behaved server.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Answer `454 Throttling failure` to MAIL FROM when this many MAIL
    /// FROMs were accepted in the last second: at most N a second get through.
    pub throttle_above_per_second: Option<usize>,
    /// Answer `421` and close after this many messages on one connection.
    pub close_after_messages: Option<u32>,
    /// Reset the connection after receiving a message's DATA, with this
    /// probability, from this seed. The message counts as received: a reset
    /// after DATA is ambiguous, as in life.
    pub reset_after_data: Option<(f64, u64)>,
    /// Accept the TCP connection and never say a word.
    pub black_hole: bool,
    /// Wait this long before every reply, the greeting included.
    pub slow_replies: Option<Duration>,
    /// Answer `550 5.1.1` to these recipients.
    pub reject_recipients: HashSet<String>,
    /// Require this user name and password (535 otherwise; 530 without login).
    pub credentials: Option<(String, String)>,
    /// Offer STARTTLS with a self-signed certificate.
    pub starttls: bool,
    /// Speak TLS from the first byte (as on port 465), self-signed.
    pub implicit_tls: bool,
    /// Advertise this SIZE limit in EHLO (and refuse larger messages with 552).
    pub max_message_size: Option<usize>,
    /// Answer a message's content (`250`, the message kept) one byte at a
    /// time, this long apart: later than a client's message timeout.
    pub trickle_after_data: Option<Duration>,
    /// Say nothing for this long after a message's content, then `250` (the
    /// message kept), as a server stopped with SIGSTOP and continued.
    pub freeze_after_data: Option<Duration>,
    /// The faults after a message's content (reset, trickle, freeze) hit
    /// only the first this many messages; later ones are answered at once.
    pub after_data_faults_for_first: Option<usize>,
    /// Answer `451 4.3.0` (a temporary local problem, not throttling) to the
    /// first this many RCPTs.
    pub busy_rcpt_first: Option<usize>,
    /// Once this many messages were received, answer the next MAIL FROMs
    /// with these replies ("CODE TEXT", as a provider says them), one each,
    /// in order; then behave again. For replaying providers' real replies.
    pub replay_at_mail: Option<(usize, Vec<String>)>,
    /// Answer the first connections at `stage` (the greeting, EHLO or
    /// AUTH) with these replies ("CODE TEXT"), one connection each, in
    /// order; then behave again. A reply at the greeting, and any 421,
    /// closes the connection, as providers do. For replaying providers'
    /// refusals of a connection as it opens.
    pub replay_at_open: Option<(Stage, Vec<String>)>,
    /// Answer these recipients' RCPTs with these replies, one per attempt
    /// in order (a 421 also closes the connection); once a list is used up,
    /// that recipient is accepted.
    pub rcpt_sequence: HashMap<String, Vec<(u16, String)>>,
    /// Answer every RCPT of these recipients with this reply (a 4xx that
    /// never clears, a 5xx that is not "no such user").
    pub answer_recipients: HashMap<String, (u16, String)>,
    /// Once this many messages were received, reset every new connection
    /// as it opens: a server that went down between connections (nothing
    /// is in flight, so nothing is ambiguous).
    pub down_after_messages: Option<usize>,
}

/// A message the server received: accepted, or kept without an answer in
/// time, or received before a reset.
#[derive(Debug, Clone)]
pub struct Received {
    pub session: u64,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
    /// The server reset the connection instead of answering 250.
    pub reset: bool,
    /// Its answer came late (trickled or frozen): the client may have
    /// given up on it, though the server has it.
    pub late: bool,
    /// When the message arrived (tokio time, so paused clocks work too).
    pub at: Instant,
}

/// A running scripted server; stopped when dropped.
#[derive(Debug)]
pub struct ScriptedServer {
    pub addr: SocketAddr,
    state: Arc<ScriptState>,
    shutdown: CancellationToken,
}

impl ScriptedServer {
    /// Starts the server on a free loopback port.
    pub async fn start(script: Script) -> ScriptedServer {
        Self::start_on(script, 0).await
    }

    /// Starts the server on `port` of loopback (0: any free port), e.g. one
    /// that refused connections until now.
    pub async fn start_on(script: Script, port: u16) -> ScriptedServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap_or_else(|e| panic!("cannot bind the test server: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("test server address: {e}"));
        let tls = (script.starttls || script.implicit_tls).then(|| {
            self_signed_server_config(&["localhost", "127.0.0.1"]).unwrap_or_else(|e| panic!("test certificate: {e}"))
        });
        let config = ServerConfig {
            hostname: "scripted.test".to_owned(),
            tls,
            implicit_tls: script.implicit_tls,
            ..ServerConfig::default()
        };
        let config = ServerConfig {
            max_message_size: script.max_message_size.unwrap_or(config.max_message_size),
            ..config
        };
        let replays = script.replay_at_mail.clone().map(|(_, r)| r.into()).unwrap_or_default();
        let open_replays = script.replay_at_open.clone().map(|(_, r)| r.into()).unwrap_or_default();
        let state = Arc::new(ScriptState {
            seed: Mutex::new(script.reset_after_data.map_or(1, |(_, seed)| seed.max(1))),
            script,
            received: Mutex::new(Vec::new()),
            recent: Mutex::new(VecDeque::new()),
            per_session: Mutex::new(HashMap::new()),
            rcpts: Mutex::new(0),
            replays: Mutex::new(replays),
            open_replays: Mutex::new(open_replays),
            rcpts_of: Mutex::new(HashMap::new()),
            throttle_replies: Mutex::new(0),
        });
        let shutdown = CancellationToken::new();
        tokio::spawn(server::serve(listener, config, state.clone(), shutdown.clone()));
        ScriptedServer { addr, state, shutdown }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state.received).clone()
    }

    /// How many times it answered `454 Throttling failure`.
    pub fn throttle_replies(&self) -> usize {
        *lock(&self.state.throttle_replies)
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A loopback port where nothing listens: connecting is refused.
pub async fn refused_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap_or_else(|e| panic!("cannot bind: {e}"));
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("address: {e}"));
    drop(listener);
    port
}

#[derive(Debug)]
struct ScriptState {
    script: Script,
    seed: Mutex<u64>,
    received: Mutex<Vec<Received>>,
    /// When recent MAIL FROMs were accepted, for the throttle.
    recent: Mutex<VecDeque<Instant>>,
    /// Messages per session, for "421 after N".
    per_session: Mutex<HashMap<u64, u32>>,
    /// RCPTs seen, for the busy burst.
    rcpts: Mutex<usize>,
    /// The replies still to replay at MAIL FROM.
    replays: Mutex<VecDeque<String>>,
    /// The replies still to replay as connections open.
    open_replays: Mutex<VecDeque<String>>,
    /// RCPTs seen per address, for `rcpt_sequence`.
    rcpts_of: Mutex<HashMap<String, usize>>,
    /// 454 throttling replies given.
    throttle_replies: Mutex<usize>,
}

/// A poisoned lock only means another test thread panicked; the data is fine.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ScriptState {
    fn slow(&self, action: Action) -> Action {
        match self.script.slow_replies {
            Some(delay) => Action::Delay(delay, Box::new(action)),
            None => action,
        }
    }

    /// splitmix64: a seeded, reproducible coin.
    fn next_unit(&self) -> f64 {
        let mut seed = lock(&self.seed);
        *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Policy for ScriptState {
    fn on_event(&self, session: u64, event: &Event<'_>) -> Action {
        let script = &self.script;
        if matches!(event, Event::Connect { .. })
            && script
                .down_after_messages
                .is_some_and(|after| lock(&self.received).len() >= after)
        {
            return Action::Reset;
        }
        let at_open = match event {
            Event::Connect { .. } => Some(Stage::Greeting),
            Event::Ehlo { .. } => Some(Stage::Ehlo),
            Event::Command { line } if line.to_ascii_uppercase().starts_with("AUTH") => Some(Stage::Auth),
            _ => None,
        };
        if let (Some(stage), Some((replay_stage, _))) = (at_open, &script.replay_at_open)
            && stage == *replay_stage
            && let Some(reply) = lock(&self.open_replays).pop_front()
        {
            let (code, text) = reply.split_once(' ').unwrap_or((reply.as_str(), ""));
            let code = code.parse().unwrap_or(421);
            return if code == 421 || stage == Stage::Greeting {
                Action::ReplyAndClose(code, text.to_owned())
            } else {
                Action::Reply(code, text.to_owned())
            };
        }
        let action = match event {
            Event::Connect { .. } if script.black_hole => return Action::Silence,
            Event::MailFrom { .. } => {
                if let Some((after, _)) = &script.replay_at_mail
                    && lock(&self.received).len() >= *after
                    && let Some(reply) = lock(&self.replays).pop_front()
                {
                    let (code, text) = reply.split_once(' ').unwrap_or((reply.as_str(), ""));
                    return Action::Reply(code.parse().unwrap_or(451), text.to_owned());
                }
                if let Some(limit) = script.close_after_messages
                    && lock(&self.per_session).get(&session).copied().unwrap_or(0) >= limit
                {
                    return self.slow(Action::ReplyAndClose(
                        421,
                        "4.7.0 Too many messages on this connection, closing".to_owned(),
                    ));
                }
                if let Some(limit) = script.throttle_above_per_second {
                    let mut recent = lock(&self.recent);
                    let now = Instant::now();
                    while recent
                        .front()
                        .is_some_and(|&t| now.duration_since(t) >= Duration::from_secs(1))
                    {
                        recent.pop_front();
                    }
                    if recent.len() >= limit {
                        *lock(&self.throttle_replies) += 1;
                        return self.slow(Action::Reply(
                            454,
                            "4.7.0 Throttling failure: Maximum sending rate exceeded.".to_owned(),
                        ));
                    }
                    // Counted when its MAIL is accepted, as Postfix's anvil
                    // and SES count a message: counted on delivery, a client
                    // that pipelines the next MAIL with this content would
                    // meet a limit one message lower than N/s.
                    recent.push_back(now);
                }
                Action::Proceed
            }
            Event::RcptTo { address } if script.answer_recipients.contains_key(*address) => {
                let (code, text) = script.answer_recipients[*address].clone();
                Action::Reply(code, text)
            }
            Event::RcptTo { address } if script.rcpt_sequence.contains_key(*address) => {
                let mut seen = lock(&self.rcpts_of);
                let count = seen.entry((*address).to_owned()).or_default();
                let reply = script.rcpt_sequence[*address].get(*count).cloned();
                *count += 1;
                match reply {
                    Some((421, text)) => Action::ReplyAndClose(421, text),
                    Some((code, text)) => Action::Reply(code, text),
                    None => Action::Proceed,
                }
            }
            Event::RcptTo { address } if script.reject_recipients.contains(*address) => Action::Reply(
                550,
                format!("5.1.1 <{address}>: Recipient address rejected: User unknown"),
            ),
            Event::RcptTo { .. }
                if script.busy_rcpt_first.is_some_and(|first| {
                    let mut seen = lock(&self.rcpts);
                    *seen += 1;
                    *seen <= first
                }) =>
            {
                Action::Reply(451, "4.3.0 Temporary local problem, please retry".to_owned())
            }
            _ => Action::Proceed,
        };
        self.slow(action)
    }

    fn authenticate(&self, user: &str, password: &str) -> bool {
        self.script
            .credentials
            .as_ref()
            .is_none_or(|(u, p)| u == user && p == password)
    }

    fn requires_auth(&self) -> bool {
        self.script.credentials.is_some()
    }

    async fn deliver(&self, envelope: Envelope, data: Vec<u8>) -> Action {
        let script = &self.script;
        let faulty = script
            .after_data_faults_for_first
            .is_none_or(|first| lock(&self.received).len() < first);
        let reset = faulty
            && script
                .reset_after_data
                .is_some_and(|(probability, _)| self.next_unit() < probability);
        let late = match (script.trickle_after_data, script.freeze_after_data) {
            _ if reset || !faulty => None,
            (Some(pause), _) => Some(Action::Trickle(pause)),
            (None, Some(frozen)) => Some(Action::Delay(frozen, Box::new(Action::Proceed))),
            (None, None) => None,
        };
        *lock(&self.per_session).entry(envelope.session).or_default() += 1;
        lock(&self.received).push(Received {
            session: envelope.session,
            mail_from: envelope.mail_from,
            rcpt_to: envelope.rcpt_to,
            data,
            reset,
            late: late.is_some(),
            at: Instant::now(),
        });
        if reset {
            Action::Reset
        } else if let Some(late) = late {
            late
        } else {
            self.slow(Action::Proceed)
        }
    }
}
