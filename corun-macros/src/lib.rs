//! The attribute macros of [corun](https://docs.rs/corun):
//! `#[corun::main]` runs `async fn main` on a corun scheduler, and
//! `#[corun::test]` runs an `async fn` test on a fresh scheduler, with
//! options for cores, seeded schedules and virtual time.
//!
//! Depend on `corun` alone and write `#[corun::main]` / `#[corun::test]`:
//! corun re-exports both, and their expansion names items of `::corun`.
//!
//! ```
//! #[corun::main(cores = 2)]
//! async fn main() {
//!     assert_eq!(corun::cores(), 2);
//! }
//! ```
//!
//! What each expands to is plain corun code, spelled out on each macro:
//! nothing here needs the macros, they only save the boilerplate.
//!
//! # Layout
//!
//! * `options.rs` — the options (`cores = N`, `seed = N`, ...) and their
//!   errors.
//! * `expand.rs` — the checks on the function and the code it becomes.
//!
//! The test loop the expansion calls (seeds, the replay command printed on
//! failure) is in corun, `src/macro_support.rs`.

#![warn(missing_docs)]

use proc_macro::TokenStream;

mod expand;
mod options;
#[cfg(test)]
mod tests;

/// Runs `async fn main()` on a corun scheduler on the main thread.
///
/// ```
/// #[corun::main]
/// async fn main() {
///     let t = corun::spawn(async { 6 * 7 });
///     assert_eq!(t.await.unwrap(), 42);
/// }
/// ```
///
/// becomes a plain `fn main()` whose body is
///
/// ```
/// corun::Builder::new().run(async {
///     let t = corun::spawn(async { 6 * 7 });
///     assert_eq!(t.await.unwrap(), 42);
/// })
/// ```
///
/// `main` may return what a plain `main` may, such as a `Result`, and use
/// `?` in its body:
///
/// ```
/// #[corun::main]
/// async fn main() -> std::io::Result<()> {
///     let (a, b) = corun::net::UnixStream::pair()?;
///     b.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     a.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     Ok(())
/// }
/// ```
///
/// # Options
///
/// * `cores = N`: N scheduler threads, `main` on core 0
///   ([`Builder::cores`](https://docs.rs/corun/latest/corun/struct.Builder.html#method.cores);
///   `cores = 0` is one per CPU). Default: 1.
///
/// The other options of a [`Builder`](https://docs.rs/corun/latest/corun/struct.Builder.html)
/// are set by calling it yourself, as above.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::main(args.into(), item.into()).into()
}

/// Makes `async fn name()` a `#[test]` that runs its body on a fresh corun
/// scheduler.
///
/// ```
/// #[corun::test]
/// async fn spawned_task_returns() {
///     let t = corun::spawn(async { 6 * 7 });
///     assert_eq!(t.await.unwrap(), 42);
/// }
/// # fn main() {}
/// ```
///
/// A test may return a `Result` (`Err` fails it) and keep any other
/// attribute (`#[should_panic]`, `#[ignore]`). Leave out `#[test]`: the
/// macro adds it.
///
/// # Options
///
/// Written as `#[corun::test(cores = 2, seeds = 100, virtual_time)]`:
///
/// | option | effect |
/// | --- | --- |
/// | `cores = N` | N scheduler threads, the body on core 0 (`Builder::cores`; `cores = 0` is one per CPU). Default: 1. |
/// | `seed = N` | the ready tasks' order comes from seed N (`Builder::seed`); the same seed replays the same schedule on one core. `CORUN_SEED` does not change it. |
/// | `seeds = N` | runs the body N times, each on a fresh scheduler with its own seed: 0, 1, …, N−1. With `CORUN_SEED=S` set, it runs seed S alone. |
/// | `virtual_time` | the clock jumps to the next timer when nothing is ready (`Builder::virtual_time`): sleeps of hours end at once. |
///
/// Without `seed` or `seeds`, the order is corun's default (first ready,
/// first run), or the seed in `CORUN_SEED` when it is set.
///
/// # A failing run
///
/// When the body panics (or returns `Err`) under a seed, the test prints
/// the seed and the command that replays that run alone, then fails:
///
/// ```text
/// corun: `race::counter_is_exact` failed under seed 17 (run 18 of 100)
/// corun: replay it with: CORUN_SEED=17 cargo test -p app --test race -- counter_is_exact --exact
/// ```
///
/// # Errors at compile time
///
/// The function must be `async`, take no parameters and have no generics;
/// an unknown option, a repeated one, `seed` together with `seeds`, a value
/// that is not an integer literal or `seeds = 0` are errors saying what to
/// write instead.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::test(args.into(), item.into()).into()
}
