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

/// A link that closes a cycle, written afterwards: the row is inserted with
/// that foreign key NULL, and updated once every row exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Deferred {
    pub(crate) slot: usize,
    pub(crate) row: usize,
    pub(crate) relation: usize,
}

/// The steps, and the links written after them.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) steps: Vec<Step>,
    pub(crate) deferred: Vec<Deferred>,
}

/// Orders the rows; a cycle is broken at a link whose foreign key may be
/// NULL (that link is written afterwards), and reported when none may.
pub(crate) fn plan<DB: Backend>(slots: &[Box<dyn AnySlot<DB>>]) -> Result<Plan, GraphError> {
    let mut deferred: std::collections::HashSet<Deferred> = std::collections::HashSet::new();
    loop {
        match order(slots, &deferred) {
            Ok(steps) => {
                let mut deferred: Vec<Deferred> = deferred.into_iter().collect();
                deferred.sort_unstable_by_key(|d| (d.slot, d.row, d.relation));
                return Ok(Plan { steps, deferred });
            }
            Err(Circle { links, error }) => {
                // Break the circle at the first link that may be NULL.
                let breakable = links.into_iter().find(|d| {
                    slots[d.slot]
                        .relations()
                        .get(d.relation)
                        .is_some_and(|r| r.nullable)
                        && !deferred.contains(d)
                });
                match breakable {
                    Some(link) => {
                        deferred.insert(link);
                    }
                    None => return Err(error),
                }
            }
        }
    }
}

/// A circle of links found while ordering.
struct Circle {
    links: Vec<Deferred>,
    error: GraphError,
}

fn order<DB: Backend>(
    slots: &[Box<dyn AnySlot<DB>>],
    deferred: &std::collections::HashSet<Deferred>,
) -> Result<Vec<Step>, Circle> {
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
                    let relation = *next;
                    *next += 1;
                    let Link::Row { slot: ps, row: pr } = link else {
                        continue;
                    };
                    if deferred.contains(&Deferred {
                        slot: s,
                        row: r,
                        relation,
                    }) {
                        continue;
                    }
                    if pr >= slots.get(ps).map_or(0, |p| p.len()) {
                        continue;
                    }
                    match depth[node(ps, pr)] {
                        UNSEEN => {
                            depth[node(ps, pr)] = ON_PATH;
                            stack.push((ps, pr, 0));
                        }
                        ON_PATH => return Err(circle(slots, &stack, ps, pr)),
                        _ => {}
                    }
                    continue;
                }
                let own = links
                    .iter()
                    .enumerate()
                    .filter(|&(relation, _)| {
                        !deferred.contains(&Deferred {
                            slot: s,
                            row: r,
                            relation,
                        })
                    })
                    .filter_map(|(_, link)| match *link {
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

/// The rows on the circle that closes at (`slot`, `row`): its links, and
/// the error that reports it when none of them can be written afterwards.
fn circle<DB: Backend>(
    slots: &[Box<dyn AnySlot<DB>>],
    stack: &[(usize, usize, usize)],
    slot: usize,
    row: usize,
) -> Circle {
    let start = stack
        .iter()
        .position(|&(s, r, _)| s == slot && r == row)
        .unwrap_or(0);
    let on_circle = &stack[start..];
    let links = on_circle
        .iter()
        .map(|&(s, r, next)| Deferred {
            slot: s,
            row: r,
            relation: next.saturating_sub(1),
        })
        .collect();
    let path: Vec<(&'static str, &'static str, usize)> = on_circle
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
    Circle {
        links,
        error: GraphError::Cycle { path },
    }
}
