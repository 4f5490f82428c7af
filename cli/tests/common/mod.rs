//! Running the `mlsdk` binary from the CLI's tests.
#![allow(dead_code)] // Each test binary uses part of these helpers.

use std::process::{Command, Output};

use serde_json::Value;

/// The `mlsdk` binary with these arguments, outside any tracking store or
/// experiment the environment names.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mlsdk"));
    c.args(args)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_EXPERIMENT_NAME");
    c
}

/// Require success; the output as it was.
pub fn succeeded(args: &[&str], out: Output) -> Output {
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Run `mlsdk` with these arguments, outside any tracking store the
/// environment names.
pub fn mlsdk(args: &[&str]) -> Output {
    command(args).output().expect("mlsdk runs")
}

/// Run `mlsdk`, require success, parse its standard output as JSON.
pub fn ok_json(args: &[&str]) -> Value {
    let out = succeeded(args, mlsdk(args));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Run `mlsdk` in `dir`, require success; its standard output.
pub fn run_in(dir: &std::path::Path, args: &[&str]) -> String {
    let out = succeeded(args, command(args).current_dir(dir).output().expect("mlsdk runs"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first `n` rows of a CSV file's columns bar `target`, as numbers.
pub fn csv_rows(path: &std::path::Path, target: &str, n: usize) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).expect("the CSV reads");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let skip = header
        .iter()
        .position(|h| h.trim_matches('"') == target)
        .expect("the target column");
    lines
        .take(n)
        .map(|l| {
            l.split(',')
                .enumerate()
                .filter(|(j, _)| *j != skip)
                .map(|(_, v)| v.parse().expect("a number"))
                .collect()
        })
        .collect()
}

/// `mlsdk serve` on free ports, killed when dropped unless [`Serve::terminate`] stopped it.
pub struct Serve {
    child: Option<std::process::Child>,
    /// The HTTP address it printed (`127.0.0.1:PORT`).
    pub http: String,
    /// The gRPC address it printed.
    pub grpc: String,
}

impl Serve {
    /// Start `mlsdk serve ARGS --port 0 --grpc-port 0` in `dir` and read
    /// the two addresses it prints once listening.
    pub fn start(dir: &std::path::Path, args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = command(&["serve"])
            .args(args)
            .args(["--port", "0", "--grpc-port", "0"])
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("mlsdk serve starts");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let mut read = || {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("an address");
            let addr = line.trim().to_string();
            assert!(addr.starts_with("127.0.0.1:"), "mlsdk serve printed {line:?}");
            addr
        };
        let (http, grpc) = (read(), read());
        Self {
            child: Some(child),
            http,
            grpc,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, std::process::Child::id)
    }

    /// SIGTERM, and the server must exit 0 within `limit`.
    pub fn terminate(mut self, limit: std::time::Duration) {
        let mut child = self.child.take().expect("still running");
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill runs")
                .success()
        );
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("waitable") {
                assert!(status.success(), "mlsdk serve exited with {status} on SIGTERM");
                return;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("mlsdk serve did not stop within {limit:?} of SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
