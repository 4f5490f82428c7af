//! `mlsdk privacy`: differentially private statistics of a CSV column, and
//! the privacy accountant for DP-SGD.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use ml_sdk::privacy::aggregates::{self, Bounds, Neighbouring, NoiseSpec};
use ml_sdk::privacy::{DpRng, PldAccountant, PrivacyLoss, RdpAccountant};
use serde_json::{Value, json};

use crate::output::{Output, num, table};

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// Release one differentially private statistic of a CSV column.
    Stats(StatsArgs),
    /// The (ε, δ) of DP-SGD: the Poisson-subsampled Gaussian mechanism over many steps.
    Account(AccountArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Relation {
    /// One row added or removed (the row count is private).
    AddRemove,
    /// One row replaced (the row count is public).
    Substitute,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// CSV file with a header row.
    #[arg(long)]
    data: PathBuf,
    /// The column to summarise.
    #[arg(long)]
    column: String,
    /// count, sum, mean, var, quantile:Q (Q in [0, 1]) or histogram.
    #[arg(long)]
    stat: String,
    /// Clamping bounds LO,HI (required for sum, mean, var and quantiles).
    #[arg(long, allow_hyphen_values = true)]
    bounds: Option<String>,
    /// Privacy budget ε of this release.
    #[arg(long, allow_hyphen_values = true)]
    epsilon: f64,
    /// δ: with it, Gaussian noise calibrated to (ε, δ); histograms of
    /// unknown categories need it for their threshold.
    #[arg(long, allow_hyphen_values = true)]
    delta: Option<f64>,
    /// Which data sets are neighbours.
    #[arg(long, value_enum, default_value = "add-remove")]
    neighbouring: Relation,
    /// Histogram categories (comma-separated); without them the categories
    /// present are released above a δ-threshold.
    #[arg(long)]
    categories: Option<String>,
    /// Candidate points for quantiles, evenly spaced over the bounds.
    #[arg(long, default_value_t = 1000)]
    candidates: usize,
    /// Seed the noise generator (reproducible, and NOT private: anyone who
    /// knows the seed can remove the noise). For tests only.
    #[arg(long)]
    insecure_seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccountantKind {
    /// Rényi DP at dp-accounting's default orders.
    Rdp,
    /// Privacy loss distributions (connect-the-dots, FFT composition): tighter.
    Pld,
}

#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Noise standard deviation over the L2 clipping norm.
    #[arg(long)]
    noise_multiplier: f64,
    /// Probability that a record is in a step's batch (batch size / data size).
    #[arg(long)]
    sampling_rate: f64,
    /// Number of steps.
    #[arg(long)]
    steps: u64,
    /// Target δ.
    #[arg(long)]
    delta: f64,
    /// Which accountant.
    #[arg(long, value_enum, default_value = "rdp")]
    accountant: AccountantKind,
    /// Grid width of the privacy loss (PLD accountant; dp-accounting's default 1e-4).
    /// A coarser grid is faster and slightly more pessimistic.
    #[arg(long)]
    discretization: Option<f64>,
}

pub fn run(cmd: &PrivacyCommand, out: &Output) -> Result<()> {
    match cmd {
        PrivacyCommand::Stats(a) => stats(a, out),
        PrivacyCommand::Account(a) => account(a, out),
    }
}

fn parse_bounds(text: Option<&str>) -> Result<Bounds> {
    let text = text.context("--bounds LO,HI is required for this statistic")?;
    let (lo, hi) = text
        .split_once(',')
        .with_context(|| format!("--bounds '{text}': expected LO,HI"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .with_context(|| format!("--bounds '{text}': '{s}' is not a number"))
    };
    Ok(Bounds::new(parse(lo)?, parse(hi)?)?)
}

fn loss_json(loss: &PrivacyLoss) -> Value {
    match *loss {
        PrivacyLoss::Pure { epsilon } => json!({"epsilon": epsilon}),
        PrivacyLoss::Approximate { epsilon, delta } => json!({"epsilon": epsilon, "delta": delta}),
        PrivacyLoss::Zcdp { rho } => json!({"rho": rho}),
        PrivacyLoss::Renyi { alpha, epsilon } => json!({"alpha": alpha, "renyi_epsilon": epsilon}),
        _ => serde_json::to_value(loss).unwrap_or(Value::Null),
    }
}

fn stats(a: &StatsArgs, out: &Output) -> Result<()> {
    let frame = crate::train::read_csv(&a.data)?;
    let mut rng = match a.insecure_seed {
        Some(seed) => DpRng::insecure_seeded_for_tests(seed),
        None => DpRng::secure()?,
    };
    let rel = match a.neighbouring {
        Relation::AddRemove => Neighbouring::AddRemove,
        Relation::Substitute => Neighbouring::Substitute,
    };
    let spec = match a.delta {
        Some(delta) => NoiseSpec::Gaussian {
            epsilon: a.epsilon,
            delta,
        },
        None => NoiseSpec::Laplace { epsilon: a.epsilon },
    };
    let numeric = || -> Result<Vec<f64>> { Ok(frame.numeric_column(&a.column)?) };
    let (value, loss): (Value, PrivacyLoss) = match a.stat.as_str() {
        "count" => {
            // Checks that the column exists.
            frame.column(&a.column)?;
            let r = aggregates::count(&mut rng, frame.n_rows(), spec, rel)?;
            (json!(r.value), r.loss)
        }
        "sum" => {
            let r = aggregates::sum(&mut rng, &numeric()?, parse_bounds(a.bounds.as_deref())?, spec, rel)?;
            (json!(r.value), r.loss)
        }
        "mean" => {
            let r = aggregates::mean(&mut rng, &numeric()?, parse_bounds(a.bounds.as_deref())?, spec, rel)?;
            (json!(r.value), r.loss)
        }
        "var" | "variance" => {
            let r = aggregates::variance(&mut rng, &numeric()?, parse_bounds(a.bounds.as_deref())?, spec, rel)?;
            (json!(r.value), r.loss)
        }
        "histogram" => {
            let values = frame.complete_column(&a.column)?.to_vec();
            match &a.categories {
                Some(c) => {
                    let cats: Vec<String> = c.split(',').map(|s| s.trim().to_string()).collect();
                    let r = aggregates::histogram(&mut rng, &values, &cats, spec, rel)?;
                    let map: serde_json::Map<String, Value> =
                        cats.iter().cloned().zip(r.value.iter().map(|v| json!(v))).collect();
                    (Value::Object(map), r.loss)
                }
                None => {
                    let delta = a
                        .delta
                        .context("a histogram without --categories needs --delta for its threshold")?;
                    let r = aggregates::histogram_unknown(&mut rng, &values, a.epsilon, delta, rel)?;
                    let map: serde_json::Map<String, Value> =
                        r.value.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                    (Value::Object(map), r.loss)
                }
            }
        }
        s if s.starts_with("quantile:") => {
            let q: f64 = s["quantile:".len()..]
                .parse()
                .with_context(|| format!("--stat {s}: expected quantile:Q with Q a number in [0, 1]"))?;
            if a.delta.is_some() {
                bail!("quantiles use the exponential mechanism (pure ε); drop --delta");
            }
            let r = aggregates::quantile(
                &mut rng,
                &numeric()?,
                parse_bounds(a.bounds.as_deref())?,
                q,
                a.candidates,
                a.epsilon,
            )?;
            (json!(r.value), r.loss)
        }
        other => bail!("--stat {other}: expected count, sum, mean, var, quantile:Q or histogram"),
    };
    let mut doc = json!({"stat": a.stat, "column": a.column, "value": value});
    if let (Value::Object(d), Value::Object(l)) = (&mut doc, loss_json(&loss)) {
        d.extend(l);
    }
    out.emit(&doc, || {
        let mut rows = vec![
            ("statistic".to_string(), format!("{} of {}", a.stat, a.column)),
            (
                "value".to_string(),
                match &value {
                    Value::Number(n) => num(n.as_f64().unwrap_or(f64::NAN)),
                    other => other.to_string(),
                },
            ),
        ];
        if let Some(e) = loss.epsilon() {
            rows.push(("epsilon spent".into(), num(e)));
        }
        if let PrivacyLoss::Approximate { delta, .. } = loss {
            rows.push(("delta spent".into(), format!("{delta:e}")));
        }
        table(&rows)
    });
    Ok(())
}

fn account(a: &AccountArgs, out: &Output) -> Result<()> {
    if a.discretization.is_some() && !matches!(a.accountant, AccountantKind::Pld) {
        bail!("--discretization applies to --accountant pld only");
    }
    let (epsilon, name, detail) = match a.accountant {
        AccountantKind::Rdp => {
            let mut acc = RdpAccountant::new();
            acc.compose_poisson_subsampled_gaussian(a.noise_multiplier, a.sampling_rate, a.steps)?;
            let (epsilon, order) = acc.epsilon(a.delta)?;
            (epsilon, "rdp", json!({"order": order}))
        }
        AccountantKind::Pld => {
            let acc = PldAccountant {
                discretization: a.discretization.unwrap_or(PldAccountant::default().discretization),
            };
            let epsilon = acc.epsilon(a.noise_multiplier, a.sampling_rate, a.steps, a.delta)?;
            (epsilon, "pld", json!({"discretization": acc.discretization}))
        }
    };
    let mut doc = json!({
        "epsilon": epsilon,
        "delta": a.delta,
        "accountant": name,
    });
    if let (Value::Object(d), Value::Object(extra)) = (&mut doc, detail.clone()) {
        d.extend(extra);
    }
    out.emit(&doc, || {
        table(&[
            ("epsilon".into(), num(epsilon)),
            ("delta".into(), format!("{:e}", a.delta)),
            ("accountant".into(), format!("{name} {detail}")),
        ])
    });
    Ok(())
}
