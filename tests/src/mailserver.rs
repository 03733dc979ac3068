//! Real mail servers for the bounce tests, from Debian's packages, each in a
//! temporary folder of its own on loopback ports: Dovecot (IMAP, IMAPS with a
//! fresh self-signed certificate, and LMTP) with one user and a Maildir, and
//! Postfix, which accepts every recipient from Mailroom, relays to a second
//! listener of its own that refuses unknown users (`550 5.1.1 … User unknown
//! in virtual mailbox table`, as a final hop does), and delivers its RFC 3464
//! notices to the Dovecot user by LMTP. [`ThrottlingPostfix`] is a relay that
//! limits each client's message rate with anvil
//! (`smtpd_client_message_rate_limit` per `anvil_rate_time_unit`, answering
//! `450 4.7.1 Error: too much mail from …` above it) and discards what it
//! accepts, for the rate tests (issue 19).
//!
//! Dovecot runs as the test's user when that is not root, and drops to
//! `nobody` for mail and to its own `dovecot`/`dovenull` users when it is.
//! Postfix's master needs root (CI runs as root). Neither touches the
//! system's configuration or services. A server that cannot start is a test
//! failure with its log, never a skip.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A free loopback port (bound and released: the server binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn id_of(user: &str, flag: &str) -> String {
    let out = Command::new("id")
        .args([flag, user])
        .output()
        .unwrap_or_else(|e| panic!("cannot run id: {e}"));
    assert!(
        out.status.success(),
        "no system user {user}: install Debian's dovecot-imapd (scripts/setup.sh)"
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn current(flag: &str) -> String {
    let out = Command::new("id")
        .arg(flag)
        .output()
        .unwrap_or_else(|e| panic!("cannot run id: {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn chown(path: &Path, owner: &str) {
    let status = Command::new("chown")
        .args(["-R", owner])
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("cannot run chown: {e}"));
    assert!(status.success(), "chown {owner} {}", path.display());
}

fn wait_for_greeting(port: u16, expect: &str, log: &Path, what: &str) {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut line = String::new();
            if BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with(expect) {
                return;
            }
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} did not start listening on 127.0.0.1:{port} within {START_TIMEOUT:?}; its log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running Dovecot with one user.
#[derive(Debug)]
pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub lmtp_port: u16,
    pub user: String,
    pub password: String,
    config: PathBuf,
    child: Child,
    mail_owner: String,
}

impl Dovecot {
    /// Starts Dovecot for `user` (an address) with `password`.
    pub fn start(user: &str, password: &str) -> Dovecot {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let root = dir.path();
        for sub in ["run", "state", "mail"] {
            std::fs::create_dir_all(root.join(sub)).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        let (imap_port, imaps_port, lmtp_port) = (free_port(), free_port(), free_port());
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        std::fs::write(root.join("cert.pem"), certified.cert.pem()).unwrap_or_else(|e| panic!("write: {e}"));
        std::fs::write(root.join("key.pem"), certified.signing_key.serialize_pem())
            .unwrap_or_else(|e| panic!("write: {e}"));
        std::fs::write(root.join("users"), format!("{user}:{{PLAIN}}{password}::::::\n"))
            .unwrap_or_else(|e| panic!("write: {e}"));
        let root_user = is_root();
        // As root, mail belongs to nobody and Dovecot's helpers run as its
        // own users; otherwise everything is the test's user.
        let (uid, gid, internal, login, mail_owner) = if root_user {
            (
                id_of("nobody", "-u"),
                id_of("nobody", "-g"),
                "dovecot".to_owned(),
                "dovenull".to_owned(),
                "nobody:".to_owned() + &id_of("nobody", "-g"),
            )
        } else {
            let me = current("-un");
            (current("-u"), current("-g"), me.clone(), me, String::new())
        };
        let config = format!(
            "protocols = imap lmtp
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
mail_location = maildir:{root}/mail/%u
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
",
            root = root.display()
        );
        let config_path = root.join("dovecot.conf");
        std::fs::write(&config_path, config).unwrap_or_else(|e| panic!("write: {e}"));
        if root_user {
            // Dovecot's helpers and the mail owner must reach their files.
            let mut perms = std::fs::metadata(root)
                .map(|m| m.permissions())
                .unwrap_or_else(|e| panic!("stat: {e}"));
            std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
            std::fs::set_permissions(root, perms).unwrap_or_else(|e| panic!("chmod: {e}"));
            chown(&root.join("mail"), &mail_owner);
        }
        let started = Instant::now();
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run dovecot ({e}); install Debian's dovecot-imapd and dovecot-lmtpd (scripts/setup.sh)")
            });
        let dovecot = Dovecot {
            dir,
            imap_port,
            imaps_port,
            lmtp_port,
            user: user.to_owned(),
            password: password.to_owned(),
            config: config_path,
            child,
            mail_owner,
        };
        let log = dovecot.dir.path().join("dovecot.log");
        wait_for_greeting(imap_port, "* OK", &log, "Dovecot (IMAP)");
        wait_for_greeting(lmtp_port, "220", &log, "Dovecot (LMTP)");
        eprintln!("Dovecot started in {:?}", started.elapsed());
        dovecot
    }

    /// The user's Maildir.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail").join(&self.user)
    }

    /// Messages delivered to the user's INBOX so far.
    pub fn message_count(&self) -> usize {
        ["new", "cur"]
            .iter()
            .map(|sub| std::fs::read_dir(self.maildir().join(sub)).map_or(0, |d| d.count()))
            .sum()
    }

    /// Waits until the INBOX holds `count` messages.
    pub fn wait_for_messages(&self, count: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.message_count() < count {
            assert!(
                Instant::now() < deadline,
                "the mailbox has {} of {count} messages after {within:?}",
                self.message_count()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Delivers `message` to the user by LMTP, as a mail server would.
    pub fn deliver(&self, message: &[u8]) {
        let stream = TcpStream::connect(("127.0.0.1", self.lmtp_port)).unwrap_or_else(|e| panic!("LMTP: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let mut reader = BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("clone: {e}")));
        let mut writer = stream;
        let mut expect = |code: &str| {
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap_or_else(|e| panic!("LMTP read: {e}"));
                assert!(line.starts_with(code), "LMTP: expected {code}, got {line:?}");
                if line.as_bytes().get(3) != Some(&b'-') {
                    break;
                }
            }
        };
        expect("220");
        for (line, code) in [
            ("LHLO test.local\r\n".to_owned(), "250"),
            ("MAIL FROM:<>\r\n".to_owned(), "250"),
            (format!("RCPT TO:<{}>\r\n", self.user), "250"),
            ("DATA\r\n".to_owned(), "354"),
        ] {
            writer
                .write_all(line.as_bytes())
                .unwrap_or_else(|e| panic!("LMTP write: {e}"));
            expect(code);
        }
        let mut body = Vec::with_capacity(message.len() + 64);
        for line in message.split_inclusive(|&b| b == b'\n') {
            if line.first() == Some(&b'.') {
                body.push(b'.');
            }
            body.extend_from_slice(line);
        }
        if !body.ends_with(b"\n") {
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b".\r\n");
        writer.write_all(&body).unwrap_or_else(|e| panic!("LMTP write: {e}"));
        expect("250");
        writer.write_all(b"QUIT\r\n").ok();
    }

    /// Gives the INBOX a new UIDVALIDITY (every UID changes), as a server
    /// does after its index is rebuilt.
    pub fn change_uid_validity(&self, to: u32) {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&self.config)
            .args([
                "mailbox",
                "update",
                "-u",
                &self.user,
                "--uid-validity",
                &to.to_string(),
                "INBOX",
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run doveadm: {e}"));
        assert!(
            out.status.success(),
            "doveadm mailbox update: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Dovecot's log (what each IMAP session read and wrote).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Writes `count` messages straight into the Maildir (for benchmarks):
    /// `make(i)` gives the i-th. Dovecot indexes them on the next SELECT.
    pub fn fill_maildir(&self, count: usize, mut make: impl FnMut(usize) -> Vec<u8>) {
        let cur = self.maildir().join("cur");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(self.maildir().join(sub)).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        for i in 0..count {
            let message = make(i);
            // S= is the file's size: Dovecot trusts it, and a wrong one is a
            // broken mailbox it drops the connection over mid-FETCH.
            let name = format!("{}.M{i}P1.bench,S={}:2,S", 1_700_000_000 + i, message.len());
            std::fs::write(cur.join(name), message).unwrap_or_else(|e| panic!("write: {e}"));
        }
        if !self.mail_owner.is_empty() {
            chown(&self.maildir(), &self.mail_owner);
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM: Dovecot's master stops its children and exits.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running Postfix: Mailroom sends to `port`; mail for `example.test` goes
/// on to the final hop on `final_port`, which knows only `known` users.
#[derive(Debug)]
pub struct Postfix {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub final_port: u16,
}

impl Postfix {
    /// Starts Postfix: `known` are the users of `example.test` the final hop
    /// accepts; notices for `sender_domain` go to `dovecot` by LMTP.
    pub fn start(known: &[String], sender_domain: &str, dovecot: &Dovecot) -> Postfix {
        assert!(
            is_root(),
            "Postfix's master runs as root: run the bounce end-to-end tests as root (CI does)"
        );
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let root = dir.path();
        let (config, queue, data) = (root.join("etc"), root.join("queue"), root.join("data"));
        for d in [&config, &queue, &data] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        chown(&data, "postfix");
        let (port, final_port) = (free_port(), free_port());
        let main = format!(
            "compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.relay.test
mydomain = relay.test
myorigin = relay.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = example.test
virtual_mailbox_maps = texthash:{etc}/known
transport_maps = texthash:{etc}/transport
smtp_dns_support_level = disabled
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
alias_maps =
alias_database =
local_recipient_maps =
biff = no
default_destination_rate_delay = 0
",
            queue = queue.display(),
            data = data.display(),
            etc = config.display(),
            root = root.display(),
        );
        std::fs::write(config.join("main.cf"), main).unwrap_or_else(|e| panic!("write: {e}"));
        let known_map: String = known.iter().map(|u| format!("{u} ok\n")).collect();
        std::fs::write(config.join("known"), known_map).unwrap_or_else(|e| panic!("write: {e}"));
        std::fs::write(
            config.join("transport"),
            format!(
                "example.test smtp:[127.0.0.1]:{final_port}\n{sender_domain} lmtp:inet:127.0.0.1:{}\n",
                dovecot.lmtp_port
            ),
        )
        .unwrap_or_else(|e| panic!("write: {e}"));
        // The first listener takes every recipient (as a submission server
        // does); the second is the final hop: it refuses unknown users at
        // RCPT and drops what it accepts.
        let master = format!(
            "127.0.0.1:{port} inet n - n - - smtpd -o smtpd_reject_unlisted_recipient=no
127.0.0.1:{final_port} inet n - n - - smtpd -o content_filter=discard:
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
        );
        std::fs::write(config.join("master.cf"), master).unwrap_or_else(|e| panic!("write: {e}"));
        let started = Instant::now();
        let out = Command::new("postfix")
            .arg("-c")
            .arg(&config)
            .arg("start")
            .output()
            .unwrap_or_else(|e| panic!("cannot run postfix ({e}); install Debian's postfix (scripts/setup.sh)"));
        let postfix = Postfix { dir, port, final_port };
        let log = postfix.dir.path().join("maillog");
        assert!(
            out.status.success(),
            "postfix start failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        wait_for_greeting(port, "220", &log, "Postfix");
        wait_for_greeting(final_port, "220", &log, "Postfix (final hop)");
        eprintln!("Postfix started in {:?}", started.elapsed());
        postfix
    }

    /// Postfix's mail log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Sends `message` from `from` to `to` through the first listener.
    pub fn submit(&self, from: &str, to: &str, message: &str) {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap_or_else(|e| panic!("SMTP: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        let mut reader = BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("clone: {e}")));
        let mut writer = stream;
        let mut reply = String::new();
        let mut expect = |code: &str| loop {
            reply.clear();
            reader
                .read_line(&mut reply)
                .unwrap_or_else(|e| panic!("SMTP read: {e}"));
            assert!(reply.starts_with(code), "SMTP: expected {code}, got {reply:?}");
            if reply.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        };
        expect("220");
        for (line, code) in [
            ("EHLO test.local\r\n".to_owned(), "250"),
            (format!("MAIL FROM:<{from}>\r\n"), "250"),
            (format!("RCPT TO:<{to}>\r\n"), "250"),
            ("DATA\r\n".to_owned(), "354"),
        ] {
            writer
                .write_all(line.as_bytes())
                .unwrap_or_else(|e| panic!("SMTP write: {e}"));
            expect(code);
        }
        let body = message.replace("\r\n", "\n").replace('\n', "\r\n");
        writer
            .write_all(format!("{body}\r\n.\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("SMTP write: {e}"));
        expect("250");
        writer.write_all(b"QUIT\r\n").ok();
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
    }
}

/// A running Postfix relay that lets each client make at most `limit`
/// message delivery requests (MAIL FROMs, refused ones included) per anvil
/// window, and discards every message it accepts, logging each recipient.
///
/// anvil's window is counted in whole seconds: it opens at the second S of
/// the first request after the last one closed and closes after second
/// S + `unit` (`start + unit < now`), so it spans `unit + 1` seconds. A
/// client sending evenly gets `limit / (unit + 1)` messages a second.
#[derive(Debug)]
pub struct ThrottlingPostfix {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub limit: u32,
    pub unit_seconds: u32,
}

impl ThrottlingPostfix {
    pub fn start(limit: u32, unit_seconds: u32) -> ThrottlingPostfix {
        assert!(
            is_root(),
            "Postfix's master runs as root: run the rate tests as root (CI does)"
        );
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let root = dir.path();
        let (config, queue, data) = (root.join("etc"), root.join("queue"), root.join("data"));
        for d in [&config, &queue, &data] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        chown(&data, "postfix");
        let port = free_port();
        // Loopback is in mynetworks, which anvil's limits exempt by default
        // (smtpd_client_event_limit_exceptions): emptied, so they apply.
        let main = format!(
            "compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.relay.test
mydomain = relay.test
myorigin = relay.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_client_event_limit_exceptions =
smtpd_client_message_rate_limit = {limit}
anvil_rate_time_unit = {unit_seconds}s
default_transport = discard:
relay_transport = discard:
smtp_dns_support_level = disabled
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
alias_maps =
alias_database =
local_recipient_maps =
biff = no
",
            queue = queue.display(),
            data = data.display(),
            root = root.display(),
        );
        std::fs::write(config.join("main.cf"), main).unwrap_or_else(|e| panic!("write: {e}"));
        let master = format!(
            "127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
        );
        std::fs::write(config.join("master.cf"), master).unwrap_or_else(|e| panic!("write: {e}"));
        let out = Command::new("postfix")
            .arg("-c")
            .arg(&config)
            .arg("start")
            .output()
            .unwrap_or_else(|e| panic!("cannot run postfix ({e}); install Debian's postfix (scripts/setup.sh)"));
        let postfix = ThrottlingPostfix {
            dir,
            port,
            limit,
            unit_seconds,
        };
        let log = postfix.dir.path().join("maillog");
        assert!(
            out.status.success(),
            "postfix start failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        wait_for_greeting(port, "220", &log, "Postfix");
        postfix
    }

    /// The messages a second it allows a client sending evenly.
    pub fn allowed_per_second(&self) -> f64 {
        f64::from(self.limit) / f64::from(self.unit_seconds + 1)
    }

    /// Postfix's mail log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// How many `450 4.7.1 Error: too much mail` replies it gave (smtpd
    /// logs each as a warning before it answers).
    pub fn throttle_replies(&self) -> usize {
        self.log()
            .matches("Message delivery request rate limit exceeded")
            .count()
    }

    /// How many times each recipient's message was accepted and discarded,
    /// once the log shows at least `expected` (waiting up to 60 s for the
    /// queue to drain).
    pub fn discarded_per_recipient(&self, expected: usize) -> std::collections::HashMap<String, usize> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut counts = std::collections::HashMap::new();
            for line in self
                .log()
                .lines()
                .filter(|l| l.contains("status=sent") && l.contains("relay=none"))
            {
                if let Some(to) = line.split("to=<").nth(1).and_then(|rest| rest.split('>').next()) {
                    *counts.entry(to.to_owned()).or_default() += 1;
                }
            }
            if counts.values().sum::<usize>() >= expected || Instant::now() > deadline {
                return counts;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for ThrottlingPostfix {
    fn drop(&mut self) {
        stop_postfix(self.dir.path());
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        stop_postfix(self.dir.path());
    }
}

/// Stops the Postfix whose folder is `dir` and waits for its master to go.
fn stop_postfix(dir: &Path) {
    let config = dir.join("etc");
    // `abort` stops master and its children at once; the queue is thrown away with the folder.
    let _ = Command::new("postfix").arg("-c").arg(&config).arg("abort").output();
    let pid_file = dir.join("queue/pid/master.pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
        let pid = pid.trim();
        if pid.is_empty() || !Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
