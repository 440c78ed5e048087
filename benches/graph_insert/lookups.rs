//! Look-ups: existing rows found by their natural key.

use std::path::Path;
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::baselines::BenchConn;
use crate::checks::triangle;
use crate::data::{email, SMOKE_SIZE};
use crate::instrumentation::{duration_sub, thread_cpu, Counter};
use crate::report::{
    all_seconds, append_jsonl, grouped, json_line, opt, secs, LookupLine, RunInfo, Table,
};
use crate::targets::Target;
use crate::variants::{median_sample, Sample};
use crate::{Config, Res};

/// N existing customers (default of `FK_SAFE_BENCH_LOOKUP_SIZES`).
pub const DEFAULT_LOOKUP_SIZES: &[usize] = &[20_000];

/// The look-up section: N customers exist (seeded, not timed); each variant
/// finds all N ids by email in one transaction. `lookup_insert_graph` and
/// `select_loop_by_email` also write one order per customer, linked to the
/// id found, so that both leave the same rows and the same check applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupVariant {
    /// `graph.lookup::<NewCustomer>(email)` N times, one `NewOrder` with
    /// `.parent(handle)` each, then `insert_graph`.
    GraphLookup,
    /// `graph.get_or_insert(NewCustomer { .. })` N times, every one of them
    /// already in the table, then `insert_graph`: no row may be added.
    GetOrInsert,
    /// The hand-written alternative: a cached prepared
    /// `SELECT id FROM customers WHERE email = $1 LIMIT 1` per key, then the
    /// N orders as Diesel multi-row inserts, in one transaction.
    SelectLoop,
}

pub const LOOKUP_VARIANTS: [LookupVariant; 3] = [
    LookupVariant::GraphLookup,
    LookupVariant::GetOrInsert,
    LookupVariant::SelectLoop,
];

impl LookupVariant {
    pub fn name(self) -> &'static str {
        match self {
            LookupVariant::GraphLookup => "lookup_insert_graph",
            LookupVariant::GetOrInsert => "get_or_insert_existing",
            LookupVariant::SelectLoop => "select_loop_by_email",
        }
    }

    /// Whether the variant writes one order per customer.
    pub fn writes_orders(self) -> bool {
        self != LookupVariant::GetOrInsert
    }
}

/// Runs a look-up variant once against N freshly seeded customers, timed,
/// then checks the ids it found and the rows it left.
pub fn run_lookup_once<T: Target>(target: &mut T, variant: LookupVariant, n: usize) -> Res<Sample> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    target.reset()?;
    let existing = target.conn().seed_customers(n)?;
    let counter = Counter::default();
    target.conn().set_instrumentation(counter.clone());
    let server_before = target.server_cpu();
    let cpu_before = thread_cpu();
    let start = Instant::now();
    let found = target.conn().lookup_variant(variant, n)?;
    let wall = start.elapsed();
    let client_cpu = duration_sub(thread_cpu(), cpu_before);
    let server_cpu = duration_sub(target.server_cpu(), server_before);
    let sample = Sample {
        wall,
        build: None,
        statements: counter.statements(),
        in_statements: counter.in_statements(),
        client_cpu,
        server_cpu,
    };
    target.conn().set_instrumentation(Counter::default());

    let wrong = |what: String| {
        format!(
            "{backend} {} (N = {n}) gave a wrong result: {what}",
            variant.name()
        )
    };
    if found.len() != n {
        return Err(wrong(format!("{} ids for {n} keys", found.len())));
    }
    if let Some(c) = (0..n).find(|&c| found[c] != existing[c]) {
        return Err(wrong(format!(
            "{} has id {}, found {}",
            email(c),
            existing[c],
            found[c]
        )));
    }
    let orders_n = if variant.writes_orders() { n } else { 0 };
    let checks: [(&str, &str, i64); 5] = [
        ("customers", "SELECT COUNT(*) AS n FROM customers", n as i64),
        (
            "distinct customer emails",
            "SELECT COUNT(DISTINCT email) AS n FROM customers",
            n as i64,
        ),
        (
            "orders",
            "SELECT COUNT(*) AS n FROM orders",
            orders_n as i64,
        ),
        (
            "sum of orders.total_cents",
            "SELECT CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) AS n FROM orders",
            triangle(orders_n),
        ),
        (
            "orders under a customer of another email",
            "SELECT COUNT(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE c.email <> 'customer' || o.total_cents || '@bench.example'",
            0,
        ),
    ];
    for (what, sql, expected) in checks {
        let got = target.conn().scalar(sql)?;
        if got != expected {
            return Err(wrong(format!("{what} is {got}, expected {expected}")));
        }
    }
    Ok(sample)
}

/// The figures of one look-up variant at one size.
pub struct LookupMeasurement {
    pub variant: LookupVariant,
    pub n: usize,
    pub median: Option<Sample>,
    pub walls: Vec<Duration>,
}

pub fn run_lookups<T: Target>(
    target: &mut T,
    config: &Config,
    info: &RunInfo,
    jsonl: &Path,
) -> Res<()> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    let version = target.version();
    eprintln!("[{backend}] {version}: look-ups");
    // Warm-up: every variant once at the smoke size, not recorded.
    for variant in LOOKUP_VARIANTS {
        run_lookup_once(target, variant, SMOKE_SIZE)?;
    }
    let mut measurements = Vec::new();
    for &n in &config.lookup_sizes {
        let reps = config.reps(n).max(1);
        let mut samples: Vec<(LookupVariant, Vec<Sample>)> =
            LOOKUP_VARIANTS.iter().map(|&v| (v, Vec::new())).collect();
        for rep in 0..reps {
            for (variant, runs) in &mut samples {
                let sample = run_lookup_once(target, *variant, n)?;
                eprintln!(
                    "[{backend}] {:>9} keys  {:<22} run {}/{reps}: {:.3} s, {} statements",
                    grouped(n as u64),
                    variant.name(),
                    rep + 1,
                    sample.wall.as_secs_f64(),
                    sample.statements
                );
                runs.push(sample);
            }
        }
        for (variant, runs) in samples {
            let (median, walls) = median_sample(runs);
            let m = LookupMeasurement {
                variant,
                n,
                median,
                walls,
            };
            append_jsonl(jsonl, &[lookup_json(info, backend, &version, &m)?])?;
            measurements.push(m);
        }
    }
    print_lookups(backend, &measurements);
    Ok(())
}

pub fn lookup_json(
    info: &RunInfo,
    backend: &str,
    version: &str,
    m: &LookupMeasurement,
) -> Res<String> {
    let sample = m.median.as_ref();
    json_line(&info.record(LookupLine {
        backend,
        server_version: version,
        section: "lookups",
        variant: m.variant.name(),
        keys: m.n,
        rows: None,
        rows_per_s: None,
        runs: m.walls.len(),
        seconds: secs(sample.map(|s| s.wall)),
        seconds_all: all_seconds(&m.walls),
        statements: sample.map(|s| s.statements),
        in_statements_seconds: secs(sample.map(|s| s.in_statements)),
        client_cpu_seconds: secs(sample.and_then(|s| s.client_cpu)),
        server_cpu_seconds: secs(sample.and_then(|s| s.server_cpu)),
    }))
}

pub fn print_lookups(backend: &str, measurements: &[LookupMeasurement]) {
    let mut table = Table::new(
        2,
        &[
            "keys",
            "variant",
            "runs",
            "median s",
            "µs/key",
            "statements",
            "client CPU s",
            "server CPU s",
            "select loop ÷ this",
        ],
    );
    for m in measurements {
        let s = m.median.as_ref();
        let select_loop = measurements
            .iter()
            .find(|o| o.n == m.n && o.variant == LookupVariant::SelectLoop)
            .and_then(|o| o.median.as_ref());
        table.row(vec![
            grouped(m.n as u64),
            m.variant.name().into(),
            m.walls.len().to_string(),
            opt(s, |s| format!("{:.3}", s.wall.as_secs_f64())),
            opt(s, |s| {
                format!("{:.2}", s.wall.as_secs_f64() * 1e6 / m.n as f64)
            }),
            opt(s, |s| grouped(s.statements as u64)),
            opt(s.and_then(|s| s.client_cpu), |d| {
                format!("{:.3}", d.as_secs_f64())
            }),
            opt(s.and_then(|s| s.server_cpu), |d| {
                format!("{:.3}", d.as_secs_f64())
            }),
            opt(s.zip(select_loop), |(s, l)| {
                format!("{:.1}x", l.wall.as_secs_f64() / s.wall.as_secs_f64())
            }),
        ]);
    }
    println!("{backend} look-ups (N existing customers, found by email):\n\n{table}");
}
