//! TLS for SMTP: client configurations (verified against the system's roots,
//! or the explicit per-account "accept invalid certificate" opt-in), a
//! readable summary of the server's certificate, and self-signed server
//! certificates for the sandbox and the test server.

use std::io;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use serde::Serialize;

use super::failure::{Failure, Problem, Stage};
use super::reply::{cut, printable};

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trusted roots, loaded once. Unreadable entries are skipped:
/// one broken certificate in the store must not stop every connection.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            for error in &loaded.errors {
                tracing::warn!(%error, "skipping a system certificate");
            }
            let mut roots = RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
            tracing::debug!(added, ignored, "system certificate roots loaded");
            Arc::new(roots)
        })
        .clone()
}

/// A client configuration: verifying, or (opt-in per account) accepting any
/// certificate while still checking the handshake's signatures.
pub(crate) fn client_config(accept_invalid_certs: bool) -> Result<Arc<ClientConfig>, Failure> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::new(Stage::Tls, Problem::TlsFailed, e.to_string()))?;
    let config = if accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(
                provider().signature_verification_algorithms,
            )))
            .with_no_client_auth()
    } else {
        builder.with_root_certificates(system_roots()).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The opt-in for self-hosted servers with self-signed certificates.
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// What a person wants to know about an encrypted connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub struct TlsSummary {
    /// `TLSv1.3`, `TLSv1.2`.
    pub protocol: String,
    /// The certificate's subject, e.g. `CN=smtp.example.com`.
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// When the certificate expires, `2027-03-01`.
    pub expires: Option<String>,
    /// Days until then (negative once expired).
    pub days_left: Option<i64>,
}

pub(crate) fn summarise(connection: &rustls::ClientConnection) -> TlsSummary {
    let protocol = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_owned(),
    };
    let mut summary = TlsSummary {
        protocol,
        subject: None,
        issuer: None,
        expires: None,
        days_left: None,
    };
    if let Some(cert) = connection.peer_certificates().and_then(|certs| certs.first()) {
        describe_certificate(cert.as_ref(), &mut summary);
    }
    summary
}

/// Fills in `summary` from a certificate (DER): subject, issuer, expiry.
fn describe_certificate(der: &[u8], summary: &mut TlsSummary) {
    if let Ok((_, parsed)) = x509_parser::parse_x509_certificate(der) {
        // The server chose these words (any self-signed certificate can):
        // shown as text, never as terminal controls, and at a readable length.
        let shown = |name: String| cut(&printable(&name), 200);
        summary.subject = Some(shown(parsed.subject().to_string()));
        summary.issuer = Some(shown(parsed.issuer().to_string()));
        let not_after = parsed.validity().not_after;
        let timestamp = not_after.timestamp();
        summary.expires = Some(format_date(timestamp));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        summary.days_left = Some((timestamp - now).div_euclid(86_400));
    }
}

/// `YYYY-MM-DD` for a Unix time (UTC), by the civil-from-days algorithm.
fn format_date(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Turns a failed handshake into a failure a person can act on.
pub(crate) fn handshake_failure(error: &io::Error) -> Failure {
    let rustls_error = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => Failure::new(
            Stage::Tls,
            Problem::CertificateInvalid,
            match cert {
                CertificateError::UnknownIssuer => "it is signed by an unknown authority (self-signed?)".to_owned(),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => "it has expired".to_owned(),
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "it is not valid yet (is this computer's clock right?)".to_owned()
                }
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    "it was issued for another host name".to_owned()
                }
                CertificateError::Revoked => "it has been revoked".to_owned(),
                other => format!("{other:?}"),
            },
        ),
        // Plain SMTP text where a TLS record was expected: TLS on a port that
        // starts in clear text (25/587).
        Some(rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. }) => Failure::new(
            Stage::Tls,
            Problem::TlsMismatch,
            "the server answered in plain text, not TLS",
        ),
        Some(other) => Failure::new(Stage::Tls, Problem::TlsFailed, other.to_string()),
        None => match error.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
                Failure::lost(Stage::Tls, "the server closed the connection during the TLS handshake")
            }
            _ => Failure::new(Stage::Tls, Problem::TlsFailed, error.to_string()),
        },
    }
}

/// A fresh self-signed certificate for `names`, as a server configuration.
/// Used by the sandbox (STARTTLS on loopback) and the test server.
pub fn self_signed_server_config(names: &[&str]) -> Result<Arc<ServerConfig>, String> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let certified = rcgen::generate_simple_self_signed(names).map_err(|e| e.to_string())?;
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_cannot_put_terminal_controls_into_the_summary() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("test step");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "evil\u{1b}[2J\u{202e}name");
        let key = rcgen::KeyPair::generate().expect("test step");
        let cert = params.self_signed(&key).expect("test step");
        let mut summary = TlsSummary {
            protocol: "TLSv1.3".into(),
            subject: None,
            issuer: None,
            expires: None,
            days_left: None,
        };
        describe_certificate(cert.der(), &mut summary);
        let subject = summary.subject.expect("test step");
        assert!(subject.contains("evil"), "{subject}");
        assert!(!subject.contains(['\u{1b}', '\u{202e}']), "{subject:?}");
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(951_782_400), "2000-02-29");
        assert_eq!(format_date(1_795_000_000), "2026-11-18");
    }
}
