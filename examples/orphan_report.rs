//! What the orphan report (`fk_safe::integrity::orphans`) costs on a child
//! table of 1,000,000 rows, on PostgreSQL and SQLite, beside the LEFT JOIN
//! count one writes by hand (and, on SQLite, `PRAGMA foreign_key_check`).
//! Figures are in BENCHMARKS.md, "The orphan report".
//!
//!     cargo run --release --example orphan_report
//!
//! PostgreSQL is reached at `DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/fk_safe_test`), in a schema of its
//! own, `fk_safe_orphan_bench`, made afresh and dropped at the end; SQLite
//! in a file of its own in the temporary directory, deleted at the end.
//! `FK_SAFE_ORPHAN_ROWS` sets the child table's size (default 1,000,000),
//! with 100,000 parents. Two series: one child row in a thousand an orphan
//! (and one in a hundred with a NULL key), then every row an orphan, where
//! the count is complete and the sample still ten rows.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use fk_safe::integrity::orphans::{orphans, OrphanOptions, OrphanReport};
use fk_safe::{FkCatalog, FkConnection};

const PARENTS: i64 = 100_000;
const RUNS: usize = 3;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The fastest of [`RUNS`] runs of `work`, and its last answer.
fn fastest<T>(mut work: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut answer = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let result = work();
        best = best.min(started.elapsed());
        answer = Some(result);
    }
    (best, answer.expect("at least one run"))
}

/// One orphan in `every` child rows, the series measured.
const SERIES: [i64; 2] = [1000, 1];

/// Measures the report and the hand-written count on `conn`, whose schema
/// `schema` holds the planted tables.
fn measure<C>(
    conn: &mut C,
    database: &str,
    schema: &str,
    (rows, every): (i64, i64),
    extra: &[(&str, &str)],
) where
    C: FkConnection,
    for<'a> diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'a, C, Count>,
{
    let options = OrphanOptions::new().schema(schema).table("bench_children");
    let catalog = FkCatalog::new();
    let (report_time, report): (_, OrphanReport) =
        fastest(|| orphans(conn, &catalog, &options).expect("the orphan report"));
    let found = report.total_orphans();
    // Child ids `every * k + every - 1` are the orphans.
    assert_eq!(i64::try_from(found).ok(), Some(rows / every));
    println!(
        "{database}: {rows} child rows, {found} orphans: orphan report {:.0} ms (sample of {})",
        report_time.as_secs_f64() * 1e3,
        report.constraints[0].sample.len()
    );
    let by_hand = "SELECT COUNT(*) AS n FROM bench_children c \
                   LEFT JOIN bench_parents p ON p.id = c.parent_id \
                   WHERE c.parent_id IS NOT NULL AND p.id IS NULL";
    for (label, sql) in [("LEFT JOIN count by hand", by_hand)]
        .into_iter()
        .chain(extra.iter().copied())
    {
        let (time, rows_back): (_, Vec<Count>) =
            fastest(|| diesel::sql_query(sql).load(conn).expect(label));
        println!(
            "{database}: {label} {:.0} ms ({} rows back, first {:?})",
            time.as_secs_f64() * 1e3,
            rows_back.len(),
            rows_back.first().map(|c| c.n)
        );
    }
}

/// Parents `1..=PARENTS`; child `i` points at parent `i % PARENTS + 1`,
/// except one in `every` (an orphan, parent `PARENTS + 1 + i`) and every
/// hundredth otherwise (NULL).
fn child_parent(i: &str, every: i64) -> String {
    format!(
        "CASE WHEN {i} % {every} = {every} - 1 THEN {PARENTS} + 1 + {i} \
              WHEN {i} % 100 = 0 THEN NULL ELSE {i} % {PARENTS} + 1 END"
    )
}

#[cfg(feature = "postgres")]
fn postgres(rows: i64) -> Result<(), String> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/fk_safe_test".to_string());
    // The URL is not repeated: it may hold a password.
    let mut conn = PgConnection::establish(&url).map_err(|e| {
        let e = e.to_string();
        format!("cannot connect ({}); set DATABASE_URL=postgres://.. to a database you may create schemas in", e.trim_end())
    })?;
    let schema = "fk_safe_orphan_bench";
    conn.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema};
         CREATE TABLE bench_parents (id BIGINT PRIMARY KEY);
         INSERT INTO bench_parents SELECT generate_series(1, {PARENTS});
         ANALYZE bench_parents;"
    ))
    .map_err(|e| e.to_string())?;
    for every in SERIES {
        let started = Instant::now();
        conn.batch_execute(&format!(
            "DROP TABLE IF EXISTS bench_children;
             CREATE TABLE bench_children (id BIGINT PRIMARY KEY, parent_id BIGINT);
             INSERT INTO bench_children SELECT i, {} FROM generate_series(0, {rows} - 1) AS i;
             ALTER TABLE bench_children ADD FOREIGN KEY (parent_id) REFERENCES bench_parents (id) NOT VALID;
             ANALYZE bench_children;",
            child_parent("i", every)
        ))
        .map_err(|e| e.to_string())?;
        let planted = started.elapsed().as_secs_f64();
        println!("postgres: planted in {planted:.1} s");
        measure(&mut conn, "postgres", schema, (rows, every), &[]);
    }
    conn.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .map_err(|e| e.to_string())
}

#[cfg(feature = "sqlite")]
fn sqlite(rows: i64) -> Result<(), String> {
    let path = std::env::temp_dir().join(format!(
        "fk_safe_orphan_bench_{}.sqlite3",
        std::process::id()
    ));
    let url = path.to_string_lossy().into_owned();
    let result = (|| {
        let mut conn = SqliteConnection::establish(&url).map_err(|e| e.to_string())?;
        conn.batch_execute(&format!(
            "PRAGMA foreign_keys = OFF; PRAGMA journal_mode = WAL;
             CREATE TABLE bench_parents (id INTEGER PRIMARY KEY);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {PARENTS})
             INSERT INTO bench_parents SELECT i FROM n;"
        ))
        .map_err(|e| e.to_string())?;
        for every in SERIES {
            let started = Instant::now();
            conn.batch_execute(&format!(
                "DROP TABLE IF EXISTS bench_children;
                 CREATE TABLE bench_children (id INTEGER PRIMARY KEY,
                     parent_id BIGINT REFERENCES bench_parents (id));
                 CREATE INDEX bench_children_parent ON bench_children (parent_id);
                 BEGIN;
                 WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {rows} - 1)
                 INSERT INTO bench_children SELECT i, {} FROM n;
                 COMMIT; ANALYZE;",
                child_parent("i", every)
            ))
            .map_err(|e| e.to_string())?;
            let planted = started.elapsed().as_secs_f64();
            println!("sqlite: planted in {planted:.1} s");
            measure(
                &mut conn,
                "sqlite",
                "main",
                (rows, every),
                &[(
                    "PRAGMA foreign_key_check (one row per orphan)",
                    "SELECT rowid AS n FROM pragma_foreign_key_check('bench_children')",
                )],
            );
        }
        Ok(())
    })();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
    result
}

fn main() -> ExitCode {
    let rows = std::env::var("FK_SAFE_ORPHAN_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut outcome = ExitCode::SUCCESS;
    #[cfg(feature = "postgres")]
    if let Err(error) = postgres(rows) {
        eprintln!("postgres: {error}");
        outcome = ExitCode::FAILURE;
    }
    #[cfg(feature = "sqlite")]
    if let Err(error) = sqlite(rows) {
        eprintln!("sqlite: {error}");
        outcome = ExitCode::FAILURE;
    }
    outcome
}
