//! Integrity tools for a live database: what its foreign keys demand of
//! anyone who loads, copies or repairs its rows outside
//! [`insert_graph`](crate::insert_graph).
//!
//! - [`load_order`]: the tables parents first, level by level, and the
//!   cycles no order resolves, with how each can be broken.

pub mod load_order;
