//! `fk-safe`: the load order, cycles and orphan rows of a live PostgreSQL
//! or SQLite database, for a person at a shell and for CI.
//!
//! ```text
//! fk-safe doctor <DATABASE>        load order, cycles and orphans
//! fk-safe load-order <DATABASE>    the load order and its cycles
//! fk-safe orphans <DATABASE>       the orphan report
//! ```
//!
//! `DATABASE` is a `postgres://` or `postgresql://` URL, or an existing
//! SQLite file (a path, `sqlite://path` or `file:path`); without it,
//! `DATABASE_URL`. The database is only read: SQLite is opened read-only
//! (`mode=ro`), PostgreSQL scanned in one `REPEATABLE READ READ ONLY`
//! transaction. `--json` prints the report as the JSON document of the
//! README. Exit status: 0 clean, 1 orphans (or a `--fail-on` finding),
//! 2 no answer (usage, connection or query error).

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
use crate::outcome::{Finding, Outcome};
use crate::scan::Scan;

/// The exit status when the report could not be made.
const NO_ANSWER: u8 = 2;

/// Foreign-key integrity of a live PostgreSQL or SQLite database: load
/// order, cycles, orphan rows. Reads only; never writes.
///
/// Exit status: 0 clean; 1 orphans exist (or a --fail-on finding); 2 the
/// report could not be made (usage error, database missing or unreachable,
/// a query failed).
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
    /// Load order, cycles and orphans, read in one snapshot.
    Doctor(DoctorArgs),
    /// The tables in dependency levels, parents first, and every cycle with
    /// how each of its foreign keys can be broken.
    LoadOrder(LoadOrderArgs),
    /// For each foreign key, the rows whose parent does not exist.
    Orphans(OrphansArgs),
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
    #[arg(long, value_enum, value_name = "FINDING")]
    fail_on: Vec<Finding>,
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
    #[arg(long, value_enum, value_name = "FINDING")]
    fail_on: Vec<Finding>,
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
                    schemas: Vec::new(),
                    orphans: Some(options),
                },
                &[][..],
            )
        }
    };
    if scan.orphans.is_none() && fail_on.contains(&Finding::Orphans) {
        return Err(CliError::Usage(
            "load-order does not look for orphans, so --fail-on orphans cannot be honoured: \
             use `fk-safe doctor` or `fk-safe orphans`"
                .into(),
        ));
    }
    let Some(database) = database.database.as_deref() else {
        return Err(CliError::Usage(
            "no database: give a postgres:// URL or a SQLite file, or set DATABASE_URL".into(),
        ));
    };
    let target = Target::parse(database)?;
    let mut db = Db::open(&target)?;
    let findings = scan.run(&mut db)?;
    let outcome = Outcome::of(&findings, fail_on);

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
