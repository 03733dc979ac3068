//! What went wrong talking to an SMTP server: the stage, a kind a program can
//! act on, the server's code and words, and advice a person can follow.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::reply::{Reply, cut};
use crate::model::string_enum;

string_enum! {
    /// A step of an SMTP conversation; failures and diagnosis stages name one.
    Stage {
        Dns => "dns",
        Connect => "connect",
        Tls => "tls",
        Greeting => "greeting",
        Ehlo => "ehlo",
        Auth => "auth",
        Mail => "mail",
        Rcpt => "rcpt",
        Data => "data",
        Quit => "quit",
    }
}

string_enum! {
    /// What kind of failure it was; front ends pick their translated advice by it.
    Problem {
        DnsFailed => "dns_failed",
        Refused => "refused",
        Unreachable => "unreachable",
        TimedOut => "timed_out",
        NoGreeting => "no_greeting",
        ConnectionLost => "connection_lost",
        NotSmtp => "not_smtp",
        TlsMismatch => "tls_mismatch",
        StarttlsUnavailable => "starttls_unavailable",
        CertificateInvalid => "certificate_invalid",
        TlsFailed => "tls_failed",
        AuthFailed => "auth_failed",
        AuthRequired => "auth_required",
        AuthUnsupported => "auth_unsupported",
        Throttled => "throttled",
        Rejected => "rejected",
        MessageTooBig => "message_too_big",
        Cancelled => "cancelled",
        /// The server broke the protocol: a reply nobody asked for, one that
        /// does not fit the command, or one past the reader's limits. The
        /// connection is closed; nothing it said is taken as acceptance.
        ProtocolError => "protocol_error",
        /// The server agreed to STARTTLS, then did not start TLS.
        StarttlsFailed => "starttls_failed",
        /// A value that would go into a command line (the EHLO name, an
        /// address) has characters SMTP cannot carry; nothing was sent.
        InvalidValue => "invalid_value",
        /// An address needs SMTPUTF8 (non-ASCII before the @) and the server
        /// does not offer it.
        Smtputf8Unavailable => "smtputf8_unavailable",
    }
}

/// How a failure bears on the recipient and the campaign (SPEC "Error taxonomy").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Try this recipient again later, on a fresh connection.
    Transient,
    /// This recipient cannot be delivered to; do not retry.
    PermanentForRecipient,
    /// Nothing will get through until a person acts (password, certificate):
    /// pause the campaign; no recipient is failed because of it.
    PermanentForCampaign,
}

/// One failed SMTP step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct Failure {
    pub stage: Stage,
    pub problem: Problem,
    /// The SMTP reply code, when the server answered.
    pub code: Option<u16>,
    pub enhanced_code: Option<String>,
    /// The server's words (cut to a readable length, credentials
    /// redacted), or the system's description of a network error.
    pub text: String,
    /// The message's content had gone out whole when this happened, so the
    /// server may have it: without a reply ([`Failure::is_ambiguous`]) no
    /// one knows whether it will be delivered.
    pub after_content: bool,
    /// The provider rule that decided what this reply means
    /// ([`super::rules`]), shown wherever the failure is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts-bindings", ts(optional))]
    pub rule: Option<String>,
}

impl Failure {
    /// The server's words with their codes ("550 5.1.1 User unknown"), as
    /// the suppression list keeps them.
    pub fn server_words(&self) -> String {
        let mut words = String::new();
        if let Some(code) = self.code {
            words.push_str(&code.to_string());
            words.push(' ');
        }
        if let Some(enhanced) = &self.enhanced_code {
            words.push_str(enhanced);
            words.push(' ');
        }
        words.push_str(&self.text);
        words.trim().to_owned()
    }

    pub(crate) fn new(stage: Stage, problem: Problem, text: impl Into<String>) -> Failure {
        Failure {
            stage,
            problem,
            code: None,
            enhanced_code: None,
            text: text.into(),
            after_content: false,
            rule: None,
        }
    }

    /// A negative reply to a command at `stage`.
    pub(crate) fn from_reply(stage: Stage, reply: &Reply) -> Failure {
        let problem = match (stage, reply.code) {
            (Stage::Auth, 534..=539) => Problem::AuthFailed,
            (_, 530) => Problem::AuthRequired,
            (_, 552) if stage == Stage::Data || stage == Stage::Mail => Problem::MessageTooBig,
            _ if reply.is_throttling() => Problem::Throttled,
            _ => Problem::Rejected,
        };
        Failure {
            stage,
            problem,
            code: Some(reply.code),
            enhanced_code: reply.enhanced_code().map(str::to_owned),
            text: cut(&reply.text(), MAX_TEXT),
            after_content: false,
            rule: None,
        }
    }

    /// The server broke the protocol at `stage`; `what` says how.
    pub(crate) fn protocol(stage: Stage, what: impl fmt::Display) -> Failure {
        Failure::new(
            stage,
            Problem::ProtocolError,
            cut(&format!("the server sent {what}"), MAX_TEXT),
        )
    }

    /// The same failure, happening after the message's content went out.
    pub(crate) fn after_content(self) -> Failure {
        Failure {
            after_content: true,
            ..self
        }
    }

    /// The content went out and no reply says what became of it: the
    /// server may deliver the message or not (the connection broke, went
    /// silent, or broke the protocol).
    pub fn is_ambiguous(&self) -> bool {
        self.after_content && self.code.is_none()
    }

    pub(crate) fn timed_out(stage: Stage, after: Duration) -> Failure {
        Failure::new(
            stage,
            if stage == Stage::Greeting {
                Problem::NoGreeting
            } else {
                Problem::TimedOut
            },
            format!("no answer within {}", describe_duration(after)),
        )
    }

    /// The server closed or reset the connection while we waited at `stage`.
    pub(crate) fn lost(stage: Stage, detail: &str) -> Failure {
        Failure::new(stage, Problem::ConnectionLost, detail)
    }

    pub fn cancelled(stage: Stage) -> Failure {
        Failure::new(stage, Problem::Cancelled, "cancelled")
    }

    /// A permanent "no such mailbox" (5.1.x, 5.2.1, or a 550 saying so): the
    /// address joins the suppression list.
    pub fn is_unknown_mailbox(&self) -> bool {
        self.code.is_some_and(|code| {
            let words = format!("{} {}", self.enhanced_code.as_deref().unwrap_or(""), self.text);
            Reply::new(code, words.trim()).is_unknown_mailbox()
        })
    }

    /// Whether to retry, fail the recipient, or pause the campaign.
    pub fn class(&self) -> FailureClass {
        match self.problem {
            Problem::AuthFailed
            | Problem::AuthRequired
            | Problem::AuthUnsupported
            | Problem::CertificateInvalid
            | Problem::TlsMismatch
            | Problem::StarttlsUnavailable
            | Problem::NotSmtp
            | Problem::ProtocolError
            | Problem::StarttlsFailed
            | Problem::DnsFailed => FailureClass::PermanentForCampaign,
            // A recipient's own address: that recipient; the sender's or
            // the EHLO name: every message.
            Problem::InvalidValue | Problem::Smtputf8Unavailable => match self.stage {
                Stage::Rcpt => FailureClass::PermanentForRecipient,
                _ => FailureClass::PermanentForCampaign,
            },
            // Refused before sending, against the server's advertised SIZE.
            Problem::MessageTooBig if self.code.is_none() => FailureClass::PermanentForRecipient,
            Problem::Rejected | Problem::MessageTooBig => match self.code {
                Some(code) if code >= 500 => match self.stage {
                    Stage::Rcpt | Stage::Data => FailureClass::PermanentForRecipient,
                    // A 5xx to the greeting, EHLO or MAIL FROM rejects the sender
                    // or this client, not one recipient.
                    _ => FailureClass::PermanentForCampaign,
                },
                _ => FailureClass::Transient,
            },
            Problem::Refused
            | Problem::Unreachable
            | Problem::TimedOut
            | Problem::NoGreeting
            | Problem::ConnectionLost
            | Problem::TlsFailed
            | Problem::Throttled
            | Problem::Cancelled => FailureClass::Transient,
        }
    }

    /// What a person should try, in plain words, for a server at `host:port`.
    pub fn advice(&self, host: &str, port: u16) -> String {
        match self.problem {
            Problem::DnsFailed => format!(
                "The name {host} could not be found. Check its spelling, and that this computer is online."
            ),
            Problem::Refused => format!(
                "Nothing is listening on {host}:{port}. Check the port: 465 is for implicit TLS, 587 for STARTTLS, 25 for server-to-server mail."
            ),
            Problem::Unreachable => format!(
                "{host} cannot be reached from this computer. Check the network connection, a VPN, or a proxy."
            ),
            Problem::TimedOut if self.stage == Stage::Connect => format!(
                "{host}:{port} did not answer. A firewall may be blocking the port, or your internet provider blocks port 25: try 587 or 465."
            ),
            Problem::TimedOut => "The server stopped answering. It may be overloaded; try again, or raise the command timeout.".to_owned(),
            Problem::NoGreeting => format!(
                "{host}:{port} accepted the connection but said nothing. If this port uses implicit TLS (usually 465), choose \"TLS\"; otherwise a firewall or proxy is holding the connection."
            ),
            Problem::ConnectionLost => "The server closed the connection. It may limit connections or messages per connection; Mailroom will reconnect and retry.".to_owned(),
            Problem::NotSmtp => format!("{host}:{port} answered, but not as a mail server. Check the host and the port."),
            Problem::TlsMismatch => format!(
                "The server on port {port} does not speak TLS from the start. Choose \"STARTTLS\" (usually port 587), or \"TLS\" with port 465."
            ),
            Problem::StarttlsUnavailable => "The server does not offer STARTTLS on this port, so the password would travel unencrypted. Use port 465 with \"TLS\", or ask the provider.".to_owned(),
            Problem::CertificateInvalid => format!(
                "The server's certificate cannot be trusted ({}). If this is your own server with a self-signed certificate, turn on \"Accept invalid certificate\" for this account only.",
                self.text
            ),
            Problem::TlsFailed => "The encrypted connection could not be set up. The server may only support old TLS versions.".to_owned(),
            Problem::AuthFailed => {
                let mut advice = "The server refused the user name or password.".to_owned();
                let host = host.to_ascii_lowercase();
                if host.ends_with("qq.com") || host.ends_with("163.com") || host.ends_with("126.com") {
                    advice.push_str(" QQ Mail and NetEase need an authorisation code (授权码) from the mailbox's settings, not the login password; SMTP must be enabled there too.");
                } else if host.ends_with("gmail.com") || host.ends_with("google.com") {
                    advice.push_str(" Gmail needs an app password (Google Account → Security → App passwords), with 2-Step Verification on.");
                } else if host.contains("office365") || host.contains("outlook") {
                    advice.push_str(" Microsoft 365 needs SMTP AUTH enabled for the mailbox, and an app password if multi-factor sign-in is on.");
                }
                advice
            }
            Problem::AuthRequired => "The server wants a login before it accepts mail: choose PLAIN or LOGIN and enter the user name and password.".to_owned(),
            Problem::AuthUnsupported => "The server offers no login method Mailroom can use on this connection. Many servers offer login only on an encrypted connection: if this account sends unencrypted, choose STARTTLS or TLS.".to_owned(),
            Problem::Throttled => "The server asks Mailroom to slow down. Lower the rate in this account's settings; campaigns slow down by themselves.".to_owned(),
            Problem::Rejected => match self.stage {
                Stage::Mail => "The server refused the sender address. Use an address this account may send as.".to_owned(),
                Stage::Rcpt => "The server refused this recipient.".to_owned(),
                Stage::Greeting => "The server refuses connections from this computer.".to_owned(),
                _ => "The server refused the request; its words are above.".to_owned(),
            },
            Problem::MessageTooBig => "The message is larger than the server accepts. Make the attachments smaller, or put them online and send a link.".to_owned(),
            Problem::Cancelled => "Cancelled.".to_owned(),
            Problem::ProtocolError => "The server broke the SMTP protocol: it answered out of turn, or with a reply too long or malformed to trust. Mailroom closed the connection and took nothing it said as acceptance. If it keeps happening, ask the provider, or check that nothing on the network (an antivirus or firewall that inspects mail) is in the way.".to_owned(),
            Problem::StarttlsFailed => format!(
                "{host}:{port} agreed to encrypt the connection (STARTTLS) but did not start TLS. The server may be misconfigured, or something on the network path (an antivirus or firewall that inspects mail) interferes. Try port 465 with \"TLS\", or ask the provider."
            ),
            Problem::InvalidValue => "A value Mailroom would send to the server (the EHLO name or an address) contains characters SMTP cannot carry, such as a line break; nothing of it was sent. Correct it in the account settings or the recipient list.".to_owned(),
            Problem::Smtputf8Unavailable => "This address has non-ASCII characters before the @, which needs a server with SMTPUTF8, and this server does not offer it. Ask the recipient for an ASCII address, or send through a server that supports SMTPUTF8.".to_owned(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.stage)?;
        if let Some(code) = self.code {
            write!(f, "{code} ")?;
        }
        if let Some(enhanced) = &self.enhanced_code {
            write!(f, "{enhanced} ")?;
        }
        f.write_str(&self.text)?;
        if let Some(rule) = &self.rule {
            write!(f, " [rule {rule}]")?;
        }
        Ok(())
    }
}

/// How much of a server's words a failure keeps: enough to read, not a
/// screenful of whatever a hostile server sends.
pub(crate) const MAX_TEXT: usize = 500;

pub(crate) fn describe_duration(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_classified_per_the_taxonomy() {
        let rcpt_550 = Failure::from_reply(Stage::Rcpt, &Reply::new(550, "5.1.1 no such user"));
        assert_eq!(rcpt_550.class(), FailureClass::PermanentForRecipient);
        let throttled = Failure::from_reply(Stage::Data, &Reply::new(454, "Throttling failure"));
        assert_eq!(
            (throttled.problem, throttled.class()),
            (Problem::Throttled, FailureClass::Transient)
        );
        let auth = Failure::from_reply(Stage::Auth, &Reply::new(535, "5.7.8 bad credentials"));
        assert_eq!(
            (auth.problem, auth.class()),
            (Problem::AuthFailed, FailureClass::PermanentForCampaign)
        );
        let mail_550 = Failure::from_reply(Stage::Mail, &Reply::new(550, "sender denied"));
        assert_eq!(mail_550.class(), FailureClass::PermanentForCampaign);
        let busy = Failure::from_reply(Stage::Rcpt, &Reply::new(451, "4.3.0 try later"));
        assert_eq!(busy.class(), FailureClass::Transient);
        assert_eq!(
            Failure::timed_out(Stage::Greeting, Duration::from_secs(5)).problem,
            Problem::NoGreeting
        );
    }

    #[test]
    fn protocol_and_value_failures_are_classified() {
        let protocol = Failure::protocol(Stage::Data, "a reply nobody asked for: 250 ok");
        assert_eq!(protocol.class(), FailureClass::PermanentForCampaign);
        assert!(protocol.code.is_none() && !protocol.is_ambiguous());
        assert!(protocol.after_content().is_ambiguous());
        let refused = Failure::from_reply(Stage::Data, &Reply::new(554, "no")).after_content();
        assert!(!refused.is_ambiguous(), "a reply says what happened");
        let recipient = Failure::new(Stage::Rcpt, Problem::Smtputf8Unavailable, "x");
        assert_eq!(recipient.class(), FailureClass::PermanentForRecipient);
        let sender = Failure::new(Stage::Mail, Problem::Smtputf8Unavailable, "x");
        assert_eq!(sender.class(), FailureClass::PermanentForCampaign);
        let helo = Failure::new(Stage::Ehlo, Problem::InvalidValue, "x");
        assert_eq!(helo.class(), FailureClass::PermanentForCampaign);
        let long = Failure::from_reply(Stage::Rcpt, &Reply::new(550, "x".repeat(5000)));
        assert!(long.text.chars().count() <= MAX_TEXT + 1);
    }

    #[test]
    fn starttls_advice_never_says_to_choose_starttls() {
        let failed = Failure::new(Stage::Tls, Problem::StarttlsFailed, "x");
        assert!(!failed.advice("h", 587).contains("Choose \"STARTTLS\""));
        let unsupported = Failure::new(Stage::Auth, Problem::AuthUnsupported, "x");
        assert!(
            unsupported
                .advice("h", 587)
                .contains("if this account sends unencrypted")
        );
    }

    #[test]
    fn advice_names_the_port_and_the_provider() {
        let refused = Failure::new(Stage::Connect, Problem::Refused, "connection refused");
        assert!(
            refused
                .advice("mail.example.com", 2526)
                .contains("mail.example.com:2526")
        );
        let auth = Failure::from_reply(Stage::Auth, &Reply::new(535, "Error: authentication failed"));
        assert!(auth.advice("smtp.qq.com", 465).contains("授权码"));
        assert!(auth.advice("smtp.gmail.com", 587).contains("app password"));
    }
}
