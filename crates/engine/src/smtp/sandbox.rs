//! The built-in sandbox: an SMTP server on 127.0.0.1 that accepts every
//! message and keeps it in the database, so a new user can run a real campaign
//! without an account and read exactly what recipients would get.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use mail_parser::MimeHeaders as _;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::server::{self, Action, Envelope, Policy, ServerConfig};
use super::tls;
use crate::error::{Error, Result};
use crate::store::{CapturedSummary, Store};

/// The port the Sandbox preset points at.
pub const DEFAULT_PORT: u16 = 2525;

/// A running sandbox; dropping the handle does not stop it, [`Sandbox::stop`] does.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Sandbox {
    /// Listens on `127.0.0.1:port` (0 picks a free port) and serves until stopped.
    pub async fn start(store: Store, port: u16) -> Result<Sandbox> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| Error::SandboxUnavailable {
                port,
                reason: if e.kind() == std::io::ErrorKind::AddrInUse {
                    "another program is using that port (is a sandbox already running?)".to_owned()
                } else {
                    e.to_string()
                },
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Internal(format!("sandbox address: {e}")))?;
        let config = ServerConfig {
            hostname: "sandbox.mailroom.local".to_owned(),
            // STARTTLS with a throwaway certificate, so accounts set to
            // STARTTLS (with "accept invalid certificate") can be tried too.
            tls: tls::self_signed_server_config(&["localhost", "127.0.0.1", "sandbox.mailroom.local"])
                .map_err(|e| tracing::warn!(%e, "sandbox without STARTTLS"))
                .ok(),
            ..ServerConfig::default()
        };
        let shutdown = CancellationToken::new();
        tokio::spawn(server::serve(
            listener,
            config,
            Arc::new(Capture { store }),
            shutdown.clone(),
        ));
        tracing::info!(%addr, "sandbox listening");
        Ok(Sandbox { addr, shutdown })
    }

    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// Resolves when the sandbox is stopped.
    pub async fn stopped(&self) {
        self.shutdown.cancelled().await;
    }
}

struct Capture {
    store: Store,
}

impl Policy for Capture {
    async fn deliver(&self, envelope: Envelope, data: Vec<u8>) -> Action {
        let subject = mail_parser::MessageParser::default()
            .parse_headers(&data)
            .and_then(|m| m.subject().map(str::to_owned));
        match self
            .store
            .capture_message(&envelope.mail_from, &envelope.rcpt_to, subject.as_deref(), &data)
            .await
        {
            Ok(id) => Action::Reply(250, format!("2.0.0 Ok: captured as {id}")),
            Err(error) => {
                tracing::error!(%error, "sandbox cannot store a message");
                Action::Reply(451, "4.3.0 The sandbox cannot store the message right now".to_owned())
            }
        }
    }
}

/// A captured message taken apart for the viewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct CapturedMessage {
    #[serde(flatten)]
    pub summary: CapturedSummary,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub date: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Every header, in order, decoded (RFC 2047) for reading.
    pub headers: Vec<(String, String)>,
    pub attachments: Vec<AttachmentInfo>,
    /// The raw source as text (lossy for 8-bit bodies).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct AttachmentInfo {
    pub name: Option<String>,
    pub content_type: String,
    #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
    pub size: u64,
}

/// Parses a captured message with a real MIME parser.
pub fn parse_captured(summary: CapturedSummary, raw: &[u8]) -> CapturedMessage {
    let source = String::from_utf8_lossy(raw).into_owned();
    let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
        return CapturedMessage {
            summary,
            from: None,
            to: Vec::new(),
            date: None,
            text: Some(source.clone()),
            html: None,
            headers: Vec::new(),
            attachments: Vec::new(),
            source,
        };
    };
    let format_addr = |addr: &mail_parser::Addr<'_>| match (addr.name(), addr.address()) {
        (Some(name), Some(address)) => format!("{name} <{address}>"),
        (None, Some(address)) => address.to_owned(),
        (Some(name), None) => name.to_owned(),
        (None, None) => String::new(),
    };
    let from = message.from().and_then(|a| a.first()).map(format_addr);
    let to = message
        .to()
        .map(|list| list.iter().map(format_addr).collect())
        .unwrap_or_default();
    let headers = message
        .headers()
        .iter()
        .map(|h| {
            let raw_value = message
                .raw_message()
                .get(h.offset_start() as usize..h.offset_end() as usize)
                .map(|v| String::from_utf8_lossy(v).trim().to_owned())
                .unwrap_or_default();
            let value = h.value().as_text().map(str::to_owned).unwrap_or(raw_value);
            (h.name().to_owned(), value)
        })
        .collect();
    let attachments = message
        .attachments()
        .map(|part| AttachmentInfo {
            name: part.attachment_name().map(str::to_owned),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            size: part.contents().len() as u64,
        })
        .collect();
    CapturedMessage {
        from,
        to,
        date: message.date().map(|d| d.to_rfc3339()),
        text: message.body_text(0).map(|t| t.into_owned()),
        // mail-parser renders a text-only message as HTML too; show HTML only
        // when the message has its own.
        html: (message.html_body != message.text_body)
            .then(|| message.body_html(0).map(|h| h.into_owned()))
            .flatten(),
        headers,
        attachments,
        source,
        summary,
    }
}
