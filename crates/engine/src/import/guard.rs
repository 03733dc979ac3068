//! Containing a parser's panic. The spreadsheet parsers are third-party code
//! fed with whatever file a person picks, and a damaged file can make them
//! panic (an index out of bounds on a truncated XLS). Such a panic must end
//! as one sentence, "this file is damaged", not as a backtrace on stderr and
//! an "internal error": [`contain`] runs the parsing under `catch_unwind`,
//! and a panic hook installed once stays silent for panics raised while a
//! thread is inside [`contain`] (every other panic goes to the hook that was
//! there before, so bugs elsewhere still print). The panic's message goes to
//! the log and into the error's detail.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use crate::error::{Error, Result};

thread_local! {
    /// Set while this thread runs parsing code under [`contain`].
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
    /// The message of the last panic contained on this thread.
    static LAST_PANIC: Cell<Option<String>> = const { Cell::new(None) };
}

static INSTALL: Once = Once::new();

fn install_quiet_hook() {
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CONTAINED.with(Cell::get) {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_owned());
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                tracing::warn!("a file parser panicked{location}: {message}");
                LAST_PANIC.with(|last| last.set(Some(message)));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `parse` (reading `path`); a panic inside it becomes
/// [`Error::DamagedFile`], printed nowhere but the log.
pub fn contain<T>(path: &Path, parse: impl FnOnce() -> Result<T>) -> Result<T> {
    install_quiet_hook();
    let was = CONTAINED.with(|c| c.replace(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(parse));
    CONTAINED.with(|c| c.set(was));
    outcome.unwrap_or_else(|_| {
        let detail = LAST_PANIC
            .with(Cell::take)
            .map_or_else(|| "its parser stopped".to_owned(), |m| super::limits::excerpt(&m));
        Err(Error::DamagedFile {
            path: path.to_owned(),
            detail,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_becomes_a_damaged_file_error() {
        let result: Result<()> = contain(Path::new("t.xls"), || {
            let v: Vec<u8> = Vec::new();
            let index = v.len() + 3;
            let byte: u8 = v[index];
            assert_eq!(byte, 0);
            Ok(())
        });
        let err = result.expect_err("contained");
        assert_eq!(err.kind(), crate::ErrorKind::DamagedFile);
        assert!(
            err.to_string().starts_with("t.xls is damaged and cannot be read ("),
            "{err}"
        );
        assert!(err.to_string().contains("index out of bounds"), "{err}");
        // Outside, panics are caught by the test harness as usual.
        assert!(contain(Path::new("ok"), || Ok(5)).is_ok());
    }
}
