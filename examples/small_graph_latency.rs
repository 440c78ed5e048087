//! What a small graph (an author and two posts, as an API handler writes
//! one) costs on PostgreSQL, side by side with the same rows written by hand
//! in one transaction, and how much of it is reading each table's key order
//! (once per table and transaction, see `fk_safe::CATALOG_READ_MARK`).
//!
//!     cargo run --release --example small_graph_latency
//!     DATABASE_URL=postgres://127.0.0.1/test cargo run --release --example small_graph_latency
//!
//! It works in its own schema, `fk_safe_latency`, made afresh and dropped at
//! the end. `FK_SAFE_LATENCY_GRAPHS` sets how many graphs each variant
//! writes (default 500).

use std::process::ExitCode;

#[cfg(feature = "postgres")]
mod run {
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
    use diesel::prelude::*;
    use fk_safe::graph::{insert_graph, Graph};
    use fk_safe::FkOrdered;

    diesel::table! { authors (id) { id -> BigInt, name -> Text } }
    diesel::table! { posts (id) { id -> BigInt, author_id -> BigInt, title -> Text } }

    #[derive(Identifiable)]
    #[diesel(table_name = authors)]
    struct Author {
        id: i64,
    }

    #[derive(Insertable, FkOrdered)]
    #[diesel(table_name = authors)]
    struct NewAuthor {
        name: String,
    }

    #[derive(Insertable, FkOrdered)]
    #[diesel(table_name = posts)]
    #[diesel(belongs_to(Author, foreign_key = author_id))]
    struct NewPost {
        author_id: i64,
        title: String,
    }

    /// Counts statements, and those that read the catalog.
    #[derive(Clone, Default)]
    struct Statements {
        all: Arc<AtomicUsize>,
        catalog: Arc<AtomicUsize>,
    }

    impl Instrumentation for Statements {
        fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                self.all.fetch_add(1, Ordering::Relaxed);
                if query.to_string().starts_with(fk_safe::CATALOG_READ_MARK) {
                    self.catalog.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    const SCHEMA: &str = "CREATE TABLE authors (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL); \
         CREATE TABLE posts (id BIGSERIAL PRIMARY KEY, author_id BIGINT NOT NULL REFERENCES authors (id), \
                             title TEXT NOT NULL);";

    pub fn main() -> ExitCode {
        let base = std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(|| "postgres://127.0.0.1:5432/test".to_string());
        if !base.starts_with("postgres://") && !base.starts_with("postgresql://") {
            eprintln!("error: this example measures PostgreSQL; set DATABASE_URL=postgres://..");
            return ExitCode::FAILURE;
        }
        let graphs: u32 = std::env::var("FK_SAFE_LATENCY_GRAPHS")
            .ok()
            .and_then(|n| n.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(500);
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3Dfk_safe_latency");
        let setup = PgConnection::establish(&base).and_then(|mut admin| {
            admin
                .batch_execute(
                    "DROP SCHEMA IF EXISTS fk_safe_latency CASCADE; CREATE SCHEMA fk_safe_latency",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(admin)
        });
        let mut admin = match setup {
            Ok(admin) => admin,
            Err(error) => {
                eprintln!("error: cannot prepare the schema on {base}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let outcome = measure(&url, graphs);
        let _ = admin.batch_execute("DROP SCHEMA IF EXISTS fk_safe_latency CASCADE");
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    }

    fn measure(url: &str, graphs: u32) -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = PgConnection::establish(url)?;
        conn.batch_execute(SCHEMA)?;
        let statements = Statements::default();
        conn.set_instrumentation(statements.clone());

        let mut by_hand = Duration::ZERO;
        let mut graph_time = Duration::ZERO;
        let (mut graph_statements, mut catalog_statements) = (0, 0);
        for i in 0..graphs {
            let started = Instant::now();
            conn.transaction::<_, diesel::result::Error, _>(|conn| {
                let author: i64 = diesel::insert_into(authors::table)
                    .values(authors::name.eq(format!("by hand {i}")))
                    .returning(authors::id)
                    .get_result(conn)?;
                diesel::insert_into(posts::table)
                    .values(&vec![
                        (posts::author_id.eq(author), posts::title.eq("first")),
                        (posts::author_id.eq(author), posts::title.eq("second")),
                    ])
                    .execute(conn)?;
                Ok(())
            })?;
            by_hand += started.elapsed();

            let mut graph = Graph::new();
            let author = graph
                .add(NewAuthor {
                    name: format!("graph {i}"),
                })
                .handle();
            for title in ["first", "second"] {
                graph
                    .add(NewPost {
                        author_id: 0,
                        title: title.into(),
                    })
                    .parent(author);
            }
            let (all, catalog) = (
                statements.all.load(Ordering::Relaxed),
                statements.catalog.load(Ordering::Relaxed),
            );
            let started = Instant::now();
            insert_graph(&mut conn, &graph)?;
            graph_time += started.elapsed();
            graph_statements = statements.all.load(Ordering::Relaxed) - all;
            catalog_statements = statements.catalog.load(Ordering::Relaxed) - catalog;
        }
        println!("fk-safe small-graph latency on PostgreSQL ({graphs} graphs of 3 rows each)");
        println!(
            "  by hand (BEGIN, 2 INSERTs, COMMIT):  {:>8.3} ms per graph",
            by_hand.as_secs_f64() * 1e3 / f64::from(graphs)
        );
        println!(
            "  insert_graph:                        {:>8.3} ms per graph, {graph_statements} statements, {catalog_statements} of them reading the catalog",
            graph_time.as_secs_f64() * 1e3 / f64::from(graphs)
        );
        Ok(())
    }
}

fn main() -> ExitCode {
    #[cfg(feature = "postgres")]
    {
        run::main()
    }
    #[cfg(not(feature = "postgres"))]
    {
        eprintln!("error: this example needs the `postgres` feature");
        ExitCode::FAILURE
    }
}
