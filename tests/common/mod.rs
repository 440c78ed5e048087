//! Test harness: every test gets its own freshly migrated PostgreSQL schema
//! and its own SQLite file, so the suite runs in parallel and re-runs on a
//! used server. Nothing here is mocked.
//!
//! # One way to run a scenario on both backends
//!
//! A scenario is a function written once, generic over the connection
//! (`fn writes_a_shop<C: FkConnection>(conn: &mut C)` with the bounds it
//! needs). [`on_both_backends!`] turns a list of scenarios into tests:
//!
//! ```ignore
//! common::on_both_backends! {
//!     // `postgres::writes_a_shop` and `sqlite::writes_a_shop`, each calling
//!     // `writes_a_shop(&mut conn)` on a fresh, migrated database.
//!     writes_a_shop,
//!     // More arguments, the same on both backends.
//!     a_composite_link_closes_cycles => (SITES),
//!     // Arguments that differ: each backend's are compiled only with its
//!     // feature, so they may name items that exist only with it.
//!     batches_past_the_bind_limit => { postgres: (50_000), sqlite: (25_000) },
//!     // A test named apart from the scenario it runs.
//!     thousands_of_cycles = departments_headed_from_within => (5_000),
//!     // The scenario gets the fresh database (`&PgDb` / `&SqliteDb`, both
//!     // `FreshDb`) instead of one connection to it, for pools and second
//!     // sessions.
//!     r2d2_pool with db => { .. },
//!     // The scenario gets the database type (`scenario::<PgDb>(..)`) and
//!     // makes its fresh databases itself, e.g. one per proptest case.
//!     random_graphs with db_type => { postgres: (24), sqlite: (48) },
//! }
//! ```
//!
//! It expands to `#[cfg(feature = "postgres")] mod postgres { .. }` and
//! `#[cfg(feature = "sqlite")] mod sqlite { .. }`, so a build with one
//! backend compiles and runs that backend's half. Inside each module (and
//! so inside the argument expressions) `TestDb` is the backend's fresh
//! database type and `TestBackend` its Diesel backend
//! (`TestBackend::rows_per_statement(2)`). Doc comments and attributes
//! written before an entry go on its tests.
//!
//! Tests that only one backend has (PostgreSQL's German messages, SQLite's
//! write contention, a schema only one of them can express) use the same
//! entries in [`on_postgres!`] or [`on_sqlite!`], whose tests live in
//! `postgres_only::` and `sqlite_only::`; their scenarios take the concrete
//! `&mut PgConnection` / `&mut SqliteConnection` (or `&PgDb` / `&SqliteDb`
//! with `with db`).
//!
//! Each macro makes one module, so it is used once per module; a file with
//! several groups of one backend's tests invokes it inside a module of each
//! group (`uuid_keys::postgres_only::..` in graph_keys.rs).
//!
//! When both backends run a scenario but say different things about it
//! (messages, constraint names), the scenario makes the assertions both
//! share and takes each backend's own as a function argument, compiled
//! with that backend only (tests/violations.rs: `then: fn(&mut C,
//! &FkViolation)`). A generic scenario names the Diesel statements it sends
//! in its bounds through `diesel::dsl`'s types
//! (`Values<insert_into<orders::table>, Eq<orders::customer_id, i64>>:
//! ExecuteDsl<C>`).
//!
//! `cargo test postgres` runs every PostgreSQL test of the suite,
//! `cargo test sqlite` every SQLite one.
#![allow(dead_code, unused_macros)]

pub mod violations;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use diesel::connection::{Instrumentation, InstrumentationEvent, LoadConnection};
use diesel::query_builder::SqlQuery;
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};

/// A fresh, migrated database of one backend, gone when dropped:
/// [`pg::PgDb`] (its own schema) or [`sqlite::SqliteDb`] (its own file).
pub trait FreshDb {
    /// A connection to it.
    type Connection: diesel::Connection + diesel::r2d2::R2D2Connection + 'static;
    /// Creates and migrates one.
    fn fresh() -> Self;
    /// A new session on it, set up as the suite's tests expect.
    fn connect(&self) -> Self::Connection;
    /// The URL that reaches it.
    fn database_url(&self) -> String;
}

/// Defines the tests of `$module` (`postgres`, `sqlite`, `postgres_only`,
/// `sqlite_only`) from the entries of the macros above.
#[doc(hidden)]
macro_rules! __backend_module {
    (postgres $module:ident $($entries:tt)*) => {
        #[cfg(feature = "postgres")]
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            /// The fresh database these tests run on.
            #[allow(dead_code)]
            type TestDb = $crate::common::pg::PgDb;
            /// Its Diesel backend.
            #[allow(dead_code)]
            type TestBackend = diesel::pg::Pg;
            $crate::common::__backend_tests!(postgres $($entries)*);
        }
    };
    (sqlite $module:ident $($entries:tt)*) => {
        #[cfg(feature = "sqlite")]
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            /// The fresh database these tests run on.
            #[allow(dead_code)]
            type TestDb = $crate::common::sqlite::SqliteDb;
            /// Its Diesel backend.
            #[allow(dead_code)]
            type TestBackend = diesel::sqlite::Sqlite;
            $crate::common::__backend_tests!(sqlite $($entries)*);
        }
    };
}

/// Reads the entries one by one (see the module's documentation) into
/// [`__backend_test`] calls.
#[doc(hidden)]
macro_rules! __backend_tests {
    ($backend:ident $(,)?) => {};
    // Arguments per backend.
    ($backend:ident $(#[$attr:meta])* $test:ident $(= $scenario:ident)? $(with $given:ident)?
        => { postgres: ($($pg:expr),* $(,)?), sqlite: ($($sq:expr),* $(,)?) $(,)? }
        $(, $($rest:tt)*)?) => {
        $crate::common::__backend_test!($backend [$(#[$attr])*] $test [$($scenario)?] [$($given)?]
            postgres($($pg),*) sqlite($($sq),*));
        $crate::common::__backend_tests!($backend $($($rest)*)?);
    };
    // The same arguments on both.
    ($backend:ident $(#[$attr:meta])* $test:ident $(= $scenario:ident)? $(with $given:ident)?
        => ($($arg:expr),* $(,)?)
        $(, $($rest:tt)*)?) => {
        $crate::common::__backend_test!($backend [$(#[$attr])*] $test [$($scenario)?] [$($given)?]
            postgres($($arg),*) sqlite($($arg),*));
        $crate::common::__backend_tests!($backend $($($rest)*)?);
    };
    // No arguments but the database.
    ($backend:ident $(#[$attr:meta])* $test:ident $(= $scenario:ident)? $(with $given:ident)?
        $(, $($rest:tt)*)?) => {
        $crate::common::__backend_test!($backend [$(#[$attr])*] $test [$($scenario)?] [$($given)?]
            postgres() sqlite());
        $crate::common::__backend_tests!($backend $($($rest)*)?);
    };
}

/// One test: picks the backend's arguments and what the scenario is given.
#[doc(hidden)]
macro_rules! __backend_test {
    ($backend:ident $attrs:tt $test:ident [] $given:tt $($args:tt)*) => {
        $crate::common::__backend_test!($backend $attrs $test [$test] $given $($args)*);
    };
    (postgres $attrs:tt $test:ident [$scenario:ident] $given:tt postgres($($arg:expr),*) sqlite $other:tt) => {
        $crate::common::__backend_test!(@emit $attrs $test $scenario $given ($($arg),*));
    };
    (sqlite $attrs:tt $test:ident [$scenario:ident] $given:tt postgres $other:tt sqlite($($arg:expr),*)) => {
        $crate::common::__backend_test!(@emit $attrs $test $scenario $given ($($arg),*));
    };
    (@emit [$($attr:tt)*] $test:ident $scenario:ident [] ($($arg:expr),*)) => {
        $($attr)*
        #[test]
        fn $test() {
            let db = <TestDb as $crate::common::FreshDb>::fresh();
            super::$scenario(&mut $crate::common::FreshDb::connect(&db) $(, $arg)*);
        }
    };
    (@emit [$($attr:tt)*] $test:ident $scenario:ident [db] ($($arg:expr),*)) => {
        $($attr)*
        #[test]
        fn $test() {
            super::$scenario(&<TestDb as $crate::common::FreshDb>::fresh() $(, $arg)*);
        }
    };
    (@emit [$($attr:tt)*] $test:ident $scenario:ident [db_type] ($($arg:expr),*)) => {
        $($attr)*
        #[test]
        fn $test() {
            super::$scenario::<TestDb>($($arg),*);
        }
    };
}

/// Tests that run each scenario on PostgreSQL (`postgres::`) and on SQLite
/// (`sqlite::`), each backend behind its feature; see the module's
/// documentation.
macro_rules! on_both_backends {
    ($($entries:tt)*) => {
        $crate::common::__backend_module!(postgres postgres $($entries)*);
        $crate::common::__backend_module!(sqlite sqlite $($entries)*);
    };
}

/// Tests that exist on PostgreSQL only (`postgres_only::`).
macro_rules! on_postgres {
    ($($entries:tt)*) => {
        $crate::common::__backend_module!(postgres postgres_only $($entries)*);
    };
}

/// Tests that exist on SQLite only (`sqlite_only::`).
macro_rules! on_sqlite {
    ($($entries:tt)*) => {
        $crate::common::__backend_module!(sqlite sqlite_only $($entries)*);
    };
}

// Each test file uses some of them.
#[allow(unused_imports)]
pub(crate) use {
    __backend_module, __backend_test, __backend_tests, on_both_backends, on_postgres, on_sqlite,
};

/// Counts the statements a connection sends: every one, or all but
/// fk-safe's reads of the catalog (which open with
/// [`fk_safe::CATALOG_READ_MARK`]), so that a count of the writes does not
/// depend on what the catalog cache already holds.
#[derive(Clone)]
pub struct StatementCounter {
    sent: Arc<AtomicUsize>,
    catalog_reads_too: bool,
}

impl Default for StatementCounter {
    /// Counts all but the catalog reads.
    fn default() -> Self {
        StatementCounter {
            sent: Arc::default(),
            catalog_reads_too: false,
        }
    }
}

impl StatementCounter {
    /// Counts every statement, the catalog reads too.
    pub fn every_statement() -> Self {
        StatementCounter {
            catalog_reads_too: true,
            ..StatementCounter::default()
        }
    }

    /// The statements counted so far.
    pub fn count(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            if self.catalog_reads_too || !query.to_string().starts_with(fk_safe::CATALOG_READ_MARK)
            {
                self.sent.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// One `COUNT(*) AS n`.
#[derive(QueryableByName)]
pub struct Count {
    /// The count.
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// The `n` of the first row `sql` (`SELECT COUNT(*) AS n ..`) returns.
pub fn count<C>(conn: &mut C, sql: &str) -> i64
where
    C: LoadConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    let rows: Vec<Count> = diesel::sql_query(sql).load(conn).unwrap();
    rows[0].n
}

/// How many rows `table` holds.
pub fn count_rows<C>(conn: &mut C, table: &str) -> i64
where
    C: LoadConnection,
    for<'a> SqlQuery: LoadQuery<'a, C, Count>,
{
    count(conn, &format!("SELECT COUNT(*) AS n FROM {table}"))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (in this run or an earlier one) uses.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    )
}

/// Says on the terminal that a test is skipped, and why. Written to stderr
/// directly: the test harness captures `println!` of passing tests.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

#[cfg(feature = "postgres")]
pub mod pg {
    use diesel::prelude::*;
    use diesel::PgConnection;

    /// The suite's own database (made by `scripts/test.sh`), so that what
    /// other databases of the server hold never matters. `DATABASE_URL`
    /// overrides it.
    pub const DEFAULT_URL: &str = "postgres://127.0.0.1:5432/fk_safe_test";

    pub fn base_url() -> String {
        std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_string())
    }

    /// `name` as a quoted identifier, for names a test makes hostile.
    pub fn quoted(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// A schema a test makes itself (beside its own), dropped with all it
    /// holds when the test ends, passed or not.
    pub struct DropSchema(pub String);

    impl Drop for DropSchema {
        fn drop(&mut self) {
            use diesel::connection::SimpleConnection;
            let _ = connect_base().batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quoted(&self.0)
            ));
        }
    }

    /// A role made for one test (roles belong to the whole server, so its
    /// name is unique), dropped with its privileges and what it owns when
    /// the test ends, passed or not.
    pub struct TestRole(pub String);

    impl TestRole {
        /// A new role whose name starts with `prefix`, with no rights.
        pub fn new(conn: &mut PgConnection, prefix: &str) -> TestRole {
            use diesel::connection::SimpleConnection;
            let role = TestRole(super::unique_name(prefix));
            conn.batch_execute(&format!("CREATE ROLE {}", quoted(&role.0)))
                .expect("CREATE ROLE");
            role
        }
    }

    impl Drop for TestRole {
        fn drop(&mut self) {
            use diesel::connection::SimpleConnection;
            let _ = connect_base().batch_execute(&format!(
                "DROP OWNED BY {0} CASCADE; DROP ROLE IF EXISTS {0}",
                quoted(&self.0)
            ));
        }
    }

    pub fn connect_base() -> PgConnection {
        let url = base_url();
        PgConnection::establish(&url).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {url}: {e}\n\
                 These tests need a real server and their own database. Run them with\n    \
                 bash scripts/test.sh\n\
                 which starts the local server and creates the database fk_safe_test,\n\
                 or point DATABASE_URL at a database you may create schemas in."
            )
        })
    }

    /// Switches the session to German messages, when this server can send
    /// them. A server built without NLS (no translations at all, such as the
    /// npm binaries of `scripts/postgres-major.sh`) cannot: then the test
    /// prints why it is skipped and gets `false`. Any other server that
    /// refuses is a broken setup, and the test fails.
    #[must_use]
    pub fn german_or_skip(conn: &mut PgConnection, test: &str) -> bool {
        #[derive(QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            setting: String,
        }
        let set = diesel::sql_query("SET lc_messages = 'de_DE.UTF-8'").execute(conn);
        let translates = set.is_ok()
            && diesel::sql_query("SELECT 1/0")
                .execute(conn)
                .is_err_and(|e| e.to_string().contains("Division durch Null"));
        if translates {
            return true;
        }
        // Only the server can say how it was built (pg_config needs a
        // superuser, which the test harness is).
        let configure =
            diesel::sql_query("SELECT setting FROM pg_catalog.pg_config WHERE name = 'CONFIGURE'")
                .get_result::<Setting>(conn)
                .map(|s| s.setting);
        match configure {
            Ok(configure) if !configure.contains("--enable-nls") => {
                super::skip(
                    test,
                    "this PostgreSQL server was built without NLS (pg_config CONFIGURE has no \
                     --enable-nls), so it cannot send German messages",
                );
                false
            }
            other => panic!(
                "the server cannot send German messages (SET lc_messages = 'de_DE.UTF-8': {set:?}; \
                 pg_config CONFIGURE: {other:?}); run `bash scripts/test.sh`, which generates \
                 the locale and restarts PostgreSQL once"
            ),
        }
    }

    /// The server's version as `server_version_num` (180004 for 18.4).
    pub fn server_version(conn: &mut PgConnection) -> i32 {
        #[derive(QueryableByName)]
        struct Version {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            version: i32,
        }
        diesel::sql_query("SELECT current_setting('server_version_num')::int AS version")
            .get_result::<Version>(conn)
            .expect("server_version_num")
            .version
    }

    /// A schema of its own, migrated, dropped when the test ends.
    pub struct PgDb {
        pub schema: String,
    }

    impl PgDb {
        pub fn new() -> Self {
            let schema = super::unique_name("fk_safe_t");
            let mut admin = connect_base();
            diesel::sql_query(format!("CREATE SCHEMA {schema}"))
                .execute(&mut admin)
                .expect("create the test schema");
            let db = PgDb { schema };
            let mut conn = db.conn();
            fk_safe_suite::migrate(&mut conn, fk_safe_suite::POSTGRES_MIGRATIONS)
                .expect("migrate the test schema");
            db
        }

        /// A URL whose sessions start with this schema on the search_path.
        pub fn url(&self) -> String {
            let base = base_url();
            let separator = if base.contains('?') { '&' } else { '?' };
            format!(
                "{base}{separator}options=-c%20search_path%3D{}",
                self.schema
            )
        }

        pub fn conn(&self) -> PgConnection {
            PgConnection::establish(&self.url()).expect("connect to the test schema")
        }
    }

    impl super::FreshDb for PgDb {
        type Connection = PgConnection;
        fn fresh() -> Self {
            PgDb::new()
        }
        fn connect(&self) -> PgConnection {
            self.conn()
        }
        fn database_url(&self) -> String {
            self.url()
        }
    }

    impl Drop for PgDb {
        fn drop(&mut self) {
            if let Ok(mut admin) = PgConnection::establish(&base_url()) {
                let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
                    .execute(&mut admin);
            }
        }
    }
}

#[cfg(feature = "sqlite")]
pub mod sqlite {
    use std::path::PathBuf;

    use diesel::prelude::*;
    use diesel::SqliteConnection;
    use fk_safe::FkConnection;

    /// A database file of its own, migrated, deleted when the test ends.
    pub struct SqliteDb {
        pub path: PathBuf,
    }

    impl SqliteDb {
        pub fn new() -> Self {
            let path =
                std::env::temp_dir().join(format!("{}.sqlite3", super::unique_name("fk_safe_t")));
            let db = SqliteDb { path };
            let mut conn = db.conn();
            fk_safe_suite::migrate(&mut conn, fk_safe_suite::SQLITE_MIGRATIONS)
                .expect("migrate the test database");
            db
        }

        pub fn url(&self) -> String {
            self.path.to_string_lossy().into_owned()
        }

        pub fn conn(&self) -> SqliteConnection {
            let mut conn =
                SqliteConnection::establish(&self.url()).expect("open the test database");
            conn.enforce_foreign_keys().expect("enforce foreign keys");
            conn
        }
    }

    impl super::FreshDb for SqliteDb {
        type Connection = SqliteConnection;
        fn fresh() -> Self {
            SqliteDb::new()
        }
        fn connect(&self) -> SqliteConnection {
            self.conn()
        }
        fn database_url(&self) -> String {
            self.url()
        }
    }

    impl Drop for SqliteDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut path = self.path.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
