//! The schema audit: what in a live schema lets foreign keys go slow,
//! unchecked or missing, each finding a typed [`Finding`] with a line a
//! person reads at a glance and a stable [`kind`](Finding::kind) code a
//! command can gate on.
//!
//! What it looks for, and by which rule:
//!
//! - **`unindexed-foreign-key`**: a foreign key whose child columns no
//!   index supports, so that every delete or re-key of a parent row scans
//!   the child table (SQLite's documentation says the child key should be
//!   indexed for the same reason). An index supports the key when it is a
//!   b-tree, valid (PostgreSQL: `indisvalid`, `indisready`, `indislive`),
//!   not partial, and its first *n* key columns are exactly the key's *n*
//!   columns, in any order among themselves: the check looks a child row up
//!   by equality on every key column, which a b-tree answers from any
//!   permutation of its leading columns. The primary key counts (on SQLite
//!   also the rowid of an `INTEGER PRIMARY KEY`). Indexes that contain the
//!   key's columns but fail one of those rules (not leading, partial, not
//!   valid, not a b-tree) are named in the finding as questionable, each
//!   with why. Expressions never count as a key column; `INCLUDE` columns
//!   are not keys. On PostgreSQL an index that compares a key column in
//!   another collation than the column's own is questionable too (the
//!   lookups compare in the column's); operator classes are not compared,
//!   and SQLite's collations are not (its catalog does not give a
//!   column's). A partitioned child (PostgreSQL) is supported by a
//!   supporting index on the partitioned table, or else by one on every
//!   leaf partition, wherever the partitions' schemas are, since the
//!   lookups scan each partition; an index made on each partition alone
//!   is not made for partitions attached later, which then go unsupported
//!   until they get one (the next audit reports it). With no partition at
//!   all, a partitioned child without its own index is reported. The
//!   suggested fix names its index `{table}_{columns}_idx`: readable, not
//!   unique (`(a_b)` and `(a, b)` get the same name, PostgreSQL cuts names
//!   at 63 bytes); when the name is taken, the statement fails ("already
//!   exists") and changes nothing.
//! - **`not-valid-constraint`**: a PostgreSQL constraint added `NOT VALID`
//!   and never validated: rows older than it were never checked.
//! - **`type-mismatch`**: a child column whose type differs from its parent
//!   column's. PostgreSQL compares `format_type` of the base type and
//!   modifier (`integer` against `bigint`, `character varying(3)` against
//!   `text`), a domain resolved to the type it is over with the modifier it
//!   gives (a domain over `bigint` referencing `bigint` compares with
//!   `bigint`'s operators: no finding);
//!   SQLite compares type affinity, which decides how values compare
//!   (`BIGINT` against `INTEGER` is the same affinity, `TEXT` against
//!   `INTEGER` is not).
//! - **`dangling-foreign-key`** (SQLite): a foreign key whose parent table
//!   does not exist, whose parent columns do not (or, for `REFERENCES
//!   parent` without columns, whose parent has no primary key), or whose
//!   parent columns no `PRIMARY KEY` or `UNIQUE` index covers exactly
//!   (non-partial; collations are not compared). SQLite accepts the
//!   declaration and fails every later insert into the child table ("no
//!   such table", "foreign key mismatch"); PostgreSQL refuses it when the
//!   constraint is made.
//! - **`unconstrained-reference`**: a column named like a reference, with
//!   no foreign key covering it. The rule is conservative: the name ends in
//!   `_id` (any case) after a stem of its own (`customer_id`, never `id`
//!   or `_id`), or is lower camel case ending in `Id` (`customerId`); a
//!   table's single-column primary key (its own identity) and columns that
//!   are part of any foreign key of their table are never reported. The
//!   columns of a composite primary key are (a join table's `(post_id,
//!   tag_id)` without foreign keys is the classic missing key). A
//!   partition's columns are reported on its partitioned table, not again
//!   (a partition audited without its partitioned table's schema is not
//!   looked at). Each finding names the
//!   tables of the same schema the stem could mean, singular or plural
//!   (`customer`, `customers`; `category`, `categories`), when any exist.
//! - **`unbreakable-cycle`**: tables that reference one another through
//!   keys none of which can be written NULL or deferred
//!   ([`LoadOrder::unbreakable_cycles`](crate::integrity::load_order::LoadOrder::unbreakable_cycles)):
//!   their rows cannot be written while the constraints hold. Cycles are
//!   found over every schema, and one is reported when any of its tables
//!   is in an audited schema (a cycle through another schema is still one).
//! - **Drift between `#[derive(FkOrdered)]` models and the database**, for
//!   the models passed with [`AuditOptions::model`]:
//!   `model-table-missing` (the model's table does not exist where the
//!   connection resolves it), `model-relation-without-constraint` (the
//!   model declares a relation the database does not enforce: orphans are
//!   possible without any error), `model-relation-mismatch` (a foreign key
//!   on the relation's columns references another table or other columns
//!   than the model's parent key). A model's table is found as the
//!   connection resolves its name (PostgreSQL's `search_path` when the
//!   Diesel table names no schema). Foreign keys the database declares and
//!   the model does not are not findings: the database still checks them.
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::prelude::*;
//! use fk_safe::integrity::audit::{audit, AuditOptions, Finding};
//! use fk_safe::FkCatalog;
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! for statement in [
//!     "CREATE TABLE customers (id INTEGER PRIMARY KEY)",
//!     "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT REFERENCES customers (id), coupon_id BIGINT)",
//! ] {
//!     diesel::sql_query(statement).execute(&mut conn).unwrap();
//! }
//!
//! let report = audit(&mut conn, &FkCatalog::new(), &AuditOptions::new()).unwrap();
//! let kinds: Vec<&str> = report.findings.iter().map(Finding::kind).collect();
//! assert_eq!(kinds, ["unindexed-foreign-key", "unconstrained-reference"]);
//! assert_eq!(
//!     report.findings[0].to_string(),
//!     "unindexed foreign key main.orders (customer_id) -> main.customers (id): no valid b-tree \
//!      index on main.orders leads with (customer_id), so each delete or key change in \
//!      main.customers scans main.orders; fix: CREATE INDEX \"main\".\"orders_customer_id_idx\" \
//!      ON \"orders\" (\"customer_id\")"
//! );
//!
//! diesel::sql_query("CREATE INDEX orders_customer ON orders (customer_id)").execute(&mut conn).unwrap();
//! let report = audit(&mut conn, &FkCatalog::new(), &AuditOptions::new()).unwrap();
//! assert_eq!(report.of_kind("unindexed-foreign-key").count(), 0);
//! # }
//! ```
//!
//! Each fact is read in its own statement; for one snapshot, call the
//! audit inside a transaction that gives one. The foreign keys come from
//! the [`FkCatalog`], which remembers them: call [`FkCatalog::clear`]
//! after a schema change.

use std::fmt;
use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::QueryResult;

use crate::backend::audit::{ColumnFacts, IndexFacts, PartitionFacts, ReadAudit};
use crate::backend::{FkBackend, FkConnection, ReadCatalog};
use crate::catalog::FkCatalog;
use crate::fk::ForeignKey;
use crate::graph::WriteRow;
use crate::integrity::load_order::{self, Cycle, TableName};
use crate::sql::{quote_ident, split_identifiers};

/// What to audit: the schemas whose tables are looked at (all when none
/// is given), and the models whose declared relations are compared with
/// the database.
///
/// The options belong to one backend (`DB`), inferred from the connection
/// they are used with, since a model's table is named as that backend
/// writes it.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use fk_safe::integrity::audit::AuditOptions;
///
/// let options: AuditOptions<diesel::sqlite::Sqlite> = AuditOptions::new().schema("main");
/// assert_eq!(options.schemas, ["main"]);
/// assert!(options.models().is_empty());
/// # }
/// ```
#[non_exhaustive]
pub struct AuditOptions<DB> {
    /// Only tables of these schemas are audited (`main` on SQLite); every
    /// schema when empty. A foreign key is audited when its child table is
    /// in one of them (its parent's columns are read wherever it is).
    /// Models are compared whatever schema their tables are in.
    pub schemas: Vec<String>,
    models: Vec<ModelSource>,
    backend: PhantomData<fn() -> DB>,
}

/// A model to compare, described when the audit runs.
#[derive(Clone, Copy)]
struct ModelSource {
    model: &'static str,
    describe: fn() -> QueryResult<DeclaredModel>,
}

impl<DB> Default for AuditOptions<DB> {
    fn default() -> Self {
        AuditOptions {
            schemas: Vec::new(),
            models: Vec::new(),
            backend: PhantomData,
        }
    }
}

impl<DB> Clone for AuditOptions<DB> {
    fn clone(&self) -> Self {
        AuditOptions {
            schemas: self.schemas.clone(),
            models: self.models.clone(),
            backend: PhantomData,
        }
    }
}

impl<DB> fmt::Debug for AuditOptions<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditOptions")
            .field("schemas", &self.schemas)
            .field("models", &self.models())
            .finish()
    }
}

impl<DB: FkBackend> AuditOptions<DB> {
    /// Every schema, no models.
    pub fn new() -> Self {
        AuditOptions::default()
    }

    /// Also audits the tables of `schema`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schemas.push(schema.into());
        self
    }

    /// Also compares the relations model `M` declares with the database's
    /// foreign keys, and checks that its table exists.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::prelude::*;
    /// use fk_safe::integrity::audit::{audit, AuditOptions};
    /// use fk_safe::{FkCatalog, FkOrdered};
    ///
    /// diesel::table! { customers (id) { id -> BigInt } }
    /// diesel::table! { orders (id) { id -> BigInt, customer_id -> BigInt } }
    ///
    /// #[derive(Insertable, FkOrdered)]
    /// #[diesel(table_name = orders)]
    /// #[fk(relation(parent = customers, foreign_key = customer_id))]
    /// struct NewOrder { customer_id: i64 }
    ///
    /// let mut conn = SqliteConnection::establish(":memory:").unwrap();
    /// diesel::sql_query("CREATE TABLE customers (id INTEGER PRIMARY KEY)").execute(&mut conn).unwrap();
    /// // The constraint the model counts on was never declared.
    /// diesel::sql_query("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id BIGINT NOT NULL)")
    ///     .execute(&mut conn)
    ///     .unwrap();
    ///
    /// let options = AuditOptions::new().model::<NewOrder>();
    /// let report = audit(&mut conn, &FkCatalog::new(), &options).unwrap();
    /// let drift = report.of_kind("model-relation-without-constraint").next().unwrap();
    /// assert!(drift.to_string().starts_with(
    ///     "model NewOrder, relation customer_id: no foreign key on main.orders (customer_id) \
    ///      references main.customers (id); orphans are possible without any error"
    /// ));
    /// # }
    /// ```
    pub fn model<M: WriteRow<DB>>(mut self) -> Self {
        self.models.push(ModelSource {
            model: M::MODEL,
            describe: describe::<M, DB>,
        });
        self
    }
}

impl<DB> AuditOptions<DB> {
    /// The names of the models to compare, in the order they were added.
    pub fn models(&self) -> Vec<&'static str> {
        self.models.iter().map(|m| m.model).collect()
    }

    fn audits(&self, schema: &str) -> bool {
        self.schemas.is_empty() || self.schemas.iter().any(|s| s == schema)
    }
}

/// What [`audit`] found, grouped by check in the order the
/// [module documentation](self) lists them, each group in the catalog's
/// order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditReport {
    /// Every finding.
    pub findings: Vec<Finding>,
}

impl AuditReport {
    /// Whether nothing was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// Whether some finding is of one of `kinds` (codes of
    /// [`Finding::KINDS`]): what a command's `--fail-on` asks.
    ///
    /// ```
    /// use fk_safe::integrity::audit::AuditReport;
    ///
    /// let report = AuditReport::default();
    /// assert!(!report.has_any(&["unindexed-foreign-key", "model-relation-without-constraint"]));
    /// ```
    pub fn has_any(&self, kinds: &[&str]) -> bool {
        self.findings.iter().any(|f| kinds.contains(&f.kind()))
    }

    /// The findings whose [`kind`](Finding::kind) is `kind` (none for a
    /// code not in [`Finding::KINDS`]).
    pub fn of_kind<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Finding> + 'a {
        let kind = Finding::KINDS.iter().copied().find(|known| *known == kind);
        self.findings.iter().filter(move |f| Some(f.kind()) == kind)
    }
}

impl fmt::Display for AuditReport {
    /// One line per finding, or one saying there are none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.findings.is_empty() {
            return f.write_str("no audit findings");
        }
        for (index, finding) in self.findings.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{finding}")?;
        }
        Ok(())
    }
}

/// One thing the audit found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// No index supports the foreign key's child columns.
    UnindexedForeignKey {
        /// The foreign key.
        foreign_key: ForeignKey,
        /// Indexes on the child table that contain the key's columns but
        /// do not support it, and why.
        questionable: Vec<QuestionableIndex>,
        /// The statement that creates a supporting index.
        fix: String,
    },
    /// The constraint was added `NOT VALID` and never validated.
    NotValidConstraint {
        /// The foreign key.
        foreign_key: ForeignKey,
    },
    /// Child and parent columns of a foreign key have different types.
    TypeMismatch {
        /// The foreign key.
        foreign_key: ForeignKey,
        /// Each pair of columns whose types differ.
        columns: Vec<ColumnTypes>,
    },
    /// A foreign key whose parent table or columns do not exist (SQLite
    /// accepts such a declaration; every write to the child then fails).
    DanglingForeignKey {
        /// The foreign key.
        foreign_key: ForeignKey,
        /// What is missing.
        problem: DanglingProblem,
    },
    /// A column named like a reference that no foreign key covers.
    UnconstrainedReference {
        /// Its table.
        table: TableName,
        /// The column.
        column: String,
        /// Tables of the same schema its name's stem could mean (singular
        /// or plural), sorted; empty when there are none.
        might_reference: Vec<TableName>,
    },
    /// A cycle of foreign keys none of which can be broken.
    UnbreakableCycle {
        /// The cycle.
        cycle: Cycle,
    },
    /// A model's table does not exist where the connection resolves it.
    ModelTableMissing {
        /// The model's Rust name.
        model: &'static str,
        /// Its table, as the Diesel schema names it.
        table: ModelTable,
    },
    /// A relation a model declares has no foreign key behind it.
    ModelRelationWithoutConstraint {
        /// The model's Rust name.
        model: &'static str,
        /// The relation's name.
        relation: &'static str,
        /// The model's table.
        table: TableName,
        /// The relation's columns.
        columns: Vec<String>,
        /// The parent's table, as the Diesel schema names it.
        parent: ModelTable,
        /// Where it resolves; `None` when it does not exist.
        parent_table: Option<TableName>,
        /// The parent's key columns, paired with `columns`.
        parent_columns: Vec<String>,
        /// How to declare the foreign key (a statement where the database
        /// can add one to a table); `None` when the parent does not exist.
        fix: Option<String>,
    },
    /// A foreign key on a relation's columns references another table, or
    /// other columns, than the model's parent key.
    ModelRelationMismatch {
        /// The model's Rust name.
        model: &'static str,
        /// The relation's name.
        relation: &'static str,
        /// The parent the model declares, as the Diesel schema names it.
        parent: ModelTable,
        /// The parent's key columns, paired with the relation's columns.
        parent_columns: Vec<String>,
        /// The foreign key the database declares on those columns.
        foreign_key: ForeignKey,
    },
}

impl Finding {
    /// Every [`kind`](Finding::kind) code, in the order of the checks.
    pub const KINDS: &'static [&'static str] = &[
        "unindexed-foreign-key",
        "not-valid-constraint",
        "type-mismatch",
        "dangling-foreign-key",
        "unconstrained-reference",
        "unbreakable-cycle",
        "model-table-missing",
        "model-relation-without-constraint",
        "model-relation-mismatch",
    ];

    /// A short, stable code of what was found, for a command's `--fail-on`
    /// and JSON output: one of [`Finding::KINDS`].
    ///
    /// ```
    /// use fk_safe::integrity::audit::Finding;
    /// use fk_safe::integrity::load_order::TableName;
    ///
    /// let finding = Finding::UnconstrainedReference {
    ///     table: TableName::new("shop", "orders"),
    ///     column: "customer_id".into(),
    ///     might_reference: vec![TableName::new("shop", "customers")],
    /// };
    /// assert_eq!(finding.kind(), "unconstrained-reference");
    /// assert_eq!(
    ///     finding.to_string(),
    ///     "shop.orders.customer_id looks like a reference (to shop.customers?) but no foreign key covers it"
    /// );
    /// ```
    pub fn kind(&self) -> &'static str {
        let index = match self {
            Finding::UnindexedForeignKey { .. } => 0,
            Finding::NotValidConstraint { .. } => 1,
            Finding::TypeMismatch { .. } => 2,
            Finding::DanglingForeignKey { .. } => 3,
            Finding::UnconstrainedReference { .. } => 4,
            Finding::UnbreakableCycle { .. } => 5,
            Finding::ModelTableMissing { .. } => 6,
            Finding::ModelRelationWithoutConstraint { .. } => 7,
            Finding::ModelRelationMismatch { .. } => 8,
        };
        Self::KINDS[index]
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::UnindexedForeignKey {
                foreign_key: fk,
                questionable,
                fix,
            } => {
                let child = TableName::child_of(fk);
                write!(
                    f,
                    "unindexed foreign key {}: no valid b-tree index on {child} leads with ({}), \
                     so each delete or key change in {} scans {child}",
                    Described(fk),
                    columns(&fk.columns),
                    TableName::parent_of(fk),
                )?;
                for (index, index_found) in questionable.iter().enumerate() {
                    f.write_str(if index == 0 { "; questionable: " } else { ", " })?;
                    write!(f, "{index_found}")?;
                }
                write!(f, "; fix: {fix}")
            }
            Finding::NotValidConstraint { foreign_key: fk } => write!(
                f,
                "constraint {} is NOT VALID: rows older than it were never checked; \
                 fix: ALTER TABLE {}.{} VALIDATE CONSTRAINT {}",
                Described(fk),
                quote_ident(&fk.schema),
                quote_ident(&fk.table),
                quote_ident(fk.name.as_deref().unwrap_or_default()),
            ),
            Finding::TypeMismatch {
                foreign_key: fk,
                columns,
            } => {
                write!(f, "type mismatch in {}: ", Described(fk))?;
                for (index, pair) in columns.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{pair}")?;
                }
                Ok(())
            }
            Finding::DanglingForeignKey {
                foreign_key: fk,
                problem,
            } => {
                let parent = TableName::parent_of(fk);
                write!(f, "dangling foreign key {}: ", Described(fk))?;
                let error = match problem {
                    DanglingProblem::ParentTableMissing => {
                        write!(f, "{parent} does not exist")?;
                        "no such table"
                    }
                    DanglingProblem::ParentColumnsMissing => {
                        write!(f, "{parent} has no such key columns")?;
                        "foreign key mismatch"
                    }
                    DanglingProblem::ParentKeyNotUnique => {
                        write!(
                            f,
                            "no PRIMARY KEY or UNIQUE index of {parent} is exactly ({})",
                            columns(&fk.parent_columns)
                        )?;
                        "foreign key mismatch"
                    }
                };
                write!(
                    f,
                    ", so every insert into {} fails (\"{error}\")",
                    TableName::child_of(fk)
                )
            }
            Finding::UnconstrainedReference {
                table,
                column,
                might_reference,
            } => {
                write!(f, "{table}.{} looks like a reference", identifier(column))?;
                if !might_reference.is_empty() {
                    let names: Vec<String> =
                        might_reference.iter().map(ToString::to_string).collect();
                    write!(f, " (to {}?)", names.join(" or "))?;
                }
                f.write_str(" but no foreign key covers it")
            }
            Finding::UnbreakableCycle { cycle } => {
                let names: Vec<String> = cycle.tables.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "unbreakable cycle {}: none of its foreign keys can be written NULL or \
                     deferred, so its rows cannot be written while the constraints hold",
                    names.join(" <-> ")
                )
            }
            Finding::ModelTableMissing { model, table } => {
                write!(f, "model {model}: its table {table} does not exist")
            }
            Finding::ModelRelationWithoutConstraint {
                model,
                relation,
                table,
                columns: own,
                parent,
                parent_table,
                parent_columns,
                fix,
            } => {
                let parent_name = parent_table
                    .as_ref()
                    .map_or_else(|| parent.to_string(), ToString::to_string);
                write!(
                    f,
                    "model {model}, relation {relation}: no foreign key on {table} ({}) \
                     references {parent_name} ({}); orphans are possible without any error",
                    columns(own),
                    columns(parent_columns),
                )?;
                match fix {
                    Some(fix) => write!(f, "; fix: {fix}"),
                    None => write!(f, "; the table {parent} does not exist"),
                }
            }
            Finding::ModelRelationMismatch {
                model,
                relation,
                parent,
                parent_columns,
                foreign_key,
            } => write!(
                f,
                "model {model}, relation {relation}: declared to reference {parent} ({}), \
                 but the database's foreign key is {}",
                columns(parent_columns),
                Described(foreign_key),
            ),
        }
    }
}

/// What a dangling foreign key lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DanglingProblem {
    /// The parent table does not exist.
    ParentTableMissing,
    /// A parent column does not exist, or (for `REFERENCES parent`
    /// without columns) the parent has no primary key.
    ParentColumnsMissing,
    /// No unique, non-partial index of the parent has exactly the parent
    /// columns.
    ParentKeyNotUnique,
}

/// An index that contains a foreign key's columns but does not support it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QuestionableIndex {
    /// The index's name (`rowid` for SQLite's rowid).
    pub name: String,
    /// Its key columns in index order, `None` for an expression.
    pub columns: Vec<Option<String>>,
    /// Why it does not support the key.
    pub problems: Vec<IndexProblem>,
}

impl fmt::Display for QuestionableIndex {
    /// `name (a, b): why, why`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listed: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                c.as_deref()
                    .map_or_else(|| "(expression)".into(), identifier)
            })
            .collect();
        write!(f, "{} ({})", identifier(&self.name), listed.join(", "))?;
        for (index, problem) in self.problems.iter().enumerate() {
            f.write_str(if index == 0 { ": " } else { ", " })?;
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Why an index does not support a foreign key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndexProblem {
    /// The key's columns are in it, but not all among its leading ones.
    NotLeading,
    /// It compares a key column in another collation than the column's
    /// own, which the foreign key's lookups use (PostgreSQL).
    Collation,
    /// It has a `WHERE` clause: rows outside it are not indexed.
    Partial,
    /// The database does not use it (PostgreSQL: not valid, not ready or
    /// being dropped, as after a failed `CREATE INDEX CONCURRENTLY`).
    NotValid,
    /// Not a b-tree: its access method.
    Method(String),
}

impl fmt::Display for IndexProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexProblem::NotLeading => f.write_str("the key's columns are not its leading ones"),
            IndexProblem::Collation => {
                f.write_str("a key column in another collation than the column's")
            }
            IndexProblem::Partial => f.write_str("partial"),
            IndexProblem::NotValid => f.write_str("not valid"),
            IndexProblem::Method(method) => write!(f, "a {method} index, not a b-tree"),
        }
    }
}

/// One pair of a foreign key's columns whose types differ.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ColumnTypes {
    /// The child column.
    pub column: String,
    /// Its type, as declared.
    pub column_type: String,
    /// The parent column it references.
    pub parent_column: String,
    /// The parent column's type, as declared.
    pub parent_type: String,
    /// What was compared, child first: the base types on PostgreSQL (a
    /// domain's resolved), the affinities on SQLite.
    pub compared: (String, String),
    /// What [`compared`](Self::compared) holds: `base type` on
    /// PostgreSQL, `affinity` on SQLite.
    pub compared_as: &'static str,
}

impl fmt::Display for ColumnTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {}, {} is {}",
            identifier(&self.column),
            self.column_type,
            identifier(&self.parent_column),
            self.parent_type
        )?;
        let (child, parent) = &self.compared;
        if child != &self.column_type || parent != &self.parent_type {
            write!(f, " ({} {child} against {parent})", self.compared_as)?;
        }
        Ok(())
    }
}

/// A table as a Diesel schema names it: with a schema only when the
/// `table!` names one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelTable {
    /// The schema the `table!` names, if any.
    pub schema: Option<String>,
    /// The table.
    pub table: String,
}

impl fmt::Display for ModelTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{}.", identifier(schema))?;
        }
        f.write_str(&identifier(&self.table))
    }
}

/// Why an audit could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The catalog of foreign keys, or the tables, could not be read.
    #[error("could not read the foreign keys to audit: {0}")]
    Catalog(#[source] crate::error::Error),
    /// A query reading the audit's facts failed.
    #[error("could not read {what} for the audit: {source}")]
    Query {
        /// What was being read.
        what: &'static str,
        /// The database's error.
        #[source]
        source: diesel::result::Error,
    },
    /// The catalog names a column the database's tables do not have: it
    /// was read before a schema change. Call [`FkCatalog::clear`] and
    /// audit again.
    #[error(
        "the catalog's foreign key {constraint} names column {column}, which its table no \
         longer has; clear the FkCatalog and audit again"
    )]
    StaleCatalog {
        /// The foreign key, described.
        constraint: String,
        /// The column.
        column: String,
    },
    /// A schema to audit does not exist (on SQLite, any but `main`): it
    /// is refused rather than audited as empty.
    #[error("there is no schema {schema} to audit")]
    UnknownSchema {
        /// The schema asked for.
        schema: String,
    },
    /// A model's table or relations could not be read or resolved.
    #[error("could not compare model {model} with the database: {source}")]
    Model {
        /// The model's Rust name.
        model: &'static str,
        /// What failed.
        #[source]
        source: diesel::result::Error,
    },
}

/// Audits the tables of `options.schemas` (all when empty) and the models
/// of `options`: see the [module documentation](self) for what is found
/// and an example.
pub fn audit<C: FkConnection>(
    conn: &mut C,
    catalog: &FkCatalog,
    options: &AuditOptions<C::Backend>,
) -> Result<AuditReport, AuditError> {
    let query = |what| move |source| AuditError::Query { what, source };
    let existing = <C::Backend as ReadAudit>::existing_schemas(conn, &options.schemas)
        .map_err(query("the schemas"))?;
    if let Some(schema) = options.schemas.iter().find(|s| !existing.contains(s)) {
        return Err(AuditError::UnknownSchema {
            schema: schema.clone(),
        });
    }
    let all = catalog.foreign_keys(conn).map_err(AuditError::Catalog)?;
    let audited: Vec<&ForeignKey> = all.iter().filter(|fk| options.audits(&fk.schema)).collect();
    // A parent of another schema is read too: its column types count.
    let mut fact_schemas: Vec<String> = Vec::new();
    if !options.schemas.is_empty() {
        fact_schemas.extend(options.schemas.iter().cloned());
        fact_schemas.extend(audited.iter().map(|fk| fk.parent_schema.clone()));
        fact_schemas.sort();
        fact_schemas.dedup();
    }
    let partitions = <C::Backend as ReadAudit>::list_partitions(conn, &fact_schemas)
        .map_err(query("the partitions"))?;
    // A partition may live in another schema than its table: its indexes
    // decide whether the table's keys are supported.
    if !fact_schemas.is_empty() {
        fact_schemas.extend(partitions.iter().map(|p| p.partition_schema.clone()));
        fact_schemas.sort();
        fact_schemas.dedup();
    }
    let indexes = <C::Backend as ReadAudit>::list_indexes(conn, &fact_schemas)
        .map_err(query("the indexes"))?;
    let columns = <C::Backend as ReadAudit>::list_columns(conn, &fact_schemas)
        .map_err(query("the columns"))?;
    let same = <C::Backend as ReadAudit>::same_name;

    let mut findings = Vec::new();
    for fk in &audited {
        if let Some(finding) = unindexed::<C::Backend>(fk, &indexes, &partitions, same) {
            findings.push(finding);
        }
    }
    for fk in &audited {
        if !fk.validated {
            findings.push(Finding::NotValidConstraint {
                foreign_key: (*fk).clone(),
            });
        }
    }
    let dangling_possible = <C::Backend as ReadAudit>::DANGLING_FOREIGN_KEYS;
    let mut dangling = Vec::new();
    for fk in &audited {
        let backend = (dangling_possible, <C::Backend as ReadAudit>::COMPARED_AS);
        match type_mismatch_or_dangling(fk, &columns, &indexes, same, backend)? {
            Some(finding @ Finding::DanglingForeignKey { .. }) => dangling.push(finding),
            Some(finding) => findings.push(finding),
            None => {}
        }
    }
    findings.append(&mut dangling);
    let tables = <C::Backend as ReadCatalog>::list_tables(conn).map_err(query("the tables"))?;
    findings.extend(unconstrained_references(
        &columns, &all, &tables, options, same,
    ));
    // Cycles are found over the whole catalog: read_schemas leaves out the
    // keys to other schemas, and with them every cycle that crosses one.
    let order = load_order::read(conn, catalog).map_err(AuditError::Catalog)?;
    findings.extend(
        order
            .unbreakable_cycles()
            .filter(|cycle| cycle.tables.iter().any(|t| options.audits(&t.schema)))
            .map(|cycle| Finding::UnbreakableCycle {
                cycle: cycle.clone(),
            }),
    );
    for source in &options.models {
        findings.extend(model_drift(conn, source, &all)?);
    }
    Ok(AuditReport { findings })
}

/// The finding for `fk` when no index supports it: none on its child
/// table, and, for a partitioned child, not one on every leaf partition
/// (the parent's lookups scan each partition, so each needs its own).
fn unindexed<DB: ReadAudit>(
    fk: &ForeignKey,
    indexes: &[IndexFacts],
    partitions: &[PartitionFacts],
    same: fn(&str, &str) -> bool,
) -> Option<Finding> {
    let questionable = unsupported(fk, &fk.schema, &fk.table, indexes, same)?;
    let mut leaves = partitions
        .iter()
        .filter(|p| p.schema == fk.schema && same(&p.table, &fk.table))
        .peekable();
    let has_leaves = leaves.peek().is_some();
    let every_leaf_supported =
        leaves.all(|p| unsupported(fk, &p.partition_schema, &p.partition, indexes, same).is_none());
    if has_leaves && every_leaf_supported {
        return None;
    }
    Some(Finding::UnindexedForeignKey {
        foreign_key: fk.clone(),
        questionable,
        fix: DB::create_index_sql(&fk.schema, &fk.table, &fk.columns),
    })
}

/// `None` when an index of `schema.table` supports `fk`'s columns, else
/// the indexes that contain them but do not support them, and why.
fn unsupported(
    fk: &ForeignKey,
    schema: &str,
    table: &str,
    indexes: &[IndexFacts],
    same: fn(&str, &str) -> bool,
) -> Option<Vec<QuestionableIndex>> {
    let width = fk.columns.len();
    let is_key_column = |column: &Option<String>| {
        column
            .as_deref()
            .is_some_and(|c| fk.columns.iter().any(|k| same(c, k)))
    };
    let mut questionable = Vec::new();
    for index in indexes
        .iter()
        .filter(|i| i.schema == schema && same(&i.table, table))
    {
        let contains = |within: &[Option<String>]| {
            fk.columns.iter().all(|key| {
                within
                    .iter()
                    .any(|c| c.as_deref().is_some_and(|c| same(c, key)))
            })
        };
        if !contains(&index.columns) {
            continue;
        }
        let leading = &index.columns[..width.min(index.columns.len())];
        let mut problems = Vec::new();
        // n leading positions holding all n key columns are exactly them.
        if !(contains(leading) && leading.iter().all(is_key_column)) {
            problems.push(IndexProblem::NotLeading);
        }
        let other_collation = index
            .columns
            .iter()
            .zip(&index.collation_matches)
            .any(|(column, matches)| is_key_column(column) && !matches);
        if other_collation {
            problems.push(IndexProblem::Collation);
        }
        if index.partial {
            problems.push(IndexProblem::Partial);
        }
        if !index.valid {
            problems.push(IndexProblem::NotValid);
        }
        if index.method != "btree" {
            problems.push(IndexProblem::Method(index.method.clone()));
        }
        if problems.is_empty() {
            return None;
        }
        questionable.push(QuestionableIndex {
            name: index.name.clone(),
            columns: index.columns.clone(),
            problems,
        });
    }
    Some(questionable)
}

/// The finding for `fk` when a child column's type differs from its
/// parent column's, or when its parent does not exist (where the catalog
/// can declare that, else the catalog is out of date).
fn type_mismatch_or_dangling(
    fk: &ForeignKey,
    columns: &[ColumnFacts],
    indexes: &[IndexFacts],
    same: fn(&str, &str) -> bool,
    (dangling_possible, compared_as): (bool, &'static str),
) -> Result<Option<Finding>, AuditError> {
    let find = |schema: &str, table: &str, column: &str| {
        columns
            .iter()
            .find(|c| c.schema == schema && same(&c.table, table) && same(&c.column, column))
    };
    let stale = |schema: &str, table: &str, column: &str| AuditError::StaleCatalog {
        constraint: Described(fk).to_string(),
        column: format!("{}.{}", TableName::new(schema, table), identifier(column)),
    };
    let parent_found = fk
        .parent_columns
        .iter()
        .all(|column| find(&fk.parent_schema, &fk.parent_table, column).is_some());
    if !parent_found || fk.parent_columns.len() != fk.columns.len() {
        if !dangling_possible {
            let column = fk.parent_columns.first().map_or("", String::as_str);
            return Err(stale(&fk.parent_schema, &fk.parent_table, column));
        }
        let parent_table_exists = columns
            .iter()
            .any(|c| c.schema == fk.parent_schema && same(&c.table, &fk.parent_table));
        return Ok(Some(Finding::DanglingForeignKey {
            foreign_key: fk.clone(),
            problem: if parent_table_exists {
                DanglingProblem::ParentColumnsMissing
            } else {
                DanglingProblem::ParentTableMissing
            },
        }));
    }
    // The parent key must be exactly the columns of a unique index (in any
    // order), as SQLite's own lookup of the parent index requires.
    let unique_key = indexes.iter().any(|index| {
        index.unique
            && !index.partial
            && index.valid
            && index.schema == fk.parent_schema
            && same(&index.table, &fk.parent_table)
            && index.columns.len() == fk.parent_columns.len()
            && fk.parent_columns.iter().all(|key| {
                index
                    .columns
                    .iter()
                    .any(|c| c.as_deref().is_some_and(|c| same(c, key)))
            })
    });
    if dangling_possible && !unique_key {
        return Ok(Some(Finding::DanglingForeignKey {
            foreign_key: fk.clone(),
            problem: DanglingProblem::ParentKeyNotUnique,
        }));
    }
    let mut differing = Vec::new();
    for (column, parent_column) in fk.columns.iter().zip(&fk.parent_columns) {
        let child = find(&fk.schema, &fk.table, column)
            .ok_or_else(|| stale(&fk.schema, &fk.table, column))?;
        let parent = find(&fk.parent_schema, &fk.parent_table, parent_column)
            .ok_or_else(|| stale(&fk.parent_schema, &fk.parent_table, parent_column))?;
        if child.compared_as != parent.compared_as {
            differing.push(ColumnTypes {
                column: child.column.clone(),
                column_type: child.declared.clone(),
                parent_column: parent.column.clone(),
                parent_type: parent.declared.clone(),
                compared: (child.compared_as.clone(), parent.compared_as.clone()),
                compared_as,
            });
        }
    }
    Ok((!differing.is_empty()).then(|| Finding::TypeMismatch {
        foreign_key: fk.clone(),
        columns: differing,
    }))
}

/// The stem of a column named like a reference (see the module
/// documentation): `customer_id` and `customerId` -> `customer`.
fn reference_stem(column: &str) -> Option<&str> {
    let split = column.len().checked_sub(3)?;
    if column.is_char_boundary(split) && column[split..].eq_ignore_ascii_case("_id") {
        let stem = &column[..split];
        return (!stem.is_empty() && !stem.ends_with('_')).then_some(stem);
    }
    let stem = column.strip_suffix("Id")?;
    let lower_camel = stem.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && stem
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    lower_camel.then_some(stem)
}

/// The table names a stem could mean: itself and its plurals.
fn stem_tables(stem: &str) -> Vec<String> {
    let mut names = vec![stem.to_string(), format!("{stem}s"), format!("{stem}es")];
    if let Some(root) = stem.strip_suffix('y') {
        names.push(format!("{root}ies"));
    }
    names
}

fn unconstrained_references<DB>(
    columns: &[ColumnFacts],
    foreign_keys: &[ForeignKey],
    tables: &[(String, String)],
    options: &AuditOptions<DB>,
    same: fn(&str, &str) -> bool,
) -> Vec<Finding> {
    let covered = |c: &ColumnFacts| {
        foreign_keys.iter().any(|fk| {
            fk.schema == c.schema
                && same(&fk.table, &c.table)
                && fk.columns.iter().any(|k| same(k, &c.column))
        })
    };
    // A single-column primary key is the table's own identity; a column of
    // a composite one (a join table's `(post_id, tag_id)`) is as likely a
    // reference as any other.
    let sole_key = |c: &ColumnFacts| {
        c.primary_key
            && columns
                .iter()
                .filter(|o| o.primary_key && o.schema == c.schema && same(&o.table, &c.table))
                .count()
                == 1
    };
    columns
        .iter()
        .filter(|c| options.schemas.is_empty() || options.schemas.contains(&c.schema))
        // A partition's columns are its partitioned table's, reported there.
        .filter(|c| !c.partition)
        .filter(|c| !sole_key(c) && !covered(c))
        .filter_map(|c| {
            let stem = reference_stem(&c.column)?;
            let wanted = stem_tables(stem);
            let mut might_reference: Vec<TableName> = tables
                .iter()
                .filter(|(schema, table)| {
                    *schema == c.schema && wanted.iter().any(|w| same(w, table))
                })
                .map(|(schema, table)| TableName::new(schema, table))
                .collect();
            might_reference.sort();
            Some(Finding::UnconstrainedReference {
                table: TableName::new(&c.schema, &c.table),
                column: c.column.clone(),
                might_reference,
            })
        })
        .collect()
}

/// A model as its derive and Diesel schema declare it.
struct DeclaredModel {
    table: ModelTable,
    relations: Vec<DeclaredRelation>,
}

struct DeclaredRelation {
    name: &'static str,
    columns: Vec<String>,
    parent: ModelTable,
    parent_columns: Vec<String>,
}

/// A model's table, as a fragment to render.
struct TableOf<M>(PhantomData<fn() -> M>);

impl<M: WriteRow<DB>, DB: Backend> QueryFragment<DB> for TableOf<M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        M::write_table(&mut out)
    }
}

fn not_understood(what: String) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(what.into())
}

/// Diesel has no public API for a `table!`'s SQL name, so it is read back
/// from what the backend renders (`"schema"."table"` or `"table"`).
fn rendered_table(rendered: &str) -> QueryResult<(ModelTable, usize)> {
    let mut parts = split_identifiers(rendered);
    let width = parts.len();
    let table = parts.pop();
    let schema = parts.pop();
    match table {
        Some(table) if parts.is_empty() => Ok((ModelTable { schema, table }, width)),
        _ => Err(not_understood(format!(
            "the table renders as {rendered}, not as a table name"
        ))),
    }
}

fn describe<M: WriteRow<DB>, DB: FkBackend>() -> QueryResult<DeclaredModel> {
    let (table, _) = rendered_table(&DB::render(&TableOf::<M>(PhantomData))?)?;
    let relations = M::RELATIONS
        .iter()
        .enumerate()
        .map(|(index, relation)| {
            let parent = M::parent_sql(index)?.ok_or_else(|| {
                not_understood(format!("relation {} has no parent table", relation.name))
            })?;
            let (parent_table, width) = rendered_table(&parent.table)?;
            // Each key column renders qualified by its table.
            let parts = split_identifiers(&parent.key);
            let parent_columns: Vec<String> = parts
                .chunks(width + 1)
                .filter(|chunk| chunk.len() == width + 1)
                .filter_map(|chunk| chunk.last().cloned())
                .collect();
            if parts.len() != parent_columns.len() * (width + 1)
                || parent_columns.len() != relation.columns.len()
            {
                return Err(not_understood(format!(
                    "relation {} has {} columns, and its parent's key renders as {}",
                    relation.name,
                    relation.columns.len(),
                    parent.key
                )));
            }
            Ok(DeclaredRelation {
                name: relation.name,
                columns: relation.columns.iter().map(ToString::to_string).collect(),
                parent: parent_table,
                parent_columns,
            })
        })
        .collect::<QueryResult<_>>()?;
    Ok(DeclaredModel { table, relations })
}

fn model_drift<C: FkConnection>(
    conn: &mut C,
    source: &ModelSource,
    foreign_keys: &[ForeignKey],
) -> Result<Vec<Finding>, AuditError> {
    let model = source.model;
    let failed = |source| AuditError::Model { model, source };
    let declared = (source.describe)().map_err(failed)?;
    let resolve = |conn: &mut C, table: &ModelTable| {
        <C::Backend as ReadAudit>::resolve_table(conn, table.schema.as_deref(), &table.table)
            .map(|found| found.map(|(schema, table)| TableName::new(schema, table)))
            .map_err(failed)
    };
    let Some(table) = resolve(conn, &declared.table)? else {
        return Ok(vec![Finding::ModelTableMissing {
            model,
            table: declared.table,
        }]);
    };
    let same = <C::Backend as ReadAudit>::same_name;
    let same_set = |a: &[String], b: &[String]| {
        a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| same(x, y)))
    };
    let mut findings = Vec::new();
    for relation in declared.relations {
        let parent_table = resolve(conn, &relation.parent)?;
        let on_columns = foreign_keys.iter().filter(|fk| {
            TableName::child_of(fk) == table && same_set(&fk.columns, &relation.columns)
        });
        let mut found_any = None;
        let mut matched = false;
        for fk in on_columns {
            let pairs_match = relation.columns.iter().zip(&relation.parent_columns).all(
                |(column, parent_column)| {
                    fk.columns
                        .iter()
                        .zip(&fk.parent_columns)
                        .any(|(c, p)| same(c, column) && same(p, parent_column))
                },
            );
            if pairs_match && parent_table.as_ref() == Some(&TableName::parent_of(fk)) {
                matched = true;
                break;
            }
            found_any.get_or_insert(fk);
        }
        if matched {
            continue;
        }
        findings.push(match found_any {
            Some(fk) => Finding::ModelRelationMismatch {
                model,
                relation: relation.name,
                parent: relation.parent,
                parent_columns: relation.parent_columns,
                foreign_key: fk.clone(),
            },
            None => Finding::ModelRelationWithoutConstraint {
                model,
                relation: relation.name,
                table: table.clone(),
                fix: parent_table.as_ref().map(|parent| {
                    <C::Backend as ReadAudit>::add_foreign_key_fix(
                        (&table.schema, &table.table),
                        &relation.columns,
                        (&parent.schema, &parent.table),
                        &relation.parent_columns,
                    )
                }),
                columns: relation.columns,
                parent: relation.parent,
                parent_table,
                parent_columns: relation.parent_columns,
            },
        });
    }
    Ok(findings)
}

/// `name schema.child (columns) -> schema.parent (columns)`.
struct Described<'a>(&'a ForeignKey);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fk = self.0;
        if let Some(name) = &fk.name {
            write!(f, "{} ", identifier(name))?;
        }
        write!(
            f,
            "{} ({}) -> {} ({})",
            TableName::child_of(fk),
            columns(&fk.columns),
            TableName::parent_of(fk),
            columns(&fk.parent_columns)
        )
    }
}

/// A name as SQL would need it written: in double quotes unless it is a
/// plain lower-case identifier (as [`TableName`] prints its parts).
fn identifier(name: &str) -> String {
    crate::sql::display_ident(name)
}

fn columns(names: &[String]) -> String {
    names
        .iter()
        .map(|n| identifier(n))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::{identifier, reference_stem, stem_tables};

    #[test]
    fn reference_names_are_read_conservatively() {
        assert_eq!(reference_stem("customer_id"), Some("customer"));
        assert_eq!(reference_stem("Customer_ID"), Some("Customer"));
        assert_eq!(reference_stem("customerId"), Some("customer"));
        assert_eq!(reference_stem("order2Id"), Some("order2"));
        for name in [
            "id",
            "_id",
            "a__id",
            "paid",
            "Id",
            "CustomerId",
            "customerID",
            "idx",
        ] {
            assert_eq!(reference_stem(name), None, "{name}");
        }
        assert_eq!(reference_stem("größe_id"), Some("größe"));
    }

    #[test]
    fn stems_mean_singular_and_plural_tables() {
        assert_eq!(
            stem_tables("category"),
            ["category", "categorys", "categoryes", "categories"]
        );
        assert!(stem_tables("box").contains(&"boxes".to_string()));
    }

    #[test]
    fn names_are_quoted_when_sql_would_need_it() {
        assert_eq!(identifier("orders"), "orders");
        assert_eq!(identifier("Bin \"x\""), "\"Bin \"\"x\"\"\"");
    }
}
