//! What the app keeps between commands: the store, opened on first use so a
//! database problem is shown in the window rather than stopping the app.

use mailroom_engine::{Error, Store, paths};
use tokio::sync::OnceCell;

#[derive(Debug, Default)]
pub struct AppState {
    store: OnceCell<Store>,
}

impl AppState {
    /// The shared database (`$MAILROOM_DB` or the per-user default).
    pub async fn store(&self) -> Result<&Store, Error> {
        self.store
            .get_or_try_init(|| async { Store::open(&paths::database_path(None)?).await })
            .await
    }
}
