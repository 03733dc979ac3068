//! The importers as a fuzz target: each input is written to a file with the
//! target's extension and goes through what the window and the CLI do with
//! a file: a preview, then a real import into a real store.
//!
//! Invariants: no panic escapes (calamine's are the engine's to contain), no
//! `internal` error, every error is one line of readable length, and every
//! data row is counted once (`rows == valid + invalid + duplicates + suppressed`).

use std::path::Path;

use mailroom_engine::import::{self, ImportChoices, ImportOptions, RecipientSource};
use mailroom_engine::{ErrorKind, Store};

use super::{Context, Target};

/// Imports between two fresh stores (the store grows with every import).
const IMPORTS_PER_STORE: u32 = 200;
/// The longest error message an import may give (paths included).
const LONGEST_MESSAGE: usize = 1_500;

#[derive(Debug, Default)]
pub struct State {
    store: Option<Store>,
    imports: u32,
    round: u64,
}

fn check_error(err: &mailroom_engine::Error) -> Result<(), String> {
    let message = err.to_string();
    if err.kind() == ErrorKind::Internal {
        return Err(format!("an internal error: {message}"));
    }
    if message.contains('\n') || message.len() > LONGEST_MESSAGE {
        return Err(format!("an error that is not one short line ({} bytes)", message.len()));
    }
    Ok(())
}

pub fn run(target: Target, context: &mut Context, input: &[u8]) -> Result<(), String> {
    let state = &mut context.import;
    state.round += 1;
    let path = context.dir.path().join(format!("input.{}", target.extension()));
    std::fs::write(&path, input).map_err(|e| format!("cannot write the input: {e}"))?;
    // Half the CSV inputs with quotes read literally.
    let options = ImportOptions::from(ImportChoices {
        literal_quotes: target == Target::Csv && state.round.is_multiple_of(2),
        ..ImportChoices::default()
    });
    if state.store.is_none() || state.imports >= IMPORTS_PER_STORE {
        if let Some(store) = state.store.take() {
            context.runtime.block_on(store.close());
        }
        let db = context.dir.path().join("fuzz.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let store = context
            .runtime
            .block_on(Store::open(&db))
            .map_err(|e| format!("cannot open the store: {e}"))?;
        state.store = Some(store);
        state.imports = 0;
    }
    state.imports += 1;
    let Some(store) = state.store.as_ref() else {
        return Err("no store".to_owned());
    };
    context.runtime.block_on(import_file(store, &path, &options))
}

async fn import_file(store: &Store, path: &Path, options: &ImportOptions) -> Result<(), String> {
    match RecipientSource::preview(path, &options.choices).await {
        Ok(preview) => {
            if preview.rows.len() > 20 {
                return Err(format!("a preview of {} rows", preview.rows.len()));
            }
        }
        Err(e) => check_error(&e)?,
    }
    let source = match RecipientSource::open(path, options).await {
        Ok(source) => source,
        Err(e) => return check_error(&e),
    };
    match import::import(store, source, options).await {
        Ok(report) => {
            let counted =
                report.valid + (report.invalid.len() + report.duplicates.len() + report.suppressed.len()) as u64;
            if counted != report.rows {
                return Err(format!("{} rows but {counted} counted", report.rows));
            }
            Ok(())
        }
        Err(e) => check_error(&e),
    }
}
