//! The graph-insert benchmark: how fast `insert_graph()` writes a graph of
//! customers -> orders -> order items, side by side with what the database
//! can do on its own and with the hand-written alternatives.
//!
//! One run: for each backend and each size N, the same data (N customers,
//! each with 5 orders of 4 items, the items referencing 200 existing
//! products: 26 rows per customer) is written by every variant, each in one
//! transaction, each starting from the same state (products filled, every
//! other table empty):
//!
//! - `insert_graph`: build a `Graph` and call `fk_safe::insert_graph`;
//! - `server_limit`: PostgreSQL writes the rows itself (`INSERT .. SELECT`
//!   from `generate_series`); on SQLite, which has no server, the fastest
//!   hand-written Diesel loop (one prepared `INSERT` per row, `RETURNING id`
//!   only for parents);
//! - `per_row_returning`: one `INSERT .. RETURNING id` per row, parents first
//!   (the fix most guides recommend);
//! - `raw_batched_known_ids`: Diesel multi-row inserts with ids chosen by the
//!   client, chunked under the bind-parameter limit (the client-side ceiling).
//!
//! Then a look-up section: N customers exist (N = 20,000 by default), and
//! three variants find all N ids by email, each in one transaction:
//!
//! - `lookup_insert_graph`: N `graph.lookup::<NewCustomer>(email)` handles,
//!   each the parent of one new order, written by `insert_graph`;
//! - `get_or_insert_existing`: N `graph.get_or_insert(NewCustomer { .. })`
//!   of customers that all exist already (no row may be added);
//! - `select_loop_by_email`: the hand-written alternative, a cached prepared
//!   `SELECT id FROM customers WHERE email = $1` per key, then the same N
//!   orders as Diesel multi-row inserts.
//!
//! Every variant is verified afterwards (row counts, every order and item
//! hanging from the right parent, every id found equal to the existing one);
//! a wrong result aborts the run. Times are reported, never asserted.
//!
//! ```sh
//! cargo bench --bench graph_insert                            # full series
//! FK_SAFE_BENCH_SMOKE=1 cargo bench --bench graph_insert       # CI smoke run
//! FK_SAFE_BENCH_ONLY=lookups cargo bench --bench graph_insert  # look-ups only
//! ```
//!
//! Environment:
//! - `FK_SAFE_BENCH_SIZES`: comma-separated customer counts N (default
//!   `100,1000,10000,38462`, i.e. 2,600 to 1,000,012 rows);
//! - `FK_SAFE_BENCH_BACKENDS`: `postgres,sqlite` (default both);
//! - `FK_SAFE_BENCH_SMOKE=1`: N = 20 (look-ups too), one run, few error-path
//!   iterations
//!   (also the default when the binary is run without `--bench`, e.g. by
//!   `cargo test --benches`);
//! - `FK_SAFE_BENCH_REPS`: runs per size (default 5 up to 26,000 rows, 3
//!   above; the median is reported);
//! - `FK_SAFE_BENCH_VARIANTS`: a subset of the variants, comma-separated;
//! - `FK_SAFE_BENCH_PER_ROW_MAX_ROWS`: skip `per_row_returning` above this
//!   many rows (default 260,000 on PostgreSQL, no limit on SQLite);
//! - `FK_SAFE_BENCH_RSS=0`: skip the peak-memory child processes;
//! - `FK_SAFE_BENCH_LOOKUP_SIZES`: comma-separated customer counts N of the
//!   look-up section (default `20000`; 20 in the smoke run);
//! - `FK_SAFE_BENCH_LOOKUPS=0`: skip the look-up section;
//! - `FK_SAFE_BENCH_ONLY`: `graph_insert` (the series and the error path) or
//!   `lookups` (only the look-up section);
//! - `DATABASE_URL`: the PostgreSQL server (default
//!   `postgres://127.0.0.1:5432/test`); the run works in its own schema
//!   `fk_safe_bench_<pid>`, dropped at the end.
//!
//! Results are printed as tables and appended, one JSON object per
//! measurement, to `target/bench/graph_insert.jsonl` in the workspace root
//! (there whatever `CARGO_TARGET_DIR` says).
//!
//! The data is [`fk_safe_suite::shop`]'s shop graph; each module below is
//! one part of the run: `data`, `instrumentation` (statements, CPU, memory),
//! `checks`, `variants` (`insert_graph` and timing a run), `baselines` (the
//! hand-written alternatives), `targets` (one per backend), `memory` (the
//! peak-memory child process), `error_path`, `lookups` and `report` (tables
//! and JSON lines).

mod baselines;
mod checks;
mod data;
mod error_path;
mod instrumentation;
mod lookups;
mod memory;
mod report;
mod targets;
mod variants;

use std::fmt::Display;
use std::path::{Path, PathBuf};

use baselines::BenchConn;
use data::{rows_of, DEFAULT_SIZES, SMOKE_SIZE};
use error_path::error_path;
use lookups::{run_lookups, DEFAULT_LOOKUP_SIZES};
use memory::{child_main, measure_in_child, CHILD_ENV};
use report::{
    append_jsonl, error_path_json, grouped, measurement_json, mib, print_backend, print_error_path,
    RunInfo,
};
use targets::{PgSchema, PgTarget, SqliteTarget, Target};
use variants::{median_sample, run_once, Measurement, Sample, Variant, VARIANTS};

// ---------------------------------------------------------------------------
// Errors: any failure (a wrong row count above all) aborts with a message.
// ---------------------------------------------------------------------------

type Res<T> = Result<T, String>;

trait Context<T> {
    fn ctx(self, what: impl Display) -> Res<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn ctx(self, what: impl Display) -> Res<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

// ---------------------------------------------------------------------------
// The run.
// ---------------------------------------------------------------------------

struct Config {
    sizes: Vec<usize>,
    backends: Vec<String>,
    variants: Vec<Variant>,
    reps: Option<usize>,
    per_row_max_rows: Option<Option<usize>>,
    rss: bool,
    smoke: bool,
    error_iterations: usize,
    error_transactions: usize,
    /// Whether the graph-insert series (and the error path) runs.
    graph_series: bool,
    /// The look-up section's sizes; empty when it is skipped.
    lookup_sizes: Vec<usize>,
}

fn env_list(name: &str) -> Option<Vec<String>> {
    let value = std::env::var(name).ok()?;
    let items: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

fn env_usize(name: &str) -> Res<Option<usize>> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .map(Some)
            .ctx(format!("{name}={v}")),
        Err(_) => Ok(None),
    }
}

impl Config {
    fn from_env() -> Res<Self> {
        // `cargo bench` passes `--bench`; anything else (`cargo test
        // --benches`) gets the smoke run unless sizes are given.
        let benching = std::env::args().any(|a| a == "--bench");
        let smoke = std::env::var("FK_SAFE_BENCH_SMOKE").is_ok_and(|v| v != "0")
            || (!benching && std::env::var("FK_SAFE_BENCH_SIZES").is_err());
        let sizes = match env_list("FK_SAFE_BENCH_SIZES") {
            Some(list) => list
                .iter()
                .map(|s| s.replace('_', "").parse::<usize>().ctx(format!("size {s}")))
                .collect::<Res<Vec<_>>>()?,
            None if smoke => vec![SMOKE_SIZE],
            None => DEFAULT_SIZES.to_vec(),
        };
        if sizes.contains(&0) {
            return Err("sizes must be at least 1 customer".into());
        }
        let backends = env_list("FK_SAFE_BENCH_BACKENDS")
            .unwrap_or_else(|| vec!["postgres".into(), "sqlite".into()]);
        for b in &backends {
            if b != "postgres" && b != "sqlite" {
                return Err(format!("unknown backend {b} (postgres, sqlite)"));
            }
        }
        let variants = match env_list("FK_SAFE_BENCH_VARIANTS") {
            Some(list) => list
                .iter()
                .map(|v| Variant::parse(v).ok_or_else(|| format!("unknown variant {v}")))
                .collect::<Res<Vec<_>>>()?,
            None => VARIANTS.to_vec(),
        };
        let per_row_max_rows = env_usize("FK_SAFE_BENCH_PER_ROW_MAX_ROWS")?.map(Some);
        let only = std::env::var("FK_SAFE_BENCH_ONLY").ok();
        let (graph_series, lookups) = match only.as_deref().map(str::trim) {
            None | Some("") => (true, true),
            Some("graph_insert") => (true, false),
            Some("lookups") => (false, true),
            Some(other) => {
                return Err(format!(
                    "FK_SAFE_BENCH_ONLY={other}: expected graph_insert or lookups"
                ))
            }
        };
        let lookups = lookups && std::env::var("FK_SAFE_BENCH_LOOKUPS").map_or(true, |v| v != "0");
        let lookup_sizes = match env_list("FK_SAFE_BENCH_LOOKUP_SIZES") {
            _ if !lookups => Vec::new(),
            Some(list) => list
                .iter()
                .map(|s| s.replace('_', "").parse::<usize>().ctx(format!("size {s}")))
                .collect::<Res<Vec<_>>>()?,
            None if smoke => vec![SMOKE_SIZE],
            None => DEFAULT_LOOKUP_SIZES.to_vec(),
        };
        if lookup_sizes.contains(&0) {
            return Err("look-up sizes must be at least 1 customer".into());
        }
        let small = smoke || sizes.iter().all(|&n| rows_of(n) < 26_000);
        Ok(Config {
            sizes,
            backends,
            variants,
            reps: if smoke {
                Some(1)
            } else {
                env_usize("FK_SAFE_BENCH_REPS")?
            },
            per_row_max_rows,
            rss: std::env::var("FK_SAFE_BENCH_RSS").map_or(true, |v| v != "0"),
            smoke,
            error_iterations: if small { 200 } else { 10_000 },
            error_transactions: if small { 20 } else { 1_000 },
            graph_series,
            lookup_sizes,
        })
    }

    fn reps(&self, rows: usize) -> usize {
        self.reps.unwrap_or(if rows <= 26_000 { 5 } else { 3 })
    }
}

fn run_backend<T: Target>(
    target: &mut T,
    config: &Config,
    info: &RunInfo,
    jsonl: &Path,
) -> Res<()> {
    if config.graph_series {
        run_graph_series(target, config, info, jsonl)?;
    }
    if !config.lookup_sizes.is_empty() {
        run_lookups(target, config, info, jsonl)?;
    }
    Ok(())
}

/// The graph-insert series of every size, then the error path.
fn run_graph_series<T: Target>(
    target: &mut T,
    config: &Config,
    info: &RunInfo,
    jsonl: &Path,
) -> Res<()> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    let version = target.version();
    let per_row_max = config
        .per_row_max_rows
        .unwrap_or_else(|| target.default_per_row_max_rows());
    eprintln!("[{backend}] {version}");

    let variants: Vec<Variant> = config
        .variants
        .iter()
        .copied()
        .filter(|&v| target.supports(v))
        .collect();
    // Warm-up: every variant once at the smoke size, not recorded.
    for &variant in &variants {
        run_once(target, variant, SMOKE_SIZE)?;
    }

    let mut measurements = Vec::new();
    for &n in &config.sizes {
        let rows = rows_of(n);
        let reps = config.reps(rows).max(1);
        let mut samples: Vec<(Variant, Vec<Sample>)> =
            variants.iter().map(|&v| (v, Vec::new())).collect();
        // Interleaved, so that drift on the machine spreads over all variants.
        for rep in 0..reps {
            for (variant, runs) in &mut samples {
                if *variant == Variant::PerRowReturning && per_row_max.is_some_and(|max| rows > max)
                {
                    continue;
                }
                let sample = run_once(target, *variant, n)?;
                eprintln!(
                    "[{backend}] {:>9} rows  {:<22} run {}/{reps}: {:.3} s, {} statements",
                    grouped(rows as u64),
                    variant.name(),
                    rep + 1,
                    sample.wall.as_secs_f64(),
                    sample.statements
                );
                runs.push(sample);
            }
        }
        for (variant, runs) in samples {
            let skipped = (variant == Variant::PerRowReturning)
                .then_some(per_row_max)
                .flatten()
                .filter(|&max| rows > max)
                .map(|max| format!("> {} rows", grouped(max as u64)));
            let peak_rss = if config.rss
                && skipped.is_none()
                && matches!(variant, Variant::InsertGraph | Variant::RawBatchedKnownIds)
            {
                let report = measure_in_child(target, variant, n)?;
                eprintln!(
                    "[{backend}] {:>9} rows  {:<22} peak RSS {} (baseline {}) in a child process",
                    grouped(rows as u64),
                    variant.name(),
                    mib(report.peak_rss),
                    mib(report.baseline_rss)
                );
                Some(report)
            } else {
                None
            };
            let (median, walls) = median_sample(runs);
            let m = Measurement {
                backend,
                variant,
                n,
                median,
                walls,
                skipped,
                peak_rss,
            };
            append_jsonl(jsonl, &[measurement_json(info, &version, &m)?])?;
            measurements.push(m);
        }
    }
    print_backend(backend, &version, &measurements);

    let e = error_path(target, config.error_iterations, config.error_transactions)?;
    append_jsonl(jsonl, &error_path_json(info, backend, &version, &e)?)?;
    print_error_path(backend, &e);
    Ok(())
}

fn run() -> Res<()> {
    let config = Config::from_env()?;
    let root = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    );
    let jsonl = root.join("target").join("bench").join("graph_insert.jsonl");
    let info = RunInfo::new(&root, config.smoke);
    println!(
        "# graph_insert benchmark{}\n\nrun {} at {}, commit {}{}; sizes (customers) {:?}, \
         26 rows each{}; look-up sizes {:?}; backends {:?}; results appended to {}",
        if config.smoke { " (smoke)" } else { "" },
        info.run_id,
        info.timestamp,
        info.git_commit.as_deref().unwrap_or("unknown"),
        match info.git_modified.as_deref() {
            Some(files) if !files.is_empty() => format!(" (modified: {files})"),
            _ => String::new(),
        },
        config.sizes,
        if config.graph_series {
            ""
        } else {
            " (series skipped)"
        },
        config.lookup_sizes,
        config.backends,
        jsonl.display()
    );
    for backend in &config.backends {
        match backend.as_str() {
            "postgres" => {
                let schema = PgSchema::create()?;
                let mut target = PgTarget::connect(&schema.url(), true)?;
                run_backend(&mut target, &config, &info, &jsonl)?;
            }
            _ => {
                let path = std::env::temp_dir()
                    .join(format!("fk_safe_bench_{}.sqlite3", std::process::id()));
                let mut target = SqliteTarget::open(path)?;
                run_backend(&mut target, &config, &info, &jsonl)?;
            }
        }
    }
    Ok(())
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        if let Err(e) = child_main(&spec) {
            eprintln!("graph_insert benchmark child FAILED: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run() {
        eprintln!("\ngraph_insert benchmark FAILED: {e}");
        std::process::exit(1);
    }
}
