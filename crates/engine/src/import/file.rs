//! The file an import reads: opened only if it is a regular file, and the
//! numbered row that every reader (CSV or sheet) yields from it.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// One data row: the row number a spreadsheet shows, and its values.
pub(crate) type Row = (u64, Vec<String>);

/// Opens `path` for reading if it is a regular file (or a link to one).
/// A FIFO would block the import forever waiting for a writer, a device
/// never ends, and a folder is no list: each is refused before it is opened.
pub(crate) fn open_regular_file(path: &Path) -> Result<File> {
    use std::io::{Error as IoError, ErrorKind as IoKind};
    let not_a_file = |what: &str| Error::unreadable(path, IoError::other(format!("it is {what}, not a file")));
    let check = |meta: &std::fs::Metadata| -> Result<()> {
        let kind = meta.file_type();
        if kind.is_file() {
            return Ok(());
        }
        if kind.is_dir() {
            return Err(Error::unreadable(path, IoError::from(IoKind::IsADirectory)));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if kind.is_fifo() {
                return Err(not_a_file("a named pipe (FIFO)"));
            }
            if kind.is_socket() {
                return Err(not_a_file("a socket"));
            }
            if kind.is_char_device() || kind.is_block_device() {
                return Err(not_a_file("a device"));
            }
        }
        Err(not_a_file("a special file"))
    };
    check(&std::fs::metadata(path).map_err(|e| Error::unreadable(path, e))?)?;
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    // Should a FIFO be put in its place after the check, opening it must
    // not wait for a writer; the handle is checked again below.
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.custom_flags(libc::O_NONBLOCK);
    }
    let file = open.open(path).map_err(|e| Error::unreadable(path, e))?;
    check(&file.metadata().map_err(|e| Error::unreadable(path, e))?)?;
    Ok(file)
}
