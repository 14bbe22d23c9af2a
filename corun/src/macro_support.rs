//! What `#[corun::test]` expands to calls: [`run_test`] runs the test body
//! under each seed asked for, one fresh scheduler per run, and on a failing
//! run prints the seed and the command that replays it.
//!
//! Hidden from the docs and not a stable API: only the expansion of
//! `corun-macros` may name it. It configures a [`Builder`] like any user
//! would; it must not reach into the scheduler.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use crate::Builder;

/// Where a test lives and the options written in its attribute; the
/// expansion fills it from `module_path!()`, `file!()` and cargo's
/// compile-time environment.
#[derive(Clone, Debug)]
pub struct TestSpec {
    /// `module_path!()::name`: the crate's name, then the test's path.
    pub path: &'static str,
    /// `CARGO_PKG_NAME`, for `cargo test -p`.
    pub package: Option<&'static str>,
    /// `CARGO_CRATE_NAME`: the test target's name with `-` as `_`.
    pub crate_name: Option<&'static str>,
    /// `CARGO_BIN_NAME`, set when the test is in a binary.
    pub bin: Option<&'static str>,
    /// Whether the test is in an integration test (`tests/*.rs`).
    pub integration: bool,
    /// `file!()` at the test.
    pub file: &'static str,
    /// Whether the test carries `#[ignore]` (its replay then needs
    /// `--include-ignored`).
    pub ignored: bool,
    /// `cores = N`.
    pub cores: Option<usize>,
    /// `seed = N`.
    pub seed: Option<u64>,
    /// `seeds = N` (N ≥ 1).
    pub seeds: Option<u64>,
    /// `virtual_time`.
    pub virtual_time: bool,
}

/// What a test body may return: `()` or a `Result`, whose `Err` fails the
/// test like a panic does.
#[diagnostic::on_unimplemented(
    message = "a #[corun::test] function returns `()` or a `Result`, not `{Self}`",
    label = "this is the test body's output"
)]
pub trait Outcome {
    /// True when this output fails the test.
    fn failed(&self) -> bool;
}

impl Outcome for () {
    fn failed(&self) -> bool {
        false
    }
}

impl<T, E> Outcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}

/// The environment variable that replays one seed.
const SEED_VAR: &str = "CORUN_SEED";

/// Runs the body `make()` builds under each seed `spec` asks for, a fresh
/// scheduler each time, and returns the first failing output (or the last
/// one). A panic is resumed after the seed and the replay command are
/// printed.
///
/// # Panics
///
/// If the body panics, or `CORUN_SEED` is set but not a decimal `u64`.
pub fn run_test<M, F>(spec: TestSpec, make: M) -> F::Output
where
    M: Fn() -> F,
    F: Future + 'static,
    F::Output: Outcome + 'static,
{
    let from_env = seed_from_env();
    let seeds: Vec<Option<u64>> = match (spec.seed, spec.seeds) {
        (Some(seed), _) => vec![Some(seed)],
        (None, Some(_)) if from_env.is_some() => vec![from_env],
        (None, Some(n)) => (0..n).map(Some).collect(),
        // The Builder reads CORUN_SEED itself; it is named here so that a
        // failure can print it.
        (None, None) => vec![from_env],
    };
    let runs = seeds.len();
    let mut last = None;
    for (i, seed) in seeds.into_iter().enumerate() {
        let builder = builder(&spec, seed);
        let out = catch_unwind(AssertUnwindSafe(|| builder.run(make())));
        let failed = match &out {
            Ok(output) => output.failed(),
            Err(_) => true,
        };
        if let (true, Some(seed)) = (failed, seed) {
            eprintln!("{}", report(&spec, seed, i, runs));
        }
        match out {
            Ok(output) if failed => return output,
            Ok(output) => last = Some(output),
            Err(panic) => resume_unwind(panic),
        }
    }
    last.expect("a #[corun::test] runs at least one seed")
}

/// A fresh scheduler's settings for one run under `seed`.
fn builder(spec: &TestSpec, seed: Option<u64>) -> Builder {
    let mut b = Builder::new();
    if let Some(n) = spec.cores {
        b = b.cores(n);
    }
    if let Some(seed) = seed {
        b = b.seed(seed);
    }
    if spec.virtual_time {
        b = b.virtual_time(true);
    }
    b
}

/// `CORUN_SEED` as a `u64`; unset or empty is `None`.
///
/// # Panics
///
/// If it is set to something else, naming the variable and its value.
fn seed_from_env() -> Option<u64> {
    let value = std::env::var_os(SEED_VAR)?;
    let text = value.to_str().map(str::trim);
    if text == Some("") {
        return None;
    }
    match text.and_then(|t| t.parse().ok()) {
        Some(seed) => Some(seed),
        None => panic!("{SEED_VAR}={value:?} is not a decimal u64 (e.g. {SEED_VAR}=17)"),
    }
}

/// The lines printed when run `index` (of `runs`) failed under `seed`.
fn report(spec: &TestSpec, seed: u64, index: usize, runs: usize) -> String {
    let run = if runs > 1 {
        format!(" (run {} of {runs})", index + 1)
    } else {
        String::new()
    };
    format!(
        "corun: `{}` failed under seed {seed}{run}\ncorun: replay it with: {}",
        spec.path,
        replay_command(spec, seed)
    )
}

/// The shell command that runs this test alone under `seed`.
fn replay_command(spec: &TestSpec, seed: u64) -> String {
    let mut cmd = String::new();
    // A seed written in the attribute is used whatever the variable says.
    if spec.seed.is_none() {
        cmd.push_str(&format!("{SEED_VAR}={seed} "));
    }
    cmd.push_str("cargo test");
    if let Some(package) = spec.package {
        cmd.push_str(&format!(" -p {package}"));
    }
    match (spec.bin, spec.integration) {
        (Some(bin), _) => cmd.push_str(&format!(" --bin {bin}")),
        (None, true) => cmd.push_str(&format!(" --test {}", test_target(spec))),
        (None, false) => cmd.push_str(" --lib"),
    }
    cmd.push_str(&format!(" -- {} --exact", test_name(spec.path)));
    if spec.ignored {
        cmd.push_str(" --include-ignored");
    }
    cmd
}

/// The name libtest gives the test: its path without the crate's name.
fn test_name(path: &'static str) -> &'static str {
    path.split_once("::").map_or(path, |(_, rest)| rest)
}

/// The integration test's target name: the file's stem (`tests/my-case.rs`
/// or `tests/my-case/main.rs`) when it is the crate's name once `-` reads
/// `_` (a test in a submodule's file falls back to the crate's name, which
/// differs only when the target's name has a `-`).
fn test_target(spec: &TestSpec) -> String {
    let crate_name = spec
        .crate_name
        .or_else(|| spec.path.split("::").next())
        .unwrap_or_default();
    let path = std::path::Path::new(spec.file);
    let stem = match path.file_stem().and_then(|s| s.to_str()) {
        Some("main") => path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str()),
        stem => stem,
    };
    match stem {
        Some(stem) if stem.replace('-', "_") == crate_name => stem.to_string(),
        _ => crate_name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TestSpec {
        TestSpec {
            path: "races::shared::counter_is_exact",
            package: Some("my-app"),
            crate_name: Some("races"),
            bin: None,
            integration: true,
            file: "my-app/tests/races.rs",
            ignored: false,
            cores: None,
            seed: None,
            seeds: Some(100),
            virtual_time: false,
        }
    }

    #[test]
    fn integration_test_command_names_package_target_and_exact_name() {
        assert_eq!(
            replay_command(&spec(), 17),
            "CORUN_SEED=17 cargo test -p my-app --test races -- shared::counter_is_exact --exact"
        );
    }

    #[test]
    fn dashed_target_name_comes_from_the_file() {
        let s = TestSpec {
            crate_name: Some("my_races"),
            path: "my_races::t",
            file: "tests/my-races.rs",
            ..spec()
        };
        assert!(replay_command(&s, 3).contains("--test my-races -- t --exact"));
        let s = TestSpec {
            file: "tests/my-races/main.rs",
            ..s
        };
        assert!(replay_command(&s, 3).contains("--test my-races -- t --exact"));
        let s = TestSpec {
            file: "tests/my-races/helpers.rs",
            ..s
        };
        assert!(replay_command(&s, 3).contains("--test my_races -- t --exact"));
    }

    #[test]
    fn an_ignored_test_is_replayed_with_include_ignored() {
        let s = TestSpec {
            ignored: true,
            ..spec()
        };
        assert!(replay_command(&s, 2).ends_with(" --exact --include-ignored"));
    }

    #[test]
    fn unit_and_bin_tests_use_lib_and_bin() {
        let unit = TestSpec {
            integration: false,
            crate_name: Some("my_app"),
            path: "my_app::net::tests::t",
            ..spec()
        };
        assert!(replay_command(&unit, 1).ends_with(" --lib -- net::tests::t --exact"));
        let bin = TestSpec {
            bin: Some("server"),
            ..unit
        };
        assert!(replay_command(&bin, 1).ends_with(" --bin server -- net::tests::t --exact"));
    }

    #[test]
    fn a_fixed_seed_needs_no_variable_to_replay() {
        let s = TestSpec {
            seed: Some(5),
            seeds: None,
            ..spec()
        };
        assert!(replay_command(&s, 5).starts_with("cargo test -p my-app"));
    }

    #[test]
    fn report_counts_runs_only_when_there_are_several() {
        let many = report(&spec(), 17, 17, 100);
        assert!(many.starts_with(
            "corun: `races::shared::counter_is_exact` failed under seed 17 (run 18 of 100)\n"
        ));
        let one = report(&spec(), 17, 0, 1);
        assert!(one.starts_with("corun: `races::shared::counter_is_exact` failed under seed 17\n"));
    }

    #[test]
    fn results_fail_on_err_only() {
        assert!(!().failed());
        assert!(!Ok::<u8, ()>(1).failed());
        assert!(Err::<u8, ()>(()).failed());
    }
}
