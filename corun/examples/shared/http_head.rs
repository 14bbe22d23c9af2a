//! The HTTP/1.1 request-head parser of `examples/http_server.rs`, in a file
//! of its own so the fuzz target (`fuzz/fuzz_targets/http_head.rs`) can
//! include it with `#[path]`.
//!
//! It frames requests the strict way RFC 9112 allows, because a lenient
//! parser in front of (or behind) another one is how requests get smuggled:
//! anything two parsers could read differently is refused with 400. It uses
//! `std` only and must NOT depend on corun or on the server around it (the
//! fuzz crate builds it alone).

/// Offset of the `\r\n\r\n` that ends a request head. Skips ahead four
/// bytes whenever the byte under test cannot be part of the terminator.
pub fn find_head_end(b: &[u8]) -> Option<usize> {
    let mut i = 3;
    while i < b.len() {
        match b[i] {
            b'\n' if &b[i - 3..i] == b"\r\n\r" => return Some(i - 3),
            b'\n' | b'\r' => i += 1,
            _ => i += 4,
        }
    }
    None
}

/// What the server needs to know about an accepted request.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    /// `HTTP/1.0` (else `HTTP/1.1`).
    pub http10: bool,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// Length of the request body that follows the head.
    pub content_length: u64,
}

/// Why a request head is refused; the connection closes after the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: malformed, or framed in a way two parsers could disagree on.
    BadRequest,
    /// 501: a `Transfer-Encoding` (chunked bodies are not supported).
    NotImplemented,
    /// 505: a well-formed version other than 1.0 and 1.1.
    VersionNotSupported,
}

impl Refusal {
    /// The status code sent for this refusal.
    pub fn status(self) -> u16 {
        match self {
            Refusal::BadRequest => 400,
            Refusal::NotImplemented => 501,
            Refusal::VersionNotSupported => 505,
        }
    }
}

/// `tchar` of RFC 9110 §5.6.2: what methods and field names are made of.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// A field value's bytes (RFC 9110 §5.5): visible ASCII, obs-text, space
/// and tab. NUL, CR, LF, the other controls and DEL are refused.
fn is_field_value(v: &[u8]) -> bool {
    v.iter()
        .all(|&c| c == b'\t' || c == b' ' || (0x21..=0x7e).contains(&c) || c >= 0x80)
}

/// A `Host` value: `uri-host [ ":" port ]` (RFC 9112 §3.2), checked by
/// alphabet only (reg-name, IP literal in brackets, port); may be empty.
fn is_host(v: &[u8]) -> bool {
    v.iter()
        .all(|&c| c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:[]%".contains(&c))
}

/// `Content-Length` (RFC 9112 §6.3): one or more ASCII digits, nothing
/// else (no sign, no list), no overflow.
fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The lines of `head`, split at each CRLF; a bare CR or LF stays inside
/// its line (for the caller to refuse).
fn crlf_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(head);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Parses a request head (without its final `\r\n\r\n`).
///
/// Refused with [`Refusal::BadRequest`]: a line ending other than CRLF, a
/// request line that is not `METHOD SP TARGET SP VERSION`, a field line
/// that is not `token ":" OWS value OWS` (so no whitespace before the colon
/// and no obsolete line folding), a control byte in a value, a
/// `Content-Length` that is not digits only or that differs from an earlier
/// one, `Transfer-Encoding` together with `Content-Length` or on HTTP/1.0,
/// and `Host` missing on HTTP/1.1, repeated, or with an invalid value.
pub fn parse_head(head: &[u8]) -> Result<Head, Refusal> {
    use Refusal::BadRequest;
    let mut lines = crlf_lines(head);
    let line = lines.next().unwrap_or_default();
    if line.contains(&b'\r') || line.contains(&b'\n') {
        return Err(BadRequest);
    }
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest);
    };
    if !is_token(method) || target.is_empty() || !target.iter().all(|c| (0x21..=0x7e).contains(c)) {
        return Err(BadRequest);
    }
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(Refusal::VersionNotSupported);
        }
        _ => return Err(BadRequest),
    };
    let mut h = Head {
        http10,
        keep_alive: !http10,
        content_length: 0,
    };
    let mut length: Option<u64> = None;
    let mut hosts = 0u32;
    let mut transfer_encoding = false;
    for line in lines {
        if line.contains(&b'\r') || line.contains(&b'\n') {
            return Err(BadRequest); // a bare CR or LF: CRLF ends lines
        }
        let colon = line.iter().position(|&b| b == b':').ok_or(BadRequest)?;
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if !is_token(name) || !is_field_value(value) {
            return Err(BadRequest);
        }
        if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    h.keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    h.keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = content_length(value).ok_or(BadRequest)?;
            if length.is_some_and(|earlier| earlier != n) {
                return Err(BadRequest);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
        } else if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if hosts > 1 || !is_host(value) {
                return Err(BadRequest);
            }
        }
    }
    if hosts == 0 && !http10 {
        return Err(BadRequest);
    }
    if transfer_encoding {
        return Err(if length.is_some() || http10 {
            BadRequest
        } else {
            Refusal::NotImplemented
        });
    }
    h.content_length = length.unwrap_or(0);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Refusal::*;

    #[test]
    fn head_end_is_found_at_any_offset() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\n"), Some(14));
        assert_eq!(find_head_end(b"\r\n\r\n"), Some(0));
        assert_eq!(find_head_end(b"a\r\n\r\n"), Some(1));
        assert_eq!(find_head_end(b"ab\r\n\r\nxx"), Some(2));
        assert_eq!(find_head_end(b"\r\n\r\r\n\r\n"), Some(3));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r"), None);
    }

    #[test]
    fn valid_heads_parse() {
        let h = parse_head(b"GET / HTTP/1.1\r\nHost: x").unwrap();
        assert!(h.keep_alive && !h.http10);
        let h = parse_head(b"GET / HTTP/1.0\r\nConnection: Keep-Alive").unwrap();
        assert!(h.keep_alive && h.http10);
        assert!(!parse_head(b"GET / HTTP/1.0").unwrap().keep_alive);
        let h = parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nconnection: close").unwrap();
        assert!(!h.keep_alive);
        let h = parse_head(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5").unwrap();
        assert_eq!(h.content_length, 5);
        // The same length twice is one length (RFC 9112 §6.3 allows it).
        let h = parse_head(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\ncontent-length:7")
            .unwrap();
        assert_eq!(h.content_length, 7);
        let h = parse_head(b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\nX-Tab:\ta\tb \xff").unwrap();
        assert_eq!(h.content_length, 0);
        assert!(
            parse_head(b"GET / HTTP/1.1\r\nHost:").is_ok(),
            "empty Host is valid"
        );
    }

    #[test]
    fn malformed_heads_get_their_status() {
        assert_eq!(parse_head(b"garbage"), Err(BadRequest));
        assert_eq!(
            parse_head(b"GET / HTTP/1.1\r\nHost: x\r\nno colon"),
            Err(BadRequest)
        );
        assert_eq!(parse_head(b"GET / HTTP/2.0"), Err(VersionNotSupported));
        assert_eq!(parse_head(b"GET / HTTP/1.10"), Err(BadRequest));
        assert_eq!(parse_head(b"GET /  HTTP/1.1"), Err(BadRequest));
        assert_eq!(
            parse_head(b"GET /\x7f HTTP/1.1\r\nHost: x"),
            Err(BadRequest)
        );
        assert_eq!(
            parse_head(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"),
            Err(NotImplemented)
        );
    }

    /// Each request-smuggling vector of issue 19 (and its neighbours) is a
    /// 400: a server that accepts one reads a stream differently from a
    /// proxy that refuses or reinterprets it.
    #[test]
    fn smuggling_vectors_are_bad_requests() {
        let cases: &[(&str, &[u8])] = &[
            (
                "differing duplicate Content-Length",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6",
            ),
            (
                "Content-Length with a sign",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5",
            ),
            (
                "negative Content-Length",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1",
            ),
            (
                "Content-Length list",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5",
            ),
            (
                "empty Content-Length",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length:",
            ),
            (
                "hex Content-Length",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5",
            ),
            (
                "Content-Length over u64",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616",
            ),
            ("NUL in a value", b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b"),
            (
                "bare CR in a value",
                b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb",
            ),
            ("bare LF line end", b"GET / HTTP/1.1\r\nHost: x\nX-A: b"),
            ("bare LF after request line", b"GET / HTTP/1.1\nHost: x"),
            (
                "other control in a value",
                b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x0bb",
            ),
            ("missing Host on HTTP/1.1", b"GET / HTTP/1.1\r\nX-A: b"),
            ("two Host headers", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b"),
            (
                "two Host headers on HTTP/1.0",
                b"GET / HTTP/1.0\r\nHost: a\r\nhost: a",
            ),
            ("Host with a space", b"GET / HTTP/1.1\r\nHost: a b"),
            ("Host with a slash", b"GET / HTTP/1.1\r\nHost: a/b"),
            (
                "Transfer-Encoding with Content-Length",
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5",
            ),
            (
                "Content-Length with Transfer-Encoding",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked",
            ),
            (
                "Transfer-Encoding on HTTP/1.0",
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked",
            ),
            (
                "space before the colon",
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5",
            ),
            (
                "obsolete line folding",
                b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b",
            ),
        ];
        for (what, head) in cases {
            assert_eq!(parse_head(head), Err(BadRequest), "{what}");
        }
    }
}
