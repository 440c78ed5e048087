//! Reading the database: the load order and the orphan report, in one
//! read-only snapshot.

use diesel::Connection;
use fk_safe::integrity::load_order::{self, LoadOrder};
use fk_safe::integrity::{orphans, OrphanOptions, OrphanReport};
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
}

/// What was read.
#[derive(Debug)]
pub struct Findings {
    /// The load order, when asked for.
    pub load_order: Option<LoadOrder>,
    /// The orphan report, when asked for.
    pub orphans: Option<OrphanReport>,
    // AUDIT: the lead wires `fk_safe::integrity::audit` here at merge (an
    // `audit: Option<..>` read in `scan_in` below, rendered by
    // text::doctor's and json::Document's `audit` sections).
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
        let load_order = if self.load_order {
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
            Some(order)
        } else {
            None
        };
        let orphans = match &self.orphans {
            Some(options) => {
                // The catalog is read once and cached: this is the list the
                // report checks.
                let foreign_keys = catalog.foreign_keys(conn).map_err(CliError::Catalog)?;
                // With the load order, a schema was checked to hold tables
                // already; one without foreign keys is then simply clean.
                if !self.load_order {
                    refuse_unmatched_filters(options, &foreign_keys)?;
                }
                let selected = foreign_keys.iter().filter(|fk| options.selects(fk)).count();
                let progress = Progress::start(&format!(
                    "checking {selected} foreign key{} for orphans",
                    if selected == 1 { "" } else { "s" }
                ));
                let report = orphans(conn, &catalog, options).map_err(CliError::Orphans)?;
                progress.finish();
                Some(report)
            }
            None => None,
        };
        Ok(Findings {
            load_order,
            orphans,
        })
    }
}

/// Refuses a `--table`, `--schema` or `--constraint` that selects no
/// foreign key (a typo would otherwise report "no orphans": a silent wrong
/// result). Each value must select at least one foreign key together with
/// the other filters. The library is to refuse this itself (a new
/// `OrphanError` variant); this check can go once it does.
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
