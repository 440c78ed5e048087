//! A safe order to load a live database's tables in: parents before
//! children, level by level, and the cycles no order can satisfy, with how
//! each of their foreign keys can be broken.
//!
//! [`LoadOrder::new`] computes it from a catalog (no I/O, deterministic:
//! every list is sorted); [`read`] and [`read_schemas`] read the catalog
//! from a connection first.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::prelude::*;
//! use fk_safe::integrity::load_order::{self, TableName};
//! use fk_safe::FkCatalog;
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! for statement in [
//!     "CREATE TABLE customers (id INTEGER PRIMARY KEY)",
//!     "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customers (id))",
//!     "CREATE TABLE settings (name TEXT PRIMARY KEY)",
//!     // Each team has a lead, each person a team: a cycle, breakable by
//!     // writing a team without its lead first.
//!     "CREATE TABLE teams (id INTEGER PRIMARY KEY, lead_id BIGINT REFERENCES people (id))",
//!     "CREATE TABLE people (id INTEGER PRIMARY KEY, team_id BIGINT NOT NULL REFERENCES teams (id))",
//! ] {
//!     diesel::sql_query(statement).execute(&mut conn).unwrap();
//! }
//!
//! let order = load_order::read(&mut conn, &FkCatalog::new()).unwrap();
//! let main = |table: &str| TableName::new("main", table);
//! assert_eq!(
//!     order.levels,
//!     vec![
//!         vec![main("customers"), main("people"), main("settings"), main("teams")],
//!         vec![main("orders")],
//!     ]
//! );
//! let [cycle] = &order.cycles[..] else { panic!("one cycle: {:?}", order.cycles) };
//! assert_eq!(cycle.tables, vec![main("people"), main("teams")]);
//! let lead = cycle.edges.iter().find(|e| e.foreign_key.table == "teams").unwrap();
//! assert_eq!(lead.breakable.null_columns(), ["lead_id".to_string()]);
//! assert_eq!(cycle.breakable(), Some(true));
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::backend::{FkConnection, ReadCatalog};
use crate::catalog::FkCatalog;
use crate::error::Error;
use crate::fk::{Deferrability, ForeignKey, MatchType};

/// A table, qualified by its schema (`main` on SQLite), both unquoted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    /// The table's schema.
    pub schema: String,
    /// The table's name within it.
    pub table: String,
}

impl TableName {
    /// The table `table` of `schema`.
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> Self {
        TableName {
            schema: schema.into(),
            table: table.into(),
        }
    }

    /// The referencing (child) table of a foreign key.
    pub fn child_of(foreign_key: &ForeignKey) -> Self {
        TableName::new(&foreign_key.schema, &foreign_key.table)
    }

    /// The referenced (parent) table of a foreign key.
    pub fn parent_of(foreign_key: &ForeignKey) -> Self {
        TableName::new(&foreign_key.parent_schema, &foreign_key.parent_table)
    }
}

impl fmt::Display for TableName {
    /// `schema.table`, each part in double quotes when it is not a plain
    /// lower-case identifier, as SQL would need it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_identifier(f, &self.schema)?;
        f.write_str(".")?;
        write_identifier(f, &self.table)
    }
}

fn write_identifier(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    f.write_str(&crate::sql::display_ident(name))
}

/// The order to load tables in, and the cycles that order cannot resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOrder {
    /// The tables in dependency levels, parents first. Level 0 holds the
    /// tables no other table must precede; every table of level `n + 1`
    /// references a table of level `n`, and only tables of lower levels
    /// (or of its own cycle). All tables of one cycle share a level: rows of
    /// a cycle can only be written by breaking one of its
    /// [`edges`](Cycle::edges). A table's reference to itself does not raise
    /// its level. Each level is sorted.
    pub levels: Vec<Vec<TableName>>,
    /// Every cycle, sorted by its tables: each set of two or more tables
    /// that all reach one another through foreign keys (a strongly connected
    /// component), and each table that references itself (a cycle of one
    /// table, reported apart from any larger cycle the table is in).
    pub cycles: Vec<Cycle>,
}

/// Tables whose foreign keys go round in a circle: no order writes their
/// rows with every key pointing at an existing row, unless an edge is
/// broken (a key written NULL and filled in later, or a check deferred to
/// commit).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cycle {
    /// Its tables, sorted; one for a self-reference.
    pub tables: Vec<TableName>,
    /// Its foreign keys: those between two of its tables (for a
    /// self-reference, those of the table to itself), sorted by child
    /// table, parent table, constraint name and columns. A cycle of more
    /// than two tables can need more than one edge broken: every loop
    /// through it must lose one.
    pub edges: Vec<CycleEdge>,
}

impl Cycle {
    /// Whether this is one table referencing itself.
    pub fn is_self_reference(&self) -> bool {
        self.tables.len() == 1
    }

    /// Whether the cycle's rows can be written by breaking edges:
    /// `Some(true)` when the edges that can be broken cut every loop
    /// through it (the others form no loop of their own), `Some(false)` when
    /// the edges that surely cannot be broken still form a loop (no order,
    /// NULL or deferral writes its rows: flag it), `None` when only edges
    /// whose breaking the catalog cannot decide (deferral on SQLite) would
    /// cut the last loop. One breakable edge is not enough: two tables
    /// joined by a nullable and a `NOT NULL` key stay a loop through the
    /// second.
    pub fn breakable(&self) -> Option<bool> {
        let loops_without = |kept: &dyn Fn(Option<bool>) -> bool| {
            has_loop(
                self.edges
                    .iter()
                    .filter(|edge| kept(edge.breakable.verdict()))
                    .map(|edge| &edge.foreign_key),
            )
        };
        if loops_without(&|verdict| verdict == Some(false)) {
            Some(false)
        } else if loops_without(&|verdict| verdict != Some(true)) {
            None
        } else {
            Some(true)
        }
    }
}

/// Whether the foreign keys, as edges from child table to parent table,
/// go round in a loop (a key of a table to itself is one): the tables left
/// when those no remaining key points into are taken away one by one.
fn has_loop<'a>(keys: impl Iterator<Item = &'a ForeignKey>) -> bool {
    type Node<'n> = (&'n str, &'n str);
    let edges: Vec<(Node<'a>, Node<'a>)> = keys
        .map(|fk| {
            (
                (fk.schema.as_str(), fk.table.as_str()),
                (fk.parent_schema.as_str(), fk.parent_table.as_str()),
            )
        })
        .collect();
    let mut remaining = edges;
    loop {
        // An edge whose child no remaining key points at is on no loop; in
        // a graph without loops some such edge always exists.
        let pointed_at: Vec<Node<'a>> = remaining.iter().map(|(_, parent)| *parent).collect();
        let before = remaining.len();
        remaining.retain(|(child, _)| pointed_at.contains(child));
        if remaining.is_empty() {
            return false;
        }
        if remaining.len() == before {
            return true;
        }
    }
}

/// One foreign key of a cycle, and how it can be broken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CycleEdge {
    /// The constraint.
    pub foreign_key: ForeignKey,
    /// How a row can be written before the row it references.
    pub breakable: Breakable,
}

/// How a foreign key of a cycle can be broken, so that a child row is
/// written before its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Breakable {
    /// Whether the key can be written NULL now and filled in once the
    /// parent exists.
    pub by_null: NullBreak,
    /// Whether its check can wait for the commit (`SET CONSTRAINTS ..
    /// DEFERRED`, or `INITIALLY DEFERRED`): the constraint's declared
    /// [`Deferrability`], `None` when the catalog does not record it. SQLite
    /// never does; there `PRAGMA defer_foreign_keys = ON` defers every
    /// foreign key until the transaction ends, whatever was declared.
    pub by_deferring: Option<Deferrability>,
}

impl Breakable {
    /// How `foreign_key` can be broken.
    pub fn of(foreign_key: &ForeignKey) -> Self {
        let nullable = |index: usize| foreign_key.nullable.get(index).copied().unwrap_or(false);
        let by_null = match foreign_key.match_type {
            // Under MATCH SIMPLE one NULL column exempts the whole key.
            MatchType::Simple => {
                let columns: Vec<String> = foreign_key
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| nullable(*index))
                    .map(|(_, column)| column.clone())
                    .collect();
                if columns.is_empty() {
                    NullBreak::Impossible
                } else {
                    NullBreak::AnyOf(columns)
                }
            }
            // MATCH FULL refuses a partly NULL key; PARTIAL (which
            // PostgreSQL does not implement) is read the same, the strict way.
            MatchType::Full | MatchType::Partial => {
                let all =
                    !foreign_key.columns.is_empty() && (0..foreign_key.columns.len()).all(nullable);
                if all {
                    NullBreak::AllOf(foreign_key.columns.clone())
                } else {
                    NullBreak::Impossible
                }
            }
        };
        Breakable {
            by_null,
            by_deferring: foreign_key.deferrability,
        }
    }

    /// Whether the constraint can be deferred: `None` when the catalog
    /// does not say (SQLite).
    pub fn can_defer(&self) -> Option<bool> {
        self.by_deferring
            .map(|deferrability| deferrability != Deferrability::NotDeferrable)
    }

    /// The columns to write NULL to break this key: empty when NULL cannot.
    pub fn null_columns(&self) -> &[String] {
        match &self.by_null {
            NullBreak::AnyOf(columns) | NullBreak::AllOf(columns) => columns,
            NullBreak::Impossible => &[],
        }
    }

    /// `Some(true)` if the key can be broken by NULL or by deferring,
    /// `Some(false)` if by neither, `None` if not by NULL and the catalog
    /// does not say whether by deferring.
    pub fn verdict(&self) -> Option<bool> {
        if self.by_null != NullBreak::Impossible {
            return Some(true);
        }
        self.can_defer()
    }
}

/// Whether writing NULL to a foreign key's columns lets a row in before
/// its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NullBreak {
    /// `MATCH SIMPLE`: NULL in any one of these nullable columns exempts
    /// the key from the check.
    AnyOf(Vec<String>),
    /// `MATCH FULL`: the key is exempt only with all of these columns NULL.
    AllOf(Vec<String>),
    /// The columns that would have to be NULL are `NOT NULL`.
    Impossible,
}

impl LoadOrder {
    /// The load order of `tables` and of every table `foreign_keys` names.
    /// Tables without foreign keys belong in `tables`, or they are missing
    /// from the order; listing a table twice, or also through a key, is
    /// harmless.
    ///
    /// ```
    /// use fk_safe::integrity::load_order::{LoadOrder, TableName};
    ///
    /// let order = LoadOrder::new([TableName::new("public", "audit_log")], &[]);
    /// assert_eq!(order.levels, vec![vec![TableName::new("public", "audit_log")]]);
    /// assert!(order.cycles.is_empty());
    /// ```
    pub fn new(tables: impl IntoIterator<Item = TableName>, foreign_keys: &[ForeignKey]) -> Self {
        let mut names: BTreeSet<TableName> = tables.into_iter().collect();
        for foreign_key in foreign_keys {
            names.insert(TableName::child_of(foreign_key));
            names.insert(TableName::parent_of(foreign_key));
        }
        let names: Vec<TableName> = names.into_iter().collect();
        let position: BTreeMap<&TableName, usize> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name, i))
            .collect();
        // Every key lands on two listed tables, since all were inserted above.
        let ends = |foreign_key: &ForeignKey| {
            let parent = position.get(&TableName::parent_of(foreign_key)).copied();
            let child = position.get(&TableName::child_of(foreign_key)).copied();
            parent.zip(child)
        };

        // Parent -> children; a self-reference cannot order anything.
        let mut children: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); names.len()];
        let mut self_references: BTreeMap<usize, Vec<&ForeignKey>> = BTreeMap::new();
        for foreign_key in foreign_keys {
            let Some((parent, child)) = ends(foreign_key) else {
                continue;
            };
            if parent == child {
                self_references.entry(child).or_default().push(foreign_key);
            } else {
                children[parent].insert(child);
            }
        }
        let children: Vec<Vec<usize>> = children
            .into_iter()
            .map(|set| set.into_iter().collect())
            .collect();

        let components = strongly_connected(&children);
        let mut component_of = vec![0; names.len()];
        for (component, members) in components.iter().enumerate() {
            for &member in members {
                component_of[member] = component;
            }
        }
        // Tarjan's algorithm finishes a component only after every
        // component it reaches, so the reverse is parents first; each
        // component's level is then final before its children are visited.
        let mut level = vec![0usize; components.len()];
        for component in (0..components.len()).rev() {
            for &member in &components[component] {
                for &child in &children[member] {
                    let target = component_of[child];
                    if target != component {
                        level[target] = level[target].max(level[component] + 1);
                    }
                }
            }
        }
        let depth = level.iter().max().map_or(0, |deepest| deepest + 1);
        let mut levels: Vec<Vec<TableName>> = vec![Vec::new(); depth];
        for (table, name) in names.iter().enumerate() {
            levels[level[component_of[table]]].push(name.clone());
        }
        for tables in &mut levels {
            tables.sort();
        }

        let mut cycles = Vec::new();
        for members in components.iter().filter(|members| members.len() > 1) {
            let inside: BTreeSet<usize> = members.iter().copied().collect();
            let keys = foreign_keys.iter().filter(|foreign_key| {
                ends(foreign_key).is_some_and(|(parent, child)| {
                    parent != child && inside.contains(&parent) && inside.contains(&child)
                })
            });
            cycles.push(Cycle::of(
                members
                    .iter()
                    .map(|&member| names[member].clone())
                    .collect(),
                keys,
            ));
        }
        for (table, keys) in self_references {
            cycles.push(Cycle::of(vec![names[table].clone()], keys.into_iter()));
        }
        cycles.sort_by(|a, b| a.tables.cmp(&b.tables));

        LoadOrder { levels, cycles }
    }

    /// The cycles none of whose foreign keys can be broken: their rows
    /// cannot be written while the constraints hold.
    pub fn unbreakable_cycles(&self) -> impl Iterator<Item = &Cycle> {
        self.cycles
            .iter()
            .filter(|cycle| cycle.breakable() == Some(false))
    }
}

impl Cycle {
    fn of<'a>(mut tables: Vec<TableName>, keys: impl Iterator<Item = &'a ForeignKey>) -> Self {
        tables.sort();
        let mut edges: Vec<CycleEdge> = keys
            .map(|foreign_key| CycleEdge {
                breakable: Breakable::of(foreign_key),
                foreign_key: foreign_key.clone(),
            })
            .collect();
        edges.sort_by(|a, b| edge_order(&a.foreign_key).cmp(&edge_order(&b.foreign_key)));
        Cycle { tables, edges }
    }
}

fn edge_order(foreign_key: &ForeignKey) -> (TableName, TableName, &Option<String>, &[String]) {
    (
        TableName::child_of(foreign_key),
        TableName::parent_of(foreign_key),
        &foreign_key.name,
        &foreign_key.columns,
    )
}

/// The strongly connected components of a graph given as each node's
/// successors, by Tarjan's algorithm without recursion (a chain of
/// thousands of tables must not exhaust the stack), each finished only
/// after every component reachable from it.
fn strongly_connected(successors: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let mut index = vec![UNVISITED; successors.len()];
    let mut low = vec![0; successors.len()];
    let mut on_stack = vec![false; successors.len()];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0;
    for root in 0..successors.len() {
        if index[root] != UNVISITED {
            continue;
        }
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        // (node, how many of its successors were visited)
        let mut path = vec![(root, 0usize)];
        while let Some(&(node, visited)) = path.last() {
            if let Some(&successor) = successors[node].get(visited) {
                if let Some(top) = path.last_mut() {
                    top.1 += 1;
                }
                if index[successor] == UNVISITED {
                    index[successor] = next_index;
                    low[successor] = next_index;
                    next_index += 1;
                    stack.push(successor);
                    on_stack[successor] = true;
                    path.push((successor, 0));
                } else if on_stack[successor] {
                    low[node] = low[node].min(index[successor]);
                }
                continue;
            }
            path.pop();
            if let Some(&(caller, _)) = path.last() {
                low[caller] = low[caller].min(low[node]);
            }
            if low[node] == index[node] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                component.sort_unstable();
                components.push(component);
            }
        }
    }
    components
}

/// The load order of every table of the database (on PostgreSQL, in every
/// schema the catalog shows; on SQLite, in `main`). The tables are read
/// now; the foreign keys come from `catalog`, which reads them once and
/// then remembers them: call [`FkCatalog::clear`] after a schema change.
pub fn read<C: FkConnection>(conn: &mut C, catalog: &FkCatalog) -> Result<LoadOrder, Error> {
    read_where(conn, catalog, |_| true)
}

/// The load order of the tables of `schemas`. A foreign key to a table of
/// another schema is left out: its parent is taken as loaded already.
pub fn read_schemas<C: FkConnection>(
    conn: &mut C,
    catalog: &FkCatalog,
    schemas: &[&str],
) -> Result<LoadOrder, Error> {
    read_where(conn, catalog, |schema| schemas.contains(&schema))
}

fn read_where<C: FkConnection>(
    conn: &mut C,
    catalog: &FkCatalog,
    wanted: impl Fn(&str) -> bool,
) -> Result<LoadOrder, Error> {
    let tables = <C::Backend as ReadCatalog>::list_tables(conn).map_err(Error::Database)?;
    let foreign_keys = catalog.foreign_keys(conn)?;
    let foreign_keys: Vec<ForeignKey> = foreign_keys
        .iter()
        .filter(|fk| wanted(&fk.schema) && wanted(&fk.parent_schema))
        .cloned()
        .collect();
    let tables = tables
        .into_iter()
        .filter(|(schema, _)| wanted(schema))
        .map(|(schema, table)| TableName::new(schema, table));
    Ok(LoadOrder::new(tables, &foreign_keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fk::FkAction;

    fn key(
        child: &str,
        parent: &str,
        nullable: bool,
        deferrability: Option<Deferrability>,
    ) -> ForeignKey {
        ForeignKey {
            name: Some(format!("{child}_{parent}_fkey")),
            schema: "s".to_string(),
            table: child.to_string(),
            columns: vec![format!("{parent}_id")],
            nullable: vec![nullable],
            parent_schema: "s".to_string(),
            parent_table: parent.to_string(),
            parent_columns: vec!["id".to_string()],
            on_delete: FkAction::NoAction,
            on_update: FkAction::NoAction,
            deferrability,
            match_type: MatchType::Simple,
            validated: true,
        }
    }

    fn table(name: &str) -> TableName {
        TableName::new("s", name)
    }

    fn tables(names: &[&str]) -> Vec<TableName> {
        names.iter().map(|name| table(name)).collect()
    }

    const NOT: Option<Deferrability> = Some(Deferrability::NotDeferrable);

    /// x references y twice, once through a nullable key and once through
    /// a NOT NULL one, and y references x: breaking the nullable key leaves
    /// the loop x -> y -> x through the other, so the cycle cannot be
    /// written (a review found it called breakable).
    #[test]
    fn one_breakable_edge_does_not_break_every_loop() {
        let mut second = key("x", "y", false, NOT);
        second.name = Some("x_b_fkey".into());
        second.columns = vec!["b".into()];
        let keys = [key("x", "y", true, NOT), second, key("y", "x", false, NOT)];
        let order = LoadOrder::new(tables(&["x", "y"]), &keys);
        assert_eq!(order.cycles.len(), 1);
        assert_eq!(order.cycles[0].breakable(), Some(false));
        assert_eq!(order.unbreakable_cycles().count(), 1);

        // With the NOT NULL key deferrable, every loop can be cut.
        let mut deferrable = keys.clone();
        deferrable[1].deferrability = Some(Deferrability::InitiallyImmediate);
        let order = LoadOrder::new(tables(&["x", "y"]), &deferrable);
        assert_eq!(order.cycles[0].breakable(), Some(true));

        // Undecided (SQLite's unknown deferrability) on the last loop: None.
        let mut unknown = keys.clone();
        unknown[1].deferrability = None;
        let order = LoadOrder::new(tables(&["x", "y"]), &unknown);
        assert_eq!(order.cycles[0].breakable(), None);
    }

    #[test]
    fn a_chain_is_levelled_by_its_longest_path() {
        // d references both a (level 0) and c (level 2): it goes after c.
        let keys = [
            key("b", "a", false, NOT),
            key("c", "b", false, NOT),
            key("d", "c", false, NOT),
            key("d", "a", false, NOT),
        ];
        let order = LoadOrder::new(tables(&["lonely"]), &keys);
        assert_eq!(
            order.levels,
            vec![
                tables(&["a", "lonely"]),
                tables(&["b"]),
                tables(&["c"]),
                tables(&["d"])
            ]
        );
        assert!(order.cycles.is_empty());
    }

    #[test]
    fn a_self_reference_is_reported_but_does_not_raise_the_level() {
        let keys = [key("e", "e", true, NOT), key("f", "e", false, NOT)];
        let order = LoadOrder::new([], &keys);
        assert_eq!(order.levels, vec![tables(&["e"]), tables(&["f"])]);
        let [cycle] = &order.cycles[..] else {
            panic!("{:?}", order.cycles)
        };
        assert!(cycle.is_self_reference());
        assert_eq!(cycle.tables, tables(&["e"]));
        assert_eq!(cycle.breakable(), Some(true));
    }

    #[test]
    fn a_cycle_shares_one_level_and_its_children_come_after() {
        let keys = [
            key("x", "y", false, NOT),
            key("y", "x", false, NOT),
            key("z", "x", false, NOT),
            key("x", "root", false, NOT),
        ];
        let order = LoadOrder::new([], &keys);
        assert_eq!(
            order.levels,
            vec![tables(&["root"]), tables(&["x", "y"]), tables(&["z"])]
        );
        let [cycle] = &order.cycles[..] else {
            panic!("{:?}", order.cycles)
        };
        assert_eq!(cycle.tables, tables(&["x", "y"]));
        let children: Vec<&str> = cycle
            .edges
            .iter()
            .map(|edge| edge.foreign_key.table.as_str())
            .collect();
        assert_eq!(children, ["x", "y"]);
        assert_eq!(cycle.breakable(), Some(false));
        assert_eq!(order.unbreakable_cycles().count(), 1);
    }

    #[test]
    fn an_edge_breaks_by_null_by_deferring_or_not_at_all() {
        let by_null = Breakable::of(&key("a", "b", true, NOT));
        assert_eq!(by_null.by_null, NullBreak::AnyOf(vec!["b_id".to_string()]));
        assert_eq!(by_null.verdict(), Some(true));
        let deferred = Breakable::of(&key(
            "a",
            "b",
            false,
            Some(Deferrability::InitiallyImmediate),
        ));
        assert_eq!(
            (deferred.can_defer(), deferred.verdict()),
            (Some(true), Some(true))
        );
        let neither = Breakable::of(&key("a", "b", false, NOT));
        assert_eq!(neither.verdict(), Some(false));
        let unknown = Breakable::of(&key("a", "b", false, None));
        assert_eq!((unknown.can_defer(), unknown.verdict()), (None, None));
    }

    #[test]
    fn match_full_needs_every_column_nullable() {
        let mut composite = key("a", "b", true, NOT);
        composite.columns = vec!["t".to_string(), "c".to_string()];
        composite.nullable = vec![false, true];
        assert_eq!(
            Breakable::of(&composite).by_null,
            NullBreak::AnyOf(vec!["c".to_string()])
        );
        composite.match_type = MatchType::Full;
        assert_eq!(Breakable::of(&composite).by_null, NullBreak::Impossible);
        composite.nullable = vec![true, true];
        assert_eq!(
            Breakable::of(&composite).by_null,
            NullBreak::AllOf(vec!["t".to_string(), "c".to_string()])
        );
    }

    #[test]
    fn one_unknown_edge_leaves_a_cycle_undecided() {
        let keys = [key("x", "y", false, None), key("y", "x", false, NOT)];
        let order = LoadOrder::new([], &keys);
        assert_eq!(order.cycles[0].breakable(), None);
        assert_eq!(order.unbreakable_cycles().count(), 0);
    }

    #[test]
    fn same_table_names_in_two_schemas_stay_apart() {
        let mut other = key("b", "a", false, NOT);
        other.schema = "t".to_string();
        other.parent_schema = "t".to_string();
        let keys = [key("a", "b", false, NOT), other];
        let order = LoadOrder::new([], &keys);
        assert_eq!(
            order.levels,
            vec![
                vec![table("b"), TableName::new("t", "a")],
                vec![table("a"), TableName::new("t", "b")],
            ]
        );
        assert!(order.cycles.is_empty());
    }

    #[test]
    fn a_long_chain_does_not_exhaust_the_stack() {
        let names: Vec<String> = (0..20_000).map(|i| format!("t{i:05}")).collect();
        let keys: Vec<ForeignKey> = names
            .windows(2)
            .map(|pair| key(&pair[1], &pair[0], false, NOT))
            .collect();
        let order = LoadOrder::new([], &keys);
        assert_eq!(order.levels.len(), names.len());
        assert_eq!(order.levels[19_999], vec![table("t19999")]);
    }

    #[test]
    fn nothing_in_nothing_out() {
        let order = LoadOrder::new([], &[]);
        assert!(order.levels.is_empty() && order.cycles.is_empty());
    }

    #[test]
    fn names_display_quoted_when_sql_needs_it() {
        assert_eq!(
            TableName::new("public", "orders").to_string(),
            "public.orders"
        );
        assert_eq!(
            TableName::new("main", "Lager \"Nord\"").to_string(),
            "main.\"Lager \"\"Nord\"\"\""
        );
    }
}
