//! Test harness: every test gets its own freshly migrated PostgreSQL schema
//! and its own SQLite file, so the suite runs in parallel and re-runs on a
//! used server. Nothing here is mocked.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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
