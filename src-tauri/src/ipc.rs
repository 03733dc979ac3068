//! The error every command returns across IPC: `{kind, message, template,
//! attachment}`, where `kind` picks the window's translated sentence,
//! `message` is the engine's own detail (paths, row numbers) and `template`
//! or `attachment`, for a template error or a file that cannot be attached,
//! the typed problem the window says in its own language.

use mailroom_engine::message::TemplateError;
use mailroom_engine::message::attach::AttachmentProblem;
use mailroom_engine::{Error, ErrorKind};
use serde::Serialize;

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
