//! Execution: the planned steps, written in multi-row statements within the
//! backend's bind-parameter limit, in one transaction.
//!
//! Generated keys are matched to input rows without trusting the order in
//! which the database returns them: each statement makes the database
//! generate the keys in input order (PostgreSQL: `INSERT ... SELECT ... FROM
//! (VALUES ...) ORDER BY ord`, where volatile defaults such as `nextval()`
//! are evaluated after the sort; SQLite: rowids are assigned in `VALUES`
//! order under the write lock), and the returned keys are sorted before
//! being paired with the rows. Whether a table's keys really do that is the
//! backend's answer ([`TableKeys`], read once per table and transaction);
//! where it cannot say yes, the table is written one row per statement.
//! Rows told apart by a natural key are looked up after each multi-row
//! statement, and a pairing they contradict aborts the transaction.

use diesel::backend::Backend;

use crate::backend::{FkBackend, FkConnection};
use crate::catalog::FkCatalog;
use crate::error::{Error, GraphError};
use crate::graph::builder::Graph;
use crate::graph::checks::{check_links_reach_keys, relations_off_key};
use crate::graph::ids::Ids;
use crate::graph::keys::Keys;
use crate::graph::locate::{locate, Failure};
use crate::graph::model::KeyValue;
use crate::graph::own_keys::Linked;
use crate::graph::plan;
use crate::graph::writer::write_steps;

/// Inserts every row of `graph` parents first, in one transaction (a
/// savepoint when `conn` is already in one), and returns the generated key
/// of every row. On any error nothing of the graph remains, and a
/// foreign-key failure names the model, the relation and the input row.
///
/// See the [module documentation](crate::graph) for an example.
///
/// It explains failures with a fresh catalog; use [`insert_graph_with`] to
/// share a warm one.
///
/// The graph is only borrowed: after a failure, read the input row a
/// violation points at with [`Graph::row`]; after a success, which
/// get-or-insert rows existed with [`Ids::existed`].
pub fn insert_graph<C>(conn: &mut C, graph: &Graph<C::Backend>) -> Result<Ids, Error>
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
{
    insert_graph_with(conn, graph, &FkCatalog::new())
}

/// [`insert_graph`], explaining failures with `catalog` (warm across
/// calls, shared by the program's writes) instead of a fresh one.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use fk_safe::graph::{insert_graph_with, Graph};
/// use fk_safe::{FkCatalog, FkConnection, FkOrdered};
///
/// diesel::table! { tags (id) { id -> BigInt, label -> Text } }
///
/// #[derive(Insertable, FkOrdered)]
/// #[diesel(table_name = tags)]
/// struct NewTag { label: String }
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// conn.enforce_foreign_keys().unwrap();
/// diesel::sql_query("CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL)")
///     .execute(&mut conn)
///     .unwrap();
///
/// let catalog = FkCatalog::new(); // one per database, shared
/// let mut graph = Graph::new();
/// let tag = graph.add(NewTag { label: "rust".into() }).handle();
/// let ids = insert_graph_with(&mut conn, &graph, &catalog).unwrap();
/// assert_eq!(ids[tag], 1);
/// # }
/// ```
pub fn insert_graph_with<C>(
    conn: &mut C,
    graph: &Graph<C::Backend>,
    catalog: &FkCatalog,
) -> Result<Ids, Error>
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
{
    if let Some(misuse) = graph.misuse() {
        return Err(misuse.clone().into());
    }
    // A parent of this graph referenced by the value of its own key is
    // linked to its row, so that it is written first. Rows that reference
    // each other that way form a cycle like any other: broken at a nullable
    // foreign key, else refused with its path.
    let linked = Linked::new(&graph.slots);
    let plan = plan::plan(&linked)?;
    let mut failure: Option<Failure> = None;
    // Keys are typed inside the transaction, so that a key that does not fit
    // its type rolls everything back instead of failing after the commit.
    let outcome = catalog.transaction(conn, |conn| {
        let off_key = relations_off_key(conn, graph)?;
        check_links_reach_keys(graph, &linked, &off_key)?;
        let keys = write_steps(conn, graph, &linked, &off_key, &plan, &mut failure)?;
        collect_ids(graph, keys)
    });
    match outcome {
        Ok(ids) => Ok(ids),
        Err(Error::ForeignKey(mut violation)) => {
            locate(&mut violation, graph, failure.as_ref());
            Err(Error::ForeignKey(violation))
        }
        Err(other) => Err(other),
    }
}

pub(crate) fn collect_ids<DB: Backend>(graph: &Graph<DB>, keys: Keys) -> Result<Ids, Error> {
    let mut ids = Ids::for_graph(graph.id);
    let existing = keys.existing;
    for (slot_index, ((slot, keys), found)) in graph
        .slots
        .iter()
        .zip(keys.rows)
        .zip(keys.found)
        .enumerate()
    {
        let existed: Vec<bool> = (0..slot.len())
            .map(|row| existing.contains(&(slot_index, row)))
            .collect();
        let found: Vec<KeyValue> = found.into_iter().flatten().collect();
        let keys: Vec<KeyValue> = keys.into_iter().flatten().collect();
        if keys.len() != slot.len() {
            return Err(GraphError::KeyCount {
                model: slot.model(),
                written: slot.len(),
                returned: keys.len(),
            }
            .into());
        }
        slot.store_keys(keys, found, existed, &mut ids)
            .map_err(|key| GraphError::KeyType {
                model: slot.model(),
                key: key.to_string(),
            })?;
    }
    Ok(ids)
}
