//! The public builder: [`Graph`] collects rows and links, [`Node`] links
//! the row just added.

use std::any::TypeId;
use std::collections::HashMap;
use std::marker::PhantomData;

use diesel::backend::Backend;

use crate::error::GraphError;
use crate::graph::handle::{GraphRow, Handle, Lookup};
use crate::graph::model::References;
use crate::graph::model::{FkOrdered, HasNaturalKey, Relation, WriteNaturalKey, WriteRow};
use crate::graph::slot::{AnySlot, ErasedLookup, Link, LookupOf, Slot};

/// Rows to insert and the links between them.
///
/// Add rows with [`Graph::add`], link them with [`Node::parent`] (or
/// [`Node::parent_via`] when a model has several foreign keys to the same
/// table), then hand the graph to [`insert_graph`](crate::graph::insert_graph). A foreign key that is
/// not linked keeps its field's value: the id of a row that already exists,
/// or the key of a row of this graph whose key the client chooses (a tag's
/// code), which is then written first.
///
/// [`insert_graph`](crate::graph::insert_graph) borrows the graph, so that its rows can be read back
/// afterwards: [`Graph::get`] by handle, [`Graph::row`] for the input row a
/// violation points at.
///
/// A link the graph cannot honour (a handle of another graph, a foreign key
/// linked twice to different parents) is never dropped: [`insert_graph`](crate::graph::insert_graph)
/// refuses the graph with a [`GraphError`] before any SQL.
pub struct Graph<DB: Backend> {
    /// Tells this graph's handles from another graph's.
    pub(crate) id: u64,
    /// The first link that could not be made; reported before any SQL.
    pub(crate) misuse: Option<GraphError>,
    pub(crate) slots: Vec<Box<dyn AnySlot<DB>>>,
    pub(crate) slot_of: HashMap<TypeId, usize>,
    /// `lookups[slot]`: natural keys of existing rows of that slot's model.
    pub(crate) lookups: Vec<Vec<Box<dyn ErasedLookup<DB>>>>,
}

impl<DB: Backend> Default for Graph<DB> {
    fn default() -> Self {
        static NEXT_GRAPH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Graph {
            id: NEXT_GRAPH.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            misuse: None,
            slots: Vec::new(),
            slot_of: HashMap::new(),
            lookups: Vec::new(),
        }
    }
}

impl<DB: Backend> std::fmt::Debug for Graph<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_map();
        for slot in &self.slots {
            list.entry(&slot.model(), &slot.len());
        }
        list.finish()
    }
}

impl<DB: crate::backend::FkBackend + 'static> Graph<DB> {
    /// An empty graph.
    pub fn new() -> Self {
        Graph::default()
    }

    /// Adds a row; link it to its parents with the returned [`Node`], and
    /// keep its [`Handle`] (from [`Node::handle`]) to link children to it or
    /// to read its generated key afterwards.
    pub fn add<M>(&mut self, row: M) -> Node<'_, M, DB>
    where
        M: WriteRow<DB>,
    {
        let slot = self.slot_index::<M>();
        let typed = self.slot_mut::<M>(slot);
        typed.rows.push(row);
        typed.links.push(vec![Link::Field; M::RELATIONS.len()]);
        typed.get_or_insert.push(false);
        let row = typed.rows.len() - 1;
        Node {
            graph: self,
            slot,
            row,
            _model: PhantomData,
        }
    }

    /// Adds a row that is inserted only if no row with the same natural key
    /// (`#[fk(natural_key(..))]`) exists; otherwise the existing row's key is
    /// used, and its other columns are left as they are. Seed scripts built
    /// this way can run twice.
    ///
    /// Runs as `INSERT .. ON CONFLICT (natural key) DO NOTHING` followed by
    /// one look-up of every row by its natural key, joined from a numbered
    /// `VALUES` list, so that the database compares keys the way its unique
    /// constraint does (a case-insensitive collation finds `Alice@x` for
    /// `alice@x`). The natural-key columns need a UNIQUE constraint or index.
    pub fn get_or_insert<M>(&mut self, row: M) -> Node<'_, M, DB>
    where
        M: WriteRow<DB> + HasNaturalKey,
    {
        let node = self.add(row);
        let (slot, row) = (node.slot, node.row);
        let typed = node.graph.slot_mut::<M>(slot);
        if let Some(flag) = typed.get_or_insert.get_mut(row) {
            *flag = true;
        }
        Node {
            graph: node.graph,
            slot,
            row,
            _model: PhantomData,
        }
    }

    /// A row that already exists, found by its natural key inside the
    /// insert's transaction ("Alice's real id, by her email"). Link children
    /// to the [`Lookup`] like to any [`Handle`]; read its key from the
    /// [`Ids`](crate::graph::Ids). Look-ups that find nothing are reported together with every
    /// other missing parent, before anything is written. A composite natural
    /// key is given as a tuple, in `natural_key(..)` order.
    ///
    /// Code generic over the backend names `M: WriteNaturalKey<DB>` for a
    /// looked-up model (`WriteRow<DB>` is enough for the others).
    pub fn lookup<M>(&mut self, key: M::NaturalKey) -> Lookup<M>
    where
        M: WriteRow<DB> + WriteNaturalKey<DB>,
    {
        let slot = self.slot_index::<M>();
        let lookups = &mut self.lookups[slot];
        lookups.push(Box::new(LookupOf::<M>(key)));
        Lookup {
            graph: self.id,
            index: lookups.len() - 1,
            _model: PhantomData,
        }
    }

    /// Links a row added earlier to a parent through `relation`, after the
    /// fact. This is how two rows that point at each other are described (a
    /// department whose head works in it): [`insert_graph`](crate::graph::insert_graph) writes one of
    /// them with that foreign key NULL (the relation must allow NULL) and
    /// sets it with an `UPDATE` once both rows exist, in the same
    /// transaction.
    ///
    /// `relation` is one of the constants the derive generates on the model,
    /// named after the foreign-key field in upper case (`NewEmployee::MANAGER_ID`
    /// for `manager_id`). The child must be a row of this graph
    /// ([`Handle`]); a looked-up row is not written, so it cannot be one (a
    /// compile error). The parent may be either. A handle of another graph,
    /// or a foreign key linked twice to different parents, makes
    /// [`insert_graph`](crate::graph::insert_graph) refuse the graph before any SQL. A row that
    /// [`Graph::get_or_insert`] finds existing keeps the foreign keys it has;
    /// [`Ids::existed`](crate::graph::Ids::existed) tells which rows those were.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::prelude::*;
    /// use fk_safe::graph::{insert_graph, Graph};
    /// use fk_safe::{FkConnection, FkOrdered};
    ///
    /// diesel::table! { employees (id) { id -> BigInt, name -> Text, manager_id -> Nullable<BigInt> } }
    ///
    /// #[derive(Identifiable)]
    /// #[diesel(table_name = employees)]
    /// struct Employee { id: i64 }
    ///
    /// #[derive(Insertable, FkOrdered)]
    /// #[diesel(table_name = employees)]
    /// #[diesel(belongs_to(Employee, foreign_key = manager_id))]
    /// struct NewEmployee { name: String, manager_id: Option<i64> }
    ///
    /// let mut conn = SqliteConnection::establish(":memory:").unwrap();
    /// conn.enforce_foreign_keys().unwrap();
    /// diesel::sql_query("CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL, manager_id BIGINT REFERENCES employees (id))")
    ///     .execute(&mut conn).unwrap();
    ///
    /// let mut graph = Graph::new();
    /// let boss = graph.add(NewEmployee { name: "Ada".into(), manager_id: None }).handle();
    /// // Ada manages herself: a cycle, closed with an UPDATE after the insert.
    /// graph.link(boss, NewEmployee::MANAGER_ID, boss);
    /// let ids = insert_graph(&mut conn, &graph).unwrap();
    /// let manager: Option<i64> = employees::table.find(ids[boss]).select(employees::manager_id)
    ///     .first(&mut conn).unwrap();
    /// assert_eq!(manager, Some(ids[boss]));
    /// # }
    /// ```
    pub fn link<M, H>(
        &mut self,
        child: Handle<M>,
        relation: Relation<M, <H::Model as FkOrdered>::Table>,
        parent: H,
    ) where
        M: WriteRow<DB>,
        H: GraphRow,
        H::Model: WriteRow<DB>,
    {
        if child.graph != self.id {
            self.refuse(GraphError::ForeignHandle { model: M::MODEL });
            return;
        }
        let Some(&slot) = self.slot_of.get(&TypeId::of::<M>()) else {
            self.refuse(GraphError::UnknownRow {
                model: M::MODEL,
                row: child.row,
            });
            return;
        };
        Node::<M, DB> {
            graph: self,
            slot,
            row: child.row,
            _model: PhantomData,
        }
        .link_to(relation.index(), parent);
    }

    /// The row `handle` stands for, as it was added; `None` for a handle of
    /// another graph.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use fk_safe::graph::Graph;
    /// use fk_safe::FkOrdered;
    ///
    /// diesel::table! { authors (id) { id -> BigInt, name -> Text } }
    ///
    /// #[derive(diesel::Insertable, FkOrdered)]
    /// #[diesel(table_name = authors)]
    /// struct NewAuthor { name: String }
    ///
    /// let mut graph = Graph::<diesel::sqlite::Sqlite>::new();
    /// let ada = graph.add(NewAuthor { name: "Ada".into() }).handle();
    /// assert_eq!(graph.get(ada).map(|a| a.name.as_str()), Some("Ada"));
    /// # }
    /// ```
    pub fn get<M: WriteRow<DB>>(&self, handle: Handle<M>) -> Option<&M> {
        if handle.graph != self.id {
            return None;
        }
        self.rows::<M>().get(handle.row)
    }

    /// Every row of model `M`, in the order they were added.
    pub fn rows<M: WriteRow<DB>>(&self) -> &[M] {
        self.slot_of
            .get(&TypeId::of::<M>())
            .and_then(|&slot| self.slots[slot].as_any().downcast_ref::<Slot<M>>())
            .map_or(&[], |slot| slot.rows.as_slice())
    }

    /// The input row a violation points at ([`FkViolation::origin`](crate::FkViolation::origin)),
    /// when it is a row of model `M`: what a handler shows the client.
    /// `None` when the origin names another model or no row, or when two
    /// models of the graph share `M`'s name (the origin would not say which).
    ///
    /// ```no_run
    /// # #[cfg(feature = "sqlite")] {
    /// # use diesel::prelude::*;
    /// # use fk_safe::graph::{insert_graph, Graph};
    /// # use fk_safe::FkOrdered;
    /// # diesel::table! { authors (id) { id -> BigInt } }
    /// # diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, title -> Text } }
    /// # #[derive(Identifiable)] #[diesel(table_name = authors)] struct Author { id: i64 }
    /// # #[derive(Insertable, FkOrdered)] #[diesel(table_name = posts)]
    /// # #[diesel(belongs_to(Author, foreign_key = author_id))]
    /// # struct NewPost { author_id: i64, title: String }
    /// # let mut conn = SqliteConnection::establish(":memory:").unwrap();
    /// let mut graph = Graph::new();
    /// graph.add(NewPost { author_id: 999, title: "Hello".into() });
    /// if let Err(fk_safe::Error::MissingParents(missing)) = insert_graph(&mut conn, &graph) {
    ///     for violation in &missing {
    ///         if let Some(post) = violation.origin().and_then(|o| graph.row::<NewPost>(o)) {
    ///             println!("\"{}\" names an author that does not exist", post.title);
    ///         }
    ///     }
    /// }
    /// # }
    /// ```
    pub fn row<M: WriteRow<DB>>(&self, origin: &crate::fk::RowOrigin) -> Option<&M> {
        if origin.model != M::MODEL {
            return None;
        }
        let namesakes = self.slots.iter().filter(|s| s.model() == M::MODEL).count();
        if namesakes > 1 {
            return None;
        }
        self.rows::<M>().get(origin.row?)
    }

    /// How many rows the graph holds.
    pub fn len(&self) -> usize {
        self.slots.iter().map(|s| s.len()).sum()
    }

    /// Whether the graph holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slot_index<M: WriteRow<DB>>(&mut self) -> usize {
        if let Some(&slot) = self.slot_of.get(&TypeId::of::<M>()) {
            return slot;
        }
        self.slots.push(Box::new(Slot::<M> {
            rows: Vec::new(),
            links: Vec::new(),
            get_or_insert: Vec::new(),
            table_name: std::sync::OnceLock::new(),
        }));
        self.lookups.push(Vec::new());
        let slot = self.slots.len() - 1;
        self.slot_of.insert(TypeId::of::<M>(), slot);
        slot
    }

    fn slot_mut<M: WriteRow<DB>>(&mut self, slot: usize) -> &mut Slot<M> {
        // The slot was created for `M` under `TypeId::of::<M>()`, so the
        // downcast cannot fail; the fallback keeps this free of panics.
        match self.slots[slot].as_any_mut().downcast_mut::<Slot<M>>() {
            Some(typed) => typed,
            None => unreachable!("fk-safe: a graph slot holds another model than its type id says"),
        }
    }

    /// Remembers the first link that could not be made, for [`insert_graph`]
    /// to refuse the graph with before any SQL.
    fn refuse(&mut self, error: GraphError) {
        self.misuse.get_or_insert(error);
    }

    /// Sets a link of row `row` of model `M`, refusing one the graph cannot
    /// hold rather than dropping it.
    fn set_link<M: WriteRow<DB>>(&mut self, slot: usize, row: usize, relation: usize, link: Link) {
        let Some(info) = M::RELATIONS.get(relation) else {
            self.refuse(GraphError::UnknownRelation {
                model: M::MODEL,
                relation,
            });
            return;
        };
        let Some(current) = self
            .slot_mut::<M>(slot)
            .links
            .get_mut(row)
            .and_then(|links| links.get_mut(relation))
        else {
            self.refuse(GraphError::UnknownRow {
                model: M::MODEL,
                row,
            });
            return;
        };
        if *current != Link::Field && *current != link {
            self.refuse(GraphError::LinkedTwice {
                model: M::MODEL,
                relation: info.name,
                row,
            });
            return;
        }
        *current = link;
    }

    /// The first link that could not be made, if any.
    pub(crate) fn misuse(&self) -> Option<&GraphError> {
        self.misuse.as_ref()
    }
}

/// A row just added to a [`Graph`]: link it to its parents, then keep its
/// [`handle`](Node::handle).
pub struct Node<'g, M, DB: Backend> {
    pub(crate) graph: &'g mut Graph<DB>,
    pub(crate) slot: usize,
    pub(crate) row: usize,
    pub(crate) _model: PhantomData<fn() -> M>,
}

impl<'g, M, DB> Node<'g, M, DB>
where
    M: WriteRow<DB>,
    DB: crate::backend::FkBackend + 'static,
{
    /// Fills the foreign key to `parent`'s table with `parent`'s generated
    /// key (or, for a [`Lookup`], the key found). A compile error when `M`
    /// has no foreign key, or several, to that table; for several, use
    /// [`Node::parent_via`].
    pub fn parent<H, const RELATION: usize>(self, parent: H) -> Self
    where
        H: GraphRow,
        H::Model: WriteRow<DB>,
        M: References<<H::Model as FkOrdered>::Table, RELATION>,
    {
        self.link_to(RELATION, parent)
    }

    /// Fills the foreign key of `relation` (a constant the derive generates
    /// on `M`, the field's name in upper case) with `parent`'s key.
    pub fn parent_via<H>(
        self,
        relation: Relation<M, <H::Model as FkOrdered>::Table>,
        parent: H,
    ) -> Self
    where
        H: GraphRow,
        H::Model: WriteRow<DB>,
    {
        self.link_to(relation.index(), parent)
    }

    fn link_to<H>(self, relation: usize, parent: H) -> Self
    where
        H: GraphRow,
        H::Model: WriteRow<DB>,
    {
        let model = <H::Model as FkOrdered>::MODEL;
        if parent.graph_id() != self.graph.id {
            self.graph.refuse(GraphError::ForeignHandle { model });
            return self;
        }
        let slot = self.graph.slot_index::<H::Model>();
        let (at, lookup) = parent.position();
        let (link, exists) = if lookup {
            (
                Link::Lookup { slot, index: at },
                at < self.graph.lookups[slot].len(),
            )
        } else {
            (
                Link::Row { slot, row: at },
                at < self.graph.slots[slot].len(),
            )
        };
        if !exists {
            self.graph.refuse(GraphError::UnknownRow { model, row: at });
            return self;
        }
        self.graph
            .set_link::<M>(self.slot, self.row, relation, link);
        self
    }

    /// The row's handle.
    pub fn handle(&self) -> Handle<M> {
        Handle {
            graph: self.graph.id,
            row: self.row,
            _model: PhantomData,
        }
    }
}
