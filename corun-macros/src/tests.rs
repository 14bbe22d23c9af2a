//! The errors of misuse the UI tests do not cover (one compile each is
//! slow there): each expansion must carry a `compile_error!` with the
//! message, and the right uses must carry none. Tests only.

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand;

/// The message of the `compile_error!` in `out`, if any.
fn error(out: &TokenStream) -> Option<String> {
    let text = out.to_string();
    let start = text.find("compile_error !")?;
    let rest = &text[start..];
    let open = rest.find('"')? + 1;
    let close = rest[open..].find("\" ")? + open;
    Some(rest[open..close].replace("\\\"", "\""))
}

fn test_error(args: TokenStream, item: TokenStream) -> String {
    let out = expand::test(args, item);
    error(&out).unwrap_or_else(|| panic!("no error in {out}"))
}

fn runs() -> TokenStream {
    quote!(
        async fn runs() {}
    )
}

#[test]
fn seeds_0_asks_for_at_least_one() {
    let e = test_error(quote!(seeds = 0), runs());
    assert!(e.contains("write `seeds = 1` or more"), "{e}");
}

#[test]
fn an_option_given_twice_is_an_error() {
    let e = test_error(quote!(cores = 1, cores = 2), runs());
    assert_eq!(e, "`cores` is given twice; keep one");
    let e = test_error(quote!(virtual_time, virtual_time), runs());
    assert_eq!(e, "`virtual_time` is given twice; keep one");
}

#[test]
fn seeds_then_seed_is_an_error_too() {
    let e = test_error(quote!(seeds = 10, seed = 1), runs());
    assert!(
        e.starts_with("`seed` and `seeds` exclude each other"),
        "{e}"
    );
}

#[test]
fn values_that_are_not_integer_literals_say_what_to_write() {
    for args in [
        quote!(seed = -1),
        quote!(seed = SEED),
        quote!(seed = 1.5),
        quote!(seed),
    ] {
        let e = test_error(args.clone(), runs());
        assert_eq!(
            e, "`seed` takes an integer literal, such as `seed = 17`",
            "{args}"
        );
    }
    let e = test_error(quote!(seed = 18446744073709551616), runs());
    assert!(e.contains("out of range"), "{e}");
    let e = test_error(quote!(virtual_time = 1), runs());
    assert_eq!(e, "`virtual_time` is a flag: write `virtual_time`");
}

#[test]
fn test_options_on_main_point_to_the_builder() {
    let out = expand::main(
        quote!(seed = 1),
        quote!(
            async fn main() {}
        ),
    );
    let e = error(&out).expect("an error");
    assert!(e.contains("`seed` is a #[corun::test] option"), "{e}");
    assert!(e.contains("corun::Builder"), "{e}");
}

#[test]
fn generics_const_unsafe_and_extern_are_refused() {
    let cases = [
        (
            quote!(
                async fn runs<T>() {}
            ),
            "without generics",
        ),
        (
            quote!(
                const async fn runs() {}
            ),
            "remove `const`",
        ),
        (
            quote!(
                async unsafe fn runs() {}
            ),
            "remove `unsafe`",
        ),
        (
            quote!(
                async extern "C" fn runs() {}
            ),
            "remove the ABI",
        ),
        (
            quote!(
                async fn runs(x: u8) {}
            ),
            "write `async fn runs()`",
        ),
    ];
    for (item, want) in cases {
        let e = test_error(TokenStream::new(), item.clone());
        assert!(e.contains(want), "{item}: {e}");
    }
}

#[test]
fn right_uses_expand_without_errors_and_pass_the_options() {
    let out = expand::test(quote!(cores = 2u8, seeds = 100, virtual_time), runs());
    assert_eq!(error(&out), None, "{out}");
    let text = out.to_string();
    // Suffixes are dropped, so the value fits the parameter's type.
    assert!(
        text.contains("cores : :: core :: option :: Option :: Some (2)"),
        "{text}"
    );
    assert!(
        text.contains("seeds : :: core :: option :: Option :: Some (100)"),
        "{text}"
    );
    assert!(text.contains("virtual_time : true"), "{text}");

    let out = expand::main(
        quote!(cores = 0),
        quote!(
            async fn main() {}
        ),
    );
    assert_eq!(error(&out), None, "{out}");
    assert!(
        out.to_string().contains(". cores (0) . run (body)"),
        "{out}"
    );
}
