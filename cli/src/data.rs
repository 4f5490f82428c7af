//! `mlsdk datasets`: list and export the bundled data sets.

use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;
use ml_sdk::core::{Target, io, write_csv};
use ml_sdk::datasets;
use serde_json::json;

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// List the bundled data sets with their shapes and tasks.
    List,
    /// Write a bundled data set as CSV with a header (target column `target`,
    /// or `risk` for german_credit).
    Export {
        /// Data set name.
        name: String,
        /// Output CSV file.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: &DatasetsCommand, out: &Output) -> Result<()> {
    match cmd {
        DatasetsCommand::List => {
            let mut rows = Vec::new();
            for name in datasets::NAMES {
                let d = datasets::load(name)?;
                let task = match d.target() {
                    Some(Target::Classes { names, .. }) => format!("classification ({} classes)", names.len()),
                    _ => "regression".to_string(),
                };
                rows.push(json!({
                    "name": name, "rows": d.n_samples(), "features": d.n_features(), "task": task,
                    "target": d.target_name(),
                    "sensitive": d.sensitive().iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
                }));
            }
            let value = json!({ "datasets": rows });
            out.emit(&value, || {
                rows.iter()
                    .map(|r| {
                        format!(
                            "  {:<14} {:>5} x {:<3} {}\n",
                            r["name"].as_str().unwrap_or(""),
                            r["rows"],
                            r["features"],
                            r["task"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            });
        }
        DatasetsCommand::Export { name, out: path } => {
            let d = datasets::load(name)?;
            let mut buf = Vec::new();
            write_csv(&d, &mut buf)?;
            io::write_atomic(path, &buf)?;
            let value = json!({ "dataset": name, "rows": d.n_samples(), "out": path, "target": d.target_name() });
            out.emit(&value, || {
                format!("wrote {} rows of {name} to {}\n", d.n_samples(), path.display())
            });
        }
    }
    Ok(())
}
