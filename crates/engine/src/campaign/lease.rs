//! Which process is sending a campaign, or on an account: an OS file lock
//! per campaign and per account, in a folder beside the database.
//!
//! The app and the CLI can open one database at the same time. Two processes
//! running one campaign would both claim its recipients (a silent duplicate),
//! and two processes sending on one account would each keep the account's
//! rate and quotas to themselves (twice the promised rate). So one process
//! sends a campaign at a time, and one process sends on an account at a time;
//! campaigns in one session share the account (and its limits, see
//! [`super::throttle::LiveLimits`]).
//!
//! Why file locks and not a row in the database: the OS releases them when a
//! process ends, however it ends. After `kill -9` the next `resume` may start
//! at once; a database row would need a heartbeat and a timeout to tell a
//! dead holder from a slow one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lease {
    _file: File,
}

/// What a lease is for.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    Campaign { id: i64, name: &'a str },
    Account { id: i64, name: &'a str },
}

impl Resource<'_> {
    fn file_name(&self) -> String {
        match self {
            Resource::Campaign { id, .. } => format!("campaign-{id}.lock"),
            Resource::Account { id, .. } => format!("account-{id}.lock"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Resource::Campaign { name, .. } => format!("campaign \"{name}\""),
            Resource::Account { name, .. } => format!("the account \"{name}\""),
        }
    }
}

/// Takes the lock on `resource` for this process, or says who has it.
/// A lock is held by an open file, so a second take in the same process
/// fails too: callers that share (runs on one account) share the [`Lease`].
pub fn take(database: &Path, resource: Resource<'_>) -> Result<Lease> {
    let folder = locks_folder(database);
    let internal = |e: std::io::Error| Error::Internal(format!("the lock folder {}: {e}", folder.display()));
    std::fs::create_dir_all(&folder).map_err(internal)?;
    let path = folder.join(resource.file_name());
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(internal)?;
    match try_lock_briefly(&file) {
        Ok(()) => {
            // Who holds it, for the next one to be told; a failure to write
            // this only costs that sentence its detail.
            let _ignored = file
                .set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(holder().as_bytes()));
            Ok(Lease { _file: file })
        }
        Err(TryLockError::WouldBlock) => Err(Error::SendingElsewhere {
            what: resource.describe(),
            holder: holder_named_in(&mut file),
        }),
        Err(TryLockError::Error(e)) => Err(internal(e)),
    }
}

/// Who holds the lock on `resource` right now, if anyone does: another
/// process sending the campaign, or this one. Takes the lock for an instant
/// to find out (no OS offers a portable "is it locked?"); a [`take`] that
/// meets that instant waits it out.
pub fn holder_of(database: &Path, resource: Resource<'_>) -> Option<String> {
    let path = locks_folder(database).join(resource.file_name());
    // No file: nobody ever sent it from this database.
    let mut file = OpenOptions::new().read(true).write(true).open(path).ok()?;
    match file.try_lock() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(holder_named_in(&mut file)),
        Err(TryLockError::Error(_)) => None,
    }
}

/// The holder a held lock file names, as its holder wrote it.
fn holder_named_in(file: &mut File) -> String {
    let mut who = String::new();
    // Windows locks are mandatory: the holder's name may be unreadable.
    let _ignored = file.read_to_string(&mut who);
    match who.trim() {
        "" => "another Mailroom".to_owned(),
        who => who.to_owned(),
    }
}

/// `try_lock`, trying again for a moment: a [`holder_of`] probe holds the
/// lock for microseconds, and must not make a real take fail.
fn try_lock_briefly(file: &File) -> std::result::Result<(), TryLockError> {
    let mut tries = 0;
    loop {
        match file.try_lock() {
            Err(TryLockError::WouldBlock) if tries < PROBE_RETRIES => {
                tries += 1;
                std::thread::sleep(PROBE_RETRY_PAUSE);
            }
            result => return result,
        }
    }
}

/// How long [`try_lock_briefly`] waits out a probe: 20 × 5 ms.
const PROBE_RETRIES: u32 = 20;
const PROBE_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// `mailroom.db` → `mailroom.db.locks`.
fn locks_folder(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".locks");
    PathBuf::from(name)
}

/// This process as a person would recognise it: "mailroom (process 4242)".
pub(crate) fn holder() -> String {
    let program = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "Mailroom".to_owned());
    format!("{program} (process {})", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_exclusive_until_dropped_and_names_its_holder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("mailroom.db");
        let spring = Resource::Campaign { id: 1, name: "Spring" };
        let lease = take(&db, spring).expect("first take");
        let refused = take(&db, spring).expect_err("a second take must fail");
        assert!(matches!(refused, Error::SendingElsewhere { .. }), "{refused:?}");
        let text = refused.to_string();
        assert!(text.contains("campaign \"Spring\""), "{text}");
        assert!(text.contains(&format!("process {}", std::process::id())), "{text}");
        // Another campaign, and an account with the same id, are other locks.
        let _other = take(&db, Resource::Campaign { id: 2, name: "Autumn" }).expect("another campaign");
        let _account = take(&db, Resource::Account { id: 1, name: "Sandbox" }).expect("an account");
        drop(lease);
        assert!(take(&db, spring).is_ok(), "free again once dropped");
        assert!(dir.path().join("mailroom.db.locks/campaign-1.lock").is_file());
    }

    #[test]
    fn the_holder_is_named_without_taking_the_lock_from_anyone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("mailroom.db");
        let spring = Resource::Campaign { id: 7, name: "Spring" };
        assert_eq!(holder_of(&db, spring), None, "never sent: no lock file");
        let lease = take(&db, spring).expect("take");
        let holder = holder_of(&db, spring).expect("held");
        assert!(holder.contains(&format!("process {}", std::process::id())), "{holder}");
        drop(lease);
        assert_eq!(holder_of(&db, spring), None, "free once dropped");
        // The probe let go: a take right after it succeeds.
        assert!(take(&db, spring).is_ok());
    }
}
