//! Integrity tools, for when constraints were bypassed or must be checked:
//! the [orphan report](mod@orphans) ([`orphans()`]) counts, for each
//! foreign key, the rows whose parent does not exist, with a sample of
//! their keys.

pub mod orphans;

pub use orphans::{
    constraint_orphans, orphans, ConstraintOrphans, Orphan, OrphanError, OrphanOptions,
    OrphanReport,
};
