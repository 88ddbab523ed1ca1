//! "Fetch once per tick": a map from a request's key to its one answer,
//! shared by every alarm of the tick — including callers that ask while
//! the first request is still in flight.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
};

use tokio::sync::OnceCell;

/// Answers by key, for one tick.
pub(crate) struct PerTick<V> {
    cells: Mutex<HashMap<String, Arc<OnceCell<V>>>>,
}

impl<V: Clone> PerTick<V> {
    pub(crate) fn new() -> Self {
        PerTick {
            cells: Mutex::new(HashMap::new()),
        }
    }

    /// The answer for `key`: computed by `fetch` for the first caller,
    /// awaited by concurrent ones, cloned for later ones.
    pub(crate) async fn get_or_fetch<F, Fut>(&self, key: String, fetch: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = {
            // Never held across an await; a poisoned lock only means
            // another alarm panicked mid-insert, and the map is still sound.
            let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(cells.entry(key).or_default())
        };
        cell.get_or_init(fetch).await.clone()
    }
}
