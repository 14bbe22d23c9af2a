//! Fuzzes the request-head parser of `corun/examples/http_server.rs`
//! (`corun/examples/shared/http_head.rs`, included by path): it must never
//! panic, must find the same head end as a plain search, and must never
//! accept a head holding a byte that RFC 9112 framing forbids.
//!
//! This file must NOT copy the parser; it includes the server's own file.

#![no_main]

#[path = "../../corun/examples/shared/http_head.rs"]
#[allow(dead_code)]
mod http_head;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let end = http_head::find_head_end(data);
    assert_eq!(end, data.windows(4).position(|w| w == b"\r\n\r\n"));
    // The server parses what precedes the terminator; the fuzzer also feeds
    // whole inputs, terminator or not.
    let heads = [end.map(|e| &data[..e]), Some(data)];
    for head in heads.into_iter().flatten() {
        if http_head::parse_head(head).is_ok() {
            assert!(!head.contains(&0), "accepted a NUL: {head:?}");
            assert!(crlf_only(head), "accepted a bare CR or LF: {head:?}");
        }
    }
});

/// Whether every CR in `b` starts a CRLF and every LF ends one.
fn crlf_only(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, &c)| match c {
        b'\r' => b.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && b[i - 1] == b'\r',
        _ => true,
    })
}
