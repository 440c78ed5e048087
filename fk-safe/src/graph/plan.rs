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
//!
//! Rows that link to each other in a circle (a department whose head works
//! in it) have no such order. The circle is broken at its first link whose
//! foreign key may be NULL: that row is inserted with the key NULL and the
//! link is written once every row exists. A circle of links that may not be
//! NULL cannot be written at all and is reported before any SQL.
//!
//! Depths come from one depth-first walk over the links. When a link leads
//! back to a row still on the walk, the rows between form a circle; once it
//! is broken, the walk goes on from the broken link instead of starting
//! over. Rows the walk has finished cannot reach the circle (it would have
//! closed through them earlier), so their depths stand, and only the rows
//! of the circle past the broken link are walked again. Planning thus costs
//! one walk of the graph plus, for each broken link, the length of its
//! circle: thousands of independent circles plan in linear time. The links
//! broken are the ones a fresh walk after each break would choose.

use std::collections::HashSet;

use diesel::backend::Backend;

use super::model::RelationInfo;
use super::slot::{AnySlot, Link};
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
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) steps: Vec<Step>,
    pub(crate) deferred: Vec<Deferred>,
}

/// Orders the rows; a cycle is broken at a link whose foreign key may be
/// NULL (that link is written afterwards), and reported when none may.
pub(crate) fn plan<R: Rows + ?Sized>(graph: &R) -> Result<Plan, GraphError> {
    order(graph)
}

/// What planning reads of a graph: its rows, their links, and whether each
/// relation's foreign key may be NULL.
pub(crate) trait Rows {
    fn slots(&self) -> usize;
    fn len(&self, slot: usize) -> usize;
    fn links(&self, slot: usize, row: usize) -> &[Link];
    fn model(&self, slot: usize) -> &'static str;
    fn relations(&self, slot: usize) -> &'static [RelationInfo];
}

impl<DB: Backend> Rows for [Box<dyn AnySlot<DB>>] {
    fn slots(&self) -> usize {
        <[_]>::len(self)
    }

    fn len(&self, slot: usize) -> usize {
        self.get(slot).map_or(0, |s| s.len())
    }

    fn links(&self, slot: usize, row: usize) -> &[Link] {
        self.get(slot).map_or(&[], |s| s.links(row))
    }

    fn model(&self, slot: usize) -> &'static str {
        self.get(slot).map_or("?", |s| s.model())
    }

    fn relations(&self, slot: usize) -> &'static [RelationInfo] {
        self.get(slot).map_or(&[], |s| s.relations())
    }
}

/// Depth of a row not reached yet.
const UNSEEN: u32 = u32::MAX;
/// Depth of a row on the walk's current path: a link to it closes a circle.
const ON_PATH: u32 = u32::MAX - 1;

/// A row on the walk's path, and the next of its links to follow.
#[derive(Clone, Copy)]
struct Visit {
    slot: usize,
    row: usize,
    next: usize,
}

impl Visit {
    /// The link this row was following when the walk went deeper; `next`
    /// has already moved past it.
    fn followed(&self) -> Deferred {
        Deferred {
            slot: self.slot,
            row: self.row,
            relation: self.next.saturating_sub(1),
        }
    }
}

fn order<R: Rows + ?Sized>(graph: &R) -> Result<Plan, GraphError> {
    let mut offsets = Vec::with_capacity(graph.slots());
    let mut total = 0;
    for slot in 0..graph.slots() {
        offsets.push(total);
        total += graph.len(slot);
    }
    let node = |slot: usize, row: usize| offsets[slot] + row;
    // The link points at a row of the graph (else it is not followed).
    let target = |link: &Link| match *link {
        Link::Row { slot, row } if row < graph.len(slot) => Some((slot, row)),
        _ => None,
    };

    let mut depth = vec![UNSEEN; total];
    let mut deferred: HashSet<Deferred> = HashSet::new();
    // Iterative: a deep chain of self-references must not overflow the stack.
    let mut path: Vec<Visit> = Vec::new();
    for start_slot in 0..graph.slots() {
        for start_row in 0..graph.len(start_slot) {
            if depth[node(start_slot, start_row)] != UNSEEN {
                continue;
            }
            depth[node(start_slot, start_row)] = ON_PATH;
            path.push(Visit {
                slot: start_slot,
                row: start_row,
                next: 0,
            });
            while let Some(visit) = path.last_mut() {
                let (s, r) = (visit.slot, visit.row);
                let links = graph.links(s, r);
                if let Some(link) = links.get(visit.next) {
                    let relation = visit.next;
                    visit.next += 1;
                    let Some((ps, pr)) = target(link) else {
                        continue;
                    };
                    let later = Deferred {
                        slot: s,
                        row: r,
                        relation,
                    };
                    // Most graphs have no cycle: skip the hashing then.
                    if !deferred.is_empty() && deferred.contains(&later) {
                        continue;
                    }
                    match depth[node(ps, pr)] {
                        UNSEEN => {
                            depth[node(ps, pr)] = ON_PATH;
                            path.push(Visit {
                                slot: ps,
                                row: pr,
                                next: 0,
                            });
                        }
                        ON_PATH => {
                            // Searched from the top: costs the circle's length.
                            let start = path
                                .iter()
                                .rposition(|v| v.slot == ps && v.row == pr)
                                .unwrap_or(0);
                            let broken = break_circle(graph, &path[start..])?;
                            let at = start + broken;
                            deferred.insert(path[at].followed());
                            // The rows past the broken link were reached
                            // through it; they are walked again from wherever
                            // else they are linked.
                            for v in path.drain(at + 1..) {
                                depth[node(v.slot, v.row)] = UNSEEN;
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
                // Every link not written afterwards leads to a finished row.
                let own = links
                    .iter()
                    .enumerate()
                    .filter(|&(relation, _)| {
                        deferred.is_empty()
                            || !deferred.contains(&Deferred {
                                slot: s,
                                row: r,
                                relation,
                            })
                    })
                    .filter_map(|(_, link)| target(link))
                    .map(|(ps, pr)| depth[node(ps, pr)])
                    .filter(|&d| d < ON_PATH)
                    .map(|d| d + 1)
                    .max()
                    .unwrap_or(0);
                depth[node(s, r)] = own;
                path.pop();
            }
        }
    }

    let mut groups: Vec<(u32, usize, usize)> = Vec::with_capacity(total);
    for s in 0..graph.slots() {
        for r in 0..graph.len(s) {
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
    let mut deferred: Vec<Deferred> = deferred.into_iter().collect();
    deferred.sort_unstable_by_key(|d| (d.slot, d.row, d.relation));
    Ok(Plan { steps, deferred })
}

/// Where to break a circle (each row linked to the next, the last to the
/// first): the position of the first row whose link may be NULL. The error
/// names the whole circle when none may.
fn break_circle<R: Rows + ?Sized>(graph: &R, circle: &[Visit]) -> Result<usize, GraphError> {
    let relation = |v: &Visit| graph.relations(v.slot).get(v.followed().relation);
    if let Some(at) = circle
        .iter()
        .position(|v| relation(v).is_some_and(|r| r.nullable))
    {
        return Ok(at);
    }
    let path = circle
        .iter()
        .map(|v| {
            let name = relation(v).map_or("?", |info| info.name);
            (graph.model(v.slot), name, v.row)
        })
        .collect();
    Err(GraphError::Cycle { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph without a database: models, their relations and the links.
    struct Fake {
        slots: Vec<FakeSlot>,
    }

    struct FakeSlot {
        model: &'static str,
        relations: &'static [RelationInfo],
        links: Vec<Vec<Link>>,
    }

    impl Rows for Fake {
        fn slots(&self) -> usize {
            self.slots.len()
        }

        fn len(&self, slot: usize) -> usize {
            self.slots.get(slot).map_or(0, |s| s.links.len())
        }

        fn links(&self, slot: usize, row: usize) -> &[Link] {
            self.slots[slot].links[row].as_slice()
        }

        fn model(&self, slot: usize) -> &'static str {
            self.slots[slot].model
        }

        fn relations(&self, slot: usize) -> &'static [RelationInfo] {
            self.slots[slot].relations
        }
    }

    const fn relation(name: &'static str, nullable: bool) -> RelationInfo {
        RelationInfo {
            name,
            parent: "?",
            fields: &[],
            columns: &[],
            nullable,
        }
    }

    /// departments (slot 0): `head_employee_id` may be NULL.
    static DEPARTMENT: [RelationInfo; 1] = [relation("head_employee_id", true)];
    /// employees (slot 1): `manager_id` and `department_id` may be NULL.
    static EMPLOYEE: [RelationInfo; 2] = [
        relation("manager_id", true),
        relation("department_id", true),
    ];
    /// nodes: a self-reference that may not be NULL.
    static NODE: [RelationInfo; 1] = [relation("parent_id", false)];

    fn row(slot: usize, row: usize) -> Link {
        Link::Row { slot, row }
    }

    fn company(departments: Vec<Vec<Link>>, employees: Vec<Vec<Link>>) -> Fake {
        Fake {
            slots: vec![
                FakeSlot {
                    model: "NewDepartment",
                    relations: &DEPARTMENT,
                    links: departments,
                },
                FakeSlot {
                    model: "NewEmployee",
                    relations: &EMPLOYEE,
                    links: employees,
                },
            ],
        }
    }

    fn deferred(slot: usize, row: usize, relation: usize) -> Deferred {
        Deferred {
            slot,
            row,
            relation,
        }
    }

    #[test]
    fn many_independent_cycles_defer_one_link_each() {
        let n = 20_000;
        // Department i is headed by employee i, who works in department i.
        let graph = company(
            (0..n).map(|i| vec![row(1, i)]).collect(),
            (0..n).map(|i| vec![Link::Field, row(0, i)]).collect(),
        );
        let plan = order(&graph).unwrap();
        assert_eq!(
            plan.deferred,
            (0..n).map(|i| deferred(0, i, 0)).collect::<Vec<_>>()
        );
        assert_eq!(
            plan.steps,
            [
                Step {
                    slot: 0,
                    rows: (0..n).collect()
                },
                Step {
                    slot: 1,
                    rows: (0..n).collect()
                },
            ]
        );
    }

    #[test]
    fn a_row_linked_to_itself() {
        // Through a nullable relation: a circle of one row, deferred.
        let graph = company(vec![], vec![vec![row(1, 0), Link::Field]]);
        let plan = order(&graph).unwrap();
        assert_eq!(plan.deferred, [deferred(1, 0, 0)]);
        assert_eq!(
            plan.steps,
            [Step {
                slot: 1,
                rows: vec![0]
            }]
        );
        // Through one that may not be NULL: refused.
        let graph = Fake {
            slots: vec![FakeSlot {
                model: "NewNode",
                relations: &NODE,
                links: vec![vec![Link::Field], vec![row(0, 1)]],
            }],
        };
        match order(&graph) {
            Err(GraphError::Cycle { path }) => assert_eq!(path, [("NewNode", "parent_id", 1)]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_cycle_without_a_nullable_link_is_reported_whole() {
        let graph = Fake {
            slots: vec![FakeSlot {
                model: "NewNode",
                relations: &NODE,
                links: vec![vec![row(0, 1)], vec![row(0, 2)], vec![row(0, 0)]],
            }],
        };
        match order(&graph) {
            Err(GraphError::Cycle { path }) => assert_eq!(
                path,
                [
                    ("NewNode", "parent_id", 0),
                    ("NewNode", "parent_id", 1),
                    ("NewNode", "parent_id", 2),
                ]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_million_generations_do_not_overflow_the_stack() {
        let n = 1_000_000;
        // Employee i reports to employee i + 1; the last one to the first,
        // closing one circle through every row.
        let graph = company(
            vec![],
            (0..n)
                .map(|i| vec![row(1, (i + 1) % n), Link::Field])
                .collect(),
        );
        let plan = order(&graph).unwrap();
        assert_eq!(plan.deferred, [deferred(1, 0, 0)]);
        assert_eq!(plan.steps.len(), n);
        // Employee 0 first (their manager is set afterwards), then the
        // others from the top of the chain down.
        let order = std::iter::once(0).chain((1..n).rev());
        assert!(plan
            .steps
            .iter()
            .zip(order)
            .all(|(step, i)| step.slot == 1 && step.rows == [i]));
    }

    /// The planner as it was: a full walk, restarted after every broken
    /// link. Kept to check that the single walk chooses the same links.
    fn restarting_plan<R: Rows + ?Sized>(graph: &R) -> Result<Plan, GraphError> {
        let mut fixed: HashSet<Deferred> = HashSet::new();
        loop {
            match restarting_order(graph, &fixed) {
                Ok(steps) => {
                    let mut deferred: Vec<Deferred> = fixed.into_iter().collect();
                    deferred.sort_unstable_by_key(|d| (d.slot, d.row, d.relation));
                    return Ok(Plan { steps, deferred });
                }
                Err(circle) => {
                    let broken = break_circle(graph, &circle)?;
                    fixed.insert(circle[broken].followed());
                }
            }
        }
    }

    fn restarting_order<R: Rows + ?Sized>(
        graph: &R,
        fixed: &HashSet<Deferred>,
    ) -> Result<Vec<Step>, Vec<Visit>> {
        let mut offsets = Vec::new();
        let mut total = 0;
        for slot in 0..graph.slots() {
            offsets.push(total);
            total += graph.len(slot);
        }
        let node = |slot: usize, row: usize| offsets[slot] + row;
        let mut depth = vec![UNSEEN; total];
        let mut stack: Vec<Visit> = Vec::new();
        for start_slot in 0..graph.slots() {
            for start_row in 0..graph.len(start_slot) {
                if depth[node(start_slot, start_row)] != UNSEEN {
                    continue;
                }
                depth[node(start_slot, start_row)] = ON_PATH;
                stack.push(Visit {
                    slot: start_slot,
                    row: start_row,
                    next: 0,
                });
                while let Some(visit) = stack.last_mut() {
                    let (s, r) = (visit.slot, visit.row);
                    let links = graph.links(s, r);
                    if let Some(&link) = links.get(visit.next) {
                        let relation = visit.next;
                        visit.next += 1;
                        let Link::Row { slot: ps, row: pr } = link else {
                            continue;
                        };
                        if fixed.contains(&deferred(s, r, relation)) || pr >= graph.len(ps) {
                            continue;
                        }
                        match depth[node(ps, pr)] {
                            UNSEEN => {
                                depth[node(ps, pr)] = ON_PATH;
                                stack.push(Visit {
                                    slot: ps,
                                    row: pr,
                                    next: 0,
                                });
                            }
                            ON_PATH => {
                                let start = stack
                                    .iter()
                                    .position(|v| v.slot == ps && v.row == pr)
                                    .unwrap_or(0);
                                return Err(stack[start..].to_vec());
                            }
                            _ => {}
                        }
                        continue;
                    }
                    let own = links
                        .iter()
                        .enumerate()
                        .filter(|&(relation, _)| !fixed.contains(&deferred(s, r, relation)))
                        .filter_map(|(_, link)| match *link {
                            Link::Row { slot: ps, row: pr } if pr < graph.len(ps) => {
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
        let mut groups: Vec<(u32, usize, usize)> = Vec::new();
        for s in 0..graph.slots() {
            for r in 0..graph.len(s) {
                groups.push((depth[node(s, r)], s, r));
            }
        }
        groups.sort_unstable();
        let mut steps: Vec<Step> = Vec::new();
        let mut current = None;
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

    /// A small deterministic generator (xorshift), so that failures repeat.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn the_single_walk_breaks_the_links_a_restarting_walk_breaks() {
        // Relations of three models; some may be NULL, some may not.
        static A: [RelationInfo; 3] = [
            relation("a_to_b", true),
            relation("a_to_a", false),
            relation("a_to_c", true),
        ];
        static B: [RelationInfo; 2] = [relation("b_to_a", false), relation("b_to_c", true)];
        static C: [RelationInfo; 2] = [relation("c_to_c", true), relation("c_to_a", false)];
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let (mut planned, mut refused) = (0, 0);
        for _ in 0..5_000 {
            let sizes = [random.below(7), random.below(7), random.below(7)];
            let link = |random: &mut Random| match random.below(4) {
                0 => Link::Field,
                // Now and then a row past the end: not followed.
                _ => {
                    let slot = random.below(3);
                    row(slot, random.below(sizes[slot] + 1))
                }
            };
            let mut slot = |model, relations: &'static [RelationInfo], rows: usize| FakeSlot {
                model,
                relations,
                links: (0..rows)
                    .map(|_| (0..relations.len()).map(|_| link(&mut random)).collect())
                    .collect(),
            };
            let graph = Fake {
                slots: vec![
                    slot("A", &A, sizes[0]),
                    slot("B", &B, sizes[1]),
                    slot("C", &C, sizes[2]),
                ],
            };
            let expected = restarting_plan(&graph);
            match (&expected, &order(&graph)) {
                (Ok(expected), Ok(plan)) => {
                    assert_eq!(plan, expected);
                    planned += 1;
                }
                (Err(expected), Err(error)) => {
                    assert_eq!(error.to_string(), expected.to_string());
                    refused += 1;
                }
                (expected, got) => panic!("expected {expected:?}, got {got:?}"),
            }
        }
        // Both outcomes were exercised.
        assert!(planned > 100 && refused > 100, "{planned} {refused}");
    }
}
