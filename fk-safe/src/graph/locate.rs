//! Finding the input row behind a violation: the failing statement's rows
//! first, the whole graph for a failure at commit.

use diesel::backend::Backend;

use crate::fk::{FkViolation, RowOrigin};
use crate::graph::builder::Graph;
use crate::graph::model::{KeyValue, LinkedKey};
use crate::graph::slot::{AnySlot, Link};

/// Where a statement failed: the model and the rows it was writing.
pub(crate) struct Failure {
    pub(crate) slot: usize,
    pub(crate) rows: Vec<usize>,
    pub(crate) links: Vec<Vec<LinkedKey>>,
}

/// Finds the input row behind a violation: the relation whose column the
/// constraint names, and the row whose foreign key holds the failing value;
/// for a foreign key the model does not declare, the row of the table the
/// database named whose columns hold the failing values. The failing
/// statement's rows are searched first; a failure at commit (a deferred
/// constraint) searches the whole graph.
pub(crate) fn locate<DB: Backend>(
    violation: &mut FkViolation,
    graph: &Graph<DB>,
    failure: Option<&Failure>,
) {
    let columns = violation.child_columns().to_vec();
    if columns.is_empty() {
        return;
    }
    // The failing key, part by part, as the database prints it.
    let wanted: Option<Vec<String>> = violation
        .key_values()
        .and_then(|values| values.iter().cloned().collect());
    /// Rows to search: a slot, its rows, and their resolved links if known.
    type SearchedRows<'f> = (usize, Vec<usize>, Option<&'f [Vec<LinkedKey>]>);
    let mut candidates: Vec<SearchedRows> = Vec::new();
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
                    Some(LinkedKey::Parent(linked)) => return linked.column(part).cloned(),
                    // NULL was written; the parent's key comes later.
                    Some(LinkedKey::AfterInsert) => return None,
                    Some(LinkedKey::Field) => {}
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
