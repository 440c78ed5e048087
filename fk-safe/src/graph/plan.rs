//! Planning: which rows go into which statement, in which order. Decided
//! before any SQL is sent, from the links between the graph's rows.
//!
//! Every row gets a depth: 0 when it links to no row of the graph, else one
//! more than the deepest row it links to. Rows of one model at one depth
//! form a step, written in as few statements as the bind limit allows, and
//! steps run by increasing depth. This orders models parents first, rows of
//! a self-referencing model by generation (a manager before their reports),
//! and models that reference each other (a department, its employee, the
//! department that employee heads) without deferring any constraint.

use diesel::backend::Backend;

use super::{AnySlot, Link};
use crate::error::GraphError;

/// Rows of one model whose parents are all written by earlier steps (or
/// already exist).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) slot: usize,
    pub(crate) rows: Vec<usize>,
}

pub(crate) fn plan<DB: Backend>(slots: &[Box<dyn AnySlot<DB>>]) -> Result<Vec<Step>, GraphError> {
    let mut offsets = Vec::with_capacity(slots.len());
    let mut total = 0;
    for slot in slots {
        offsets.push(total);
        total += slot.len();
    }
    let node = |slot: usize, row: usize| offsets[slot] + row;

    const UNSEEN: u32 = u32::MAX;
    const ON_PATH: u32 = u32::MAX - 1;
    let mut depth = vec![UNSEEN; total];
    // Iterative depth-first search: a deep chain of self-references must not
    // overflow the stack.
    let mut stack: Vec<(usize, usize, usize)> = Vec::new(); // (slot, row, next link)
    for (start_slot, slot) in slots.iter().enumerate() {
        for start_row in 0..slot.len() {
            if depth[node(start_slot, start_row)] != UNSEEN {
                continue;
            }
            depth[node(start_slot, start_row)] = ON_PATH;
            stack.push((start_slot, start_row, 0));
            while let Some(&mut (s, r, ref mut next)) = stack.last_mut() {
                let links = slots[s].links(r);
                if let Some(&link) = links.get(*next) {
                    *next += 1;
                    let Link::Row { slot: ps, row: pr } = link else {
                        continue;
                    };
                    if pr >= slots.get(ps).map_or(0, |p| p.len()) {
                        continue;
                    }
                    match depth[node(ps, pr)] {
                        UNSEEN => {
                            depth[node(ps, pr)] = ON_PATH;
                            stack.push((ps, pr, 0));
                        }
                        ON_PATH => return Err(row_cycle(slots, &stack, ps, pr)),
                        _ => {}
                    }
                    continue;
                }
                let own = links
                    .iter()
                    .filter_map(|link| match *link {
                        Link::Row { slot: ps, row: pr } if pr < slots[ps].len() => {
                            Some(depth[node(ps, pr)] + 1)
                        }
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                depth[node(s, r)] = own;
                stack.pop();
            }
        }
    }

    let mut groups: Vec<(u32, usize, usize)> = Vec::with_capacity(total);
    for (s, slot) in slots.iter().enumerate() {
        for r in 0..slot.len() {
            groups.push((depth[node(s, r)], s, r));
        }
    }
    groups.sort_unstable();
    let mut steps: Vec<Step> = Vec::new();
    let mut current: Option<(u32, usize)> = None;
    for (d, s, r) in groups {
        if current != Some((d, s)) {
            steps.push(Step {
                slot: s,
                rows: Vec::new(),
            });
            current = Some((d, s));
        }
        if let Some(step) = steps.last_mut() {
            step.rows.push(r);
        }
    }
    Ok(steps)
}

/// The rows on the circle that closes at (`slot`, `row`), as a cycle error.
fn row_cycle<DB: Backend>(
    slots: &[Box<dyn AnySlot<DB>>],
    stack: &[(usize, usize, usize)],
    slot: usize,
    row: usize,
) -> GraphError {
    let start = stack
        .iter()
        .position(|&(s, r, _)| s == slot && r == row)
        .unwrap_or(0);
    let circle = &stack[start..];
    let path: Vec<(&'static str, &'static str, usize)> = circle
        .iter()
        .map(|&(s, r, next)| {
            // `next` already moved past the link that was followed.
            let relation = next.saturating_sub(1);
            let name = slots[s]
                .relations()
                .get(relation)
                .map(|info| info.name)
                .unwrap_or("?");
            (slots[s].model(), name, r)
        })
        .collect();
    GraphError::Cycle { path }
}
