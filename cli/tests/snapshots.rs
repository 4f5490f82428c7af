//! Snapshot tests of the `mlsdk` binary: the literate cases under
//! `tests/cmd/` (Markdown, one command per `$` line, followed by what it
//! prints on stdout and stderr and, after `? failed`, a failing exit).
//!
//! Each case file runs its commands in order in a fresh copy of its `.in/`
//! directory (the `.out/` beside it asks for that sandbox). Rewrite the
//! expected output after a deliberate change with
//! `TRYCMD=overwrite cargo test -p ml-sdk-cli --test snapshots`. A case that
//! panics prints what no case expects, and one that runs past two minutes is
//! stopped and fails.

#[test]
fn cli_snapshots() {
    trycmd::TestCases::new()
        .register_bin("mlsdk", std::path::Path::new(env!("CARGO_BIN_EXE_mlsdk")))
        // A tracking store named by the environment would change what
        // commands do; an empty value is no value.
        .env("MLFLOW_TRACKING_URI", "")
        .env("MLFLOW_EXPERIMENT_NAME", "")
        .env("NO_COLOR", "1")
        // A command that hangs fails its case instead of the whole run.
        .timeout(std::time::Duration::from_secs(120))
        .case("tests/cmd/*.md");
}
