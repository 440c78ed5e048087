//! The SQL statements a graph insert sends, one node per file; each is a
//! Diesel query fragment that the backend completes where its dialect
//! differs.

pub(crate) mod batch;
pub(crate) mod link_update;
pub(crate) mod lookup;
pub(crate) mod pair_query;
