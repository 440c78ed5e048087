//! The error path: classifying a foreign-key error, explaining it, and a
//! failing transaction, next to one round trip.

use std::hint::black_box;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use fk_safe::FkCatalog;

use crate::baselines::BenchConn;
use crate::instrumentation::Counter;
use crate::targets::Target;
use crate::{Context, Res};

pub struct ErrorPath {
    pub iterations: usize,
    pub classify: Duration,
    pub explain_cold_statements: usize,
    pub explain_warm: Duration,
    pub explain_warm_statements: usize,
    pub transactions: usize,
    pub transaction_warm: Duration,
    pub transaction_warm_statements: usize,
    pub round_trip: Duration,
}

pub fn error_path<T: Target>(
    target: &mut T,
    iterations: usize,
    transactions: usize,
) -> Res<ErrorPath> {
    let backend = <T::Conn as BenchConn>::BACKEND;
    target.reset()?;
    let conn = target.conn();

    // (a) Classification without I/O: real errors, each converted once.
    let mut errors = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        match conn.failing_insert() {
            Err(error) => errors.push(error),
            Ok(_) => return Err(format!("{backend}: an order of customer -1 was accepted")),
        }
    }
    let start = Instant::now();
    let classified: Vec<fk_safe::Error> = errors
        .into_iter()
        .map(|error| black_box(fk_safe::Error::from(black_box(error))))
        .collect();
    let classify = start.elapsed();
    if let Some(other) = classified
        .iter()
        .find(|e| !matches!(e, fk_safe::Error::ForeignKey(_)))
    {
        return Err(format!(
            "{backend}: a foreign-key error was classified as {other:?}"
        ));
    }

    // (b) FkCatalog::explain: once cold, then with the warm cache.
    let catalog = FkCatalog::new();
    let mut classified = classified.into_iter();
    let first = classified.next().ok_or("no error to explain")?;
    let cold = Counter::default();
    conn.set_instrumentation(cold.clone());
    let explained = catalog.explain(conn, first);
    let explain_cold_statements = cold.statements();
    let expect_parent = backend == "postgres";
    let check = |error: &fk_safe::Error, what: &str| -> Res<()> {
        match error {
            fk_safe::Error::ForeignKey(v)
                if !expect_parent || v.parent_table() == Some("customers") =>
            {
                Ok(())
            }
            other => Err(format!("{backend}: {what} gave {other:?}")),
        }
    };
    check(&explained, "explain (cold)")?;
    let warm = Counter::default();
    conn.set_instrumentation(warm.clone());
    let start = Instant::now();
    let all: Vec<fk_safe::Error> = classified
        .map(|error| black_box(catalog.explain(conn, error)))
        .collect();
    let explain_warm = start.elapsed();
    let explain_warm_statements = warm.statements();
    if explain_warm_statements != 0 {
        return Err(format!(
            "{backend}: FkCatalog::explain with a warm cache sent {explain_warm_statements} statements, expected 0"
        ));
    }
    for error in &all {
        check(error, "explain (warm)")?;
    }
    drop(all);

    // (c) The whole error path of a handler: FkCatalog::transaction around a
    // failing insert (on SQLite this includes the deferred replay).
    let run = |conn: &mut T::Conn| {
        catalog.transaction(conn, |conn| {
            conn.failing_insert()?;
            Ok(())
        })
    };
    match run(conn) {
        Err(error) => check(&error, "FkCatalog::transaction (cold)")?,
        Ok(()) => return Err(format!("{backend}: the failing transaction succeeded")),
    }
    let warm = Counter::default();
    conn.set_instrumentation(warm.clone());
    let start = Instant::now();
    let mut results = Vec::with_capacity(transactions);
    for _ in 0..transactions {
        results.push(black_box(run(conn)));
    }
    let transaction_warm = start.elapsed();
    let transaction_warm_statements = warm.statements();
    conn.set_instrumentation(Counter::default());
    conn.round_trip().ctx("SELECT 1")?;
    let start = Instant::now();
    for _ in 0..transactions {
        black_box(conn.round_trip().ctx("SELECT 1")?);
    }
    let round_trip = start.elapsed();
    for result in &results {
        match result {
            Err(error) => check(error, "FkCatalog::transaction (warm)")?,
            Ok(()) => return Err(format!("{backend}: the failing transaction succeeded")),
        }
    }
    Ok(ErrorPath {
        iterations: iterations - 1,
        classify,
        explain_cold_statements,
        explain_warm,
        explain_warm_statements,
        transactions,
        transaction_warm,
        transaction_warm_statements,
        round_trip,
    })
}
