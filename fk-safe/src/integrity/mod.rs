//! Integrity tools, for when constraints were bypassed or must be checked:
//! [`orphans`] reports the rows that break each foreign key.

pub mod orphans;

pub use orphans::{
    constraint_orphans, orphans, ConstraintOrphans, Orphan, OrphanError, OrphanOptions,
    OrphanReport,
};
