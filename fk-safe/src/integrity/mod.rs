//! Integrity tools for a live database, for when constraints were bypassed
//! or must be checked, and for anyone who loads, copies or repairs its rows
//! outside [`insert_graph`](crate::insert_graph):
//!
//! - [`load_order`]: the tables parents first, level by level, and the
//!   cycles no order resolves, with how each can be broken;
//! - the [orphan report](mod@orphans) ([`orphans()`]): for each foreign key,
//!   every row whose parent does not exist, with a sample of their keys;
//! - the [schema audit](mod@audit) ([`audit()`]): unindexed foreign keys,
//!   `NOT VALID` constraints, type mismatches, unconstrained `*_id`
//!   columns, unbreakable cycles, and drift from `FkOrdered` models;
//! - [`bulk_load`]: work run with the foreign-key checks off, always
//!   followed by the orphan check before it commits;
//! - [`deferred`]: work run with foreign keys deferred, checked and
//!   explained before its transaction commits.

pub mod audit;
pub mod bulk_load;
pub mod deferred;
pub mod load_order;
pub mod orphans;

pub use audit::{audit, AuditError, AuditOptions, AuditReport, Finding};
pub use orphans::{
    constraint_orphans, orphans, ConstraintOrphans, Orphan, OrphanError, OrphanOptions,
    OrphanReport,
};
