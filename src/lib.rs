//! The demo shop used by fk-safe's integration tests, examples and
//! benchmark: the Diesel schema of `migrations/`, the embedded migrations,
//! connection helpers that migrate and enforce foreign keys, and the shop
//! graph they write ([`shop`]). Not published.

pub mod models;
pub mod schema;
pub mod shop;

use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

/// The PostgreSQL flavour of `migrations/`.
#[cfg(feature = "postgres")]
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/postgres");

/// The SQLite flavour of `migrations/`.
#[cfg(feature = "sqlite")]
pub const SQLITE_MIGRATIONS: EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/sqlite");

/// Applies every pending migration of `source`.
pub fn migrate<C, S>(
    conn: &mut C,
    source: S,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    C: MigrationHarness<C::Backend> + diesel::Connection,
    S: MigrationSource<C::Backend>,
{
    conn.run_pending_migrations(source)?;
    Ok(())
}

/// The database an example was asked to run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// No `DATABASE_URL` (or an empty one): the example's own SQLite file.
    DefaultSqlite,
    /// A SQLite database: a path, `sqlite://path`, or a `file:` URI, as
    /// Diesel's `SqliteConnection::establish` takes it.
    Sqlite(String),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

/// A `DATABASE_URL` the examples cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrlError {
    /// A URL of a database the examples do not support (MySQL, ..). Only
    /// the scheme is kept: the rest may hold a password.
    Unsupported {
        /// The URL's scheme, e.g. `mysql`.
        scheme: String,
    },
    /// `sqlite://` with nothing after it.
    MissingPath,
    /// `DATABASE_URL` is set but not valid UTF-8.
    NotUnicode,
    /// A backend this build was compiled without.
    NotBuilt {
        /// `postgres` or `sqlite`, the cargo feature that adds it.
        feature: &'static str,
    },
}

impl std::fmt::Display for DatabaseUrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrlError::Unsupported { scheme } => write!(
                f,
                "DATABASE_URL is a `{scheme}://` URL, which the examples cannot use. {USABLE}"
            ),
            DatabaseUrlError::MissingPath => {
                write!(f, "DATABASE_URL is `sqlite://` without a path. {USABLE}")
            }
            DatabaseUrlError::NotUnicode => write!(f, "DATABASE_URL is not valid UTF-8. {USABLE}"),
            DatabaseUrlError::NotBuilt { feature } => write!(
                f,
                "DATABASE_URL names a {} database, but this build has no {0} support: \
                 build with `--features {feature}`, or {}",
                if *feature == "postgres" {
                    "PostgreSQL"
                } else {
                    "SQLite"
                },
                if *feature == "postgres" {
                    "leave DATABASE_URL unset for the bundled SQLite"
                } else {
                    "set DATABASE_URL to a postgres:// URL"
                }
            ),
        }
    }
}

impl std::error::Error for DatabaseUrlError {}

const USABLE: &str = "Use a SQLite database (a file path, sqlite://path or a file: URI; unset for \
    a fresh one in the temp directory) or PostgreSQL (postgres://.. or postgresql://..)";

/// Reads `DATABASE_URL` (`None` when unset) the way every example does: a
/// URL they cannot use, or one for a backend this build lacks, is an error
/// that says which ones they can use, never a silent fall-back to SQLite.
///
/// ```
/// use fk_safe_suite::{database, Database};
///
/// assert_eq!(database(None), Ok(Database::DefaultSqlite));
/// assert!(database(Some("mysql://root@localhost/shop")).is_err());
/// # #[cfg(feature = "sqlite")]
/// assert_eq!(database(Some("sqlite:///tmp/shop.db")), Ok(Database::Sqlite("/tmp/shop.db".into())));
/// # #[cfg(feature = "postgres")]
/// assert!(matches!(database(Some("postgresql://127.0.0.1/test")), Ok(Database::Postgres(_))));
/// ```
pub fn database(url: Option<&str>) -> Result<Database, DatabaseUrlError> {
    let url = match url.map(str::trim) {
        None | Some("") => return built(Database::DefaultSqlite),
        Some(url) => url,
    };
    // A scheme is what precedes `://`; a plain path (even `C:\\db`) has none.
    let Some((scheme, rest)) = url.split_once("://") else {
        return built(Database::Sqlite(url.to_string()));
    };
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return built(Database::Sqlite(url.to_string()));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => built(Database::Postgres(url.to_string())),
        "sqlite" if rest.is_empty() => Err(DatabaseUrlError::MissingPath),
        "sqlite" => built(Database::Sqlite(rest.to_string())),
        "file" => built(Database::Sqlite(url.to_string())),
        _ => Err(DatabaseUrlError::Unsupported {
            scheme: scheme.to_string(),
        }),
    }
}

/// The SQLite file an example makes its tables in: `given` (from
/// `DATABASE_URL`), which must not exist yet, so that the example never
/// writes into a database of yours; or `default_name` in the temporary
/// directory, made afresh on every run.
pub fn new_sqlite_file(given: Option<&str>, default_name: &str) -> Result<String, String> {
    match given {
        None => {
            let path = std::env::temp_dir().join(default_name);
            let _ = std::fs::remove_file(&path);
            Ok(path.to_string_lossy().into_owned())
        }
        Some(path) if std::path::Path::new(path).exists() => Err(format!(
            "DATABASE_URL names the existing SQLite file {path}; the example makes its tables \
             in a new database: name a file that does not exist yet, or unset DATABASE_URL for \
             one in the temp directory"
        )),
        Some(path) => Ok(path.to_string()),
    }
}

/// [`database`] of the `DATABASE_URL` environment variable.
pub fn database_from_env() -> Result<Database, DatabaseUrlError> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => database(Some(&url)),
        Err(std::env::VarError::NotPresent) => database(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(DatabaseUrlError::NotUnicode),
    }
}

/// `database` for a backend this build may lack.
fn built(database: Database) -> Result<Database, DatabaseUrlError> {
    match database {
        #[cfg(not(feature = "postgres"))]
        Database::Postgres(_) => Err(DatabaseUrlError::NotBuilt {
            feature: "postgres",
        }),
        #[cfg(not(feature = "sqlite"))]
        Database::Sqlite(_) | Database::DefaultSqlite => {
            Err(DatabaseUrlError::NotBuilt { feature: "sqlite" })
        }
        database => Ok(database),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_the_examples_cannot_use_are_errors() {
        for url in [
            "mysql://root:secret@localhost/shop",
            "mariadb://x",
            "redis://y",
        ] {
            let error = database(Some(url)).unwrap_err();
            let text = error.to_string();
            assert!(text.contains("postgres://"), "{text}");
            assert!(text.contains("sqlite://"), "{text}");
            assert!(
                !text.contains("secret"),
                "the password is not repeated: {text}"
            );
        }
        assert_eq!(
            database(Some("sqlite://")),
            Err(DatabaseUrlError::MissingPath)
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_paths_and_urls() {
        assert_eq!(database(None), Ok(Database::DefaultSqlite));
        assert_eq!(database(Some(" ")), Ok(Database::DefaultSqlite));
        for (url, path) in [
            ("/tmp/shop.db", "/tmp/shop.db"),
            ("shop.db", "shop.db"),
            ("sqlite:///tmp/shop.db", "/tmp/shop.db"),
            ("SQLITE://shop.db", "shop.db"),
            (
                "file:///tmp/shop.db?mode=rwc",
                "file:///tmp/shop.db?mode=rwc",
            ),
            (":memory:", ":memory:"),
            ("C:\\data\\shop.db", "C:\\data\\shop.db"),
        ] {
            assert_eq!(
                database(Some(url)),
                Ok(Database::Sqlite(path.into())),
                "{url}"
            );
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_urls() {
        for url in [
            "postgres://127.0.0.1/test",
            "postgresql://u@h:5433/db?sslmode=disable",
        ] {
            assert_eq!(database(Some(url)), Ok(Database::Postgres(url.into())));
        }
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn postgres_without_the_backend() {
        assert_eq!(
            database(Some("postgres://127.0.0.1/test")),
            Err(DatabaseUrlError::NotBuilt {
                feature: "postgres"
            })
        );
    }

    #[cfg(not(feature = "sqlite"))]
    #[test]
    fn sqlite_without_the_backend() {
        assert_eq!(
            database(None),
            Err(DatabaseUrlError::NotBuilt { feature: "sqlite" })
        );
    }
}

/// The README's Rust snippets, compiled as doctests so that they cannot drift
/// from the API.
#[cfg(all(doctest, feature = "postgres"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The `#[derive(FkOrdered)]` documentation's examples (fk-safe-derive's
/// FkOrdered.md), compiled and run as doctests here, where fk-safe and
/// Diesel are ordinary dependencies.
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../fk-safe-derive/FkOrdered.md")]
pub struct DeriveDoctests;
