//! Parent side of the child processes: where the per-runtime child binaries
//! live (next to the parent's own), making sure they are built and current
//! (through the `cargo` that started the parent, so that the one command
//! `cargo run --release -p corun-bench` builds everything), and running one
//! cell in a fresh child with a wall-clock limit (kill on expiry).
//!
//! Must not contain workload code (`peers/`, `child.rs`), formatting
//! (`report.rs`) or drawing (`chart.rs`).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::plan::{Cell, Runtime};
use crate::report::RunLine;

/// The child binaries of one run of the command.
pub struct Children {
    /// The directory holding them (the parent's own).
    dir: PathBuf,
}

impl Children {
    /// Finds the child binaries `runtimes` need. When the parent was started
    /// by cargo (`CARGO` is set, as `cargo run` does), first has that cargo
    /// build every binary of this package with the parent's profile, target
    /// directory and features: `cargo run` builds only the binary it runs, and
    /// this makes a stale child impossible (a fresh build is a no-op).
    /// With `load`, also the httpd load generator (`corun-bench-load`).
    pub fn prepare(runtimes: &[Runtime], load: bool) -> Result<Children, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let dir = exe
            .parent()
            .ok_or("the parent binary has no directory")?
            .to_path_buf();
        if let Some(cargo) = std::env::var_os("CARGO") {
            build(cargo, &dir)?;
        }
        let load_bin = load.then_some("corun-bench-load");
        let bins = runtimes
            .iter()
            .flat_map(|rt| [Some(rt.child_bin()), rt.cores_child_bin()])
            .flatten()
            .chain(load_bin);
        for name in bins {
            let bin = dir.join(name);
            if !bin.is_file() {
                return Err(format!(
                    "missing {}: run through `cargo run --release -p corun-bench`, \
                     or build it with `cargo build --release -p corun-bench`",
                    bin.display()
                ));
            }
        }
        Ok(Children { dir })
    }

    /// Runs one cell once in a fresh child process of its runtime's binary.
    pub fn run(&self, cell: &Cell, timeout: Duration) -> Result<RunLine, String> {
        let exe = self.dir.join(cell.child_bin());
        let mut cmd = Command::new(exe);
        // corun's io_uring file writes only in their tuned row: the plain
        // row is the default path even if the caller's shell sets it.
        if cell.kind == "fileio-uring" {
            cmd.env("CORUN_FS_URING", "1");
        } else {
            cmd.env_remove("CORUN_FS_URING");
        }
        // The httpd load generator is the cell's, never the caller's shell's.
        cmd.env(corun_bench::common::LOAD_ENV, cell.load.name());
        let mut child = cmd
            .args([
                cell.runtime.name(),
                cell.kind,
                &cell.n.to_string(),
                &cell.param.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn child: {e}"))?;
        let out = child.stdout.take().ok_or("child stdout missing")?;
        let err = child.stderr.take().ok_or("child stderr missing")?;
        let out_reader = std::thread::spawn(move || {
            let mut first_json = None;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if first_json.is_none() && line.trim_start().starts_with('{') {
                    first_json = Some(line);
                }
            }
            first_json
        });
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(err).take(1 << 20).read_to_string(&mut text);
            text
        });
        let t0 = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break Some(st),
                Ok(None) if t0.elapsed() > timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("wait child: {e}")),
            }
        };
        let json = out_reader.join().ok().flatten();
        let stderr = err_reader.join().unwrap_or_default();
        let Some(status) = status else {
            return Err(format!("timeout after {} s", timeout.as_secs()));
        };
        match json {
            Some(line) => serde_json::from_str::<RunLine>(&line)
                .map_err(|e| format!("bad child output {line:?}: {e}")),
            None => {
                let last = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                Err(format!("child {status}, no result; stderr: {last}"))
            }
        }
    }
}

/// Adds the profile and target directory that build into `dir` (the
/// parent's profile directory) to a `cargo build`.
fn same_profile(cmd: &mut Command, dir: &Path) -> Result<(), String> {
    // <target-dir>/<profile dir>/corun-bench: dev builds into `debug`,
    // release into `release`, a custom profile into its own name.
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(profile) => {
            cmd.args(["--profile", profile]);
        }
        None => return Err(format!("unexpected binary directory {}", dir.display())),
    }
    if let Some(target_dir) = dir.parent() {
        cmd.arg("--target-dir").arg(target_dir);
    }
    Ok(())
}

/// Has the `cargo` that started the parent (if one did) build corun's
/// example server, `<profile dir>/examples/http_server`, which corun's
/// httpd cells at N cores run (`corun_bench::http_example`).
pub fn build_http_example() -> Result<(), String> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = exe.parent().ok_or("the parent binary has no directory")?;
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "corun",
        "--example",
        "http_server",
        "--manifest-path",
    ])
    .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    same_profile(&mut cmd, dir)?;
    eprintln!("corun-bench: building corun's example http_server (httpd at 2 cores)");
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo to build the example server: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "building the example server failed: cargo {status}"
        ))
    }
}

/// Has `cargo` build all binaries of this package into `dir` (the parent's
/// profile directory), with the parent's features.
fn build(cargo: OsString, dir: &Path) -> Result<(), String> {
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--bins", "-p", "corun-bench", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
    same_profile(&mut cmd, dir)?;
    // Exactly the parent's feature set: a different set (even `corun`
    // spelled without `default`) makes the two builds relink each other's
    // binaries, so every `cargo run` would rebuild the package.
    if !cfg!(feature = "default") {
        cmd.arg("--no-default-features");
    }
    if cfg!(feature = "corun") {
        cmd.args(["--features", "corun"]);
    }
    eprintln!("corun-bench: building the child binaries (one per runtime)");
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run cargo to build the child binaries: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "building the child binaries failed: cargo {status}"
        ))
    }
}
