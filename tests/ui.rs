//! Every compile error `#[derive(FkOrdered)]` and the graph API can give,
//! with its expected output (tests/ui/*.stderr). Regenerate after an
//! intended change with `TRYBUILD=overwrite cargo test --test ui`, then read
//! the diff.

#[test]
fn derive_and_link_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
