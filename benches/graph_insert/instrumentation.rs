//! Instrumentation: statements sent and the time spent inside them, and
//! process statistics from /proc (Linux): CPU time and resident memory.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};

#[derive(Default)]
pub struct CounterState {
    pub statements: AtomicUsize,
    pub in_statements_ns: AtomicU64,
    pub started: Mutex<Option<Instant>>,
}

/// Counts `StartQuery` events (every statement Diesel sends, `BEGIN` and
/// `COMMIT` included) and the time between each start and its finish.
#[derive(Clone, Default)]
pub struct Counter(Arc<CounterState>);

impl Counter {
    pub fn statements(&self) -> usize {
        self.0.statements.load(Ordering::SeqCst)
    }

    pub fn in_statements(&self) -> Duration {
        Duration::from_nanos(self.0.in_statements_ns.load(Ordering::SeqCst))
    }

    pub fn add(&self, elapsed: Duration) {
        self.0
            .in_statements_ns
            .fetch_add(elapsed.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let now = Instant::now();
        let mut started = self.0.started.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            InstrumentationEvent::StartQuery { .. } => {
                self.0.statements.fetch_add(1, Ordering::SeqCst);
                if let Some(previous) = started.replace(now) {
                    self.add(now - previous);
                }
            }
            InstrumentationEvent::FinishQuery { .. } => {
                if let Some(start) = started.take() {
                    self.add(now - start);
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Process statistics from /proc (Linux): CPU time and resident memory.
// ---------------------------------------------------------------------------

/// On-CPU time of a task, from `schedstat` (nanoseconds).
pub fn schedstat(path: &str) -> Option<Duration> {
    let text = std::fs::read_to_string(path).ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// CPU time of the calling thread (the benchmark is single-threaded).
pub fn thread_cpu() -> Option<Duration> {
    schedstat("/proc/thread-self/schedstat")
}

/// A `VmXXX:` line of `/proc/self/status`, in bytes.
pub fn vm_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Resets `VmHWM` to the current RSS (Linux 4.0+), so that the peak covers
/// only what follows.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn duration_sub(after: Option<Duration>, before: Option<Duration>) -> Option<Duration> {
    Some(after?.saturating_sub(before?))
}
