//! The error every command returns across IPC: `{kind, message, template,
//! attachment}`, where `kind` picks the window's translated sentence,
//! `message` is the engine's own detail (paths, row numbers) and `template`
//! or `attachment`, for a template error or a file that cannot be attached,
//! the typed problem the window says in its own language. Also how progress
//! crosses: the engine's coalescer forwarding each batch to a `Channel`.

use mailroom_engine::message::TemplateError;
use mailroom_engine::message::attach::AttachmentProblem;
use mailroom_engine::progress::{Batch, Coalesce, Coalescer};
use mailroom_engine::{Error, ErrorKind};
use serde::Serialize;
use tauri::ipc::Channel;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct IpcError {
    pub kind: ErrorKind,
    pub message: String,
    /// What is wrong with a message's template, typed (template errors only).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<Box<TemplateError>>,
    /// What is wrong with a file for everyone, typed (attachment errors only).
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentProblem>,
}

impl From<Error> for IpcError {
    fn from(err: Error) -> Self {
        tracing::warn!(kind = ?err.kind(), "{err}");
        IpcError {
            kind: err.kind(),
            message: err.to_string(),
            template: err.template().cloned().map(Box::new),
            attachment: err.attachment().cloned(),
        }
    }
}

/// What every command returns.
pub type IpcResult<T> = Result<T, IpcError>;

/// A sink for the engine's work whose batches (the engine coalesces them to
/// at most ten a second, each with up to `keep_samples` samples) go to
/// `channel` as they are; the shell does nothing else with progress.
pub fn forward_to<E: Coalesce + Serialize>(channel: Channel<Batch<E>>, keep_samples: usize) -> Coalescer<E> {
    Coalescer::for_window(keep_samples, move |batch| {
        // A closed window (the channel's webview gone) is no error of the work's.
        let _ignored = channel.send(batch);
    })
}
