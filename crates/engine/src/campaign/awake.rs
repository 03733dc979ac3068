//! Keeping the computer awake while a campaign sends: the operating system's
//! idle and sleep inhibitors (D-Bus on Linux, power assertions on macOS,
//! `SetThreadExecutionState` on Windows), through the keepawake crate.

use std::time::Duration;

/// How long asking the OS may take; a session bus that does not answer must
/// not hold up the campaign.
const ASK_WITHIN: Duration = Duration::from_secs(2);

/// Holds the computer awake until dropped. Where the OS cannot be asked (a
/// server with no session bus, say) the campaign runs anyway and the log says
/// that the machine may sleep.
pub(super) async fn keep_awake(campaign: &str) -> Option<keepawake::KeepAwake> {
    let reason = format!("Sending the campaign \"{campaign}\"");
    let ask = tokio::task::spawn_blocking(move || {
        keepawake::Builder::default()
            .idle(true)
            .sleep(true)
            .reason(reason)
            .app_name("Mailroom")
            .app_reverse_domain("org.mailroom.desktop")
            .create()
    });
    let problem = match tokio::time::timeout(ASK_WITHIN, ask).await {
        Ok(Ok(Ok(awake))) => {
            tracing::info!("keeping the computer awake while the campaign sends");
            return Some(awake);
        }
        Ok(Ok(Err(e))) => e.to_string(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the system did not answer".to_owned(),
    };
    tracing::warn!(
        problem,
        "cannot keep the computer awake while sending; it may sleep mid-campaign"
    );
    None
}
