//! Peak memory: the variant again, alone, in a child process.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::baselines::BenchConn;
use crate::checks::verify;
use crate::instrumentation::{reset_peak_rss, vm_status};
use crate::targets::{PgTarget, SqliteTarget, Target};
use crate::variants::{Variant, GRAPH_RSS};
use crate::{Context, Res};

pub const CHILD_ENV: &str = "FK_SAFE_BENCH_CHILD";
pub const CHILD_MARK: &str = "fk-safe-bench-child-result";

#[derive(Debug, Clone)]
pub struct ChildReport {
    pub peak_rss: u64,
    pub baseline_rss: u64,
    pub wall: Duration,
    /// `insert_graph` only: the RSS once the graph was built.
    pub graph_rss: Option<u64>,
}

/// Re-runs `variant` in a fresh process and reads its `VmHWM` (the
/// parent's memory does not count).
pub fn measure_in_child<T: Target>(target: &T, variant: Variant, n: usize) -> Res<ChildReport> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    let location = match backend {
        // A file of its own: the parent's connection stays on its file.
        "sqlite" => format!("{}.child", target.location()),
        _ => target.location(),
    };
    let exe = std::env::current_exe().ctx("find the benchmark executable")?;
    let output = Command::new(exe)
        .env(
            CHILD_ENV,
            format!("{backend}\t{}\t{n}\t{location}", variant.name()),
        )
        .output()
        .ctx("run the peak-memory child")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "the peak-memory child ({backend} {} N = {n}) failed: {}\n{}{}",
            variant.name(),
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(CHILD_MARK))
        .ok_or_else(|| format!("the peak-memory child printed no result: {stdout}"))?;
    let mut fields = line.split_whitespace().map(|f| f.parse::<u64>());
    let mut next = |what: &str| -> Res<u64> {
        fields
            .next()
            .ok_or_else(|| format!("child result lacks {what}"))?
            .ctx(what)
    };
    Ok(ChildReport {
        peak_rss: next("peak RSS")?,
        baseline_rss: next("baseline RSS")?,
        wall: Duration::from_nanos(next("time")?),
        graph_rss: Some(next("graph RSS")?).filter(|&rss| rss != 0),
    })
}

pub fn child_run<T: Target>(mut target: T, variant: Variant, n: usize) -> Res<()> {
    let first_product = target.reset()?;
    let baseline = vm_status("VmRSS:").ok_or("no VmRSS in /proc/self/status")?;
    GRAPH_RSS.store(0, Ordering::Relaxed);
    reset_peak_rss();
    let start = Instant::now();
    match variant {
        Variant::InsertGraph => {
            target.conn().insert_graph_variant(n, first_product)?;
        }
        Variant::RawBatchedKnownIds => target
            .conn()
            .raw_batched_known_ids(n, first_product)
            .ctx("raw_batched_known_ids")?,
        Variant::ServerLimit => target.server_limit(n, first_product)?,
        Variant::PerRowReturning => target
            .conn()
            .per_row_returning(n, first_product)
            .ctx("per_row_returning")?,
        Variant::UnnestProbe => target.unnest_probe(n, first_product)?,
    }
    let wall = start.elapsed();
    let peak = vm_status("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
    verify(target.conn(), variant.name(), n, first_product)?;
    let graph_rss = match GRAPH_RSS.load(Ordering::Relaxed) {
        u64::MAX => 0,
        rss => rss,
    };
    println!(
        "{CHILD_MARK} {peak} {baseline} {} {graph_rss}",
        wall.as_nanos().min(u128::from(u64::MAX))
    );
    Ok(())
}

pub fn child_main(spec: &str) -> Res<()> {
    let parts: Vec<&str> = spec.splitn(4, '\t').collect();
    let [backend, variant, n, location] = parts[..] else {
        return Err(format!("bad {CHILD_ENV}: {spec:?}"));
    };
    let variant = Variant::parse(variant).ok_or_else(|| format!("unknown variant {variant}"))?;
    let n: usize = n.parse().ctx("child size")?;
    match backend {
        "postgres" => child_run(PgTarget::connect(location, false)?, variant, n),
        "sqlite" => child_run(SqliteTarget::open(PathBuf::from(location))?, variant, n),
        other => Err(format!("unknown backend {other}")),
    }
}
