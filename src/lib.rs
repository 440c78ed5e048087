//! Test and example support for fk-safe (not published).
