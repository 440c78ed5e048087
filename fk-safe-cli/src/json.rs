//! The `--json` document (version 1). Its fields are documented in the
//! crate's README, section "The JSON document"; a change to a field's name
//! or meaning needs a new `version`, a new field does not.

use fk_safe::integrity::audit::{self, AuditReport};
use fk_safe::integrity::load_order::{Breakable, Cycle, LoadOrder, NullBreak, TableName};
use fk_safe::integrity::ConstraintOrphans;
use fk_safe::{Deferrability, FkAction, ForeignKey, MatchType};
use serde::Serialize;

use crate::outcome::Outcome;
use crate::scan::{Findings, Orphans};

/// The version of the document's format.
pub const VERSION: u32 = 1;

/// The whole document.
#[derive(Debug, Serialize)]
pub struct Document {
    /// Always [`VERSION`].
    pub version: u32,
    /// `doctor`, `load-order`, `orphans` or `audit`.
    pub command: &'static str,
    /// `postgresql` or `sqlite`.
    pub backend: &'static str,
    /// Present for `doctor` and `load-order`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_order: Option<LoadOrderJson>,
    /// Present for `doctor` and `orphans`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orphans: Option<OrphansJson>,
    /// Present for `doctor` and `audit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditJson>,
    /// The exit status and why.
    pub status: StatusJson,
}

/// `load_order`.
#[derive(Debug, Serialize)]
pub struct LoadOrderJson {
    /// How many tables the levels hold.
    pub tables: usize,
    /// The tables in dependency levels, parents first.
    pub levels: Vec<Vec<TableJson>>,
    /// Every cycle.
    pub cycles: Vec<CycleJson>,
}

/// A schema-qualified table, both parts unquoted.
#[derive(Debug, Serialize)]
pub struct TableJson {
    /// Its schema (`main` on SQLite).
    pub schema: String,
    /// Its name.
    pub table: String,
}

/// One cycle.
#[derive(Debug, Serialize)]
pub struct CycleJson {
    /// Its tables, sorted.
    pub tables: Vec<TableJson>,
    /// A table referencing itself.
    pub self_reference: bool,
    /// `true`, `false` (no order, NULL or deferral writes its rows) or
    /// `null` (undecided: only deferral, which the catalog does not
    /// record, could break it).
    pub breakable: Option<bool>,
    /// Its foreign keys.
    pub edges: Vec<EdgeJson>,
}

/// One foreign key of a cycle and how it can be broken.
#[derive(Debug, Serialize)]
pub struct EdgeJson {
    /// The constraint.
    pub foreign_key: ForeignKeyJson,
    /// By NULL or by deferring (`true`), by neither (`false`), unknown
    /// (`null`).
    pub breakable: Option<bool>,
    /// `any_of` (MATCH SIMPLE: one NULL column suffices), `all_of` (MATCH
    /// FULL: all of them NULL) or `impossible`.
    pub null_break: &'static str,
    /// The columns of `null_break`; empty when impossible.
    pub null_columns: Vec<String>,
    /// Whether the check can be deferred to commit; `null` when the
    /// catalog does not say (SQLite).
    pub can_defer: Option<bool>,
}

/// A foreign key as the catalog declares it.
#[derive(Debug, Serialize)]
pub struct ForeignKeyJson {
    /// The constraint's name; `null` on SQLite.
    pub name: Option<String>,
    /// The child table's schema.
    pub schema: String,
    /// The child table.
    pub table: String,
    /// The referencing columns.
    pub columns: Vec<String>,
    /// Whether each referencing column may be NULL.
    pub nullable: Vec<bool>,
    /// The parent table's schema.
    pub parent_schema: String,
    /// The parent table.
    pub parent_table: String,
    /// The referenced columns, paired with `columns`.
    pub parent_columns: Vec<String>,
    /// `NO ACTION`, `RESTRICT`, `CASCADE`, `SET NULL` or `SET DEFAULT`.
    pub on_delete: &'static str,
    /// As `on_delete`.
    pub on_update: &'static str,
    /// `SIMPLE`, `FULL` or `PARTIAL`.
    pub match_type: &'static str,
    /// `NOT DEFERRABLE`, `DEFERRABLE INITIALLY IMMEDIATE`, `DEFERRABLE
    /// INITIALLY DEFERRED`, or `null` when the catalog does not record it
    /// (SQLite).
    pub deferrability: Option<&'static str>,
    /// `false` for a constraint added `NOT VALID` and not validated since.
    pub validated: bool,
}

/// `orphans`.
#[derive(Debug, Serialize)]
pub struct OrphansJson {
    /// No row breaks any foreign key checked, and every foreign key
    /// selected was checked (`unchecked` is empty).
    pub clean: bool,
    /// How many foreign keys were checked (the length of `constraints`).
    pub foreign_keys_checked: usize,
    /// How many of them some row breaks.
    pub broken: usize,
    /// The orphans of all of them together.
    pub total_orphans: u64,
    /// Each foreign key checked, broken or not, in the catalog's order.
    pub constraints: Vec<ConstraintJson>,
    /// The foreign keys selected that the database did not let be checked
    /// (no privilege, table gone, SQLite parent key without a unique
    /// index), in the catalog's order.
    pub unchecked: Vec<UncheckedJson>,
}

/// One foreign key that could not be checked.
#[derive(Debug, Serialize)]
pub struct UncheckedJson {
    /// The constraint.
    pub foreign_key: ForeignKeyJson,
    /// Why: the database's error, or why its answers allow no exact check.
    pub reason: String,
}

/// `audit`.
#[derive(Debug, Serialize)]
pub struct AuditJson {
    /// Every finding, grouped by kind in the order of the checks.
    pub findings: Vec<FindingJson>,
}

/// One audit finding.
#[derive(Debug, Serialize)]
pub struct FindingJson {
    /// Its stable code, e.g. `unindexed-foreign-key` (the values of
    /// `--fail-on` besides `orphans`, `cycles`, `unbreakable-cycles`,
    /// `any-finding`).
    pub kind: &'static str,
    /// What was found, for a person (the text report's line).
    pub message: String,
    /// The schema of the table concerned (the child table of a foreign
    /// key), when the finding is about one table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The table concerned (the child table of a foreign key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The name of the foreign key concerned (absent when it has none, as
    /// on SQLite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    /// The column concerned (`unconstrained-reference`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The foreign key concerned, when the finding is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreign_key: Option<ForeignKeyJson>,
    /// The tables of an `unbreakable-cycle`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<TableJson>>,
}

/// One foreign key checked.
#[derive(Debug, Serialize)]
pub struct ConstraintJson {
    /// The constraint.
    pub foreign_key: ForeignKeyJson,
    /// No row breaks it.
    pub clean: bool,
    /// How many child rows reference a parent that does not exist (all of
    /// them, however many `sample` shows).
    pub orphans: u64,
    /// At most `--sample` of them, ordered by key.
    pub sample: Vec<OrphanJson>,
    /// MATCH FULL only: rows with some but not all key columns NULL.
    pub partial_nulls: u64,
    /// At most `--sample` of those rows' keys (`null` is NULL).
    pub partial_null_sample: Vec<Vec<Option<String>>>,
}

/// One orphan row.
#[derive(Debug, Serialize)]
pub struct OrphanJson {
    /// Its values of `columns`, as text; `null` is NULL.
    pub child_key: Vec<Option<String>>,
    /// The parent key that does not exist.
    pub missing_parent_key: Vec<ColumnValueJson>,
}

/// A column and a value.
#[derive(Debug, Serialize)]
pub struct ColumnValueJson {
    /// A parent column.
    pub column: String,
    /// The value the row gives it, as text; `null` is NULL.
    pub value: Option<String>,
}

/// `status`.
#[derive(Debug, Serialize)]
pub struct StatusJson {
    /// The process's exit status: 0, 1, or 2 when some foreign key could
    /// not be checked and nothing failed (errors print no document).
    pub exit_status: u8,
    /// Why it is 1: `orphans`, `cycles`, `unbreakable-cycles`, audit
    /// kinds; empty otherwise.
    pub failed_on: Vec<&'static str>,
}

impl Document {
    /// The document of a command's findings.
    pub fn new(
        command: &'static str,
        backend: &'static str,
        findings: &Findings,
        outcome: &Outcome,
    ) -> Self {
        Document {
            version: VERSION,
            command,
            backend,
            load_order: findings.load_order.as_ref().map(load_order_json),
            orphans: findings.orphans.as_ref().map(orphans_json),
            audit: findings.audit.as_ref().map(audit_json),
            status: StatusJson {
                exit_status: outcome.exit_status(),
                failed_on: outcome.failed_on.iter().map(|f| f.name()).collect(),
            },
        }
    }
}

fn table_json(table: &TableName) -> TableJson {
    TableJson {
        schema: table.schema.clone(),
        table: table.table.clone(),
    }
}

fn load_order_json(order: &LoadOrder) -> LoadOrderJson {
    LoadOrderJson {
        tables: order.levels.iter().map(Vec::len).sum(),
        levels: order
            .levels
            .iter()
            .map(|level| level.iter().map(table_json).collect())
            .collect(),
        cycles: order.cycles.iter().map(cycle_json).collect(),
    }
}

fn cycle_json(cycle: &Cycle) -> CycleJson {
    CycleJson {
        tables: cycle.tables.iter().map(table_json).collect(),
        self_reference: cycle.is_self_reference(),
        breakable: cycle.breakable(),
        edges: cycle
            .edges
            .iter()
            .map(|edge| breakable_json(&edge.foreign_key, &edge.breakable))
            .collect(),
    }
}

fn breakable_json(foreign_key: &ForeignKey, breakable: &Breakable) -> EdgeJson {
    EdgeJson {
        foreign_key: foreign_key_json(foreign_key),
        breakable: breakable.verdict(),
        null_break: match breakable.by_null {
            NullBreak::AnyOf(_) => "any_of",
            NullBreak::AllOf(_) => "all_of",
            NullBreak::Impossible => "impossible",
        },
        null_columns: breakable.null_columns().to_vec(),
        can_defer: breakable.can_defer(),
    }
}

/// The orphan report as JSON: the one place that maps the library's
/// `OrphanReport` to the document.
pub fn orphans_json(report: &Orphans) -> OrphansJson {
    OrphansJson {
        clean: report.is_clean(),
        foreign_keys_checked: report.constraints().len(),
        broken: report.broken().count(),
        total_orphans: report.total_orphans(),
        constraints: report.constraints().iter().map(constraint_json).collect(),
        unchecked: report
            .unchecked()
            .iter()
            .map(|fk| UncheckedJson {
                foreign_key: foreign_key_json(&fk.foreign_key),
                reason: fk.reason.clone(),
            })
            .collect(),
    }
}

/// The audit as JSON, grouped by kind as the text report is.
pub fn audit_json(report: &AuditReport) -> AuditJson {
    AuditJson {
        findings: audit::Finding::KINDS
            .iter()
            .flat_map(|kind| report.of_kind(kind))
            .map(finding_json)
            .collect(),
    }
}

fn finding_json(finding: &audit::Finding) -> FindingJson {
    let mut json = FindingJson {
        kind: finding.kind(),
        message: finding.to_string(),
        schema: None,
        table: None,
        constraint: None,
        column: None,
        foreign_key: None,
        tables: None,
    };
    let mut of_table = |schema: &str, table: &str| {
        json.schema = Some(schema.to_string());
        json.table = Some(table.to_string());
    };
    match finding {
        audit::Finding::UnindexedForeignKey { foreign_key, .. }
        | audit::Finding::NotValidConstraint { foreign_key }
        | audit::Finding::TypeMismatch { foreign_key, .. }
        | audit::Finding::DanglingForeignKey { foreign_key, .. }
        | audit::Finding::ModelRelationMismatch { foreign_key, .. } => {
            of_table(&foreign_key.schema, &foreign_key.table);
            json.constraint.clone_from(&foreign_key.name);
            json.foreign_key = Some(foreign_key_json(foreign_key));
        }
        audit::Finding::UnconstrainedReference { table, column, .. } => {
            of_table(&table.schema, &table.table);
            json.column = Some(column.clone());
        }
        audit::Finding::ModelRelationWithoutConstraint { table, .. } => {
            of_table(&table.schema, &table.table);
        }
        audit::Finding::UnbreakableCycle { cycle } => {
            json.tables = Some(cycle.tables.iter().map(table_json).collect());
        }
        // Models are not audited by the command; a kind newer than this
        // build still has its kind and message.
        _ => {}
    }
    json
}

fn constraint_json(constraint: &ConstraintOrphans) -> ConstraintJson {
    ConstraintJson {
        foreign_key: foreign_key_json(&constraint.foreign_key),
        clean: constraint.is_clean(),
        orphans: constraint.orphans,
        sample: constraint
            .sample
            .iter()
            .map(|orphan| OrphanJson {
                child_key: orphan.child_key.clone(),
                missing_parent_key: orphan
                    .missing_parent_key
                    .iter()
                    .map(|(column, value)| ColumnValueJson {
                        column: column.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            })
            .collect(),
        partial_nulls: constraint.partial_nulls,
        partial_null_sample: constraint.partial_null_sample.clone(),
    }
}

/// The SQL spelling of a match type.
pub fn match_type(match_type: MatchType) -> &'static str {
    match match_type {
        MatchType::Simple => "SIMPLE",
        MatchType::Full => "FULL",
        MatchType::Partial => "PARTIAL",
        // A match type newer than this build: never mistaken for SIMPLE.
        _ => "UNKNOWN",
    }
}

/// The SQL spelling of a deferrability.
pub fn deferrability(deferrability: Deferrability) -> &'static str {
    match deferrability {
        Deferrability::NotDeferrable => "NOT DEFERRABLE",
        Deferrability::InitiallyImmediate => "DEFERRABLE INITIALLY IMMEDIATE",
        Deferrability::InitiallyDeferred => "DEFERRABLE INITIALLY DEFERRED",
    }
}

fn action(action: FkAction) -> &'static str {
    action.as_sql()
}

fn foreign_key_json(fk: &ForeignKey) -> ForeignKeyJson {
    ForeignKeyJson {
        name: fk.name.clone(),
        schema: fk.schema.clone(),
        table: fk.table.clone(),
        columns: fk.columns.clone(),
        nullable: fk.nullable.clone(),
        parent_schema: fk.parent_schema.clone(),
        parent_table: fk.parent_table.clone(),
        parent_columns: fk.parent_columns.clone(),
        on_delete: action(fk.on_delete),
        on_update: action(fk.on_update),
        match_type: match_type(fk.match_type),
        deferrability: fk.deferrability.map(deferrability),
        validated: fk.validated,
    }
}
