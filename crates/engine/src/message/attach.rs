//! Where a message's files may come from. A recipient's own file is named by
//! the recipient list (a column, or a file name with merge fields), and a
//! list can be crafted, so it is confined: a name inside the chosen folder
//! (no absolute path, no `..`), which after following links is still inside
//! it, is a regular file, and is none of Mailroom's own files (the database,
//! the encrypted passwords and their key, the logs). Shared files are chosen
//! by the person, from anywhere, but never one of Mailroom's own either.
//! What is wrong with a file is an [`AttachmentProblem`], data the front
//! ends say in their own words.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::paths;
use crate::secrets;

/// The largest file attached (100 MiB): more than any mail server takes in a
/// whole message, so a larger one is a mistake, and reading it would only
/// take the memory.
pub const MAX_ATTACHMENT_BYTES: u64 = 100 << 20;

/// Mailroom's own files, which are never attached: the database and what
/// belongs to it beside it (its `-wal`, `-shm` and `-journal`, its lock
/// folder, the encrypted password file and its key), the app's data folder
/// and its log folder. Paths are as the OS resolves them (links followed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProtectedFiles {
    files: Vec<PathBuf>,
    folders: Vec<PathBuf>,
}

impl ProtectedFiles {
    /// Mailroom's files for the database at `database`.
    pub fn for_database(database: &Path) -> ProtectedFiles {
        let folder = database
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let folder = resolved(folder);
        let name = database.file_name().map(|n| n.to_string_lossy().into_owned());
        let mut files = vec![folder.join(secrets::FILE_NAME), folder.join(secrets::KEY_FILE_NAME)];
        let mut folders: Vec<PathBuf> = [paths::data_dir(), paths::log_dir()]
            .into_iter()
            .flatten()
            .map(|dir| resolved(&dir))
            .collect();
        if let Some(name) = name {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                files.push(folder.join(format!("{name}{suffix}")));
            }
            folders.push(folder.join(format!("{name}.locks")));
        }
        ProtectedFiles { files, folders }
    }

    /// Whether `path` (resolved) is one of them.
    pub fn holds(&self, path: &Path) -> bool {
        self.files.iter().any(|f| f == path) || self.folders.iter().any(|d| path.starts_with(d))
    }
}

/// `path` with its links followed, as far as it exists: a file that does
/// not exist yet (a `-wal`) is its resolved folder joined with its name.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => resolved(parent).join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
    }
}

/// Why a file cannot be attached, as data: which file (as the person or the
/// list named it), and what is wrong with it, with the sizes and the
/// system's own words where they matter. The window says it from its
/// catalogs (`attachment.` keys), the CLI and the log from the English
/// `Display` here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts-bindings", derive(ts_rs::TS), ts(export))]
pub enum AttachmentProblem {
    /// Not there (yet: a person may still be copying the files).
    Missing { path: String },
    /// A recipient's file, but no folder is chosen to take it from.
    NoFolder,
    /// The name from the list is absolute or climbs out with `..`.
    OutsideFolder { name: String, folder: String },
    /// Inside the folder by name, but a link leads out of it.
    LinkOutsideFolder { path: String, folder: String },
    /// The database, the passwords or the logs.
    OwnFile { path: String },
    /// A folder, a device or a FIFO (which would never end).
    NotAFile { path: String },
    /// Larger than a mail can carry.
    TooLarge {
        path: String,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        bytes: u64,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        limit: u64,
    },
    /// It grew past the limit while it was read.
    GrewTooLarge {
        path: String,
        #[cfg_attr(feature = "ts-bindings", ts(type = "number"))]
        limit: u64,
    },
    /// Mailroom may not read it.
    PermissionDenied { path: String },
    /// It cannot be read; `detail` is the system's words.
    Unreadable { path: String, detail: String },
    /// The recipients' folder cannot be read; `detail` is the system's words.
    FolderUnreadable { folder: String, detail: String },
}

impl AttachmentProblem {
    /// The problem reading `path` (`folder` when it is the folder) failed with.
    fn reading(path: &Path, error: &std::io::Error) -> AttachmentProblem {
        let path = shown(path);
        match error.kind() {
            std::io::ErrorKind::NotFound => AttachmentProblem::Missing { path },
            std::io::ErrorKind::PermissionDenied => AttachmentProblem::PermissionDenied { path },
            std::io::ErrorKind::IsADirectory => AttachmentProblem::NotAFile { path },
            _ => AttachmentProblem::Unreadable {
                path,
                detail: error.to_string(),
            },
        }
    }
}

/// A path as a person reads it (any bytes that are not UTF-8 replaced).
fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// English, for the CLI and the log.
impl fmt::Display for AttachmentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachmentProblem::Missing { path } => {
                write!(f, "the attachment {path} cannot be read: it is not there")
            }
            AttachmentProblem::NoFolder => f.write_str("no folder is chosen for the recipients' files"),
            AttachmentProblem::OutsideFolder { name, folder } => write!(
                f,
                "the file name \"{name}\" leads out of the folder {folder}: a recipient's file must be inside it"
            ),
            AttachmentProblem::LinkOutsideFolder { path, folder } => write!(
                f,
                "the attachment {path} leads out of the folder {folder} (through a link): a recipient's file must \
                 be inside it"
            ),
            AttachmentProblem::OwnFile { path } => write!(
                f,
                "{path} is one of Mailroom's own files (its database, passwords or logs), which are never attached"
            ),
            AttachmentProblem::NotAFile { path } => write!(f, "the attachment {path} is not a regular file"),
            AttachmentProblem::TooLarge { path, bytes, limit } => write!(
                f,
                "the attachment {path} is {} MB; a mail can carry at most {} MB",
                bytes.div_ceil(1 << 20),
                limit >> 20
            ),
            AttachmentProblem::GrewTooLarge { path, limit } => {
                write!(f, "the attachment {path} grew past {} MB while being read", limit >> 20)
            }
            AttachmentProblem::PermissionDenied { path } => {
                write!(f, "the attachment {path} cannot be read: permission denied")
            }
            AttachmentProblem::Unreadable { path, detail } => {
                write!(f, "the attachment {path} cannot be read: {detail}")
            }
            AttachmentProblem::FolderUnreadable { folder, detail } => {
                write!(f, "the folder {folder} cannot be read: {detail}")
            }
        }
    }
}

/// A recipient's file name from the list, as a path inside `folder`:
/// refused when it is absolute or climbs out with `..`, whatever is on disk.
pub fn inside_folder(folder: &Path, name: &str) -> Result<PathBuf, AttachmentProblem> {
    let relative = Path::new(name);
    let escapes = relative
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::RootDir | Component::Prefix(_)));
    if relative.is_absolute() || relative.has_root() || escapes {
        return Err(AttachmentProblem::OutsideFolder {
            name: name.to_owned(),
            folder: shown(folder),
        });
    }
    Ok(folder.join(relative))
}

/// Checks a recipient's file `path` (made by [`inside_folder`]) on disk: it
/// must still be inside `folder` once links are followed, be a regular file
/// of a size a mail can carry, and not be one of Mailroom's own. The path
/// to read (links followed).
pub fn check_recipient_file(
    folder: &Path,
    path: &Path,
    protected: &ProtectedFiles,
) -> Result<PathBuf, AttachmentProblem> {
    let folder_real = folder.canonicalize().map_err(|e| match e.kind() {
        // No folder yet: the files are not there yet either.
        std::io::ErrorKind::NotFound => AttachmentProblem::Missing { path: shown(path) },
        _ => AttachmentProblem::FolderUnreadable {
            folder: shown(folder),
            detail: e.to_string(),
        },
    })?;
    let real = path.canonicalize().map_err(|e| AttachmentProblem::reading(path, &e))?;
    if !real.starts_with(&folder_real) {
        return Err(AttachmentProblem::LinkOutsideFolder {
            path: shown(path),
            folder: shown(folder),
        });
    }
    check_file(path, &real, protected)?;
    Ok(real)
}

/// Checks a shared file `path` the person chose: a regular file of a size a
/// mail can carry, not one of Mailroom's own. The path to read.
pub fn check_shared_file(path: &Path, protected: &ProtectedFiles) -> Result<PathBuf, AttachmentProblem> {
    let real = path.canonicalize().map_err(|e| AttachmentProblem::reading(path, &e))?;
    check_file(path, &real, protected)?;
    Ok(real)
}

/// What every attached file must be: a regular file (not a device or a
/// FIFO, which would never end), at most [`MAX_ATTACHMENT_BYTES`], and not
/// one of Mailroom's own.
fn check_file(path: &Path, real: &Path, protected: &ProtectedFiles) -> Result<(), AttachmentProblem> {
    if protected.holds(real) {
        return Err(AttachmentProblem::OwnFile { path: shown(path) });
    }
    let meta = std::fs::metadata(real).map_err(|e| AttachmentProblem::reading(path, &e))?;
    if !meta.is_file() {
        return Err(AttachmentProblem::NotAFile { path: shown(path) });
    }
    if meta.len() > MAX_ATTACHMENT_BYTES {
        return Err(AttachmentProblem::TooLarge {
            path: shown(path),
            bytes: meta.len(),
            limit: MAX_ATTACHMENT_BYTES,
        });
    }
    Ok(())
}

/// Reads `real`, a file [`check_recipient_file`] or [`check_shared_file`]
/// passed for `path`, at most [`MAX_ATTACHMENT_BYTES`] of it even if it
/// grew since.
pub fn read_checked(path: &Path, real: &Path) -> Result<Vec<u8>, AttachmentProblem> {
    use std::io::Read as _;
    let unreadable = |e: std::io::Error| AttachmentProblem::reading(path, &e);
    let file = std::fs::File::open(real).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_ATTACHMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
        return Err(AttachmentProblem::GrewTooLarge {
            path: shown(path),
            limit: MAX_ATTACHMENT_BYTES,
        });
    }
    Ok(bytes)
}
