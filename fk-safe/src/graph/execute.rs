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

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Text;
use diesel::QueryResult;

use super::model::{KeyValue, ParentSql, WriteRow};
use super::own_keys::Linked;
use super::plan::{self, Deferred, Plan};
use super::table_name::{key_column_names, TableName};
use super::{lookup, AnySlot, Graph, Ids, Link};
use crate::backend::key_order::{KeyOrder, TableKeys};
use crate::backend::{FkBackend, FkConnection, InsertRows, ReadCatalog};
use crate::catalog::FkCatalog;
use crate::error::{Error, GraphError};
use crate::fk::{Declaration, FkViolation, RowOrigin, ViolationKind};

/// A row, whatever its model, as a batch writes it.
pub(crate) trait DynRow<DB: Backend>: Sync {
    fn write_values<'b>(
        &'b self,
        links: &'b [Option<KeyValue>],
        omitted: u64,
        out: &mut AstPass<'_, 'b, DB>,
    ) -> QueryResult<()>;
}

impl<M: WriteRow<DB>, DB: Backend> DynRow<DB> for M {
    fn write_values<'b>(
        &'b self,
        links: &'b [Option<KeyValue>],
        omitted: u64,
        out: &mut AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        WriteRow::write_values(self, links, omitted, out)
    }
}

/// A model's table, as a fragment to render.
pub(crate) struct TableOf<M>(pub(crate) std::marker::PhantomData<fn() -> M>);

impl<M: WriteRow<DB>, DB: Backend> QueryFragment<DB> for TableOf<M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        M::write_table(&mut out)
    }
}

/// One multi-row `INSERT ... RETURNING key` of one model.
pub struct Batch<'a, DB: Backend> {
    pub(crate) write_table: fn(&mut AstPass<'_, '_, DB>) -> QueryResult<()>,
    pub(crate) columns: &'static [&'static str],
    /// The key columns (several for a composite key), returned as one text.
    pub(crate) key_columns: &'static [&'static str],
    pub(crate) rows: Vec<(&'a dyn DynRow<DB>, &'a [Option<KeyValue>])>,
    /// For get-or-insert rows: the natural-key columns of the `ON CONFLICT
    /// (..) DO NOTHING` arbiter.
    pub(crate) skip_existing: Option<&'static [&'static str]>,
    pub(crate) natural_key: &'static [&'static str],
    /// Columns every row of the batch leaves to their DEFAULT (bit `i` for
    /// `columns[i]`): they are not in the column list.
    pub(crate) omitted: u64,
}

impl<'a, DB: Backend> Batch<'a, DB> {
    pub(crate) fn new<M: WriteRow<DB>>(
        all_rows: &'a [M],
        rows: &'a [usize],
        links: &'a [Vec<Option<KeyValue>>],
        omitted: u64,
    ) -> Self {
        Batch {
            write_table: M::write_table,
            omitted,
            skip_existing: None,
            natural_key: M::NATURAL_KEY,
            columns: M::COLUMNS,
            key_columns: M::KEY_COLUMNS,
            rows: rows
                .iter()
                .zip(links)
                .filter_map(|(&row, links)| {
                    all_rows
                        .get(row)
                        .map(|r| (r as &dyn DynRow<DB>, links.as_slice()))
                })
                .collect(),
        }
    }

    /// The columns the batch writes: all but the omitted ones.
    pub(crate) fn written_columns(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .enumerate()
            .filter(|&(i, _)| !is_omitted(self.omitted, i))
            .map(|(_, column)| *column)
    }
}

/// The pieces of the statement; the backend writes the SQL around them.
impl<DB: FkBackend> InsertRows<DB> for Batch<'_, DB> {
    fn write_table(&self, out: &mut AstPass<'_, '_, DB>) -> QueryResult<()> {
        (self.write_table)(out)
    }

    fn column_count(&self) -> usize {
        self.written_columns().count()
    }

    fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// Writes what ends every backend's batch: ` ON CONFLICT (natural key)
    /// DO NOTHING` for get-or-insert rows, then ` RETURNING` the key as text.
    fn write_returning(&self, out: &mut AstPass<'_, '_, DB>) -> QueryResult<()> {
        if let Some(natural_key) = self.skip_existing {
            out.push_sql(" ON CONFLICT (");
            for (i, column) in natural_key.iter().enumerate() {
                if i > 0 {
                    out.push_sql(", ");
                }
                out.push_identifier(column)?;
            }
            out.push_sql(") DO NOTHING");
        }
        out.push_sql(" RETURNING ");
        lookup::push_key_text(out, None, self.key_columns)
    }

    /// Writes `(col, col, ...)`, without the omitted columns.
    fn write_column_list(&self, out: &mut AstPass<'_, '_, DB>) -> QueryResult<()> {
        out.push_sql("(");
        for (i, column) in self.written_columns().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_identifier(column)?;
        }
        out.push_sql(")");
        Ok(())
    }

    /// Writes one row's values, without the omitted columns.
    fn write_row<'b>(&'b self, row: usize, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        match self.rows.get(row) {
            Some((values, links)) => values.write_values(links, self.omitted, out),
            None => Err(diesel::result::Error::QueryBuilderError(
                format!("a batch has no row #{row}").into(),
            )),
        }
    }
}

impl<DB: Backend> QueryId for Batch<'_, DB> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend> Query for Batch<'_, DB> {
    type SqlType = Text;
}

impl<DB: Backend, C> diesel::RunQueryDsl<C> for Batch<'_, DB> {}

impl<DB: FkBackend> QueryFragment<DB> for Batch<'_, DB> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        DB::write_multi_row_insert(self, &mut out)
    }
}

/// A query returning two TEXT columns.
pub struct PairQuery<'a, DB: Backend>(pub(crate) Box<dyn QueryFragment<DB> + 'a>);

impl<DB: Backend> QueryId for PairQuery<'_, DB> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend> Query for PairQuery<'_, DB> {
    type SqlType = (Text, Text);
}

impl<DB: Backend, C> diesel::RunQueryDsl<C> for PairQuery<'_, DB> {}

impl<DB: Backend> QueryFragment<DB> for PairQuery<'_, DB> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

/// Checks, before anything is written, that every existing parent the graph
/// refers to by id exists, and reports all that do not, each with its row.
fn check_existing_parents<C>(
    conn: &mut C,
    graph: &Graph<C::Backend>,
    linked: &Linked<'_, C::Backend>,
    off_key: &OffKey,
) -> Result<Vec<FkViolation>, Error>
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
{
    let mut missing = Vec::new();
    for (slot_index, slot) in graph.slots.iter().enumerate() {
        for (relation, info) in slot.relations().iter().enumerate() {
            let referenced: Vec<(usize, KeyValue)> = (0..slot.len())
                .filter(|&row| linked.links(slot_index, row).get(relation) == Some(&Link::Field))
                .filter_map(|row| slot.foreign_key(row, relation).map(|key| (row, key)))
                .collect();
            if referenced.is_empty() {
                continue;
            }
            let Some(parent) = slot.parent_sql(relation)? else {
                continue;
            };
            let mut keys: Vec<&KeyValue> = referenced.iter().map(|(_, key)| key).collect();
            keys.sort_unstable();
            keys.dedup();
            // The parent columns the database compares the field with: its
            // key, or what the constraint references instead.
            let parent_key: Vec<String> = match off_key.get(&(slot_index, relation)) {
                Some(referenced) => referenced.clone(),
                None => key_column_names(&parent.key),
            };
            let target = lookup::Target {
                table: lookup::MatchTable::Rendered(parent.table.clone()),
                columns: parent_key.clone(),
                key_columns: parent_key.clone(),
                model: slot.model(),
            };
            let parts: Vec<lookup::KeyParts> =
                keys.iter().map(|&key| lookup::KeyParts(key)).collect();
            let values: Vec<&dyn lookup::MatchValues<C::Backend>> = parts
                .iter()
                .map(|p| p as &dyn lookup::MatchValues<C::Backend>)
                .collect();
            let found = lookup::find_keys(conn, &target, &values)?;
            let absent: HashSet<&KeyValue> = keys
                .iter()
                .zip(&found)
                .filter(|(_, found)| found.is_none())
                .map(|(&key, _)| key)
                .collect();
            if absent.is_empty() {
                continue;
            }
            let child = slot.table_name()?;
            let parent_table = parent_table_name(&parent)?;
            for (row, key) in referenced.iter().filter(|(_, key)| absent.contains(key)) {
                let mut v = FkViolation::found_before_writing(
                    ViolationKind::MissingParent,
                    <C::Backend as FkBackend>::DATABASE,
                );
                v.declare(Declaration {
                    schema: child.schema.clone(),
                    child_table: Some(child.table.clone()),
                    child_columns: info.columns.iter().map(|c| c.to_string()).collect(),
                    parent_schema: parent_table.schema.clone(),
                    parent_table: Some(parent_table.table.clone()),
                    parent_columns: parent_key.clone(),
                    ..Declaration::default()
                });
                v.set_key_values(Some(match key {
                    KeyValue::Composite(parts) => {
                        parts.iter().map(|p| Some(p.to_string())).collect()
                    }
                    single => vec![Some(single.to_string())],
                }));
                v.set_origin(RowOrigin {
                    model: slot.model(),
                    relation: Some(info.name),
                    row: Some(*row),
                });
                missing.push(v);
            }
        }
    }
    Ok(missing)
}

/// Finds the keys of every looked-up row, inside the transaction; reports
/// each look-up that found nothing once per row linked to it.
fn resolve_lookups<C>(
    conn: &mut C,
    graph: &Graph<C::Backend>,
) -> Result<(KeyTable, Vec<FkViolation>), Error>
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
{
    let mut found: KeyTable = graph.lookups.iter().map(|l| vec![None; l.len()]).collect();
    let mut missing = Vec::new();
    for (slot_index, lookups) in graph.lookups.iter().enumerate() {
        if lookups.is_empty() {
            continue;
        }
        let slot = graph.slots[slot_index].as_ref();
        let values: Vec<&dyn lookup::MatchValues<C::Backend>> =
            lookups.iter().map(|l| l.as_values()).collect();
        let keys = lookup::find_keys(conn, &slot.natural_key_target(), &values)?;
        for (index, key) in keys.into_iter().enumerate() {
            match key {
                Some(key) => found[slot_index][index] = Some(parse_key(slot, &key)?),
                None => {
                    let text = lookups[index].text();
                    missing.extend(missing_lookup(graph, slot_index, index, &text)?)
                }
            }
        }
    }
    Ok((found, missing))
}

/// A look-up that found nothing, as one violation per row linked to it (or
/// one for the look-up itself when nothing links to it).
fn missing_lookup<DB: FkBackend + 'static>(
    graph: &Graph<DB>,
    slot_index: usize,
    index: usize,
    text: &str,
) -> Result<Vec<FkViolation>, Error> {
    let slot = graph.slots[slot_index].as_ref();
    let parent = slot.table_name()?;
    let values: Vec<Option<String>> = text
        .split(crate::fk::NATURAL_KEY_SEPARATOR)
        .map(|part| Some(part.to_string()))
        .collect();
    let blank = || {
        let mut v = FkViolation::found_before_writing(ViolationKind::MissingParent, DB::DATABASE);
        v.declare(Declaration {
            parent_schema: parent.schema.clone(),
            parent_table: Some(parent.table.clone()),
            parent_columns: slot
                .natural_key_columns()
                .iter()
                .map(|c| c.to_string())
                .collect(),
            ..Declaration::default()
        });
        v.set_looked_up_key(values.clone());
        v
    };
    let mut violations = Vec::new();
    for (child_index, child) in graph.slots.iter().enumerate() {
        let _ = child_index;
        for row in 0..child.len() {
            for (relation, link) in child.links(row).iter().enumerate() {
                if *link
                    != (Link::Lookup {
                        slot: slot_index,
                        index,
                    })
                {
                    continue;
                }
                let table = child.table_name()?;
                let mut v = blank();
                v.declare(Declaration {
                    schema: table.schema,
                    child_table: Some(table.table),
                    child_columns: child
                        .relations()
                        .get(relation)
                        .map(|r| r.columns.iter().map(|c| c.to_string()).collect())
                        .unwrap_or_default(),
                    ..Declaration::default()
                });
                v.set_origin(RowOrigin {
                    model: child.model(),
                    relation: child.relations().get(relation).map(|r| r.name),
                    row: Some(row),
                });
                violations.push(v);
            }
        }
    }
    if violations.is_empty() {
        let mut v = blank();
        v.set_origin(RowOrigin {
            model: slot.model(),
            relation: None,
            row: None,
        });
        violations.push(v);
    }
    Ok(violations)
}

/// The parent table a relation's rendered SQL names.
fn parent_table_name(parent: &ParentSql) -> Result<TableName, Error> {
    TableName::parse(&parent.table).ok_or_else(|| {
        Error::Database(diesel::result::Error::QueryBuilderError(
            format!(
                "a parent table renders as {}, not as a table name",
                parent.table
            )
            .into(),
        ))
    })
}

/// Where a statement failed: the model and the rows it was writing.
struct Failure {
    slot: usize,
    rows: Vec<usize>,
    links: Vec<Vec<Option<KeyValue>>>,
}

/// Inserts every row of `graph` parents first, in one transaction (a
/// savepoint when `conn` is already in one), and returns the generated key
/// of every row. On any error nothing of the graph remains, and a
/// foreign-key failure names the model, the relation and the input row.
///
/// See the [module documentation](self) for an example.
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
        let off_key = relations_off_key(conn, catalog, graph)?;
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

/// Keys by slot, then by row (or look-up); `None` until known.
type KeyTable = Vec<Vec<Option<KeyValue>>>;

/// The keys of a graph's rows: generated, and found by look-ups.
pub(crate) struct Keys {
    pub(crate) rows: KeyTable,
    pub(crate) found: KeyTable,
    /// Get-or-insert rows that existed already: (slot, row). Their other
    /// columns, links closing a cycle included, are left as they are.
    pub(crate) existing: HashSet<(usize, usize)>,
}

/// The relations whose constraint, as the database declares it, pairs the
/// foreign-key columns with other columns of the parent than its key (a
/// UNIQUE column, or the key's columns in another order), with the parent
/// columns it references, in the relation's column order.
type OffKey = HashMap<(usize, usize), Vec<String>>;

fn relations_off_key<C>(
    conn: &mut C,
    catalog: &FkCatalog,
    graph: &Graph<C::Backend>,
) -> Result<OffKey, Error>
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
{
    let mut off_key = OffKey::new();
    if graph.slots.iter().all(|slot| slot.relations().is_empty()) {
        return Ok(off_key);
    }
    // Only the graph's child tables are read, each once.
    let mut declared_on: HashMap<String, Vec<crate::fk::ForeignKey>> = HashMap::new();
    for (slot_index, slot) in graph.slots.iter().enumerate() {
        if slot.relations().is_empty() {
            continue;
        }
        let child_name = &slot.table_name()?.table;
        if !declared_on.contains_key(child_name) {
            let keys = <C::Backend>::foreign_keys_of_table(conn, catalog.cache(), child_name)?;
            declared_on.insert(child_name.clone(), keys);
        }
        let Some(declared) = declared_on.get(child_name) else {
            continue;
        };
        for (relation, info) in slot.relations().iter().enumerate() {
            let Some(parent) = slot.parent_sql(relation)? else {
                continue;
            };
            let parent_name = &parent_table_name(&parent)?.table;
            let key = key_column_names(&parent.key);
            for fk in declared.iter() {
                let same_columns = fk.columns.len() == info.columns.len()
                    && info
                        .columns
                        .iter()
                        .all(|c| fk.columns.iter().any(|f| f == c));
                if &fk.table != child_name || &fk.parent_table != parent_name || !same_columns {
                    continue;
                }
                // Column i of the relation is paired with the column the
                // constraint pairs it with.
                let referenced: Vec<String> = info
                    .columns
                    .iter()
                    .filter_map(|column| {
                        fk.columns
                            .iter()
                            .position(|c| c == column)
                            .and_then(|j| fk.parent_columns.get(j).cloned())
                    })
                    .collect();
                if referenced != key {
                    off_key.insert((slot_index, relation), referenced);
                }
            }
        }
    }
    Ok(off_key)
}

/// A link fills a foreign key with the parent's key, which is only right
/// when the constraint references that key: each relation that some row
/// links is refused before any write when the database pairs it with other
/// columns of the parent.
fn check_links_reach_keys<DB>(
    graph: &Graph<DB>,
    linked: &Linked<'_, DB>,
    off_key: &OffKey,
) -> Result<(), Error>
where
    DB: FkBackend + 'static,
{
    for (&(slot_index, relation), referenced) in off_key {
        let slot = graph.slots[slot_index].as_ref();
        let parent =
            (0..slot.len()).find_map(|row| match linked.links(slot_index, row).get(relation) {
                Some(Link::Row { slot, .. } | Link::Lookup { slot, .. }) => Some(*slot),
                _ => None,
            });
        let Some(parent) = parent.and_then(|p| graph.slots.get(p)) else {
            continue;
        };
        return Err(GraphError::LinkNotToKey {
            model: slot.model(),
            relation: slot.relations().get(relation).map_or("?", |r| r.name),
            parent: parent.model(),
            referenced: referenced.clone(),
            key: parent.key_columns().iter().map(|c| c.to_string()).collect(),
        }
        .into());
    }
    Ok(())
}

fn write_steps<C>(
    conn: &mut C,
    graph: &Graph<C::Backend>,
    linked: &Linked<'_, C::Backend>,
    off_key: &OffKey,
    plan: &Plan,
    failure: &mut Option<Failure>,
) -> Result<Keys, Error>
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
{
    let mut missing = check_existing_parents(conn, graph, linked, off_key)?;
    let (found, missing_lookups) = resolve_lookups(conn, graph)?;
    missing.extend(missing_lookups);
    if !missing.is_empty() {
        return Err(Error::MissingParents(missing));
    }
    let mut keys = Keys {
        rows: graph
            .slots
            .iter()
            .map(|slot| vec![None; slot.len()])
            .collect(),
        found,
        existing: HashSet::new(),
    };
    let deferred: HashSet<Deferred> = plan.deferred.iter().copied().collect();
    // Read once per table and transaction: a longer-lived answer could be
    // stale after a schema change.
    let mut table_keys: HashMap<(String, &'static str), KnownKeys> = HashMap::new();
    for step in &plan.steps {
        let slot = graph.slots[step.slot].as_ref();
        let (reused, inserted): (Vec<usize>, Vec<usize>) = step
            .rows
            .iter()
            .partition(|&&row| slot.is_get_or_insert(row));
        let mut writer = StepWriter {
            table_keys: &mut table_keys,
            rows_in_graph: graph.len(),
            linked,
            slot,
            slot_index: step.slot,
            keys: &mut keys,
            deferred: &deferred,
            failure,
        };
        writer.insert(conn, &inserted)?;
        writer.get_or_insert(conn, &reused)?;
    }
    write_deferred_links(conn, graph, linked, &plan.deferred, &keys)?;
    Ok(keys)
}

/// Sets the foreign keys that closed cycles, now that every row exists:
/// for each relation, one `UPDATE` per bind-limit chunk of its links.
fn write_deferred_links<C>(
    conn: &mut C,
    graph: &Graph<C::Backend>,
    linked: &Linked<'_, C::Backend>,
    deferred: &[Deferred],
    keys: &Keys,
) -> Result<(), Error>
where
    C: FkConnection,
    C::Backend: FkBackend + 'static,
{
    // (slot, relation) -> (child key, parent key), in the plan's order.
    let mut by_relation: BTreeMap<(usize, usize), Vec<(KeyValue, KeyValue)>> = BTreeMap::new();
    for link in deferred {
        if keys.existing.contains(&(link.slot, link.row)) {
            // A row found by get_or_insert keeps the links it has.
            continue;
        }
        let slot = graph.slots[link.slot].as_ref();
        let parent_key = linked
            .links(link.slot, link.row)
            .get(link.relation)
            .and_then(|l| resolve_links(std::slice::from_ref(l), keys).pop().flatten());
        let child_key = keys.rows[link.slot][link.row].clone();
        // Every row was written and every parent found by now; a link
        // without its keys must not be skipped without a word.
        let (Some(parent_key), Some(child_key)) = (parent_key, child_key) else {
            return Err(GraphError::KeyCount {
                model: slot.model(),
                written: 1,
                returned: 0,
            }
            .into());
        };
        // The UPDATE finds the row by its key column alone; a composite
        // key has several.
        if matches!(child_key, KeyValue::Composite(_)) {
            return Err(GraphError::CompositeKeyLink {
                model: slot.model(),
                relation: slot.relations().get(link.relation).map_or("?", |r| r.name),
                row: link.row,
            }
            .into());
        }
        by_relation
            .entry((link.slot, link.relation))
            .or_default()
            .push((child_key, parent_key));
    }
    for ((slot, relation), links) in &by_relation {
        let slot = graph.slots[*slot].as_ref();
        let columns = slot
            .relations()
            .get(*relation)
            .map_or(0, |r| r.columns.len());
        // Each link binds the child's key and one value per foreign-key
        // column. Every value is a bind parameter, so a list stays within
        // the bind limit: on SQLite half the ~65,000 values at which a
        // VALUES list slows down (see graph/lookup.rs).
        let per_statement = <C::Backend as FkBackend>::rows_per_statement(columns + 1);
        for chunk in links.chunks(per_statement) {
            let update = slot.link_update(*relation, chunk);
            diesel::RunQueryDsl::execute(update, conn)?;
        }
    }
    Ok(())
}

/// The alias of the list of links an update joins.
const LINKS: &str = "fk_safe links";
/// The alias of the updated table, so that its key column cannot be
/// confused with a column of the list.
const LINKED_ROW: &str = "fk_safe row";

/// Links written after the insert, several rows per statement:
///
/// ```sql
/// UPDATE "t" AS "fk_safe row" SET "fk_a" = "fk_safe links"."column2", "fk_b" = "fk_safe links"."column3"
///   FROM (VALUES ($1, $2, $3), ($4, $5, $6)) AS "fk_safe links"
///  WHERE "fk_safe row"."id" = "fk_safe links"."column1"
/// ```
///
/// PostgreSQL and SQLite (3.33 and later) both read this form. The list is
/// a subquery with an alias, not a `WITH`, so that it cannot hide a user's
/// table of the same name; its columns are the names both give a `VALUES`
/// list, always qualified by its alias. A composite foreign key takes one
/// column of the list per part.
pub struct LinkUpdate<'a, DB: Backend> {
    pub(crate) write_table: fn(&mut AstPass<'_, '_, DB>) -> QueryResult<()>,
    /// The foreign-key columns, in the parent key's order.
    pub(crate) columns: &'static [&'static str],
    pub(crate) key_column: &'static str,
    /// (child key, parent key) for each row to link.
    pub(crate) links: &'a [(KeyValue, KeyValue)],
}

impl<DB: Backend> QueryId for LinkUpdate<'_, DB> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Backend, C> diesel::RunQueryDsl<C> for LinkUpdate<'_, DB> {}

impl<DB: FkBackend> QueryFragment<DB> for LinkUpdate<'_, DB> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let out = &mut out;
        if self.columns.is_empty() || self.links.is_empty() {
            return Err(diesel::result::Error::QueryBuilderError(
                "fk-safe: a link update without columns or rows".into(),
            ));
        }
        out.push_sql("UPDATE ");
        (self.write_table)(out)?;
        out.push_sql(" AS ");
        out.push_identifier(LINKED_ROW)?;
        out.push_sql(" SET ");
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_identifier(column)?;
            out.push_sql(" = ");
            lookup::push_qualified(out, LINKS, &lookup::values_column(i + 1))?;
        }
        out.push_sql(" FROM (VALUES ");
        for (n, (child_key, parent_key)) in self.links.iter().enumerate() {
            out.push_sql(if n == 0 { "(" } else { ", (" });
            DB::push_key(out, child_key)?;
            for (i, column) in self.columns.iter().enumerate() {
                out.push_sql(", ");
                let part = parent_key.part(i).ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!("fk-safe: the key {parent_key} has no part for column {column}")
                            .into(),
                    )
                })?;
                DB::push_key(out, part)?;
            }
            out.push_sql(")");
        }
        out.push_sql(") AS ");
        out.push_identifier(LINKS)?;
        out.push_sql(" WHERE ");
        lookup::push_qualified(out, LINKED_ROW, self.key_column)?;
        out.push_sql(" = ");
        lookup::push_qualified(out, LINKS, &lookup::values_column(0))
    }
}

/// Writes the rows of one step and records their keys.
struct StepWriter<'s, DB: Backend> {
    /// What each table's keys do, by (rendered table, key column).
    table_keys: &'s mut HashMap<(String, &'static str), KnownKeys>,
    /// How many rows the whole graph holds: no table gets more from it.
    rows_in_graph: usize,
    linked: &'s Linked<'s, DB>,
    slot: &'s dyn AnySlot<DB>,
    slot_index: usize,
    keys: &'s mut Keys,
    deferred: &'s HashSet<Deferred>,
    failure: &'s mut Option<Failure>,
}

impl<DB: FkBackend + 'static> StepWriter<'_, DB> {
    fn links(&self, rows: &[usize]) -> Vec<Vec<Option<KeyValue>>> {
        rows.iter()
            .map(|&row| {
                let mut links = resolve_links(self.linked.links(self.slot_index, row), self.keys);
                for (relation, link) in links.iter_mut().enumerate() {
                    let later = Deferred {
                        slot: self.slot_index,
                        row,
                        relation,
                    };
                    if self.deferred.contains(&later) {
                        *link = Some(KeyValue::Null);
                    }
                }
                links
            })
            .collect()
    }

    /// Remembers the first statement that failed, to locate the input row.
    fn failed(
        &mut self,
        rows: &[usize],
        links: &[Vec<Option<KeyValue>>],
        error: diesel::result::Error,
    ) -> Error {
        if self.failure.is_none() {
            *self.failure = Some(Failure {
                slot: self.slot_index,
                rows: rows.to_vec(),
                links: links.to_vec(),
            });
        }
        Error::from(error)
    }

    fn insert<C>(&mut self, conn: &mut C, rows: &[usize]) -> Result<(), Error>
    where
        C: FkConnection<Backend = DB>,
    {
        // Rows that bring their own key and rows whose key is generated go
        // in separate statements, so that generated keys are never mixed up
        // with given ones.
        let (own, generated): (Vec<usize>, Vec<usize>) = rows
            .iter()
            .partition(|&&row| self.slot.own_key(row).is_some());
        self.insert_group(conn, &own, true)?;
        self.insert_group(conn, &generated, false)
    }

    /// What the database does with the keys of this slot's table, read once
    /// per transaction.
    fn table_keys<C>(&mut self, conn: &mut C) -> Result<TableKeys, Error>
    where
        C: FkConnection<Backend = DB>,
    {
        let table = self.slot.table_sql()?;
        let entry = (table, self.slot.key_column());
        if let Some(known) = self.table_keys.get(&entry) {
            return Ok(known.keys.clone());
        }
        let keys = DB::table_keys(conn, &entry.0, entry.1, self.rows_in_graph)?;
        self.table_keys.insert(
            entry,
            KnownKeys {
                keys: keys.clone(),
                confirmed: false,
            },
        );
        Ok(keys)
    }

    /// After the first multi-row statement on the table: the answer it was
    /// written by must still hold, now that the statement holds its locks.
    fn confirm_key_order<C>(&mut self, conn: &mut C) -> Result<(), Error>
    where
        C: FkConnection<Backend = DB>,
    {
        let entry = (self.slot.table_sql()?, self.slot.key_column());
        let Some(known) = self.table_keys.get_mut(&entry) else {
            return Ok(());
        };
        if known.confirmed {
            return Ok(());
        }
        if !DB::key_order_still_holds(conn, &entry.0, entry.1, &known.keys)? {
            return Err(GraphError::KeysOutOfOrder {
                model: self.slot.model(),
            }
            .into());
        }
        known.confirmed = true;
        Ok(())
    }

    /// Writes rows that all bring their own key (`own_keys`), or rows whose
    /// keys are all generated.
    fn insert_group<C>(&mut self, conn: &mut C, rows: &[usize], own_keys: bool) -> Result<(), Error>
    where
        C: FkConnection<Backend = DB>,
    {
        if rows.is_empty() {
            return Ok(());
        }
        // Several rows go in one statement only when the table's answer
        // proves how their keys come back: kept as given, or generated in
        // row order by something whose keys a sort puts back in that order.
        let written = if own_keys {
            KeyWriting::Given {
                checked: self.table_keys(conn)?.given_may_change.is_some(),
            }
        } else if rows.len() == 1 {
            // One row, one statement, one returned key: nothing to pair.
            KeyWriting::Generated(KeyOrder::RowByRow("a single row".to_string()))
        } else if self.slot.keys_in_insert_order() {
            KeyWriting::Generated(self.table_keys(conn)?.generated)
        } else {
            KeyWriting::Generated(KeyOrder::RowByRow(
                "keys of this type (text, UUID) are not generated in insert order".to_string(),
            ))
        };
        for (omitted, rows, links) in by_omitted_columns(self.slot, rows, self.links(rows)) {
            let per_statement = if written.multi_row() {
                DB::rows_per_statement(written_columns(self.slot, omitted))
            } else {
                1
            };
            self.insert_statements(conn, &rows, &links, omitted, &written, per_statement)?;
        }
        Ok(())
    }

    /// Writes rows that share one column list, `per_statement` rows at a
    /// time, and records their keys.
    fn insert_statements<C>(
        &mut self,
        conn: &mut C,
        rows: &[usize],
        links: &[Vec<Option<KeyValue>>],
        omitted: u64,
        written: &KeyWriting,
        per_statement: usize,
    ) -> Result<(), Error>
    where
        C: FkConnection<Backend = DB>,
    {
        for (rows, links) in rows.chunks(per_statement).zip(links.chunks(per_statement)) {
            let batch = self.slot.batch(rows, links, omitted);
            let returned = match DB::load_texts(conn, batch) {
                Ok(returned) => returned,
                Err(error) => return Err(self.failed(rows, links, error)),
            };
            if returned.len() != rows.len() {
                return Err(GraphError::KeyCount {
                    model: self.slot.model(),
                    written: rows.len(),
                    returned: returned.len(),
                }
                .into());
            }
            match written {
                KeyWriting::Given { checked } => {
                    let given: Vec<Option<KeyValue>> = rows
                        .iter()
                        .zip(links)
                        .map(|(&row, links)| own_key_as_written(self.slot, row, links))
                        .collect();
                    if *checked {
                        self.check_given_keys(rows, &given, &returned)?;
                    }
                    for (&row, key) in rows.iter().zip(given) {
                        self.keys.rows[self.slot_index][row] = key;
                    }
                }
                KeyWriting::Generated(order) => {
                    let parsed = returned
                        .iter()
                        .map(|text| parse_key(self.slot, text))
                        .collect::<Result<Vec<KeyValue>, Error>>()?;
                    let paired = order.pair(parsed, rows.len()).ok_or_else(|| {
                        Error::from(GraphError::KeysOutOfOrder {
                            model: self.slot.model(),
                        })
                    })?;
                    if rows.len() > 1 {
                        self.confirm_key_order(conn)?;
                        self.check_pairing(conn, rows, &paired)?;
                    }
                    for (&row, key) in rows.iter().zip(paired) {
                        self.keys.rows[self.slot_index][row] = Some(key);
                    }
                }
            }
        }
        Ok(())
    }

    /// The keys a one-row statement stored must be the ones its row brought:
    /// on a table where something may replace them, a child linked to the
    /// row would otherwise point at another one.
    fn check_given_keys(
        &self,
        rows: &[usize],
        given: &[Option<KeyValue>],
        returned: &[String],
    ) -> Result<(), Error> {
        for ((&row, given), stored) in rows.iter().zip(given).zip(returned) {
            let Some(given) = given.clone() else {
                continue;
            };
            let stored = parse_key(self.slot, stored)?;
            if stored != given {
                return Err(GraphError::KeyReplaced {
                    model: self.slot.model(),
                    row,
                    given: given.to_string(),
                    stored: stored.to_string(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Defence in depth: where the rows of a multi-row statement can be told
    /// apart by their natural key, each is looked up by it and must have the
    /// key it was paired with; a mismatch aborts the transaction. Rows that
    /// cannot be told apart (no natural key, a duplicate one, one that finds
    /// nothing or several rows) are left to the proof the pairing rests on.
    fn check_pairing<C>(
        &self,
        conn: &mut C,
        rows: &[usize],
        paired: &[KeyValue],
    ) -> Result<(), Error>
    where
        C: FkConnection<Backend = DB>,
    {
        if self.slot.natural_key_columns().is_empty() {
            return Ok(());
        }
        let mut seen = HashSet::with_capacity(rows.len());
        let distinct = rows.iter().all(|&row| {
            self.slot
                .natural_key_text(row)
                .is_some_and(|key| seen.insert(key))
        });
        if !distinct {
            return Ok(());
        }
        let values = self.slot.natural_values(rows);
        let found = match lookup::find_keys(conn, &self.slot.natural_key_target(), &values) {
            Ok(found) => found,
            Err(Error::Graph(GraphError::NaturalKeyAmbiguous { .. })) => return Ok(()),
            Err(other) => return Err(other),
        };
        for ((&row, key), found) in rows.iter().zip(paired).zip(found) {
            let Some(found) = found else { continue };
            if found != key.to_string() {
                return Err(GraphError::PairingMismatch {
                    model: self.slot.model(),
                    row,
                    paired: key.to_string(),
                    found,
                }
                .into());
            }
        }
        Ok(())
    }

    /// `INSERT .. ON CONFLICT (natural key) DO NOTHING RETURNING key`, then
    /// one look-up of every row by its natural key, which finds the inserted
    /// rows and the ones that existed alike. The rows whose key the insert
    /// did not return existed already.
    fn get_or_insert<C>(&mut self, conn: &mut C, rows: &[usize]) -> Result<(), Error>
    where
        C: FkConnection<Backend = DB>,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let mut inserted: HashSet<String> = HashSet::with_capacity(rows.len());
        for (omitted, rows, links) in by_omitted_columns(self.slot, rows, self.links(rows)) {
            let per_statement = DB::rows_per_statement(written_columns(self.slot, omitted));
            for (rows, links) in rows.chunks(per_statement).zip(links.chunks(per_statement)) {
                let mut batch = self.slot.batch(rows, links, omitted);
                batch.skip_existing = Some(batch.natural_key);
                match DB::load_texts(conn, batch) {
                    Ok(keys) => inserted.extend(keys),
                    Err(error) => return Err(self.failed(rows, links, error)),
                }
            }
        }
        let values = self.slot.natural_values(rows);
        if values.len() != rows.len() {
            return Err(GraphError::KeyCount {
                model: self.slot.model(),
                written: rows.len(),
                returned: values.len(),
            }
            .into());
        }
        let keys = lookup::find_keys(conn, &self.slot.natural_key_target(), &values)?;
        for (&row, key) in rows.iter().zip(keys) {
            let Some(key) = key else {
                return Err(GraphError::NaturalKeyNotFound {
                    model: self.slot.model(),
                    row,
                    natural_key: self
                        .slot
                        .natural_key_text(row)
                        .unwrap_or_default()
                        .replace(crate::fk::NATURAL_KEY_SEPARATOR, ", "),
                }
                .into());
            };
            if !inserted.contains(&key) {
                self.keys.existing.insert((self.slot_index, row));
            }
            self.keys.rows[self.slot_index][row] = Some(parse_key(self.slot, &key)?);
        }
        Ok(())
    }
}

/// A key the database returned as text, read as the model's key type.
fn parse_key<DB: Backend>(slot: &dyn AnySlot<DB>, text: &str) -> Result<KeyValue, Error> {
    slot.parse_key(text).ok_or_else(|| {
        GraphError::KeyType {
            model: slot.model(),
            key: text.to_string(),
        }
        .into()
    })
}

/// A table's answer, and whether it was confirmed after its first
/// multi-row statement.
struct KnownKeys {
    keys: TableKeys,
    confirmed: bool,
}

/// The key `row` brings, as the statement writes it: each part that is a
/// foreign key linked to a parent is that parent's key (the field holds a
/// placeholder), the others are the row's own values.
fn own_key_as_written<DB: Backend>(
    slot: &dyn AnySlot<DB>,
    row: usize,
    links: &[Option<KeyValue>],
) -> Option<KeyValue> {
    let own = slot.own_key(row)?;
    let key_columns = slot.key_columns();
    let mut parts: Vec<KeyValue> = match own {
        KeyValue::Composite(parts) => parts,
        single => vec![single],
    };
    if parts.len() != key_columns.len() {
        return Some(KeyValue::Composite(parts));
    }
    for (part, column) in parts.iter_mut().zip(key_columns) {
        for (relation, info) in slot.relations().iter().enumerate() {
            let Some(position) = info.columns.iter().position(|c| c == column) else {
                continue;
            };
            if let Some(linked) = links
                .get(relation)
                .and_then(Option::as_ref)
                .and_then(|parent| parent.part(position))
            {
                *part = linked.clone();
            }
        }
    }
    Some(match parts.len() {
        1 => parts.remove(0),
        _ => KeyValue::Composite(parts),
    })
}

/// How the keys of one group of rows are known after their statements.
enum KeyWriting {
    /// The rows bring their keys; `checked` when something in the database
    /// may replace them (then one row per statement, compared after).
    Given { checked: bool },
    /// The database generates them, in this order.
    Generated(KeyOrder),
}

impl KeyWriting {
    fn multi_row(&self) -> bool {
        match self {
            KeyWriting::Given { checked } => !checked,
            KeyWriting::Generated(order) => order.multi_row(),
        }
    }
}

/// Whether bit `column` is set in a set of omitted columns.
pub(crate) fn is_omitted(omitted: u64, column: usize) -> bool {
    column < 64 && omitted & (1u64 << column) != 0
}

/// `rows` (with their resolved links) grouped by the columns they leave to
/// their DEFAULT, in input order within each group: rows of one statement
/// must share one column list.
fn by_omitted_columns<DB: Backend>(
    slot: &dyn AnySlot<DB>,
    rows: &[usize],
    links: Vec<Vec<Option<KeyValue>>>,
) -> Vec<RowGroup> {
    let mut groups: Vec<RowGroup> = Vec::new();
    let mut group_of: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (&row, links) in rows.iter().zip(links) {
        let omitted = slot.omitted_columns(row, &links);
        let group = *group_of.entry(omitted).or_insert_with(|| {
            groups.push((omitted, Vec::new(), Vec::new()));
            groups.len() - 1
        });
        if let Some((_, rows, all_links)) = groups.get_mut(group) {
            rows.push(row);
            all_links.push(links);
        }
    }
    groups
}

/// Rows that leave the same columns to their DEFAULT: the set, the rows,
/// and their resolved links.
type RowGroup = (u64, Vec<usize>, Vec<Vec<Option<KeyValue>>>);

/// The number of bind parameters one row of `slot` takes when `omitted`
/// columns are left out.
fn written_columns<DB: Backend>(slot: &dyn AnySlot<DB>, omitted: u64) -> usize {
    slot.batch(&[], &[], omitted).written_columns().count()
}

/// A row's foreign keys: the parent's generated key for linked relations,
/// `None` (keep the field) for the others.
fn resolve_links(links: &[Link], keys: &Keys) -> Vec<Option<KeyValue>> {
    let get = |all: &[Vec<Option<KeyValue>>], slot: usize, at: usize| {
        all.get(slot).and_then(|k| k.get(at)).cloned().flatten()
    };
    links
        .iter()
        .map(|link| match *link {
            Link::Field => None,
            Link::Row { slot, row } => get(&keys.rows, slot, row),
            Link::Lookup { slot, index } => get(&keys.found, slot, index),
        })
        .collect()
}

fn collect_ids<DB: Backend>(graph: &Graph<DB>, keys: Keys) -> Result<Ids, Error> {
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

/// Finds the input row behind a violation: the relation whose column the
/// constraint names, and the row whose foreign key holds the failing value;
/// for a foreign key the model does not declare, the row of the table the
/// database named whose columns hold the failing values. The failing
/// statement's rows are searched first; a failure at commit (a deferred
/// constraint) searches the whole graph.
fn locate<DB: Backend>(violation: &mut FkViolation, graph: &Graph<DB>, failure: Option<&Failure>) {
    let columns = violation.child_columns().to_vec();
    if columns.is_empty() {
        return;
    }
    // The failing key, part by part, as the database prints it.
    let wanted: Option<Vec<String>> = violation
        .key_values()
        .and_then(|values| values.iter().cloned().collect());
    /// Rows to search: a slot, its rows, and their resolved links if known.
    type Candidate<'f> = (usize, Vec<usize>, Option<&'f [Vec<Option<KeyValue>>]>);
    let mut candidates: Vec<Candidate> = Vec::new();
    if let Some(failure) = failure {
        candidates.push((failure.slot, failure.rows.clone(), Some(&failure.links)));
    }
    for (slot, s) in graph.slots.iter().enumerate() {
        if failure.is_none_or(|f| f.slot != slot) {
            candidates.push((slot, (0..s.len()).collect(), None));
        }
    }
    // Slots of another table than the one the database named are not
    // searched (two models may well have columns of the same name).
    let named_table = |s: &dyn AnySlot<DB>| -> bool {
        let Some(table) = violation.child_table() else {
            return true;
        };
        s.table_name()
            .is_ok_and(|name| name.is(violation.schema(), table))
    };
    for (slot, rows, links) in candidates {
        let s = graph.slots[slot].as_ref();
        if !named_table(s) {
            continue;
        }
        let failing_slot = failure.is_some_and(|f| f.slot == slot);
        let relation = s
            .relations()
            .iter()
            .position(|r| r.columns == columns.as_slice());
        // The value row `i` of the candidates (input row `row`) wrote to
        // `column`: a linked part of a declared relation from the resolved
        // links, else the field's own value. `None` when it cannot be told.
        let written = |i: usize, row: usize, column: &str| -> Option<KeyValue> {
            for (r, info) in s.relations().iter().enumerate() {
                let Some(part) = info.columns.iter().position(|c| *c == column) else {
                    continue;
                };
                match links.and_then(|l| l.get(i)).and_then(|l| l.get(r)) {
                    Some(Some(linked)) => return linked.part(part).cloned(),
                    Some(None) => {}
                    // The whole graph: a linked key is not known here.
                    None if s.links(row).get(r) != Some(&Link::Field) => return None,
                    None => {}
                }
            }
            s.column_key(row, column).flatten()
        };
        let matches = |i: usize, row: usize| -> bool {
            let Some(wanted) = &wanted else {
                return false;
            };
            wanted.len() == columns.len()
                && columns.iter().zip(wanted).all(|(column, value)| {
                    written(i, row, column).is_some_and(|v| v.to_string() == *value)
                })
        };
        let found = rows
            .iter()
            .enumerate()
            .find(|&(i, &row)| matches(i, row))
            .map(|(_, &row)| row);
        let row = match (&wanted, found) {
            (_, Some(row)) => Some(row),
            // Without the value, only a one-row statement is certain.
            (None, None) if failing_slot && rows.len() == 1 => Some(rows[0]),
            _ => None,
        };
        let writes_columns = columns.iter().all(|c| s.columns().contains(&c.as_str()));
        if row.is_some() || (failing_slot && (relation.is_some() || writes_columns)) {
            violation.set_origin(RowOrigin {
                model: s.model(),
                relation: relation.and_then(|r| s.relations().get(r)).map(|r| r.name),
                row,
            });
            return;
        }
    }
}
