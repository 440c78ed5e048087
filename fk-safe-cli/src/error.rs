//! Why the command could not answer (exit status 2), printed as a chain of
//! causes.

use std::error::Error as _;
use std::fmt::Write as _;

use fk_safe::integrity::{AuditError, OrphanError};

use crate::text::printable_message;

/// Everything that stops a report from being made.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line (or `DATABASE_URL`) asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// The database could not be opened.
    #[error("could not connect to {database}")]
    Connect {
        /// The database, without a password.
        database: String,
        /// Diesel's error.
        #[source]
        source: diesel::ConnectionError,
    },
    /// The tables or foreign keys could not be read.
    #[error("could not read the load order")]
    LoadOrder(#[source] fk_safe::Error),
    /// The foreign keys to check could not be read.
    #[error("could not read the foreign keys")]
    Catalog(#[source] fk_safe::Error),
    /// The orphan report failed.
    #[error("could not make the orphan report")]
    Orphans(#[source] OrphanError),
    /// The schema audit failed (or was asked for a schema that does not
    /// exist).
    #[error("could not make the schema audit")]
    Audit(#[source] AuditError),
    /// The read-only snapshot transaction could not be opened or closed.
    #[error("could not run the scan in one read-only transaction")]
    Transaction(#[source] diesel::result::Error),
    /// The JSON document could not be written.
    #[error("could not write the JSON document")]
    Json(#[source] serde_json::Error),
}

impl From<diesel::result::Error> for CliError {
    fn from(error: diesel::result::Error) -> Self {
        CliError::Transaction(error)
    }
}

/// `error: ..` and one `caused by: ..` line per source. A cause whose text
/// its effect already repeats (the library's messages often end with their
/// source) is not printed twice.
pub fn chain(error: &CliError) -> String {
    let mut out = format!("error: {}", printable_message(&error.to_string(), "  "));
    let mut previous = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !previous.contains(text.trim()) {
            let _ = write!(
                out,
                "\n  caused by: {}",
                printable_message(text.trim_end(), "    ")
            );
        }
        previous = text;
        source = cause.source();
    }
    out
}
