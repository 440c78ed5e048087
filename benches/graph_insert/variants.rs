//! The variants: `insert_graph` (the same code on both backends),
//! and measuring one run of any variant.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use fk_safe::graph::{insert_graph, WriteRow};
use fk_safe::FkConnection;
use fk_safe_suite::models::{NewCustomer, NewOrder, NewOrderItem};

use crate::baselines::BenchConn;
use crate::checks::verify;
use crate::data::{product_ids, rows_of, shop, ITEMS_PER_ORDER, ORDERS_PER_CUSTOMER};
use crate::instrumentation::{duration_sub, thread_cpu, vm_status, Counter};
use crate::memory::ChildReport;
use crate::targets::Target;
use crate::{Context, Res};

/// The RSS right after the graph was built, recorded only in the
/// peak-memory child: `u64::MAX` (the default) records nothing, `0` asks for
/// the next build to be recorded.
pub static GRAPH_RSS: AtomicU64 = AtomicU64::new(u64::MAX);

/// `insert_graph`: build, then insert. Returns the time spent building.
pub fn insert_graph_variant<C>(conn: &mut C, n: usize, first_product: i64) -> Res<Duration>
where
    C: FkConnection,
    C::Backend: fk_safe::FkBackend + 'static,
    NewCustomer: WriteRow<C::Backend>,
    NewOrder: WriteRow<C::Backend>,
    NewOrderItem: WriteRow<C::Backend>,
{
    let products = product_ids(first_product);
    let start = Instant::now();
    // Built as a user would, row by row with handles.
    let graph = shop(n)
        .graph::<C::Backend>(&products)
        .ctx("build the graph")?;
    let built = start.elapsed();
    if GRAPH_RSS.load(Ordering::Relaxed) == 0 {
        // In the peak-memory child: what the built graph holds.
        GRAPH_RSS.store(vm_status("VmRSS:").unwrap_or(1), Ordering::Relaxed);
    }
    if graph.len() != rows_of(n) {
        return Err(format!(
            "the graph holds {} rows, expected {}",
            graph.len(),
            rows_of(n)
        ));
    }
    let ids = insert_graph(conn, &graph).ctx("insert_graph")?;
    let returned = [
        ids.all::<NewCustomer>().len(),
        ids.all::<NewOrder>().len(),
        ids.all::<NewOrderItem>().len(),
    ];
    let expected = [
        n,
        n * ORDERS_PER_CUSTOMER,
        n * ORDERS_PER_CUSTOMER * ITEMS_PER_ORDER,
    ];
    if returned != expected {
        return Err(format!(
            "insert_graph returned {returned:?} keys (customers, orders, items), expected {expected:?}"
        ));
    }
    Ok(built)
}

// ---------------------------------------------------------------------------
// Measuring.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    InsertGraph,
    ServerLimit,
    PerRowReturning,
    RawBatchedKnownIds,
    /// PostgreSQL only: not one of the four variants compared, but a
    /// probe of another statement shape for `insert_graph` (see
    /// [`unnest_probe`](crate::targets::unnest_probe)).
    UnnestProbe,
}

pub const VARIANTS: [Variant; 5] = [
    Variant::InsertGraph,
    Variant::ServerLimit,
    Variant::PerRowReturning,
    Variant::RawBatchedKnownIds,
    Variant::UnnestProbe,
];

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::InsertGraph => "insert_graph",
            Variant::ServerLimit => "server_limit",
            Variant::PerRowReturning => "per_row_returning",
            Variant::RawBatchedKnownIds => "raw_batched_known_ids",
            Variant::UnnestProbe => "probe_pg_unnest",
        }
    }

    pub fn parse(name: &str) -> Option<Variant> {
        VARIANTS.into_iter().find(|v| v.name() == name.trim())
    }
}

/// One timed run of one variant.
#[derive(Debug, Clone)]
pub struct Sample {
    pub wall: Duration,
    pub build: Option<Duration>,
    pub statements: usize,
    pub in_statements: Duration,
    pub client_cpu: Option<Duration>,
    pub server_cpu: Option<Duration>,
}

/// Runs `variant` once from the initial state, timed, then checks the rows.
pub fn run_once<T: Target>(target: &mut T, variant: Variant, n: usize) -> Res<Sample> {
    let first_product = target.reset()?;
    let counter = Counter::default();
    target.conn().set_instrumentation(counter.clone());
    let server_before = target.server_cpu();
    let cpu_before = thread_cpu();
    let start = Instant::now();
    let build = match variant {
        Variant::InsertGraph => Some(target.conn().insert_graph_variant(n, first_product)?),
        Variant::ServerLimit => {
            target.server_limit(n, first_product)?;
            None
        }
        Variant::PerRowReturning => {
            target
                .conn()
                .per_row_returning(n, first_product)
                .ctx("per_row_returning")?;
            None
        }
        Variant::RawBatchedKnownIds => {
            target
                .conn()
                .raw_batched_known_ids(n, first_product)
                .ctx("raw_batched_known_ids")?;
            None
        }
        Variant::UnnestProbe => {
            target.unnest_probe(n, first_product)?;
            None
        }
    };
    let wall = start.elapsed();
    let client_cpu = duration_sub(thread_cpu(), cpu_before);
    let server_cpu = duration_sub(target.server_cpu(), server_before);
    let sample = Sample {
        wall,
        build,
        statements: counter.statements(),
        in_statements: counter.in_statements(),
        client_cpu,
        server_cpu,
    };
    target.conn().set_instrumentation(Counter::default());
    verify(target.conn(), variant.name(), n, first_product)?;
    Ok(sample)
}

/// The figures of one variant at one size.
pub struct Measurement {
    pub backend: &'static str,
    pub variant: Variant,
    pub n: usize,
    /// The median run, and all run times.
    pub median: Option<Sample>,
    pub walls: Vec<Duration>,
    pub skipped: Option<String>,
    pub peak_rss: Option<ChildReport>,
}

impl Measurement {
    pub fn rows(&self) -> usize {
        rows_of(self.n)
    }

    pub fn rows_per_s(&self) -> Option<f64> {
        let wall = self.median.as_ref()?.wall.as_secs_f64();
        (wall > 0.0).then(|| self.rows() as f64 / wall)
    }

    pub fn statements_per_1000_rows(&self) -> Option<f64> {
        Some(self.median.as_ref()?.statements as f64 * 1000.0 / self.rows() as f64)
    }
}

pub fn median_sample(mut samples: Vec<Sample>) -> (Option<Sample>, Vec<Duration>) {
    let walls = samples.iter().map(|s| s.wall).collect();
    samples.sort_by_key(|s| s.wall);
    let middle = samples.len().saturating_sub(1) / 2;
    (samples.into_iter().nth(middle), walls)
}
