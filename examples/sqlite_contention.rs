//! SQLite under write contention: several threads, each with its own
//! connection to one WAL database, write small graphs with `insert_graph`
//! for a fixed time and count what succeeded and what failed.
//!
//!     cargo run --release --example sqlite_contention
//!
//! Two kinds of graph are measured, one after the other, each on a new file:
//! `existing` (a customer, an order and 4 items that reference products
//! already in the database, so `insert_graph` reads before it writes) and
//! `new` (the same, with the items' product a new row of the graph, so the
//! first statement is a write). Settings, from the environment:
//! `FK_SAFE_CONTENTION_SECONDS` (per kind, default 15),
//! `FK_SAFE_CONTENTION_THREADS` (default 4), `FK_SAFE_CONTENTION_BUSY_MS`
//! (`PRAGMA busy_timeout`, default 2000) and `FK_SAFE_CONTENTION_KINDS`
//! (default `existing,new`). One line per kind is printed, and appended as
//! JSON to `target/bench/sqlite_contention.jsonl`.

use std::process::ExitCode;

#[cfg(feature = "sqlite")]
mod run {
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::process::ExitCode;
    use std::sync::{Arc, Barrier};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use diesel::prelude::*;
    use fk_safe::graph::{insert_graph, Graph};
    use fk_safe::FkConnection;
    use fk_safe_suite::models::{NewCustomer, NewOrder, NewOrderItem, NewProduct};
    use fk_safe_suite::schema::{customers, order_items};

    const PRODUCTS: i64 = 200;
    const ITEMS: usize = 4;

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Existing,
        New,
    }

    impl Kind {
        fn name(self) -> &'static str {
            match self {
                Kind::Existing => "existing",
                Kind::New => "new",
            }
        }
    }

    /// What one thread saw.
    #[derive(Default)]
    struct Tally {
        ok: u64,
        locked: u64,
        /// The shortest call that ended in "database is locked": about the
        /// busy timeout when the lock was waited for, about 0 when SQLite
        /// failed at once.
        locked_fastest: Option<Duration>,
        other: BTreeMap<String, u64>,
    }

    fn setting<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
        match std::env::var(name) {
            Ok(text) => text
                .parse()
                .map_err(|_| format!("{name}={text} is not a valid value")),
            Err(_) => Ok(default),
        }
    }

    fn connect(path: &str, busy_ms: u64) -> Result<SqliteConnection, String> {
        let mut conn = SqliteConnection::establish(path).map_err(|e| e.to_string())?;
        conn.enforce_foreign_keys().map_err(|e| e.to_string())?;
        diesel::sql_query(format!("PRAGMA busy_timeout = {busy_ms}"))
            .execute(&mut conn)
            .map_err(|e| e.to_string())?;
        Ok(conn)
    }

    fn graph(kind: Kind, thread: usize, n: u64) -> Graph<diesel::sqlite::Sqlite> {
        let mut graph = Graph::new();
        let customer = graph
            .add(NewCustomer {
                email: format!("t{thread}-{n}@example.com"),
                name: format!("Customer {thread}-{n}"),
            })
            .handle();
        let order = graph
            .add(NewOrder {
                customer_id: 0,
                total_cents: 100,
            })
            .parent(customer)
            .handle();
        let product = match kind {
            Kind::Existing => None,
            Kind::New => Some(
                graph
                    .add(NewProduct {
                        sku: format!("T{thread}-{n}"),
                        name: "New product".into(),
                        price_cents: 100,
                    })
                    .handle(),
            ),
        };
        for i in 0..ITEMS {
            let item = graph
                .add(NewOrderItem {
                    order_id: 0,
                    // An existing product's id (1..=PRODUCTS), unless linked.
                    product_id: (n as i64 + i as i64) % PRODUCTS + 1,
                    quantity: 1,
                })
                .parent(order);
            if let Some(product) = product {
                let _ = item.parent(product);
            }
        }
        graph
    }

    fn measure(kind: Kind, threads: usize, seconds: u64, busy_ms: u64) -> Result<String, String> {
        let path = std::env::temp_dir().join(format!(
            "fk-safe-contention-{}-{}.sqlite3",
            kind.name(),
            std::process::id()
        ));
        let path = path.to_string_lossy().into_owned();
        let mut setup = connect(&path, busy_ms)?;
        fk_safe_suite::migrate(&mut setup, fk_safe_suite::SQLITE_MIGRATIONS)
            .map_err(|e| e.to_string())?;
        diesel::sql_query("PRAGMA journal_mode = WAL")
            .execute(&mut setup)
            .map_err(|e| e.to_string())?;
        diesel::sql_query(format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {PRODUCTS}) \
             INSERT INTO products (id, sku, name, price_cents) SELECT i, 'P' || i, 'Product', 100 FROM n"
        ))
        .execute(&mut setup)
        .map_err(|e| e.to_string())?;

        let barrier = Arc::new(Barrier::new(threads));
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let path = path.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || -> Result<Tally, String> {
                    let mut conn = connect(&path, busy_ms)?;
                    let mut tally = Tally::default();
                    barrier.wait();
                    let end = Instant::now() + Duration::from_secs(seconds);
                    let mut n = 0;
                    while Instant::now() < end {
                        let graph = graph(kind, thread, n);
                        let call = Instant::now();
                        match insert_graph(&mut conn, &graph) {
                            Ok(_) => tally.ok += 1,
                            Err(error) => {
                                let text = error.to_string();
                                if text.contains("database is locked") {
                                    tally.locked += 1;
                                    let took = call.elapsed();
                                    tally.locked_fastest =
                                        Some(tally.locked_fastest.map_or(took, |t| t.min(took)));
                                } else {
                                    *tally.other.entry(text).or_default() += 1;
                                }
                            }
                        }
                        n += 1;
                    }
                    Ok(tally)
                })
            })
            .collect();
        let mut total = Tally::default();
        for worker in workers {
            let tally = worker
                .join()
                .map_err(|_| "a worker thread panicked".to_string())??;
            total.ok += tally.ok;
            total.locked += tally.locked;
            total.locked_fastest = match (total.locked_fastest, tally.locked_fastest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for (text, count) in tally.other {
                *total.other.entry(text).or_default() += count;
            }
        }
        // Every success must be in the database, whole.
        let written: i64 = customers::table
            .count()
            .get_result(&mut setup)
            .map_err(|e| e.to_string())?;
        let items: i64 = order_items::table
            .count()
            .get_result(&mut setup)
            .map_err(|e| e.to_string())?;
        drop(setup);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
        if written as u64 != total.ok || items as u64 != total.ok * ITEMS as u64 {
            return Err(format!(
                "{} graphs reported written, but the database holds {written} customers and {items} items",
                total.ok
            ));
        }
        let other: u64 = total.other.values().sum();
        // The machine may be shared: the load says how much of it this had.
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "null".into());
        let fastest_ms = total.locked_fastest.map_or_else(
            || "null".to_string(),
            |t| format!("{:.1}", t.as_secs_f64() * 1e3),
        );
        println!(
            "{:<8} {threads} threads, {seconds} s, busy_timeout {busy_ms} ms: {} graphs written, \
             {} \"database is locked\" (the fastest after {fastest_ms} ms), {other} other errors \
             (load average {load})",
            kind.name(),
            total.ok,
            total.locked
        );
        for (text, count) in &total.other {
            println!("    {count} x {text}");
        }
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        Ok(format!(
            "{{\"kind\":\"{}\",\"threads\":{threads},\"seconds\":{seconds},\"busy_timeout_ms\":{busy_ms},\
             \"ok\":{},\"locked\":{},\"locked_fastest_ms\":{fastest_ms},\"other_errors\":{other},\"loadavg_1m\":{load},\
             \"timestamp\":{timestamp}}}",
            kind.name(),
            total.ok,
            total.locked
        ))
    }

    pub fn main() -> ExitCode {
        let settings = (|| -> Result<_, String> {
            let seconds = setting("FK_SAFE_CONTENTION_SECONDS", 15u64)?;
            let threads = setting("FK_SAFE_CONTENTION_THREADS", 4usize)?.max(1);
            let busy_ms = setting("FK_SAFE_CONTENTION_BUSY_MS", 2000u64)?;
            let kinds = setting("FK_SAFE_CONTENTION_KINDS", "existing,new".to_string())?;
            let kinds = kinds
                .split(',')
                .map(|kind| match kind.trim() {
                    "existing" => Ok(Kind::Existing),
                    "new" => Ok(Kind::New),
                    other => Err(format!(
                        "FK_SAFE_CONTENTION_KINDS: unknown kind {other:?} (existing, new)"
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((seconds, threads, busy_ms, kinds))
        })();
        let (seconds, threads, busy_ms, kinds) = match settings {
            Ok(settings) => settings,
            Err(why) => {
                eprintln!("{why}");
                return ExitCode::FAILURE;
            }
        };
        let mut lines = Vec::new();
        for kind in kinds {
            match measure(kind, threads, seconds, busy_ms) {
                Ok(line) => lines.push(line),
                Err(why) => {
                    eprintln!("{}: {why}", kind.name());
                    return ExitCode::FAILURE;
                }
            }
        }
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
        let written = std::fs::create_dir_all(&out).and_then(|()| {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(out.join("sqlite_contention.jsonl"))?;
            lines.iter().try_for_each(|line| writeln!(file, "{line}"))
        });
        if let Err(error) = written {
            eprintln!("could not append to target/bench/sqlite_contention.jsonl: {error}");
        }
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    #[cfg(feature = "sqlite")]
    return run::main();
    #[cfg(not(feature = "sqlite"))]
    {
        eprintln!("this example needs the `sqlite` feature");
        ExitCode::FAILURE
    }
}
