//! The Python engines of `mycel bench data` (rensa, datasketch, the `mycel_data` wheel), each run
//! as a child process over the same JSONL file by `peers.py`, which times the dedup work inside.

use mycel_data::{Error, Result, error::io};
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

/// The child script (see its docstring for what each engine runs).
pub const SCRIPT: &str = include_str!("peers.py");

/// A Python engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// rensa `RMinHashDeduplicator` (Rust, Python bindings).
    Rensa,
    /// datasketch `MinHashLSH` (pure Python with numpy).
    Datasketch,
    /// `mycel_data.dedup` from the wheel built by `scripts/build-py.sh`.
    Wheel,
}

impl Engine {
    /// The name `peers.py` takes.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Rensa => "rensa",
            Engine::Datasketch => "datasketch",
            Engine::Wheel => "wheel",
        }
    }

    /// The module its interpreter must import.
    fn module(self) -> &'static str {
        match self {
            Engine::Rensa => "rensa",
            Engine::Datasketch => "datasketch",
            Engine::Wheel => "mycel_data",
        }
    }
}

/// One timed run of a Python engine.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PyRun {
    /// The engine.
    pub engine: Engine,
    /// Its package version.
    pub version: String,
    /// What it ran.
    pub what: String,
    /// Seconds of the dedup work, timed inside the child (tokens included for the peers).
    pub dedup_s: f64,
    /// Of which tokenising (lower-case, strip punctuation, word 5-grams in Python).
    pub tokenize_s: f64,
    /// Seconds of the whole child process (interpreter start, imports, reading the JSONL).
    pub process_s: f64,
    /// Representative record of every record.
    #[serde(skip)]
    pub reps: Vec<u32>,
}

/// The Python of `venv` (`target/<venv>` from the working directory, else beside the running
/// binary's target directory), when it can import the engine's module.
pub fn find_python(explicit: Option<&Path>, venv: &str, engine: Engine) -> Option<PathBuf> {
    let mut tries: Vec<PathBuf> = Vec::new();
    match explicit {
        Some(p) => tries.push(p.to_path_buf()),
        None => {
            tries.push(Path::new("target").join(venv).join("bin/python"));
            if let Ok(exe) = std::env::current_exe()
                && let Some(target) = exe.parent().and_then(Path::parent)
            {
                tries.push(target.join(venv).join("bin/python"));
            }
        }
    }
    tries.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", &format!("import {}", engine.module())])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Runs `engine` with `python` over `input` on `threads` threads (Rayon, BLAS and OpenMP pools
/// of the child), writing the script and the representatives under `work`.
pub fn run(
    python: &Path,
    engine: Engine,
    input: &Path,
    work: &Path,
    threads: usize,
) -> Result<PyRun> {
    let script = work.join("peers.py");
    if !script.exists() {
        std::fs::write(&script, SCRIPT).map_err(io(&script))?;
    }
    let reps_path = work.join(format!("{}.reps", engine.name()));
    let n = threads.to_string();
    let start = Instant::now();
    let out = Command::new(python)
        .arg(&script)
        .arg(engine.name())
        .arg(input)
        .arg(&reps_path)
        .env("RAYON_NUM_THREADS", &n)
        .env("OMP_NUM_THREADS", &n)
        .env("OPENBLAS_NUM_THREADS", &n)
        .env("MKL_NUM_THREADS", &n)
        .output()
        .map_err(io(python))?;
    let process_s = start.elapsed().as_secs_f64();
    let fail = |why: String| Error::BadInput {
        path: python.to_path_buf(),
        why,
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        return Err(fail(format!(
            "{} exited with {}: {}",
            engine.name(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| fail(format!("bad report {line:?}: {e}")))?;
    let bytes = std::fs::read(&reps_path).map_err(io(&reps_path))?;
    let reps: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    let _ = std::fs::remove_file(&reps_path);
    let f = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    let s = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(PyRun {
        engine,
        version: s("version"),
        what: s("what"),
        dedup_s: f("dedup_s"),
        tokenize_s: f("tokenize_s"),
        process_s,
        reps,
    })
}
