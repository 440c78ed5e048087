//! The report: tables on stdout, JSON lines in
//! target/bench/graph_insert.jsonl.

use std::fmt::{self, Display};
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::data::rows_of;
use crate::error_path::ErrorPath;
use crate::variants::{Measurement, Variant};
use crate::{Context, Res};

pub enum J {
    S(String),
    U(u64),
    F(f64),
    B(bool),
    Null,
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::S(s.to_string())
    }
}

impl From<String> for J {
    fn from(s: String) -> J {
        J::S(s)
    }
}

impl From<usize> for J {
    fn from(n: usize) -> J {
        J::U(n as u64)
    }
}

impl From<u64> for J {
    fn from(n: u64) -> J {
        J::U(n)
    }
}

impl From<f64> for J {
    fn from(x: f64) -> J {
        J::F(x)
    }
}

impl From<bool> for J {
    fn from(b: bool) -> J {
        J::B(b)
    }
}

impl<T: Into<J>> From<Option<T>> for J {
    fn from(o: Option<T>) -> J {
        o.map_or(J::Null, Into::into)
    }
}

pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn json_object(fields: Vec<(&str, J)>) -> String {
    let body: Vec<String> = fields
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                J::S(s) => json_string(&s),
                J::U(n) => n.to_string(),
                J::F(x) if x.is_finite() => format!("{x}"),
                J::F(_) | J::Null => "null".into(),
                J::B(b) => b.to_string(),
            };
            format!("{}:{value}", json_string(key))
        })
        .collect();
    format!("{{{}}}", body.join(","))
}

pub fn secs(d: Option<Duration>) -> J {
    d.map(|d| d.as_secs_f64()).into()
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

    pub fn fields(&self) -> Vec<(&'static str, J)> {
        vec![
            ("bench", "graph_insert".into()),
            ("run_id", self.run_id.clone().into()),
            ("timestamp", self.timestamp.clone().into()),
            ("unix_time", self.unix_time.into()),
            ("git_commit", self.git_commit.clone().into()),
            ("git_modified", self.git_modified.clone().into()),
            ("smoke", self.smoke.into()),
            ("loadavg_1m", loadavg().into()),
        ]
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

pub fn measurement_json(info: &RunInfo, version: &str, m: &Measurement) -> String {
    let mut fields = info.fields();
    let sample = m.median.as_ref();
    fields.extend([
        ("backend", m.backend.into()),
        ("server_version", version.into()),
        ("variant", m.variant.name().into()),
        ("customers", m.n.into()),
        ("rows", m.rows().into()),
        ("runs", m.walls.len().into()),
        ("skipped", m.skipped.clone().into()),
        ("seconds", secs(sample.map(|s| s.wall))),
        (
            "seconds_all",
            J::S(
                m.walls
                    .iter()
                    .map(|w| format!("{:.6}", w.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        ("rows_per_s", m.rows_per_s().into()),
        ("statements", sample.map(|s| s.statements).into()),
        (
            "statements_per_1000_rows",
            m.statements_per_1000_rows().into(),
        ),
        ("build_seconds", secs(sample.and_then(|s| s.build))),
        (
            "in_statements_seconds",
            secs(sample.map(|s| s.in_statements)),
        ),
        (
            "client_cpu_seconds",
            secs(sample.and_then(|s| s.client_cpu)),
        ),
        (
            "server_cpu_seconds",
            secs(sample.and_then(|s| s.server_cpu)),
        ),
        (
            "peak_rss_bytes",
            m.peak_rss.as_ref().map(|r| r.peak_rss).into(),
        ),
        (
            "baseline_rss_bytes",
            m.peak_rss.as_ref().map(|r| r.baseline_rss).into(),
        ),
        (
            "graph_built_rss_bytes",
            m.peak_rss.as_ref().and_then(|r| r.graph_rss).into(),
        ),
        (
            "peak_rss_run_seconds",
            secs(m.peak_rss.as_ref().map(|r| r.wall)),
        ),
    ]);
    json_object(fields)
}

pub fn error_path_json(info: &RunInfo, backend: &str, version: &str, e: &ErrorPath) -> Vec<String> {
    let per_op =
        |total: Duration, ops: usize| (ops > 0).then(|| total.as_nanos() as f64 / ops as f64);
    let line = |variant: &str, ops: usize, total: Duration, statements: Option<usize>| {
        let mut fields = info.fields();
        fields.extend([
            ("backend", backend.into()),
            ("server_version", version.into()),
            ("variant", variant.into()),
            ("rows", J::Null),
            ("rows_per_s", J::Null),
            ("iterations", ops.into()),
            ("seconds", total.as_secs_f64().into()),
            ("ns_per_op", per_op(total, ops).into()),
            ("statements", statements.into()),
            (
                "statements_per_op",
                statements
                    .filter(|_| ops > 0)
                    .map(|s| s as f64 / ops as f64)
                    .into(),
            ),
        ]);
        json_object(fields)
    };
    vec![
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
