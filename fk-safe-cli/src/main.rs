//! `fk-safe`: the load order, cycles and orphan rows of a live PostgreSQL
//! or SQLite database, for a person at a shell and for CI.
//!
//! ```text
//! fk-safe doctor <DATABASE>        load order, cycles and orphans
//! fk-safe load-order <DATABASE>    the load order and its cycles
//! fk-safe orphans <DATABASE>       the orphan report
//! fk-safe audit <DATABASE>         the schema audit
//! ```
//!
//! `DATABASE` is a `postgres://` or `postgresql://` URL, or an existing
//! SQLite file (a path, `sqlite://path` or `file:path`); without it,
//! `DATABASE_URL`. The database is only read: SQLite is opened read-only
//! (`mode=ro`), PostgreSQL scanned in one `REPEATABLE READ READ ONLY`
//! transaction. `--json` prints the report as the JSON document of the
//! README. Exit status: 0 clean, 1 orphans (or a `--fail-on` finding),
//! 2 no complete answer (usage, connection or query error, or a foreign
//! key the database did not let be checked).

mod database;
mod error;
mod json;
mod outcome;
mod progress;
mod scan;
mod text;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use fk_safe::integrity::OrphanOptions;

use crate::database::{Db, Target};
use crate::error::CliError;
use crate::outcome::{Finding, Outcome, MODEL_KINDS};
use crate::scan::Scan;

/// The exit status when the report could not be made.
const NO_ANSWER: u8 = 2;

/// Foreign-key integrity of a live PostgreSQL or SQLite database: load
/// order, cycles, orphan rows, schema audit. Reads only; never writes.
///
/// Exit status: 0 clean; 1 orphans exist (or a --fail-on finding); 2 no
/// complete answer (usage error, database missing or unreachable, a query
/// failed, or a foreign key could not be checked for orphans). Audit
/// findings fail the run only with --fail-on.
#[derive(Debug, Parser)]
#[command(name = "fk-safe", version)]
struct Cli {
    /// Print the report as a JSON document (format version 1) on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load order, cycles, orphans and the schema audit, read in one
    /// snapshot.
    Doctor(DoctorArgs),
    /// The tables in dependency levels, parents first, and every cycle with
    /// how each of its foreign keys can be broken.
    LoadOrder(LoadOrderArgs),
    /// For each foreign key, the rows whose parent does not exist.
    Orphans(OrphansArgs),
    /// The schema audit: unindexed foreign keys, NOT VALID constraints,
    /// type mismatches, dangling keys, unconstrained *_id columns,
    /// unbreakable cycles.
    Audit(AuditArgs),
}

/// The `--fail-on` values: the command's own findings, every audit kind
/// of the library, and `any-finding`; anything else is a usage error
/// listing them.
fn fail_on_values() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Finding::names())
}

#[derive(Debug, Args)]
struct DatabaseArg {
    /// A postgres:// or postgresql:// URL, or an existing SQLite file (a
    /// path, sqlite://path or file:path). Defaults to DATABASE_URL.
    #[arg(value_name = "DATABASE", env = "DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
}

#[derive(Debug, Args)]
struct DoctorArgs {
    #[command(flatten)]
    database: DatabaseArg,
    /// Only the tables of this schema (`main` on SQLite); repeatable. Keys
    /// to tables of other schemas are left out of the load order.
    #[arg(long = "schema", value_name = "S")]
    schemas: Vec<String>,
    /// How many orphans of each foreign key to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    sample: usize,
    /// Also fail (exit status 1) on these findings; orphans always fail.
    /// Audit findings fail only when named here (or any-finding).
    #[arg(long, value_name = "FINDING", value_parser = fail_on_values())]
    fail_on: Vec<String>,
}

#[derive(Debug, Args)]
struct LoadOrderArgs {
    #[command(flatten)]
    database: DatabaseArg,
    /// Only the tables of this schema (`main` on SQLite); repeatable. Keys
    /// to tables of other schemas are left out: their parents count as
    /// loaded.
    #[arg(long = "schema", value_name = "S")]
    schemas: Vec<String>,
    /// Fail (exit status 1) on these findings.
    #[arg(long, value_name = "FINDING", value_parser = fail_on_values())]
    fail_on: Vec<String>,
}

#[derive(Debug, Args)]
struct OrphansArgs {
    #[command(flatten)]
    database: DatabaseArg,
    /// Only the foreign keys declared on this (child) table; repeatable.
    #[arg(long = "table", value_name = "T")]
    tables: Vec<String>,
    /// Only the foreign keys of tables in this schema (`main` on SQLite);
    /// repeatable.
    #[arg(long = "schema", value_name = "S")]
    schemas: Vec<String>,
    /// Only the foreign key of this name (SQLite keeps none); repeatable.
    #[arg(long = "constraint", value_name = "C")]
    constraints: Vec<String>,
    /// How many orphans of each foreign key to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    sample: usize,
}

#[derive(Debug, Args)]
struct AuditArgs {
    #[command(flatten)]
    database: DatabaseArg,
    /// Only the tables of this schema (`main` on SQLite); repeatable. A
    /// schema that does not exist is refused.
    #[arg(long = "schema", value_name = "S")]
    schemas: Vec<String>,
    /// Fail (exit status 1) on these findings (audit kinds or
    /// any-finding); without it, findings are reported and exit 0.
    #[arg(long, value_name = "FINDING", value_parser = fail_on_values())]
    fail_on: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            eprintln!("{}", error::chain(&error));
            ExitCode::from(NO_ANSWER)
        }
    }
}

fn run(cli: &Cli) -> Result<u8, CliError> {
    let (name, database, scan, fail_on) = match &cli.command {
        Command::Doctor(args) => {
            let mut options = OrphanOptions::new().sample_size(args.sample);
            options.schemas.clone_from(&args.schemas);
            (
                "doctor",
                &args.database,
                Scan {
                    load_order: true,
                    schemas: args.schemas.clone(),
                    orphans: Some(options),
                    audit: Some(args.schemas.clone()),
                },
                args.fail_on.as_slice(),
            )
        }
        Command::LoadOrder(args) => (
            "load-order",
            &args.database,
            Scan {
                load_order: true,
                schemas: args.schemas.clone(),
                orphans: None,
                audit: None,
            },
            args.fail_on.as_slice(),
        ),
        Command::Orphans(args) => {
            let mut options = OrphanOptions::new().sample_size(args.sample);
            options.tables.clone_from(&args.tables);
            options.schemas.clone_from(&args.schemas);
            options.constraints.clone_from(&args.constraints);
            (
                "orphans",
                &args.database,
                Scan {
                    load_order: false,
                    // Checked to hold tables: one without foreign keys is
                    // then clean, a typo refused.
                    schemas: args.schemas.clone(),
                    orphans: Some(options),
                    audit: None,
                },
                &[][..],
            )
        }
        Command::Audit(args) => (
            "audit",
            &args.database,
            Scan {
                load_order: false,
                // The audit refuses a schema that does not exist itself.
                schemas: Vec::new(),
                orphans: None,
                audit: Some(args.schemas.clone()),
            },
            args.fail_on.as_slice(),
        ),
    };
    let fail_on = fail_on
        .iter()
        .map(|name| {
            Finding::parse(name).ok_or_else(|| {
                CliError::Usage(format!(
                    "unknown --fail-on {name:?}: one of {}",
                    Finding::names().join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(finding) = fail_on.iter().find(|finding| {
        !finding.looked_for(
            scan.load_order,
            scan.orphans.is_some(),
            scan.audit.is_some(),
        )
    }) {
        if matches!(finding, Finding::Audit(kind) if MODEL_KINDS.contains(kind)) {
            return Err(CliError::Usage(format!(
                "fk-safe compares no models (they are Rust types: the library's \
                 `AuditOptions::model` compares them), so --fail-on {finding} cannot be honoured"
            )));
        }
        return Err(CliError::Usage(format!(
            "{name} does not look for {finding}, so --fail-on {finding} cannot be honoured: \
             use {}",
            match finding {
                Finding::Orphans => "`fk-safe doctor` or `fk-safe orphans`",
                Finding::Cycles | Finding::UnbreakableCycles => {
                    "`fk-safe doctor` or `fk-safe load-order`"
                }
                Finding::Audit(_) | Finding::Any => "`fk-safe doctor` or `fk-safe audit`",
            }
        )));
    }
    let Some(database) = database.database.as_deref() else {
        return Err(CliError::Usage(
            "no database: give a postgres:// URL or a SQLite file, or set DATABASE_URL".into(),
        ));
    };
    let target = Target::parse(database)?;
    let mut db = Db::open(&target)?;
    let findings = scan.run(&mut db)?;
    let outcome = Outcome::of(&findings, &fail_on);

    let output = if cli.json {
        let document = json::Document::new(name, target.backend(), &findings, &outcome);
        let mut text = serde_json::to_string_pretty(&document).map_err(CliError::Json)?;
        text.push('\n');
        text
    } else {
        let database = format!("{} database {}", target.backend(), target.describe());
        text::report(&database, name, &findings, &outcome)
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not worth a panic; the status still says.
    let _ = stdout.write_all(output.as_bytes());
    let _ = stdout.flush();
    Ok(outcome.exit_status())
}
