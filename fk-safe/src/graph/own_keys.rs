//! Parents referenced by the value of their own key. A row whose key the
//! client chooses (a tag's code) can be referenced by a child's field with
//! that value instead of a handle; when that parent is in the same graph,
//! the child is linked to it, so that it is written first and is not taken
//! for an existing row that is missing.

use std::any::TypeId;
use std::collections::{HashMap, HashSet};

use diesel::backend::Backend;

use super::model::KeyValue;
use super::{AnySlot, Link};

/// Links every foreign key whose value is the own key of a row of the
/// parent's table in the graph.
pub(crate) fn link_by_value<DB: Backend>(slots: &mut [Box<dyn AnySlot<DB>>]) {
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
        return;
    }
    for slot in slots.iter_mut() {
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
                slot.set_link(
                    row,
                    relation,
                    Link::Row {
                        slot: parent_slot,
                        row: parent_row,
                    },
                );
            }
        }
    }
}
