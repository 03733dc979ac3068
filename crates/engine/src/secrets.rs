//! Passwords (SMTP accounts', and their mailboxes' for the bounce scan): kept in the OS keychain (macOS Keychain, Windows Credential
//! Manager, the Secret Service on Linux), or, where there is none (a headless
//! Linux box, CI), in an encrypted file beside the database with a notice
//! saying so. Never in the database, logs, errors or anything sent to the UI
//! (SPEC invariant 6).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths::APP_IDENTIFIER;

/// `MAILROOM_SECRETS=file` skips the keychain (tests, portable installs).
pub const SECRETS_ENV: &str = "MAILROOM_SECRETS";

/// A keychain that does not answer within this long counts as absent; a
/// locked D-Bus must not freeze the window.
const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) const FILE_NAME: &str = "secrets.json";
pub(crate) const KEY_FILE_NAME: &str = "secrets.key";

/// Whose password: an SMTP account's, or the mailbox of one (both keyed by
/// the account's name, apart: `smtp:NAME` and `imap:NAME` in the keychain,
/// two maps in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Smtp,
    Mailbox,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            SecretKind::Smtp => "smtp",
            SecretKind::Mailbox => "imap",
        }
    }
}

/// Where passwords are kept on this machine.
#[derive(Debug, Clone)]
pub enum SecretStore {
    Keychain,
    EncryptedFile { dir: PathBuf },
}

impl SecretStore {
    /// The keychain when it answers, otherwise the encrypted file in `dir`
    /// (the database's folder).
    pub async fn open(dir: &Path) -> SecretStore {
        let forced_file = std::env::var(SECRETS_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("file"));
        if !forced_file && keychain_available().await {
            return SecretStore::Keychain;
        }
        SecretStore::EncryptedFile { dir: dir.to_owned() }
    }

    /// What a person should be told about where passwords are kept.
    pub fn notice(&self) -> Option<String> {
        match self {
            SecretStore::Keychain => None,
            SecretStore::EncryptedFile { dir } => Some(format!(
                "No system keychain is available, so passwords are kept encrypted in {} with a key stored beside \
                 it. That keeps them out of the database, logs and backups of it, but anyone who can read your \
                 files can read them.",
                dir.join(FILE_NAME).display()
            )),
        }
    }

    /// A short name for where secrets are: `keychain` or `encrypted_file`.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretStore::Keychain => "keychain",
            SecretStore::EncryptedFile { .. } => "encrypted_file",
        }
    }

    pub async fn set(&self, account: &str, password: &str) -> Result<()> {
        self.set_kind(SecretKind::Smtp, account, password).await
    }

    pub async fn get(&self, account: &str) -> Result<Option<String>> {
        self.get_kind(SecretKind::Smtp, account).await
    }

    pub async fn delete(&self, account: &str) -> Result<()> {
        self.delete_kind(SecretKind::Smtp, account).await
    }

    /// Moves a password when an account is renamed.
    pub async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.rename_kind(SecretKind::Smtp, from, to).await
    }

    pub async fn set_kind(&self, kind: SecretKind, account: &str, password: &str) -> Result<()> {
        match self {
            SecretStore::Keychain => {
                let (account, password) = (account.to_owned(), password.to_owned());
                keychain(move || entry_for(kind, &account)?.set_password(&password)).await
            }
            SecretStore::EncryptedFile { dir } => {
                let mut file = SecretFile::load(dir)?;
                file.set(kind, account, password)?;
                file.save(dir)
            }
        }
    }

    pub async fn get_kind(&self, kind: SecretKind, account: &str) -> Result<Option<String>> {
        match self {
            SecretStore::Keychain => {
                let account = account.to_owned();
                keychain(move || match entry_for(kind, &account)?.get_password() {
                    Ok(password) => Ok(Some(password)),
                    Err(keyring::Error::NoEntry) => Ok(None),
                    Err(e) => Err(e),
                })
                .await
            }
            // Reading makes nothing: with no file there is no password, and
            // no key is made for it (a database in a read-only folder can
            // still list its accounts).
            SecretStore::EncryptedFile { dir } if !dir.join(FILE_NAME).exists() => Ok(None),
            SecretStore::EncryptedFile { dir } => SecretFile::load(dir)?.get(kind, account),
        }
    }

    pub async fn delete_kind(&self, kind: SecretKind, account: &str) -> Result<()> {
        match self {
            SecretStore::Keychain => {
                let account = account.to_owned();
                keychain(move || match entry_for(kind, &account)?.delete_credential() {
                    Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                    Err(e) => Err(e),
                })
                .await
            }
            SecretStore::EncryptedFile { dir } => {
                let mut file = SecretFile::load(dir)?;
                if file.entries_mut(kind).remove(account).is_some() {
                    file.save(dir)?;
                }
                Ok(())
            }
        }
    }

    /// Moves a password of `kind` when its account is renamed.
    pub async fn rename_kind(&self, kind: SecretKind, from: &str, to: &str) -> Result<()> {
        if from == to {
            return Ok(());
        }
        if let Some(password) = self.get_kind(kind, from).await? {
            self.set_kind(kind, to, &password).await?;
            self.delete_kind(kind, from).await?;
        }
        Ok(())
    }
}

fn entry_for(kind: SecretKind, account: &str) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(APP_IDENTIFIER, &format!("{}:{account}", kind.prefix()))
}

/// Runs a keychain call on its own thread, under [`KEYCHAIN_TIMEOUT`].
async fn keychain<T: Send + 'static>(call: impl FnOnce() -> keyring::Result<T> + Send + 'static) -> Result<T> {
    let task = tokio::task::spawn_blocking(call);
    match tokio::time::timeout(KEYCHAIN_TIMEOUT, task).await {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(e))) => Err(Error::SecretStore(format!("the system keychain refused: {e}"))),
        Ok(Err(e)) => Err(Error::Internal(format!("keychain task: {e}"))),
        Err(_) => Err(Error::SecretStore("the system keychain did not answer".to_owned())),
    }
}

/// Whether a keychain answers: reading an entry that is not there must give
/// "no entry", not "no keychain".
async fn keychain_available() -> bool {
    let probe = keychain(|| match entry_for(SecretKind::Smtp, "(probe)")?.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(e),
    });
    match probe.await {
        Ok(()) => true,
        Err(e) => {
            tracing::info!(reason = %e, "no usable system keychain; passwords go to the encrypted file");
            false
        }
    }
}

/// The fallback: ChaCha20-Poly1305 per entry, the key in its own file
/// readable only by its owner.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SecretFile {
    /// account name → base64(nonce ‖ ciphertext): SMTP passwords.
    entries: BTreeMap<String, String>,
    /// The same for mailbox (IMAP) passwords; absent from older files.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    mailboxes: BTreeMap<String, String>,
    #[serde(skip)]
    key: Option<[u8; 32]>,
}

impl SecretFile {
    fn load(dir: &Path) -> Result<SecretFile> {
        let unreadable = |e: std::io::Error| Error::SecretStore(format!("cannot read {}: {e}", dir.display()));
        let key = load_or_create_key(dir)?;
        let path = dir.join(FILE_NAME);
        let mut file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<SecretFile>(&bytes)
                .map_err(|e| Error::SecretStore(format!("{} is damaged: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SecretFile::default(),
            Err(e) => return Err(unreadable(e)),
        };
        file.key = Some(key);
        Ok(file)
    }

    fn cipher(&self) -> Result<ChaCha20Poly1305> {
        let key = self
            .key
            .ok_or_else(|| Error::Internal("secret key not loaded".to_owned()))?;
        Ok(ChaCha20Poly1305::new(Key::from_slice(&key)))
    }

    fn entries_mut(&mut self, kind: SecretKind) -> &mut BTreeMap<String, String> {
        match kind {
            SecretKind::Smtp => &mut self.entries,
            SecretKind::Mailbox => &mut self.mailboxes,
        }
    }

    fn set(&mut self, kind: SecretKind, account: &str, password: &str) -> Result<()> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher()?
            .encrypt(&nonce, password.as_bytes())
            .map_err(|_| Error::Internal("encrypting a password failed".to_owned()))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        self.entries_mut(kind).insert(account.to_owned(), BASE64.encode(blob));
        Ok(())
    }

    fn get(&self, kind: SecretKind, account: &str) -> Result<Option<String>> {
        let entries = match kind {
            SecretKind::Smtp => &self.entries,
            SecretKind::Mailbox => &self.mailboxes,
        };
        let Some(encoded) = entries.get(account) else {
            return Ok(None);
        };
        let damaged = || Error::SecretStore(format!("the stored password for {account} cannot be decrypted"));
        let blob = BASE64.decode(encoded).map_err(|_| damaged())?;
        if blob.len() < 12 {
            return Err(damaged());
        }
        let (nonce, sealed) = blob.split_at(12);
        let plain = self
            .cipher()?
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| damaged())?;
        String::from_utf8(plain).map(Some).map_err(|_| damaged())
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE_NAME);
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(format!("encoding secrets: {e}")))?;
        write_private(&path, &json)
    }
}

fn load_or_create_key(dir: &Path) -> Result<[u8; 32]> {
    let path = dir.join(KEY_FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| Error::SecretStore(format!("{} is damaged", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = ChaCha20Poly1305::generate_key(&mut OsRng).into();
            write_private(&path, &key)?;
            Ok(key)
        }
        Err(e) => Err(Error::SecretStore(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Writes a file only its owner can read, atomically (temp file + rename).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let fail = |e: std::io::Error| Error::SecretStore(format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let temp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&temp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&temp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_encrypted_file_round_trips_and_hides_the_password() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SecretStore::EncryptedFile {
            dir: dir.path().to_owned(),
        };
        store.set("work", "s3cret-Pässword").await.expect("set");
        assert_eq!(
            store.get("work").await.expect("get").as_deref(),
            Some("s3cret-Pässword")
        );
        assert_eq!(store.get("other").await.expect("get"), None);
        let on_disk = std::fs::read(dir.path().join(FILE_NAME)).expect("file");
        assert!(!String::from_utf8_lossy(&on_disk).contains("s3cret"));
        store.rename("work", "office").await.expect("rename");
        assert_eq!(store.get("work").await.expect("get"), None);
        assert_eq!(
            store.get("office").await.expect("get").as_deref(),
            Some("s3cret-Pässword")
        );
        // A mailbox password of the same account is kept apart.
        store
            .set_kind(SecretKind::Mailbox, "office", "imap-pw")
            .await
            .expect("set");
        assert_eq!(
            store.get("office").await.expect("get").as_deref(),
            Some("s3cret-Pässword")
        );
        store.delete("office").await.expect("delete");
        assert_eq!(store.get("office").await.expect("get"), None);
        assert_eq!(
            store
                .get_kind(SecretKind::Mailbox, "office")
                .await
                .expect("get")
                .as_deref(),
            Some("imap-pw")
        );
        assert!(store.notice().is_some_and(|n| n.contains("encrypted")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE_NAME))
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the key file must be private");
        }
    }

    #[tokio::test]
    async fn asking_for_a_password_that_was_never_kept_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SecretStore::EncryptedFile {
            dir: dir.path().to_owned(),
        };
        assert_eq!(store.get("work").await.expect("get"), None);
        let made: Vec<_> = std::fs::read_dir(dir.path()).expect("read dir").collect();
        assert!(made.is_empty(), "{made:?}");
    }

    #[tokio::test]
    async fn a_tampered_entry_is_an_error_not_garbage() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SecretStore::EncryptedFile {
            dir: dir.path().to_owned(),
        };
        store.set("work", "pw").await.expect("set");
        let path = dir.path().join(FILE_NAME);
        let text = std::fs::read_to_string(&path).expect("read");
        let mut file: SecretFile = serde_json::from_str(&text).expect("json");
        let entry = file.entries.get_mut("work").expect("entry");
        *entry = BASE64.encode(vec![7u8; 40]);
        std::fs::write(&path, serde_json::to_vec(&file).expect("json")).expect("write");
        assert!(matches!(store.get("work").await, Err(Error::SecretStore(_))));
    }
}
