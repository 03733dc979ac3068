//! Where a message's files may come from. A recipient's own file is named by
//! the recipient list (a column, or a file name with merge fields), and a
//! list can be crafted, so it is confined: a name inside the chosen folder
//! (no absolute path, no `..`), which after following links is still inside
//! it, is a regular file, and is none of Mailroom's own files (the database,
//! the encrypted passwords and their key, the logs). Shared files are chosen
//! by the person, from anywhere, but never one of Mailroom's own either.

use std::fmt;
use std::path::{Component, Path, PathBuf};

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

/// Why a file cannot be attached.
#[derive(Debug, Clone, PartialEq)]
pub enum AttachmentProblem {
    /// Not there (yet: a person may still be copying the files).
    Missing(PathBuf),
    /// There, but refused, with the reason.
    Refused(String),
}

impl fmt::Display for AttachmentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachmentProblem::Missing(path) => {
                write!(f, "the attachment {} cannot be read: it is not there", path.display())
            }
            AttachmentProblem::Refused(reason) => f.write_str(reason),
        }
    }
}

/// A recipient's file name from the list, as a path inside `folder`:
/// refused when it is absolute or climbs out with `..`, whatever is on disk.
pub fn inside_folder(folder: &Path, name: &str) -> Result<PathBuf, String> {
    let relative = Path::new(name);
    let escapes = relative
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::RootDir | Component::Prefix(_)));
    if relative.is_absolute() || relative.has_root() || escapes {
        return Err(format!(
            "the file name \"{name}\" leads out of the folder {}: a recipient's file must be inside it",
            folder.display()
        ));
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
        std::io::ErrorKind::NotFound => AttachmentProblem::Missing(path.to_owned()),
        _ => AttachmentProblem::Refused(format!("the folder {} cannot be read: {e}", folder.display())),
    })?;
    let real = path.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AttachmentProblem::Missing(path.to_owned()),
        _ => AttachmentProblem::Refused(format!("the attachment {} cannot be read: {e}", path.display())),
    })?;
    if !real.starts_with(&folder_real) {
        return Err(AttachmentProblem::Refused(format!(
            "the attachment {} leads out of the folder {} (through a link): a recipient's file must be inside it",
            path.display(),
            folder.display()
        )));
    }
    check_file(path, &real, protected).map_err(AttachmentProblem::Refused)?;
    Ok(real)
}

/// Checks a shared file `path` the person chose: a regular file of a size a
/// mail can carry, not one of Mailroom's own. The path to read.
pub fn check_shared_file(path: &Path, protected: &ProtectedFiles) -> std::io::Result<PathBuf> {
    let real = path.canonicalize()?;
    check_file(path, &real, protected).map_err(std::io::Error::other)?;
    Ok(real)
}

/// What every attached file must be: a regular file (not a device or a
/// FIFO, which would never end), at most [`MAX_ATTACHMENT_BYTES`], and not
/// one of Mailroom's own.
fn check_file(path: &Path, real: &Path, protected: &ProtectedFiles) -> Result<(), String> {
    if protected.holds(real) {
        return Err(format!(
            "{} is one of Mailroom's own files (its database, passwords or logs), which are never attached",
            path.display()
        ));
    }
    let meta = std::fs::metadata(real).map_err(|e| format!("the attachment {} cannot be read: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("the attachment {} is not a regular file", path.display()));
    }
    if meta.len() > MAX_ATTACHMENT_BYTES {
        return Err(format!(
            "the attachment {} is {} MB; a mail can carry at most {} MB",
            path.display(),
            meta.len().div_ceil(1 << 20),
            MAX_ATTACHMENT_BYTES >> 20
        ));
    }
    Ok(())
}

/// Reads a file [`check_recipient_file`] or [`check_shared_file`] passed,
/// at most [`MAX_ATTACHMENT_BYTES`] of it even if it grew since.
pub fn read_checked(real: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(real)?;
    let mut bytes = Vec::new();
    file.take(MAX_ATTACHMENT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_ATTACHMENT_BYTES {
        return Err(std::io::Error::other(format!(
            "it grew past {} MB while being read",
            MAX_ATTACHMENT_BYTES >> 20
        )));
    }
    Ok(bytes)
}
