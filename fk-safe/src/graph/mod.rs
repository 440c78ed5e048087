//! Graph inserts: describe rows and how they hang together, and
//! [`insert_graph`] writes them parents first, in batches, in one
//! transaction, filling every child's foreign key from its parent's
//! generated key.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::prelude::*;
//! use fk_safe::graph::{insert_graph, Graph};
//! use fk_safe::{FkConnection, FkOrdered};
//!
//! diesel::table! { customers (id) { id -> BigInt, email -> Text } }
//! diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt, total -> BigInt } }
//!
//! #[derive(Identifiable)]
//! #[diesel(table_name = customers)]
//! struct Customer { id: i64 }
//!
//! #[derive(Insertable, FkOrdered)]
//! #[diesel(table_name = customers)]
//! struct NewCustomer { email: String }
//!
//! #[derive(Insertable, FkOrdered)]
//! #[diesel(table_name = orders)]
//! #[diesel(belongs_to(Customer, foreign_key = customer_id))]
//! struct NewOrder { customer_id: i64, total: i64 }
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! conn.enforce_foreign_keys().unwrap();
//! diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL)").execute(&mut conn).unwrap();
//! diesel::sql_query("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers (id), total BIGINT NOT NULL)")
//!     .execute(&mut conn).unwrap();
//!
//! let mut graph = Graph::new();
//! let alice = graph.add(NewCustomer { email: "alice@example.com".into() }).handle();
//! // The foreign key is filled from alice's generated id; 0 is a placeholder.
//! let order = graph.add(NewOrder { customer_id: 0, total: 4200 }).parent(alice).handle();
//!
//! let ids = insert_graph(&mut conn, &graph).unwrap();
//! let owner: i64 = orders::table.find(ids[order]).select(orders::customer_id).first(&mut conn).unwrap();
//! assert_eq!(owner, ids[alice]);
//! # }
//! ```

pub(crate) mod execute;
mod lookup;
pub(crate) mod model;
mod own_keys;
mod plan;
mod table_name;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::marker::PhantomData;

use diesel::backend::Backend;

use crate::error::GraphError;

pub(crate) use execute::PairQuery;
pub use execute::{insert_graph, insert_graph_with};
pub use model::{
    FkOrdered, ForeignKeyField, GraphKey, HasNaturalKey, KeyValue, NaturalKeyPart, References,
    Relation, WriteNaturalKey, WriteRow,
};
pub(crate) use model::{ParentSql, RelationInfo};

/// A row added to a [`Graph`], typed by its model. Cheap to copy; indexes
/// the [`Ids`] that [`insert_graph`] returns, and reads the row back with
/// [`Graph::get`].
pub struct Handle<M> {
    /// The graph the handle belongs to.
    graph: u64,
    row: usize,
    _model: PhantomData<fn() -> M>,
}

/// An existing row found by [`Graph::lookup`]. Link children to it like to
/// a [`Handle`], and read its key from the [`Ids`]; it is not written, so it
/// cannot be the child of a link (a compile error):
///
/// ```compile_fail,E0308
/// # use diesel::prelude::*;
/// # use fk_safe::graph::Graph;
/// # use fk_safe::FkOrdered;
/// # diesel::table! { authors (id) { id -> BigInt, email -> Text } }
/// # diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, slug -> Text } }
/// # #[derive(Identifiable)] #[diesel(table_name = authors)] struct Author { id: i64 }
/// # #[derive(Insertable, FkOrdered)] #[diesel(table_name = authors)] struct NewAuthor { email: String }
/// # #[derive(Insertable, FkOrdered)] #[diesel(table_name = posts)] #[fk(natural_key(slug))]
/// # #[diesel(belongs_to(Author, foreign_key = author_id))]
/// # struct NewPost { author_id: i64, slug: String }
/// let mut graph = Graph::<diesel::sqlite::Sqlite>::new();
/// let post = graph.lookup::<NewPost>("hello".to_string());
/// let author = graph.add(NewAuthor { email: "a@example.com".into() }).handle();
/// graph.link(post, NewPost::AUTHOR_ID, author); // expected `Handle<NewPost>`, found `Lookup<NewPost>`
/// ```
pub struct Lookup<M> {
    graph: u64,
    index: usize,
    _model: PhantomData<fn() -> M>,
}

macro_rules! handle_impls {
    ($name:ident, $field:ident, $what:literal) => {
        impl<M> Clone for $name<M> {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl<M> Copy for $name<M> {}

        impl<M> PartialEq for $name<M> {
            fn eq(&self, other: &Self) -> bool {
                self.graph == other.graph && self.$field == other.$field
            }
        }

        impl<M> Eq for $name<M> {}

        impl<M> std::hash::Hash for $name<M> {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.graph.hash(state);
                self.$field.hash(state);
            }
        }

        impl<M> std::fmt::Debug for $name<M> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "<{}>({}{})"),
                    std::any::type_name::<M>(),
                    $what,
                    self.$field
                )
            }
        }
    };
}

handle_impls!(Handle, row, "");
handle_impls!(Lookup, index, "lookup ");

impl<M> Handle<M> {
    /// The position of the row among the rows of its model, in the order
    /// they were added (what a violation's [`RowOrigin::row`](crate::RowOrigin) refers to).
    pub fn row(&self) -> usize {
        self.row
    }
}

impl<M> Lookup<M> {
    /// The position of the look-up among the look-ups of its model.
    pub fn index(&self) -> usize {
        self.index
    }
}

mod sealed {
    /// Keeps [`GraphRow`](super::GraphRow) to fk-safe's two handle types.
    pub trait Sealed {
        /// The graph the handle belongs to.
        fn graph_id(&self) -> u64;
        /// The row's (or look-up's) position, and whether it is a look-up.
        fn position(&self) -> (usize, bool);
    }
}

/// A row of a graph a child can be linked to, and whose key [`Ids`] holds:
/// a [`Handle`] (added) or a [`Lookup`] (found).
pub trait GraphRow: Copy + sealed::Sealed {
    /// The row's model.
    type Model: FkOrdered;
}

impl<M> sealed::Sealed for Handle<M> {
    fn graph_id(&self) -> u64 {
        self.graph
    }
    fn position(&self) -> (usize, bool) {
        (self.row, false)
    }
}

impl<M> sealed::Sealed for Lookup<M> {
    fn graph_id(&self) -> u64 {
        self.graph
    }
    fn position(&self) -> (usize, bool) {
        (self.index, true)
    }
}

impl<M: FkOrdered> GraphRow for Handle<M> {
    type Model = M;
}

impl<M: FkOrdered> GraphRow for Lookup<M> {
    type Model = M;
}

/// Where a foreign key of a row takes its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// The field's own value (an existing parent's key, or NULL).
    Field,
    /// The generated key of a row of this graph.
    Row { slot: usize, row: usize },
    /// The key of an existing row found by its natural key.
    Lookup { slot: usize, index: usize },
}

/// A natural-key value to look up, whatever its model.
pub(crate) trait ErasedLookup<DB: Backend>: Send + Sync {
    fn text(&self) -> String;
    fn as_values(&self) -> &dyn lookup::MatchValues<DB>;
}

struct LookupOf<M: HasNaturalKey>(M::NaturalKey);

impl<M, DB> lookup::MatchValues<DB> for LookupOf<M>
where
    M: WriteNaturalKey<DB>,
    DB: Backend,
{
    fn write_match_values<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        M::write_key_values(&self.0, out)
    }
}

impl<M, DB> ErasedLookup<DB> for LookupOf<M>
where
    M: WriteNaturalKey<DB>,
    DB: Backend,
{
    fn text(&self) -> String {
        M::key_text(&self.0)
    }

    fn as_values(&self) -> &dyn lookup::MatchValues<DB> {
        self
    }
}

/// The rows of one model.
pub(crate) struct Slot<M> {
    pub(crate) rows: Vec<M>,
    /// `links[row][relation]`
    pub(crate) links: Vec<Vec<Link>>,
    /// Rows added with `get_or_insert`: reuse the row with the same natural key.
    pub(crate) get_or_insert: Vec<bool>,
    /// The model's table, read from its rendering the first time it is
    /// needed.
    pub(crate) table_name: std::sync::OnceLock<table_name::TableName>,
}

/// What the planner and executor need of a slot, whatever its model.
pub(crate) trait AnySlot<DB: Backend>: Send + Sync {
    fn model(&self) -> &'static str;
    /// The `TypeId` of the model's Diesel table.
    fn table_type(&self) -> TypeId;
    /// The `TypeId` of the table relation `relation` points at.
    fn parent_table(&self, relation: usize) -> Option<TypeId>;
    fn relations(&self) -> &'static [RelationInfo];
    fn len(&self) -> usize;
    fn links(&self, row: usize) -> &[Link];
    fn foreign_key(&self, row: usize, relation: usize) -> Option<KeyValue>;
    /// The value `row` writes to `column` as a key (`Some(None)`: NULL).
    fn column_key(&self, row: usize, column: &str) -> Option<Option<KeyValue>>;
    /// The SQL names of the columns the model writes.
    fn columns(&self) -> &'static [&'static str];
    fn own_key(&self, row: usize) -> Option<KeyValue>;
    fn parent_sql(&self, relation: usize) -> diesel::QueryResult<Option<ParentSql>>;
    fn table_sql(&self) -> diesel::QueryResult<String>;
    /// The model's table by name, read once.
    fn table_name(&self) -> diesel::QueryResult<table_name::TableName>;
    /// Stores the generated and looked-up keys, typed; the key that does not
    /// fit `M::Key` otherwise.
    fn store_keys(
        &self,
        keys: Vec<KeyValue>,
        found: Vec<KeyValue>,
        existed: Vec<bool>,
        ids: &mut Ids,
    ) -> Result<(), KeyValue>;
    /// Where this model's rows are found by natural key.
    fn natural_key_target(&self) -> lookup::Target<DB>;
    /// The natural keys of `rows`, to find them with.
    fn natural_values<'a>(&'a self, rows: &[usize]) -> Vec<&'a dyn lookup::MatchValues<DB>>;
    /// The update that writes links of `relation` after the insert, given
    /// as (child key, parent key).
    fn link_update<'a>(
        &self,
        relation: usize,
        links: &'a [(KeyValue, KeyValue)],
    ) -> execute::LinkUpdate<'a, DB>;
    fn batch<'a>(
        &'a self,
        rows: &'a [usize],
        links: &'a [Vec<Option<KeyValue>>],
        omitted: u64,
    ) -> execute::Batch<'a, DB>;
    /// The columns `row` leaves to their DEFAULT, given its resolved links
    /// (a linked foreign key is always written).
    fn omitted_columns(&self, row: usize, links: &[Option<KeyValue>]) -> u64;
    fn is_get_or_insert(&self, row: usize) -> bool;
    fn natural_key_text(&self, row: usize) -> Option<String>;
    fn natural_key_columns(&self) -> &'static [&'static str];
    fn parse_key(&self, text: &str) -> Option<KeyValue>;
    fn keys_in_insert_order(&self) -> bool;
    fn key_column(&self) -> &'static str;
    /// Every column of the model's key (several for a composite key).
    fn key_columns(&self) -> &'static [&'static str];
    /// Whether some part of `row`'s own key is a foreign key linked to a
    /// parent: that part is the parent's key, known only once it is written,
    /// and the field holds a placeholder.
    fn own_key_is_linked(&self, row: usize) -> bool {
        let links = self.links(row);
        self.key_columns().iter().any(|column| {
            self.relations().iter().enumerate().any(|(relation, info)| {
                info.columns.contains(column)
                    && links.get(relation).is_some_and(|link| *link != Link::Field)
            })
        })
    }
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Rows to insert and the links between them.
///
/// Add rows with [`Graph::add`], link them with [`Node::parent`] (or
/// [`Node::parent_via`] when a model has several foreign keys to the same
/// table), then hand the graph to [`insert_graph`]. A foreign key that is
/// not linked keeps its field's value: the id of a row that already exists,
/// or the key of a row of this graph whose key the client chooses (a tag's
/// code), which is then written first.
///
/// [`insert_graph`] borrows the graph, so that its rows can be read back
/// afterwards: [`Graph::get`] by handle, [`Graph::row`] for the input row a
/// violation points at.
///
/// A link the graph cannot honour (a handle of another graph, a foreign key
/// linked twice to different parents) is never dropped: [`insert_graph`]
/// refuses the graph with a [`GraphError`] before any SQL.
pub struct Graph<DB: Backend> {
    /// Tells this graph's handles from another graph's.
    id: u64,
    /// The first link that could not be made; reported before any SQL.
    misuse: Option<GraphError>,
    slots: Vec<Box<dyn AnySlot<DB>>>,
    slot_of: HashMap<TypeId, usize>,
    /// `lookups[slot]`: natural keys of existing rows of that slot's model.
    lookups: Vec<Vec<Box<dyn ErasedLookup<DB>>>>,
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
    /// [`Ids`]. Look-ups that find nothing are reported together with every
    /// other missing parent, before anything is written. A composite natural
    /// key is given as a tuple, in `natural_key(..)` order.
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
    /// department whose head works in it): [`insert_graph`] writes one of
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
    /// [`insert_graph`] refuse the graph before any SQL. A row that
    /// [`Graph::get_or_insert`] finds existing keeps the foreign keys it has;
    /// [`Ids::existed`] tells which rows those were.
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
    pub fn row<M: WriteRow<DB>>(&self, origin: &crate::RowOrigin) -> Option<&M> {
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
    graph: &'g mut Graph<DB>,
    slot: usize,
    row: usize,
    _model: PhantomData<fn() -> M>,
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

/// The keys of a graph's rows, indexed by their [`Handle`]s and
/// [`Lookup`]s: `ids[handle]` or [`Ids::get`]; and which rows added with
/// [`Graph::get_or_insert`] existed already ([`Ids::existed`]).
#[derive(Default)]
pub struct Ids {
    graph: u64,
    keys: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    lookups: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    /// By model, for each row: whether it existed (get-or-insert) rather
    /// than being inserted.
    existed: HashMap<TypeId, Vec<bool>>,
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
    /// [`Graph::get_or_insert`] found (its columns were left as they were,
    /// links included) and for a [`Lookup`], `Some(false)` for a row that
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

impl<M, DB> AnySlot<DB> for Slot<M>
where
    M: WriteRow<DB>,
    DB: crate::backend::FkBackend + 'static,
{
    fn model(&self) -> &'static str {
        M::MODEL
    }

    fn table_type(&self) -> TypeId {
        TypeId::of::<M::Table>()
    }

    fn parent_table(&self, relation: usize) -> Option<TypeId> {
        M::parent_table(relation)
    }

    fn relations(&self) -> &'static [RelationInfo] {
        M::RELATIONS
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn links(&self, row: usize) -> &[Link] {
        self.links.get(row).map(Vec::as_slice).unwrap_or_default()
    }

    fn foreign_key(&self, row: usize, relation: usize) -> Option<KeyValue> {
        self.rows.get(row)?.foreign_key(relation)
    }

    fn column_key(&self, row: usize, column: &str) -> Option<Option<KeyValue>> {
        self.rows.get(row)?.column_key(column)
    }

    fn columns(&self) -> &'static [&'static str] {
        M::COLUMNS
    }

    fn batch<'a>(
        &'a self,
        rows: &'a [usize],
        links: &'a [Vec<Option<KeyValue>>],
        omitted: u64,
    ) -> execute::Batch<'a, DB> {
        execute::Batch::new::<M>(&self.rows, rows, links, omitted)
    }

    fn omitted_columns(&self, row: usize, links: &[Option<KeyValue>]) -> u64 {
        let Some(values) = self.rows.get(row) else {
            return 0;
        };
        let mut omitted = values.default_columns();
        if omitted == 0 {
            return 0;
        }
        for (relation, info) in M::RELATIONS.iter().enumerate() {
            if links.get(relation).is_some_and(Option::is_some) {
                for column in info.columns {
                    if let Some(position) = M::COLUMNS.iter().position(|c| c == column) {
                        if position < 64 {
                            omitted &= !(1u64 << position);
                        }
                    }
                }
            }
        }
        omitted
    }

    fn is_get_or_insert(&self, row: usize) -> bool {
        self.get_or_insert.get(row).copied().unwrap_or(false)
    }

    fn natural_key_text(&self, row: usize) -> Option<String> {
        self.rows.get(row)?.natural_key_text()
    }

    fn natural_key_columns(&self) -> &'static [&'static str] {
        M::NATURAL_KEY
    }

    fn parse_key(&self, text: &str) -> Option<KeyValue> {
        M::parse_key(text)
    }

    fn keys_in_insert_order(&self) -> bool {
        <M::Key as GraphKey>::IN_INSERT_ORDER
    }

    fn key_column(&self) -> &'static str {
        M::KEY_COLUMN
    }

    fn key_columns(&self) -> &'static [&'static str] {
        M::KEY_COLUMNS
    }

    fn natural_key_target(&self) -> lookup::Target<DB> {
        lookup::Target {
            table: lookup::MatchTable::Model(M::write_table),
            columns: M::NATURAL_KEY.iter().map(|c| c.to_string()).collect(),
            key_columns: M::KEY_COLUMNS.iter().map(|c| c.to_string()).collect(),
            model: M::MODEL,
        }
    }

    fn natural_values<'a>(&'a self, rows: &[usize]) -> Vec<&'a dyn lookup::MatchValues<DB>> {
        rows.iter()
            .filter_map(|&row| self.rows.get(row))
            .map(|row| row as &dyn lookup::MatchValues<DB>)
            .collect()
    }

    fn own_key(&self, row: usize) -> Option<KeyValue> {
        self.rows.get(row)?.own_key()
    }

    fn parent_sql(&self, relation: usize) -> diesel::QueryResult<Option<ParentSql>> {
        M::parent_sql(relation)
    }

    fn table_sql(&self) -> diesel::QueryResult<String> {
        DB::render(&execute::TableOf::<M>(PhantomData))
    }

    fn table_name(&self) -> diesel::QueryResult<table_name::TableName> {
        if let Some(known) = self.table_name.get() {
            return Ok(known.clone());
        }
        let rendered = self.table_sql()?;
        let name = table_name::TableName::parse(&rendered).ok_or_else(|| {
            diesel::result::Error::QueryBuilderError(
                format!(
                    "the table of {} renders as {rendered}, not as a table name",
                    M::MODEL
                )
                .into(),
            )
        })?;
        Ok(self.table_name.get_or_init(|| name).clone())
    }

    fn store_keys(
        &self,
        keys: Vec<KeyValue>,
        found: Vec<KeyValue>,
        existed: Vec<bool>,
        ids: &mut Ids,
    ) -> Result<(), KeyValue> {
        let typed = |keys: Vec<KeyValue>| {
            keys.into_iter()
                .map(|key| M::Key::from_key_value(&key).ok_or(key))
                .collect::<Result<Vec<_>, _>>()
        };
        ids.insert::<M>(typed(keys)?, typed(found)?, existed);
        Ok(())
    }

    fn link_update<'a>(
        &self,
        relation: usize,
        links: &'a [(KeyValue, KeyValue)],
    ) -> execute::LinkUpdate<'a, DB> {
        execute::LinkUpdate {
            write_table: M::write_table,
            columns: M::RELATIONS.get(relation).map_or(&[], |r| r.columns),
            key_column: M::KEY_COLUMN,
            links,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
