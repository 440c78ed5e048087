//! The report: tables on stdout, JSON lines in
//! target/bench/graph_insert.jsonl.

use std::fmt::{self, Display};
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::data::rows_of;
use crate::error_path::ErrorPath;
use crate::variants::{Measurement, Variant};
use crate::{Context, Res};

/// One JSON line: what every line carries, then the fields of its kind
/// ([`MeasurementLine`], [`ErrorPathLine`], [`LookupLine`]). The field
/// names are those of the earlier results, so that they stay comparable.
#[derive(Serialize)]
pub struct Record<'a, T: Serialize> {
    #[serde(flatten)]
    pub run: RunFields<'a>,
    #[serde(flatten)]
    pub line: T,
}

/// What every JSON line starts with; `loadavg_1m` is read for each line.
#[derive(Serialize)]
pub struct RunFields<'a> {
    pub bench: &'static str,
    pub run_id: &'a str,
    pub timestamp: &'a str,
    pub unix_time: u64,
    pub git_commit: Option<&'a str>,
    pub git_modified: Option<&'a str>,
    pub smoke: bool,
    pub loadavg_1m: Option<f64>,
}

/// One variant of the graph-insert series at one size.
#[derive(Serialize)]
pub struct MeasurementLine<'a> {
    pub backend: &'a str,
    pub server_version: &'a str,
    pub variant: &'a str,
    pub customers: usize,
    pub rows: usize,
    pub runs: usize,
    pub skipped: Option<&'a str>,
    pub seconds: Option<f64>,
    /// Every run's time, space-separated, in run order.
    pub seconds_all: String,
    pub rows_per_s: Option<f64>,
    pub statements: Option<usize>,
    pub statements_per_1000_rows: Option<f64>,
    pub build_seconds: Option<f64>,
    pub in_statements_seconds: Option<f64>,
    pub client_cpu_seconds: Option<f64>,
    pub server_cpu_seconds: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub baseline_rss_bytes: Option<u64>,
    pub graph_built_rss_bytes: Option<u64>,
    pub peak_rss_run_seconds: Option<f64>,
}

/// One step of the error path. `rows` and `rows_per_s` are always null, so
/// that a reader of all lines finds them in every line.
#[derive(Serialize)]
pub struct ErrorPathLine<'a> {
    pub backend: &'a str,
    pub server_version: &'a str,
    pub variant: &'a str,
    pub rows: Option<usize>,
    pub rows_per_s: Option<f64>,
    pub iterations: usize,
    pub seconds: f64,
    pub ns_per_op: Option<f64>,
    pub statements: Option<usize>,
    pub statements_per_op: Option<f64>,
}

/// One look-up variant at one size (`rows` and `rows_per_s` null, as in
/// [`ErrorPathLine`]).
#[derive(Serialize)]
pub struct LookupLine<'a> {
    pub backend: &'a str,
    pub server_version: &'a str,
    pub section: &'static str,
    pub variant: &'a str,
    pub keys: usize,
    pub rows: Option<usize>,
    pub rows_per_s: Option<f64>,
    pub runs: usize,
    pub seconds: Option<f64>,
    /// Every run's time, space-separated, in run order.
    pub seconds_all: String,
    pub statements: Option<usize>,
    pub in_statements_seconds: Option<f64>,
    pub client_cpu_seconds: Option<f64>,
    pub server_cpu_seconds: Option<f64>,
}

/// A record as one line of JSON. serde_json writes a non-finite float as
/// `null`.
pub fn json_line<T: Serialize>(record: &T) -> Res<String> {
    serde_json::to_string(record).ctx("write a JSON line")
}

pub fn secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

/// `seconds_all`: `1.234567 1.345678 ..`.
pub fn all_seconds(walls: &[Duration]) -> String {
    walls
        .iter()
        .map(|w| format!("{:.6}", w.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What every JSON line carries.
pub struct RunInfo {
    pub run_id: String,
    pub timestamp: String,
    pub unix_time: u64,
    pub git_commit: Option<String>,
    /// Tracked files modified since the commit, space-separated.
    pub git_modified: Option<String>,
    pub smoke: bool,
}

impl RunInfo {
    pub fn new(root: &Path, smoke: bool) -> Self {
        let unix_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        // For a run from a source snapshot without `.git`.
        let override_commit = std::env::var("FK_SAFE_BENCH_GIT_COMMIT").ok();
        let git = |args: &[&str]| -> Option<String> {
            let out = Command::new("git")
                .arg("-C")
                .arg(root)
                .args(args)
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        RunInfo {
            run_id: format!("{unix_time}-{}", std::process::id()),
            timestamp: iso8601(unix_time),
            unix_time,
            git_commit: override_commit
                .clone()
                .or_else(|| git(&["rev-parse", "HEAD"])),
            git_modified: match override_commit {
                Some(_) => None,
                None => git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| {
                    s.lines()
                        .filter_map(|l| l.trim_start().split_once(' '))
                        .map(|(_status, path)| path.trim_start())
                        .collect::<Vec<_>>()
                        .join(" ")
                }),
            },
            smoke,
        }
    }

    /// The start of a JSON line of this run, `line` its own fields.
    pub fn record<T: Serialize>(&self, line: T) -> Record<'_, T> {
        Record {
            run: RunFields {
                bench: "graph_insert",
                run_id: &self.run_id,
                timestamp: &self.timestamp,
                unix_time: self.unix_time,
                git_commit: self.git_commit.as_deref(),
                git_modified: self.git_modified.as_deref(),
                smoke: self.smoke,
                loadavg_1m: loadavg(),
            },
            line,
        }
    }
}

/// The 1-minute load average: other work on the machine skews the figures.
pub fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn iso8601(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

pub fn measurement_json(info: &RunInfo, version: &str, m: &Measurement) -> Res<String> {
    let sample = m.median.as_ref();
    let peak_rss = m.peak_rss.as_ref();
    json_line(&info.record(MeasurementLine {
        backend: m.backend,
        server_version: version,
        variant: m.variant.name(),
        customers: m.n,
        rows: m.rows(),
        runs: m.walls.len(),
        skipped: m.skipped.as_deref(),
        seconds: secs(sample.map(|s| s.wall)),
        seconds_all: all_seconds(&m.walls),
        rows_per_s: m.rows_per_s(),
        statements: sample.map(|s| s.statements),
        statements_per_1000_rows: m.statements_per_1000_rows(),
        build_seconds: secs(sample.and_then(|s| s.build)),
        in_statements_seconds: secs(sample.map(|s| s.in_statements)),
        client_cpu_seconds: secs(sample.and_then(|s| s.client_cpu)),
        server_cpu_seconds: secs(sample.and_then(|s| s.server_cpu)),
        peak_rss_bytes: peak_rss.map(|r| r.peak_rss),
        baseline_rss_bytes: peak_rss.map(|r| r.baseline_rss),
        graph_built_rss_bytes: peak_rss.and_then(|r| r.graph_rss),
        peak_rss_run_seconds: secs(peak_rss.map(|r| r.wall)),
    }))
}

pub fn error_path_json(
    info: &RunInfo,
    backend: &str,
    version: &str,
    e: &ErrorPath,
) -> Res<Vec<String>> {
    let per_op =
        |total: Duration, ops: usize| (ops > 0).then(|| total.as_nanos() as f64 / ops as f64);
    let line = |variant: &str, ops: usize, total: Duration, statements: Option<usize>| {
        json_line(
            &info.record(ErrorPathLine {
                backend,
                server_version: version,
                variant,
                rows: None,
                rows_per_s: None,
                iterations: ops,
                seconds: total.as_secs_f64(),
                ns_per_op: per_op(total, ops),
                statements,
                statements_per_op: statements
                    .filter(|_| ops > 0)
                    .map(|s| s as f64 / ops as f64),
            }),
        )
    };
    [
        line("classify_fk_error", e.iterations + 1, e.classify, None),
        line(
            "explain_cold_cache",
            1,
            Duration::ZERO,
            Some(e.explain_cold_statements),
        ),
        line(
            "explain_warm_cache",
            e.iterations,
            e.explain_warm,
            Some(e.explain_warm_statements),
        ),
        line(
            "fk_transaction_warm_cache",
            e.transactions,
            e.transaction_warm,
            Some(e.transaction_warm_statements),
        ),
        line(
            "round_trip_select_1",
            e.transactions,
            e.round_trip,
            Some(e.transactions),
        ),
    ]
    .into_iter()
    .collect()
}

pub fn append_jsonl(path: &Path, lines: &[String]) -> Res<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ctx(format!("create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ctx(format!("open {}", path.display()))?;
    for line in lines {
        writeln!(file, "{line}").ctx(format!("write {}", path.display()))?;
    }
    Ok(())
}

/// `1234567` -> `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

pub fn opt<T>(value: Option<T>, show: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "-".into(), show)
}

pub struct Table {
    pub header: Vec<String>,
    /// How many leading columns are text (left-aligned); the rest are numbers.
    pub text_columns: usize,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(text_columns: usize, header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            text_columns,
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

/// A Markdown table, aligned for reading in a terminal as well.
impl Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| -> fmt::Result {
            write!(f, "|")?;
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i < self.text_columns {
                    write!(f, " {cell:<w$} |")?;
                } else {
                    write!(f, " {cell:>w$} |")?;
                }
            }
            writeln!(f)
        };
        line(f, &self.header)?;
        write!(f, "|")?;
        for (i, w) in widths.iter().enumerate() {
            if i < self.text_columns {
                write!(f, " {} |", "-".repeat(*w))?;
            } else {
                write!(f, " {}: |", "-".repeat(w.saturating_sub(1)))?;
            }
        }
        writeln!(f)?;
        for row in &self.rows {
            line(f, row)?;
        }
        Ok(())
    }
}

pub fn print_backend(backend: &str, version: &str, measurements: &[Measurement]) {
    println!("\n## {backend}: {version}\n");
    let mut table = Table::new(
        2,
        &[
            "rows",
            "variant",
            "runs",
            "median s",
            "rows/s",
            "stmts/1k rows",
            "client CPU s",
            "server CPU s",
            "peak RSS",
        ],
    );
    for m in measurements {
        let s = m.median.as_ref();
        if let Some(why) = &m.skipped {
            table.row(vec![
                grouped(m.rows() as u64),
                m.variant.name().into(),
                "0".into(),
                "-".into(),
                format!("skipped ({why})"),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
            continue;
        }
        let mut variant = m.variant.name().to_string();
        if let Some(build) = s.and_then(|s| s.build) {
            variant = format!("{variant} (build {:.3} s)", build.as_secs_f64());
        }
        table.row(vec![
            grouped(m.rows() as u64),
            variant,
            m.walls.len().to_string(),
            opt(s, |s| format!("{:.3}", s.wall.as_secs_f64())),
            opt(m.rows_per_s(), |r| grouped(r.round() as u64)),
            opt(m.statements_per_1000_rows(), |x| format!("{x:.2}")),
            opt(s.and_then(|s| s.client_cpu), |d| {
                format!("{:.3}", d.as_secs_f64())
            }),
            opt(s.and_then(|s| s.server_cpu), |d| {
                format!("{:.3}", d.as_secs_f64())
            }),
            opt(m.peak_rss.as_ref(), |r| match r.graph_rss {
                Some(graph) => format!(
                    "{} (base {}, graph {})",
                    mib(r.peak_rss),
                    mib(r.baseline_rss),
                    mib(graph)
                ),
                None => format!("{} (base {})", mib(r.peak_rss), mib(r.baseline_rss)),
            }),
        ]);
    }
    println!("{table}");

    let mut ratios = Table::new(
        1,
        &[
            "rows",
            "insert_graph rows/s",
            "µs/row",
            "÷ server_limit",
            "÷ per_row_returning",
            "÷ raw_batched_known_ids",
            "build share",
        ],
    );
    let mut sizes: Vec<usize> = measurements.iter().map(|m| m.n).collect();
    sizes.dedup();
    for n in sizes {
        let find = |v: Variant| {
            measurements
                .iter()
                .find(|m| m.n == n && m.variant == v)
                .and_then(|m| m.rows_per_s())
        };
        let Some(graph) = find(Variant::InsertGraph) else {
            continue;
        };
        let ratio = |v: Variant| opt(find(v), |other| format!("{:.2}x", graph / other));
        let build_share = measurements
            .iter()
            .find(|m| m.n == n && m.variant == Variant::InsertGraph)
            .and_then(|m| m.median.as_ref())
            .and_then(|s| Some(s.build?.as_secs_f64() / s.wall.as_secs_f64()));
        ratios.row(vec![
            grouped(rows_of(n) as u64),
            grouped(graph.round() as u64),
            format!("{:.2}", 1e6 / graph),
            ratio(Variant::ServerLimit),
            ratio(Variant::PerRowReturning),
            ratio(Variant::RawBatchedKnownIds),
            opt(build_share, |b| format!("{:.0} %", b * 100.0)),
        ]);
    }
    println!("{ratios}");
}

pub fn print_error_path(backend: &str, e: &ErrorPath) {
    let ns = |total: Duration, ops: usize| {
        if ops == 0 {
            "-".to_string()
        } else {
            format!("{:.0} ns", total.as_nanos() as f64 / ops as f64)
        }
    };
    let mut table = Table::new(1, &["error path", "iterations", "per op", "statements"]);
    table.row(vec![
        "fk_safe::Error::from(diesel error) (no I/O)".into(),
        (e.iterations + 1).to_string(),
        ns(e.classify, e.iterations + 1),
        "0".into(),
    ]);
    table.row(vec![
        "FkCatalog::explain, cold cache".into(),
        "1".into(),
        "-".into(),
        e.explain_cold_statements.to_string(),
    ]);
    table.row(vec![
        "FkCatalog::explain, warm cache".into(),
        e.iterations.to_string(),
        ns(e.explain_warm, e.iterations),
        e.explain_warm_statements.to_string(),
    ]);
    table.row(vec![
        "FkCatalog::transaction(failing insert), warm cache".into(),
        e.transactions.to_string(),
        ns(e.transaction_warm, e.transactions),
        format!(
            "{:.1} per op",
            e.transaction_warm_statements as f64 / e.transactions.max(1) as f64
        ),
    ]);
    table.row(vec![
        "reference: one round trip (prepared SELECT 1)".into(),
        e.transactions.to_string(),
        ns(e.round_trip, e.transactions),
        "1 per op".into(),
    ]);
    println!("{backend} error path:\n\n{table}");
}
