//! The fuzz harness (docs/FUZZING.md): hostile inputs for every importer
//! (CSV, XLSX, XLS, XLSB, ODS), the template compiler and the SMTP reply
//! reader, made by mutating real files (tests/fixtures, and inside the
//! zipped workbooks the XML itself) and arbitrary bytes, on stable Rust.
//!
//! [`run_one`] runs one input through the real engine calls and reports a
//! broken invariant as a finding; the `fuzz` binary (src/bin/fuzz.rs) runs
//! it in a worker process under an address-space cap, a peak-RSS check and a
//! per-input watchdog, and writes every finding to a file. A finding, once
//! fixed, goes to `tests/fuzz/corpus/<target>/`, which the ordinary test
//! `tests/tests/fuzz_corpus.rs` replays.

pub mod import;
pub mod mutate;
pub mod reply;
pub mod template;

use std::path::{Path, PathBuf};

/// What is fuzzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Csv,
    Xlsx,
    Xls,
    Xlsb,
    Ods,
    Template,
    Reply,
}

impl Target {
    pub const ALL: [Target; 7] = [
        Target::Csv,
        Target::Xlsx,
        Target::Xls,
        Target::Xlsb,
        Target::Ods,
        Target::Template,
        Target::Reply,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Csv => "csv",
            Target::Xlsx => "xlsx",
            Target::Xls => "xls",
            Target::Xlsb => "xlsb",
            Target::Ods => "ods",
            Target::Template => "template",
            Target::Reply => "reply",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The extension an input of this target is saved with.
    pub fn extension(self) -> &'static str {
        match self {
            Target::Template | Target::Reply => "txt",
            other => other.name(),
        }
    }
}

/// The repository's root (this crate is `tests/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The regression corpus of a target: every finding, once fixed.
pub fn corpus_dir(target: Target) -> PathBuf {
    repo_root().join("tests/fuzz/corpus").join(target.name())
}

/// Inputs to start from: the target's fixtures and its regression corpus.
pub fn seeds(target: Target) -> Vec<Vec<u8>> {
    let mut seeds = match target {
        Target::Template => template::SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect(),
        Target::Reply => reply::SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect(),
        _ => Vec::new(),
    };
    let mut files: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(repo_root().join("tests/fixtures")) {
        files.extend(entries.flatten().map(|e| e.path()).filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or_default();
            match target {
                Target::Csv => matches!(ext, "csv" | "fods"),
                Target::Template | Target::Reply => false,
                other => ext == other.extension(),
            }
        }));
    }
    if let Ok(entries) = std::fs::read_dir(corpus_dir(target)) {
        // `.keep` and the like hold the folder in git; they are no inputs.
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))),
        );
    }
    files.sort();
    seeds.extend(files.iter().filter_map(|p| std::fs::read(p).ok()));
    if seeds.is_empty() {
        seeds.push(b"email,name\na@example.com,Ann\n".to_vec());
    }
    seeds
}

/// What one run needs across inputs (a runtime, a store, a folder).
pub struct Context {
    pub runtime: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    import: import::State,
    reply: Option<reply::State>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Context {
    pub fn new() -> Context {
        // /dev/shm keeps the store's fsyncs off the disk.
        let dir = tempfile::Builder::new()
            .prefix("mailroom-fuzz")
            .tempdir_in(Path::new("/dev/shm"))
            .or_else(|_| tempfile::tempdir())
            .expect("a temporary folder");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        Context {
            runtime,
            dir,
            import: import::State::default(),
            reply: None,
        }
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

/// Runs one input; `Err` names a broken invariant (a finding). A panic that
/// escapes is a finding too: the caller catches it.
pub fn run_one(target: Target, context: &mut Context, input: &[u8]) -> Result<(), String> {
    match target {
        Target::Template => template::run(input),
        Target::Reply => reply::run(context, input),
        import_target => import::run(import_target, context, input),
    }
}

/// A stable short name for an input (FNV-1a, 64 bits, in hex).
pub fn input_hash(input: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in input {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}
