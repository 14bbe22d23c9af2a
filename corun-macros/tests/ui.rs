//! Misuse of `#[corun::main]` and `#[corun::test]` fails to compile with
//! an error that says what to write instead: one file per misuse in `ui/`,
//! its expected compiler output beside it (`TRYBUILD=overwrite` rewrites
//! the `.stderr` files after a deliberate change of wording).

#[test]
fn misuse_is_a_compile_error_saying_what_to_write() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
