//! The options inside `#[corun::main(...)]` and `#[corun::test(...)]`:
//! parsing, and the errors that say what to write instead.
//!
//! This file only reads the attribute's tokens; it must not look at the
//! function (that is `expand.rs`).

use proc_macro2::{Literal, Span, TokenStream};
use quote::quote_spanned;
use syn::meta::ParseNestedMeta;
use syn::{Expr, Lit, LitBool, LitInt, Token};

/// Which macro the options belong to: each takes its own set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[corun::main]",
            Kind::Test => "#[corun::test]",
        }
    }

    fn takes(self) -> &'static str {
        match self {
            Kind::Main => "`cores = N`",
            Kind::Test => "`cores = N`, `seed = N`, `seeds = N` and `virtual_time`",
        }
    }
}

/// An integer option's value, with the span of its literal so that the
/// expansion points type errors at what the user wrote.
#[derive(Clone, Copy)]
pub(crate) struct Value<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// Every option, as written; absent options are `None`/`false`.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) cores: Option<Value<usize>>,
    pub(crate) seed: Option<Value<u64>>,
    pub(crate) seeds: Option<Value<u64>>,
    pub(crate) virtual_time: bool,
}

impl Options {
    /// Parses the attribute's arguments for `kind`.
    pub(crate) fn parse(kind: Kind, args: TokenStream) -> syn::Result<Options> {
        let mut options = Options::default();
        let parser = syn::meta::parser(|meta| options.parse_one(kind, meta));
        syn::parse::Parser::parse2(parser, args)?;
        Ok(options)
    }

    fn parse_one(&mut self, kind: Kind, meta: ParseNestedMeta) -> syn::Result<()> {
        let name = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let test_only = matches!(name.as_str(), "seed" | "seeds" | "virtual_time");
        if kind == Kind::Main && test_only {
            return Err(meta.error(format!(
                "`{name}` is a #[corun::test] option; #[corun::main] takes {}. \
                 For a program, configure corun::Builder and call its run()",
                kind.takes()
            )));
        }
        let given = match name.as_str() {
            "cores" => self.cores.is_some(),
            "seed" => self.seed.is_some(),
            "seeds" => self.seeds.is_some(),
            "virtual_time" => self.virtual_time,
            _ => false,
        };
        if given {
            return Err(meta.error(format!("`{name}` is given twice; keep one")));
        }
        match name.as_str() {
            "cores" => {
                self.cores = Some(int(&meta, "cores", "cores = 4", in_range)?);
                Ok(())
            }
            "seed" => {
                if self.seeds.is_some() {
                    return Err(seed_and_seeds(&meta));
                }
                self.seed = Some(int(&meta, "seed", "seed = 17", in_range)?);
                Ok(())
            }
            "seeds" => {
                if self.seed.is_some() {
                    return Err(seed_and_seeds(&meta));
                }
                self.seeds = Some(int(&meta, "seeds", "seeds = 100", |digits| {
                    match digits.parse::<u64>() {
                        Ok(0) => Err(
                            "`seeds = 0` runs the body under no seed: write `seeds = 1` or more"
                                .into(),
                        ),
                        Ok(n) => Ok(n),
                        Err(_) => Err(format!(
                            "`seeds = {digits}` is out of range: write e.g. `seeds = 100`"
                        )),
                    }
                })?);
                Ok(())
            }
            "virtual_time" => {
                self.virtual_time = if meta.input.peek(Token![=]) {
                    let value = meta.value()?;
                    let lit: LitBool = value.parse().map_err(|e| {
                        syn::Error::new(e.span(), "`virtual_time` is a flag: write `virtual_time`")
                    })?;
                    lit.value
                } else {
                    true
                };
                Ok(())
            }
            _ => Err(meta.error(format!(
                "unknown option `{}`: {} takes {}",
                quote::ToTokens::to_token_stream(&meta.path)
                    .to_string()
                    .replace(' ', ""),
                kind.attr(),
                kind.takes()
            ))),
        }
    }
}

fn seed_and_seeds(meta: &ParseNestedMeta) -> syn::Error {
    meta.error(
        "`seed` and `seeds` exclude each other: `seed = N` runs the body once under seed N, \
         `seeds = N` runs it under N seeds; keep one",
    )
}

/// Reads `= <integer literal>`; anything else (a string, a negative
/// number, a constant's name, a value out of range) is an error showing
/// `example`.
fn int<T>(
    meta: &ParseNestedMeta,
    name: &str,
    example: &str,
    convert: impl Fn(&str) -> Result<T, String>,
) -> syn::Result<Value<T>> {
    let want = format!("`{name}` takes an integer literal, such as `{example}`");
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(want));
    }
    let expr: Expr = meta.value()?.parse()?;
    let lit: Option<&LitInt> = match &expr {
        Expr::Lit(e) => match &e.lit {
            Lit::Int(i) => Some(i),
            _ => None,
        },
        _ => None,
    };
    let Some(lit) = lit else {
        return Err(syn::Error::new_spanned(expr, want));
    };
    match convert(lit.base10_digits()) {
        Ok(value) => Ok(Value {
            value,
            span: lit.span(),
        }),
        Err(msg) => Err(syn::Error::new(lit.span(), msg)),
    }
}

/// The `convert` of [`int`] for options whose every value of the type is
/// valid.
fn in_range<T: std::str::FromStr>(digits: &str) -> Result<T, String> {
    digits.parse().map_err(|_| {
        format!(
            "`{digits}` is out of range for a {}",
            std::any::type_name::<T>()
        )
    })
}

impl Value<usize> {
    /// The value as an unsuffixed literal (a suffix the user wrote, such as
    /// `4u8`, would not fit the parameter's type).
    pub(crate) fn tokens(&self) -> TokenStream {
        let lit = Literal::usize_unsuffixed(self.value);
        quote_spanned!(self.span=> #lit)
    }
}

impl Value<u64> {
    /// As [`Value::<usize>::tokens`].
    pub(crate) fn tokens(&self) -> TokenStream {
        let lit = Literal::u64_unsuffixed(self.value);
        quote_spanned!(self.span=> #lit)
    }
}
