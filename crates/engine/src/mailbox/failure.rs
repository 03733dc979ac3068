//! What went wrong talking to an IMAP server: the step, a kind front ends
//! translate their advice by, the server's words, and advice in plain words
//! (the same voice as SMTP's, `smtp/failure.rs`).

use std::fmt;

use serde::Serialize;

use crate::model::string_enum;
use crate::smtp::{Failure as SmtpFailure, Problem as SmtpProblem};

string_enum! {
    /// A step of talking to a mailbox; Test connection shows one line each.
    MailboxStage {
        Dns => "dns",
        Connect => "connect",
        Tls => "tls",
        Greeting => "greeting",
        Login => "login",
        Select => "select",
        Search => "search",
        Fetch => "fetch",
        Store => "store",
    }
}

string_enum! {
    /// What kind of failure it was.
    MailboxProblem {
        DnsFailed => "dns_failed",
        Refused => "refused",
        Unreachable => "unreachable",
        TimedOut => "timed_out",
        NoGreeting => "no_greeting",
        ConnectionLost => "connection_lost",
        NotImap => "not_imap",
        TlsMismatch => "tls_mismatch",
        StarttlsUnavailable => "starttls_unavailable",
        CertificateInvalid => "certificate_invalid",
        TlsFailed => "tls_failed",
        LoginFailed => "login_failed",
        LoginDisabled => "login_disabled",
        FolderMissing => "folder_missing",
        TooLarge => "too_large",
        ServerError => "server_error",
        Cancelled => "cancelled",
    }
}

/// One failed step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct MailboxFailure {
    pub stage: MailboxStage,
    pub problem: MailboxProblem,
    /// The server's words, or the system's description of a network error.
    pub text: String,
}

impl MailboxFailure {
    pub fn new(stage: MailboxStage, problem: MailboxProblem, text: impl Into<String>) -> MailboxFailure {
        MailboxFailure {
            stage,
            problem,
            text: text.into(),
        }
    }

    pub fn cancelled(stage: MailboxStage) -> MailboxFailure {
        MailboxFailure::new(stage, MailboxProblem::Cancelled, "cancelled")
    }

    pub fn timed_out(stage: MailboxStage, after: std::time::Duration) -> MailboxFailure {
        MailboxFailure::new(
            stage,
            if stage == MailboxStage::Greeting {
                MailboxProblem::NoGreeting
            } else {
                MailboxProblem::TimedOut
            },
            format!(
                "no answer within {}",
                crate::smtp::diagnose::format_duration_ms(u64::try_from(after.as_millis()).unwrap_or(u64::MAX))
            ),
        )
    }

    /// The SMTP client's DNS, TCP and TLS steps are shared; their failures
    /// carry over with the same meaning.
    pub(crate) fn from_smtp(stage: MailboxStage, failure: &SmtpFailure) -> MailboxFailure {
        let problem = match failure.problem {
            SmtpProblem::DnsFailed => MailboxProblem::DnsFailed,
            SmtpProblem::Refused => MailboxProblem::Refused,
            SmtpProblem::Unreachable => MailboxProblem::Unreachable,
            SmtpProblem::TimedOut | SmtpProblem::NoGreeting => MailboxProblem::TimedOut,
            SmtpProblem::ConnectionLost => MailboxProblem::ConnectionLost,
            SmtpProblem::TlsMismatch => MailboxProblem::TlsMismatch,
            SmtpProblem::CertificateInvalid => MailboxProblem::CertificateInvalid,
            SmtpProblem::Cancelled => MailboxProblem::Cancelled,
            _ => MailboxProblem::TlsFailed,
        };
        MailboxFailure::new(stage, problem, failure.text.clone())
    }

    /// What a person should try, for a server at `host:port`.
    pub fn advice(&self, host: &str, port: u16) -> String {
        match self.problem {
            MailboxProblem::DnsFailed => format!("The name {host} could not be found. Check its spelling, and that this computer is online."),
            MailboxProblem::Refused => format!("Nothing is listening on {host}:{port}. IMAP uses 993 with TLS, or 143 with STARTTLS."),
            MailboxProblem::Unreachable => format!("{host} cannot be reached from this computer. Check the network connection, a VPN, or a proxy."),
            MailboxProblem::TimedOut if self.stage == MailboxStage::Connect => {
                format!("{host}:{port} did not answer. A firewall may be blocking the port.")
            }
            MailboxProblem::TimedOut => "The server stopped answering. It may be busy; try again, or raise the timeout.".to_owned(),
            MailboxProblem::NoGreeting => format!(
                "{host}:{port} accepted the connection but said nothing. If this port uses TLS from the start (usually 993), choose \"TLS\"."
            ),
            MailboxProblem::ConnectionLost => "The server closed the connection. Try again; if it keeps happening, the server may limit connections.".to_owned(),
            MailboxProblem::NotImap => format!("{host}:{port} answered, but not as an IMAP server. Check the host and the port (an SMTP port is not the mailbox's)."),
            MailboxProblem::TlsMismatch => format!(
                "The server on port {port} does not speak TLS from the start. Choose \"STARTTLS\" (usually port 143), or \"TLS\" with port 993."
            ),
            MailboxProblem::StarttlsUnavailable => "The server does not offer STARTTLS on this port, so the password would travel unencrypted. Use port 993 with \"TLS\".".to_owned(),
            MailboxProblem::CertificateInvalid => format!(
                "The server's certificate cannot be trusted ({}). If this is your own server with a self-signed certificate, turn on \"Accept invalid certificate\" for this mailbox only.",
                self.text
            ),
            MailboxProblem::TlsFailed => "The encrypted connection could not be set up. The server may only support old TLS versions.".to_owned(),
            MailboxProblem::LoginFailed => {
                let mut advice = "The server refused the user name or password.".to_owned();
                let host = host.to_ascii_lowercase();
                if host.ends_with("qq.com") || host.ends_with("163.com") || host.ends_with("126.com") {
                    advice.push_str(" QQ Mail and NetEase need IMAP turned on in the mailbox's settings, and the authorisation code (授权码), not the login password.");
                } else if host.ends_with("gmail.com") {
                    advice.push_str(" Gmail needs an app password (Google Account → Security → App passwords).");
                } else if host.contains("office365") || host.contains("outlook") {
                    advice.push_str(" Microsoft accepts password logins for IMAP only where basic authentication is still allowed.");
                }
                advice
            }
            MailboxProblem::LoginDisabled => "The server does not accept a password on an unencrypted connection. Choose \"TLS\" (993) or \"STARTTLS\".".to_owned(),
            MailboxProblem::FolderMissing => "The folder does not exist in this mailbox. Check its name (INBOX is always there).".to_owned(),
            MailboxProblem::TooLarge => "The server sent far more than was asked for; the scan stopped to keep memory safe. Try again later.".to_owned(),
            MailboxProblem::ServerError => "The server refused the request; its words are above.".to_owned(),
            MailboxProblem::Cancelled => "Cancelled.".to_owned(),
        }
    }
}

impl fmt::Display for MailboxFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.text)
    }
}
