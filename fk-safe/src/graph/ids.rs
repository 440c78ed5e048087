//! What [`insert_graph`](super::insert_graph) returns: every row's key, by
//! its handle.

use std::any::{Any, TypeId};
use std::collections::HashMap;

use crate::graph::handle::GraphRow;
use crate::graph::model::FkOrdered;

/// The keys of a graph's rows, indexed by their [`Handle`](crate::graph::Handle)s and
/// [`Lookup`](crate::graph::Lookup)s: `ids[handle]` or [`Ids::get`]; and which rows added with
/// [`Graph::get_or_insert`](crate::graph::Graph::get_or_insert) existed already ([`Ids::existed`]).
#[derive(Default)]
pub struct Ids {
    pub(crate) graph: u64,
    pub(crate) keys: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    pub(crate) lookups: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    /// By model, for each row: whether it existed (get-or-insert) rather
    /// than being inserted.
    pub(crate) existed: HashMap<TypeId, Vec<bool>>,
}

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ids")
            .field("models", &self.keys.len())
            .finish()
    }
}

impl Ids {
    pub(crate) fn for_graph(graph: u64) -> Self {
        Ids {
            graph,
            ..Ids::default()
        }
    }

    pub(crate) fn insert<M: FkOrdered>(
        &mut self,
        keys: Vec<M::Key>,
        found: Vec<M::Key>,
        existed: Vec<bool>,
    ) {
        self.keys.insert(TypeId::of::<M>(), Box::new(keys));
        self.lookups.insert(TypeId::of::<M>(), Box::new(found));
        self.existed.insert(TypeId::of::<M>(), existed);
    }

    /// The key of `row`'s row (generated, chosen by the client, or found by
    /// a look-up); `None` for a handle of another graph.
    pub fn get<H: GraphRow>(&self, row: H) -> Option<&<H::Model as FkOrdered>::Key> {
        if row.graph_id() != self.graph {
            return None;
        }
        let (at, lookup) = row.position();
        let keys = if lookup { &self.lookups } else { &self.keys };
        keys.get(&TypeId::of::<H::Model>())?
            .downcast_ref::<Vec<<H::Model as FkOrdered>::Key>>()?
            .get(at)
    }

    /// Whether `row`'s row existed before the insert: `Some(true)` for a row
    /// [`Graph::get_or_insert`](crate::graph::Graph::get_or_insert) found (its columns were left as they were,
    /// links included) and for a [`Lookup`](crate::graph::Lookup), `Some(false)` for a row that
    /// was inserted; `None` for a handle of another graph.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::prelude::*;
    /// use fk_safe::graph::{insert_graph, Graph};
    /// use fk_safe::FkOrdered;
    ///
    /// diesel::table! { tags (id) { id -> BigInt, name -> Text } }
    ///
    /// #[derive(Insertable, FkOrdered)]
    /// #[diesel(table_name = tags)]
    /// #[fk(natural_key(name))]
    /// struct NewTag { name: String }
    ///
    /// let mut conn = SqliteConnection::establish(":memory:").unwrap();
    /// diesel::sql_query("CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
    ///     .execute(&mut conn).unwrap();
    /// let mut graph = Graph::new();
    /// let rust = graph.get_or_insert(NewTag { name: "rust".into() }).handle();
    /// assert_eq!(insert_graph(&mut conn, &graph).unwrap().existed(rust), Some(false));
    /// // The same graph again: the tag is found, not inserted.
    /// assert_eq!(insert_graph(&mut conn, &graph).unwrap().existed(rust), Some(true));
    /// # }
    /// ```
    pub fn existed<H: GraphRow>(&self, row: H) -> Option<bool> {
        self.get(row)?;
        match row.position() {
            (_, true) => Some(true),
            (at, false) => self
                .existed
                .get(&TypeId::of::<H::Model>())
                .and_then(|existed| existed.get(at).copied()),
        }
    }

    /// For every row of model `M`, in the order they were added, whether it
    /// existed ([`Ids::existed`]); parallel to [`Ids::all`].
    pub fn all_existed<M: FkOrdered>(&self) -> &[bool] {
        self.existed
            .get(&TypeId::of::<M>())
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// All generated keys of model `M`, in the order its rows were added
    /// (empty for a model the graph has no rows of).
    pub fn all<M: FkOrdered>(&self) -> &[M::Key] {
        self.keys
            .get(&TypeId::of::<M>())
            .and_then(|keys| keys.downcast_ref::<Vec<M::Key>>())
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

impl<H: GraphRow> std::ops::Index<H> for Ids {
    type Output = <H::Model as FkOrdered>::Key;

    /// # Panics
    /// For a handle that does not belong to the graph these ids came from;
    /// [`Ids::get`] returns `None` instead.
    fn index(&self, row: H) -> &Self::Output {
        match self.get(row) {
            Some(key) => key,
            None => panic!(
                "a handle of {} does not belong to the graph these ids came from",
                <H::Model as FkOrdered>::MODEL
            ),
        }
    }
}
