//! What `#[corun::main]` and `#[corun::test]` turn an `async fn` into, and
//! the checks on that function, each error saying what to write instead.
//!
//! The expansion only names items of `::corun` (`Builder`, and the hidden
//! `__private` support for tests); the test loop itself lives there, in
//! plain Rust, not in generated code.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, ItemFn, Signature};

use crate::options::{Kind, Options};

/// Expands `#[corun::main(args)]` on `item`.
pub(crate) fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => f,
        Err(e) => return with_item(e, item),
    };
    let result = Options::parse(Kind::Main, args).and_then(|options| {
        check_main(&item.sig)?;
        Ok(expand_main(&options, &item))
    });
    result.unwrap_or_else(|e| {
        // An `async fn main` as written would add "`main` function is not
        // allowed to be `async`"; an empty one stands in for it.
        let stand_in = if item.sig.ident == "main" && item.sig.asyncness.is_some() {
            quote!(
                fn main() {}
            )
        } else {
            item.into_token_stream()
        };
        with_item(e, stand_in)
    })
}

/// Expands `#[corun::test(args)]` on `item`.
pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(f) => f,
        Err(e) => return with_item(e, item),
    };
    let result = Options::parse(Kind::Test, args).and_then(|options| {
        check_test(&item)?;
        Ok(expand_test(&options, &item))
    });
    // The function comes back untouched beside the error (a `#[test]` it
    // does not have cannot fail on its own), so no second error follows.
    result.unwrap_or_else(|e| with_item(e, item.into_token_stream()))
}

/// The error, followed by the item as written, so that the user sees this
/// error alone and not also "`main` function not found" or unresolved
/// names where the item is used.
fn with_item(e: syn::Error, item: TokenStream) -> TokenStream {
    let mut out = e.to_compile_error();
    out.extend(item);
    out
}

fn check_main(sig: &Signature) -> syn::Result<()> {
    if sig.ident != "main" {
        return Err(syn::Error::new(
            sig.ident.span(),
            format!(
                "#[corun::main] goes on `async fn main()`; to run `{}` on a scheduler, \
                 call `corun::run({}())` or `corun::Builder::new().run({}())`",
                sig.ident, sig.ident, sig.ident
            ),
        ));
    }
    check_signature(
        sig,
        "#[corun::main]",
        "async fn main()",
        "read arguments with `std::env::args()`",
    )
}

fn check_test(item: &ItemFn) -> syn::Result<()> {
    if let Some(attr) = item.attrs.iter().find(|a| is_test_attr(a)) {
        let path = attr.path().to_token_stream().to_string().replace(' ', "");
        return Err(syn::Error::new_spanned(
            attr,
            format!("remove `#[{path}]`: #[corun::test] already makes the function a test"),
        ));
    }
    let example = format!("async fn {}()", item.sig.ident);
    check_signature(
        &item.sig,
        "#[corun::test]",
        &example,
        "make the values inside its body",
    )
}

/// `#[test]` or `#[core::prelude::v1::test]` (any path ending in `test`
/// with no arguments), which would register the function a second time.
fn is_test_attr(attr: &Attribute) -> bool {
    let path = attr.path();
    matches!(attr.meta, syn::Meta::Path(_))
        && path.segments.last().is_some_and(|s| s.ident == "test")
        && !path.segments.iter().any(|s| s.ident == "corun")
}

/// What both macros need: an `async fn` with no parameters, no generics
/// and no `const`/`unsafe`/`extern`.
fn check_signature(sig: &Signature, attr: &str, example: &str, no_params: &str) -> syn::Result<()> {
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!("{attr} needs an async function: write `{example}`"),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new(
            sig.inputs.span(),
            format!("{attr} takes a function without parameters: write `{example}` ({no_params})"),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!("{attr} takes a function without generics: write `{example}`"),
        ));
    }
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(
            c.span,
            format!("remove `const`: {attr} runs the function on a scheduler"),
        ));
    }
    if let syn::Safety::Unsafe(u) = &sig.safety {
        return Err(syn::Error::new(
            u.span,
            format!("remove `unsafe`: write `{example}` and put an `unsafe` block inside"),
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new_spanned(
            abi,
            format!("remove the ABI: write `{example}`"),
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            v,
            format!("{attr} takes a function without parameters: write `{example}`"),
        ));
    }
    Ok(())
}

/// The function's outer attributes, with its inner ones (`#![allow(..)]`
/// at the top of the body) turned outer: they keep applying to the
/// function, which the body's async block could not carry.
fn attrs(item: &ItemFn) -> Vec<Attribute> {
    item.attrs
        .iter()
        .cloned()
        .map(|mut a| {
            a.style = AttrStyle::Outer;
            a
        })
        .collect()
}

/// `fn main() -> T { Builder::new().cores(n).run(async { body }) }`.
fn expand_main(options: &Options, item: &ItemFn) -> TokenStream {
    let attrs = attrs(item);
    let vis = &item.vis;
    let output = &item.sig.output;
    let stmts = &item.block.stmts;
    let cores = options.cores.map(|c| {
        let n = c.tokens();
        quote_spanned!(c.span=> .cores(#n))
    });
    // The async block's output type is inferred from `main`'s return type
    // through `run`'s signature, so `?` in the body needs no annotation.
    quote! {
        #(#attrs)*
        #vis fn main() #output {
            let body = async move { #(#stmts)* };
            ::corun::Builder::new() #cores .run(body)
        }
    }
}

/// `#[test] fn name() -> T { __private::run_test(spec, || async { body }) }`:
/// the closure makes a fresh future for each seed.
fn expand_test(options: &Options, item: &ItemFn) -> TokenStream {
    let attrs = attrs(item);
    let vis = &item.vis;
    let name = &item.sig.ident;
    let output = &item.sig.output;
    let stmts = &item.block.stmts;
    let some = |t: Option<TokenStream>| match t {
        Some(t) => quote!(::core::option::Option::Some(#t)),
        None => quote!(::core::option::Option::None),
    };
    let cores = some(options.cores.map(|v| v.tokens()));
    let seed = some(options.seed.map(|v| v.tokens()));
    let seeds = some(options.seeds.map(|v| v.tokens()));
    let virtual_time = options.virtual_time;
    let ignored = item.attrs.iter().any(|a| a.path().is_ident("ignore"));
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() #output {
            ::corun::__private::run_test(
                ::corun::__private::TestSpec {
                    path: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                    package: ::core::option_env!("CARGO_PKG_NAME"),
                    crate_name: ::core::option_env!("CARGO_CRATE_NAME"),
                    bin: ::core::option_env!("CARGO_BIN_NAME"),
                    // Cargo sets this for integration tests and benches only.
                    integration: ::core::option_env!("CARGO_TARGET_TMPDIR").is_some(),
                    file: ::core::file!(),
                    ignored: #ignored,
                    cores: #cores,
                    seed: #seed,
                    seeds: #seeds,
                    virtual_time: #virtual_time,
                },
                || async move { #(#stmts)* },
            )
        }
    }
}
