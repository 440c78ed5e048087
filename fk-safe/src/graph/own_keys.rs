//! Parents referenced by the value of their own key. A row whose key the
//! client chooses (a tag's code) can be referenced by a child's field with
//! that value instead of a handle; when that parent is in the same graph,
//! the child is linked to it, so that it is written first and is not taken
//! for an existing row that is missing.
//!
//! The graph is only borrowed by `insert_graph`, so these links are not
//! written into it: they are kept beside it, for the rows that have one.

use std::any::TypeId;
use std::collections::{HashMap, HashSet};

use diesel::backend::Backend;

use super::model::{KeyValue, RelationInfo};
use super::plan::Rows;
use super::slot::{AnySlot, Link};

/// A graph's links as `insert_graph` follows them: the links the caller
/// made, and those to parents of the graph referenced by own key.
pub(crate) struct Linked<'g, DB: Backend> {
    slots: &'g [Box<dyn AnySlot<DB>>],
    /// (slot, row) -> all links of that row, for rows linked by value.
    by_value: HashMap<(usize, usize), Vec<Link>>,
}

impl<'g, DB: Backend> Linked<'g, DB> {
    /// The links of every row of `slots`, with every foreign key whose value
    /// is the own key of a row of the parent's table in the graph linked to
    /// that row.
    pub(crate) fn new(slots: &'g [Box<dyn AnySlot<DB>>]) -> Self {
        Linked {
            slots,
            by_value: link_by_value(slots),
        }
    }

    /// The links of `row` of `slot`.
    pub(crate) fn links(&self, slot: usize, row: usize) -> &[Link] {
        match self.by_value.get(&(slot, row)) {
            Some(links) => links,
            None => self.slots.get(slot).map_or(&[], |s| s.links(row)),
        }
    }
}

impl<DB: Backend> Rows for Linked<'_, DB> {
    fn slots(&self) -> usize {
        self.slots.len()
    }

    fn len(&self, slot: usize) -> usize {
        self.slots.get(slot).map_or(0, |s| s.len())
    }

    fn links(&self, slot: usize, row: usize) -> &[Link] {
        Linked::links(self, slot, row)
    }

    fn model(&self, slot: usize) -> &'static str {
        self.slots.get(slot).map_or("?", |s| s.model())
    }

    fn relations(&self, slot: usize) -> &'static [RelationInfo] {
        self.slots.get(slot).map_or(&[], |s| s.relations())
    }
}

/// The rows with a foreign key whose value is the own key of a row of the
/// parent's table in the graph, with that link made.
fn link_by_value<DB: Backend>(
    slots: &[Box<dyn AnySlot<DB>>],
) -> HashMap<(usize, usize), Vec<Link>> {
    let mut linked: HashMap<(usize, usize), Vec<Link>> = HashMap::new();
    // Only tables some relation points at need their rows' keys indexed.
    let parent_tables: HashSet<TypeId> = slots
        .iter()
        .flat_map(|slot| (0..slot.relations().len()).filter_map(|r| slot.parent_table(r)))
        .collect();
    let mut own_keys: HashMap<TypeId, HashMap<KeyValue, (usize, usize)>> = HashMap::new();
    for (slot_index, slot) in slots.iter().enumerate() {
        if !parent_tables.contains(&slot.table_type()) {
            continue;
        }
        for row in 0..slot.len() {
            // A key made of a linked foreign key holds a placeholder, not
            // the value a child could mean.
            if slot.own_key_is_linked(row) {
                continue;
            }
            if let Some(key) = slot.own_key(row) {
                own_keys
                    .entry(slot.table_type())
                    .or_default()
                    .entry(key)
                    .or_insert((slot_index, row));
            }
        }
    }
    if own_keys.is_empty() {
        return linked;
    }
    for (slot_index, slot) in slots.iter().enumerate() {
        for relation in 0..slot.relations().len() {
            let Some(parents) = slot
                .parent_table(relation)
                .and_then(|table| own_keys.get(&table))
            else {
                continue;
            };
            for row in 0..slot.len() {
                if slot.links(row).get(relation) != Some(&Link::Field) {
                    continue;
                }
                let Some(&(parent_slot, parent_row)) = slot
                    .foreign_key(row, relation)
                    .and_then(|key| parents.get(&key))
                else {
                    continue;
                };
                let links = linked
                    .entry((slot_index, row))
                    .or_insert_with(|| slot.links(row).to_vec());
                if let Some(link) = links.get_mut(relation) {
                    *link = Link::Row {
                        slot: parent_slot,
                        row: parent_row,
                    };
                }
            }
        }
    }
    linked
}
