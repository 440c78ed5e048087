//! What is checked before anything is written: that every existing parent
//! referred to by id exists, that every look-up finds its row, and that
//! every link fills a foreign key that references the parent's key.

use std::collections::{HashMap, HashSet};

use crate::backend::{FkBackend, FkConnection, ReadCatalog};
use crate::error::{Error, GraphError};
use crate::fk::{Declaration, FkViolation, RowOrigin, ViolationKind};
use crate::graph::builder::Graph;
use crate::graph::keys::{parse_key, KeyTable};
use crate::graph::model::{KeyValue, ParentSql};
use crate::graph::own_keys::Linked;
use crate::graph::slot::Link;
use crate::graph::sql::lookup;
use crate::graph::table_name::{key_column_names, TableName};

/// Checks, before anything is written, that every existing parent the graph
/// refers to by id exists, and reports all that do not, each with its row.
pub(crate) fn check_existing_parents<C>(
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
pub(crate) fn resolve_lookups<C>(
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
pub(crate) fn missing_lookup<DB: FkBackend + 'static>(
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
pub(crate) fn parent_table_name(parent: &ParentSql) -> Result<TableName, Error> {
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

/// The relations whose constraint, as the database declares it, pairs the
/// foreign-key columns with other columns of the parent than its key (a
/// UNIQUE column, or the key's columns in another order), with the parent
/// columns it references, in the relation's column order.
pub(crate) type OffKey = HashMap<(usize, usize), Vec<String>>;

pub(crate) fn relations_off_key<C>(conn: &mut C, graph: &Graph<C::Backend>) -> Result<OffKey, Error>
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
        let child = slot.table_name()?;
        let child_name = &child.table;
        if !declared_on.contains_key(child_name) {
            let keys = <C::Backend>::foreign_keys_of_table(conn, child_name)?;
            declared_on.insert(child_name.clone(), keys);
        }
        let Some(declared) = declared_on.get(child_name) else {
            continue;
        };
        for (relation, info) in slot.relations().iter().enumerate() {
            let Some(parent) = slot.parent_sql(relation)? else {
                continue;
            };
            let parent_table = parent_table_name(&parent)?;
            let key = key_column_names(&parent.key);
            for fk in declared.iter() {
                let same_columns = fk.columns.len() == info.columns.len()
                    && info
                        .columns
                        .iter()
                        .all(|c| fk.columns.iter().any(|f| f == c));
                // A table the model names with its schema is only that
                // schema's; an unqualified one may be any schema's table of
                // that name (which one the session resolves is not read).
                let same_tables = child.is(Some(&fk.schema), &fk.table)
                    && parent_table.is(Some(&fk.parent_schema), &fk.parent_table);
                if !same_tables || !same_columns {
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
pub(crate) fn check_links_reach_keys<DB>(
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
