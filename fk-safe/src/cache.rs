//! What a catalog remembers between calls: the list of every foreign key,
//! and each backend's own cache (its
//! [`ReadCatalog::Cache`](crate::backend::ReadCatalog::Cache)), which only
//! that backend reads. Nothing here knows a backend's types.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::fk::ForeignKey;

/// The memory of one [`FkCatalog`](crate::FkCatalog).
#[derive(Default)]
pub struct CatalogCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Every foreign key of the database, once listed, by the type of the
    /// backend's cache: a catalog used with two backends by mistake never
    /// answers one with the other's keys.
    all: HashMap<TypeId, Arc<Vec<ForeignKey>>>,
    /// Each backend's cache, by the type of that cache.
    by_backend: HashMap<TypeId, Box<dyn Any + Send>>,
}

impl CatalogCache {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-written
        // (every write is a single insert), so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        *self.lock() = State::default();
    }

    /// Every foreign key, when the backend whose cache is `B` listed them
    /// before.
    pub(crate) fn all<B: 'static>(&self) -> Option<Arc<Vec<ForeignKey>>> {
        self.lock().all.get(&TypeId::of::<B>()).cloned()
    }

    pub(crate) fn remember_all<B: 'static>(&self, all: Arc<Vec<ForeignKey>>) {
        self.lock().all.insert(TypeId::of::<B>(), all);
    }

    /// Runs `f` on the cache of type `B` (created empty on first use),
    /// under the lock: `f` must not read the database.
    pub(crate) fn with<B: Default + Send + 'static, R>(&self, f: impl FnOnce(&mut B) -> R) -> R {
        let mut state = self.lock();
        let entry = state
            .by_backend
            .entry(TypeId::of::<B>())
            .or_insert_with(|| Box::new(B::default()));
        match entry.downcast_mut::<B>() {
            Some(cache) => f(cache),
            // The map is keyed by the type it holds; a mismatch cannot be
            // stored, but an empty cache is still a correct answer.
            None => f(&mut B::default()),
        }
    }
}

impl std::fmt::Debug for CatalogCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("CatalogCache")
            .field(
                "all",
                &state.all.values().map(|all| all.len()).sum::<usize>(),
            )
            .field("backends", &state.by_backend.len())
            .finish()
    }
}
