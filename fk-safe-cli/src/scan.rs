//! Reading the database: the load order, the orphan report and the
//! schema audit, in one read-only snapshot.

use diesel::Connection;
use fk_safe::integrity::load_order::{self, LoadOrder};
use fk_safe::integrity::orphans::UncheckedForeignKey;
use fk_safe::integrity::{
    audit, orphans, AuditOptions, AuditReport, ConstraintOrphans, OrphanOptions, OrphanReport,
};
use fk_safe::{FkCatalog, FkConnection};

use crate::database::Db;
use crate::error::CliError;
use crate::progress::Progress;

/// What to read.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Read the load order and its cycles.
    pub load_order: bool,
    /// Only the tables of these schemas in the load order (all when
    /// empty); each must hold a table.
    pub schemas: Vec<String>,
    /// Check these foreign keys for orphans (`None`: do not).
    pub orphans: Option<OrphanOptions>,
    /// Audit the tables of these schemas (all when empty; `None`: do not
    /// audit).
    pub audit: Option<Vec<String>>,
}

/// What was read.
#[derive(Debug)]
pub struct Findings {
    /// The load order, when asked for.
    pub load_order: Option<LoadOrder>,
    /// The orphan report, when asked for.
    pub orphans: Option<Orphans>,
    /// The audit, when asked for.
    pub audit: Option<AuditReport>,
}

/// The orphan report, or nothing to check: every `--schema` asked for
/// holds tables but no foreign key (the library refuses a filter that
/// selects nothing, rightly for a typo; these schemas were checked to
/// exist, so their answer is "0 foreign keys").
#[derive(Debug)]
pub struct Orphans {
    /// `None` when no foreign key was selected.
    pub report: Option<OrphanReport>,
}

impl Orphans {
    /// Each foreign key checked.
    pub fn constraints(&self) -> &[ConstraintOrphans] {
        self.report
            .as_ref()
            .map_or(&[], |r| r.constraints.as_slice())
    }

    /// The foreign keys the database did not let be checked.
    pub fn unchecked(&self) -> &[UncheckedForeignKey] {
        self.report.as_ref().map_or(&[], |r| r.unchecked.as_slice())
    }

    /// The foreign keys some row breaks.
    pub fn broken(&self) -> impl Iterator<Item = &ConstraintOrphans> {
        self.constraints().iter().filter(|c| !c.is_clean())
    }

    /// Whether some row breaks a foreign key checked (orphans, or partly
    /// NULL MATCH FULL keys).
    pub fn found(&self) -> bool {
        self.broken().next().is_some()
    }

    /// The orphans of all foreign keys checked together.
    pub fn total_orphans(&self) -> u64 {
        self.constraints().iter().map(|c| c.orphans).sum()
    }

    /// No orphans and every foreign key selected checked.
    pub fn is_clean(&self) -> bool {
        !self.found() && self.unchecked().is_empty()
    }
}

impl Scan {
    /// Runs the scan. On PostgreSQL everything is read in one
    /// `REPEATABLE READ READ ONLY` transaction: one snapshot for the load
    /// order and every foreign key, and the server refuses any write. On
    /// SQLite (opened `mode=ro`) a transaction gives the same snapshot.
    pub fn run(&self, db: &mut Db) -> Result<Findings, CliError> {
        match db {
            Db::Postgres(conn) => conn
                .build_transaction()
                .repeatable_read()
                .read_only()
                .run(|conn| self.scan_in(conn)),
            Db::Sqlite(conn) => conn.transaction(|conn| self.scan_in(conn)),
        }
    }

    fn scan_in<C: FkConnection>(&self, conn: &mut C) -> Result<Findings, CliError> {
        let catalog = FkCatalog::new();
        let load_order = if self.load_order || !self.schemas.is_empty() {
            let progress = Progress::start("reading the load order");
            let order = if self.schemas.is_empty() {
                load_order::read(conn, &catalog)
            } else {
                let schemas: Vec<&str> = self.schemas.iter().map(String::as_str).collect();
                load_order::read_schemas(conn, &catalog, &schemas)
            }
            .map_err(CliError::LoadOrder)?;
            progress.finish();
            refuse_empty_schemas(&self.schemas, &order)?;
            // `orphans --schema` reads it only to check the schemas hold
            // tables.
            self.load_order.then_some(order)
        } else {
            None
        };
        let orphans = match &self.orphans {
            Some(options) => Some(self.orphans_in(conn, &catalog, options)?),
            None => None,
        };
        let audit = match &self.audit {
            Some(schemas) => {
                let mut options = AuditOptions::<C::Backend>::new();
                options.schemas.clone_from(schemas);
                let progress = Progress::start("auditing the schema");
                let report = audit(conn, &catalog, &options).map_err(CliError::Audit)?;
                progress.finish();
                Some(report)
            }
            None => None,
        };
        Ok(Findings {
            load_order,
            orphans,
            audit,
        })
    }

    /// The orphan report of `options`, with each `--schema` that holds
    /// tables (checked before) but no foreign key left out: it has 0
    /// foreign keys to check, which the library would refuse as a filter
    /// selecting nothing.
    fn orphans_in<C: FkConnection>(
        &self,
        conn: &mut C,
        catalog: &FkCatalog,
        options: &OrphanOptions,
    ) -> Result<Orphans, CliError> {
        // The catalog is read once and cached: this is the list the report
        // checks.
        let foreign_keys = catalog.foreign_keys(conn).map_err(CliError::Catalog)?;
        let mut options = options.clone();
        let asked = options.schemas.clone();
        options
            .schemas
            .retain(|schema| foreign_keys.iter().any(|fk| &fk.schema == schema));
        if !asked.is_empty() && options.schemas.is_empty() {
            if options.tables.is_empty() && options.constraints.is_empty() {
                return Ok(Orphans { report: None });
            }
            // A --table or --constraint in schemas without foreign keys
            // selects nothing: refused below, naming the flag.
            options.schemas = asked;
        }
        refuse_unmatched_filters(&options, &foreign_keys)?;
        let selected = foreign_keys.iter().filter(|fk| options.selects(fk)).count();
        let progress = Progress::start(&format!(
            "checking {selected} foreign key{} for orphans",
            if selected == 1 { "" } else { "s" }
        ));
        let report = orphans(conn, catalog, &options).map_err(CliError::Orphans)?;
        progress.finish();
        Ok(Orphans {
            report: Some(report),
        })
    }
}

/// Refuses a `--table`, `--schema` or `--constraint` that selects no
/// foreign key (a typo would otherwise report "no orphans": a silent wrong
/// result). Each value must select at least one foreign key together with
/// the other filters. The library refuses this too
/// (`OrphanError::NothingSelected`), but names one value only and not the
/// flag; this check names every flag that selects nothing, and says so
/// when the database keeps no constraint names.
fn refuse_unmatched_filters(
    options: &OrphanOptions,
    foreign_keys: &[fk_safe::ForeignKey],
) -> Result<(), CliError> {
    let selected: Vec<&fk_safe::ForeignKey> = foreign_keys
        .iter()
        .filter(|fk| options.selects(fk))
        .collect();
    let mut unmatched = Vec::new();
    for table in &options.tables {
        if !selected.iter().any(|fk| &fk.table == table) {
            unmatched.push(format!("--table {table:?}"));
        }
    }
    for schema in &options.schemas {
        if !selected.iter().any(|fk| &fk.schema == schema) {
            unmatched.push(format!("--schema {schema:?}"));
        }
    }
    for constraint in &options.constraints {
        if !selected
            .iter()
            .any(|fk| fk.name.as_deref() == Some(constraint.as_str()))
        {
            unmatched.push(format!("--constraint {constraint:?}"));
        }
    }
    if unmatched.is_empty() {
        return Ok(());
    }
    let unnamed = foreign_keys.iter().all(|fk| fk.name.is_none());
    Err(CliError::Usage(format!(
        "no foreign key matches {}{}",
        unmatched.join(", "),
        if !options.constraints.is_empty() && unnamed && !foreign_keys.is_empty() {
            " (this database keeps no constraint names, as SQLite does not: filter by --table)"
        } else {
            " (a foreign key is selected by its child table, that table's schema and its name)"
        }
    )))
}

/// Refuses a `--schema` that holds no table (a typo would otherwise give an
/// empty, clean report).
fn refuse_empty_schemas(schemas: &[String], order: &LoadOrder) -> Result<(), CliError> {
    let empty: Vec<String> = schemas
        .iter()
        .filter(|schema| {
            !order
                .levels
                .iter()
                .flatten()
                .any(|table| &&table.schema == schema)
        })
        .map(|schema| format!("--schema {schema:?}"))
        .collect();
    if empty.is_empty() {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "no table in {} (on SQLite the schema is \"main\")",
            empty.join(", ")
        )))
    }
}
