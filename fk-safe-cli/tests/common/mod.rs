//! Running the built `fk-safe` against databases made for one test: a
//! fresh PostgreSQL database each (the command reads the whole database,
//! so a schema of a shared one would not isolate it) and a SQLite file in
//! a directory of its own.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

/// What a run of the command gave.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Runs `fk-safe args..` with no `DATABASE_URL` unless `env` gives one.
pub fn fk_safe(args: &[&str], database_url: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fk-safe"));
    command.args(args).env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the fk-safe binary runs");
    let run = Run {
        status: status.code().expect("fk-safe exited, not killed"),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    };
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("RUST_BACKTRACE"),
        "fk-safe panicked: {}",
        run.stderr
    );
    run
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The server of `DATABASE_URL` (as scripts/test.sh sets it), or the
/// machine's own.
fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
        .unwrap_or_else(|| "postgres://127.0.0.1:5432/postgres".to_string())
}

/// `url` with its database replaced by `database`, its query kept.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, format!("?{query}")),
        None => (rest, String::new()),
    };
    let authority = rest.split('/').next().unwrap_or("");
    format!("{scheme}://{authority}/{database}{query}")
}

/// A PostgreSQL database of its own, dropped at the end.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
    maintenance: String,
}

impl PgDatabase {
    pub fn new() -> PgDatabase {
        let server = server_url();
        let maintenance = with_database(&server, "postgres");
        let name = unique("fk_safe_cli");
        let mut conn = PgConnection::establish(&maintenance).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {maintenance}: {e}\n\
                 Run the tests with `bash scripts/test.sh`, or point DATABASE_URL \
                 at a server where you may create databases."
            )
        });
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .expect("CREATE DATABASE");
        PgDatabase {
            url: with_database(&server, &name),
            name,
            maintenance,
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }

    /// Runs each statement.
    pub fn run(&self, statements: &[&str]) {
        let mut conn = self.connect();
        for statement in statements {
            diesel::sql_query(*statement)
                .execute(&mut conn)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.maintenance) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

/// A directory of its own with a SQLite file in it, removed at the end.
pub struct SqliteFile {
    pub dir: PathBuf,
    pub path: PathBuf,
}

impl SqliteFile {
    /// A file made by `statements`, run with foreign keys off so that they
    /// can plant orphans.
    pub fn new(statements: &[&str]) -> SqliteFile {
        let dir = std::env::temp_dir().join(unique("fk-safe-cli"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("db.sqlite3");
        let mut conn =
            SqliteConnection::establish(path.to_str().expect("UTF-8 temp dir")).expect("create");
        diesel::sql_query("PRAGMA foreign_keys = OFF")
            .execute(&mut conn)
            .expect("foreign keys off");
        for statement in statements {
            diesel::sql_query(*statement)
                .execute(&mut conn)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        SqliteFile { dir, path }
    }

    pub fn path(&self) -> &str {
        self.path.to_str().expect("UTF-8 path")
    }

    pub fn in_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// `url` connecting as `user` (without a password: the test server trusts).
pub fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host}")
}

/// A login role of its own, dropped at the end (after the databases that
/// hold its grants: declare it first).
pub struct PgRole {
    pub name: String,
    maintenance: String,
}

impl PgRole {
    pub fn new() -> PgRole {
        let maintenance = with_database(&server_url(), "postgres");
        let name = unique("fk_safe_cli_role");
        let mut conn = PgConnection::establish(&maintenance).expect("connect");
        diesel::sql_query(format!("CREATE ROLE \"{name}\" LOGIN"))
            .execute(&mut conn)
            .expect("CREATE ROLE");
        PgRole { name, maintenance }
    }
}

impl Drop for PgRole {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.maintenance) {
            let _ = diesel::sql_query(format!("DROP ROLE IF EXISTS \"{}\"", self.name))
                .execute(&mut conn);
        }
    }
}
