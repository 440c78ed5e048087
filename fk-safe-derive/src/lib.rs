//! `#[derive(FkOrdered)]` for fk-safe. The derive arrives with graph inserts;
//! this crate is part of the workspace from the start so that its ui tests
//! and the runtime grow together.
