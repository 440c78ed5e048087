//! Writing the planned steps: each model's rows in multi-row statements
//! within the bind-parameter limit (one row per statement where the key
//! order is not proven), their keys paired with them, and the links that
//! close cycles written last.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::backend::Backend;

use crate::backend::key_order::{KeyOrder, TableKeys};
use crate::backend::{FkBackend, FkConnection};
use crate::error::{Error, GraphError};
use crate::graph::builder::Graph;
use crate::graph::checks::{check_existing_parents, resolve_lookups, OffKey};
use crate::graph::keys::{parse_key, Keys};
use crate::graph::locate::Failure;
use crate::graph::model::{KeyValue, LinkedKey};
use crate::graph::own_keys::Linked;
use crate::graph::plan::{Deferred, Plan};
use crate::graph::slot::{AnySlot, Link};
use crate::graph::sql::lookup;

pub(crate) fn write_steps<C>(
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
pub(crate) fn write_deferred_links<C>(
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
            .and_then(|l| resolve_links(std::slice::from_ref(l), keys).pop())
            .and_then(|linked| linked.parent().cloned());
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
        // Each row of the list holds the child's key and one value per
        // foreign-key column.
        let per_statement = <C::Backend as FkBackend>::rows_per_values_list(columns + 1);
        for chunk in links.chunks(per_statement) {
            let update = slot.link_update(*relation, chunk);
            diesel::RunQueryDsl::execute(update, conn)?;
        }
    }
    Ok(())
}

/// Writes the rows of one step and records their keys.
pub(crate) struct StepWriter<'s, DB: Backend> {
    /// What each table's keys do, by (rendered table, key column).
    pub(crate) table_keys: &'s mut HashMap<(String, &'static str), KnownKeys>,
    /// How many rows the whole graph holds: no table gets more from it.
    pub(crate) rows_in_graph: usize,
    pub(crate) linked: &'s Linked<'s, DB>,
    pub(crate) slot: &'s dyn AnySlot<DB>,
    pub(crate) slot_index: usize,
    pub(crate) keys: &'s mut Keys,
    pub(crate) deferred: &'s HashSet<Deferred>,
    pub(crate) failure: &'s mut Option<Failure>,
}

impl<DB: FkBackend + 'static> StepWriter<'_, DB> {
    fn links(&self, rows: &[usize]) -> Vec<Vec<LinkedKey>> {
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
                        *link = LinkedKey::AfterInsert;
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
        links: &[Vec<LinkedKey>],
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
        links: &[Vec<LinkedKey>],
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

/// A table's answer, and whether it was confirmed after its first
/// multi-row statement.
pub(crate) struct KnownKeys {
    pub(crate) keys: TableKeys,
    pub(crate) confirmed: bool,
}

/// The key `row` brings, as the statement writes it: each part that is a
/// foreign key linked to a parent is that parent's key (the field holds a
/// placeholder), the others are the row's own values.
pub(crate) fn own_key_as_written<DB: Backend>(
    slot: &dyn AnySlot<DB>,
    row: usize,
    links: &[LinkedKey],
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
                .and_then(LinkedKey::parent)
                .and_then(|parent| parent.column(position))
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
pub(crate) enum KeyWriting {
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

/// `rows` (with their resolved links) grouped by the columns they leave to
/// their DEFAULT, in input order within each group: rows of one statement
/// must share one column list.
pub(crate) fn by_omitted_columns<DB: Backend>(
    slot: &dyn AnySlot<DB>,
    rows: &[usize],
    links: Vec<Vec<LinkedKey>>,
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
pub(crate) type RowGroup = (u64, Vec<usize>, Vec<Vec<LinkedKey>>);

/// The number of bind parameters one row of `slot` takes when `omitted`
/// columns are left out.
pub(crate) fn written_columns<DB: Backend>(slot: &dyn AnySlot<DB>, omitted: u64) -> usize {
    slot.batch(&[], &[], omitted).written_columns().count()
}

/// A row's foreign keys: the parent's key for linked relations whose
/// parent's key is known, the field's own value for the others.
pub(crate) fn resolve_links(links: &[Link], keys: &Keys) -> Vec<LinkedKey> {
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
        .map(|key| key.map_or(LinkedKey::Field, LinkedKey::Parent))
        .collect()
}
