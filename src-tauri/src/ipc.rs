//! The error every command returns across IPC: `{kind, message}`, where
//! `kind` picks the window's translated sentence and `message` is the engine's
//! own detail (paths, row numbers).

use mailroom_engine::{Error, ErrorKind};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct IpcError {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<Error> for IpcError {
    fn from(err: Error) -> Self {
        tracing::warn!(kind = ?err.kind(), "{err}");
        IpcError {
            kind: err.kind(),
            message: err.to_string(),
        }
    }
}

/// What every command returns.
pub type IpcResult<T> = Result<T, IpcError>;
