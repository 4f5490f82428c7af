//! DP-SGD (Abadi et al., "Deep Learning with Differential Privacy", 2016):
//! Poisson-sampled batches, each example's gradient clipped to L2 norm `C`,
//! Gaussian noise of standard deviation `σ·C` added to the sum, divided by
//! the expected batch size.
//!
//! Per-example gradients: burn has no per-sample gradient API. For networks
//! whose weighted layers are all dense, each dense layer's output gets a
//! zero probe leaf; one backward pass gives every example's output gradient
//! `g_i`, and with the layer's input `a_i` the example's weight gradient is
//! `g_i a_iᵀ`, whose squared norm is `‖g_i‖²(‖a_i‖² + 1)` with the bias. The
//! clipped sum is then `(c ⊙ G)ᵀ A`: one backward pass and a few matrix
//! products a batch (3.65× plain SGD's epoch on digits, noise included:
//! BENCHMARKS.md). Other networks
//! (convolutions, layer normalization) take one backward pass per example
//! (micro-batches of one), about a batch's size times slower. Batch
//! normalization mixes examples and is refused.
//!
//! Accounting: ml-privacy's RDP or PLD accountant for `steps` compositions
//! of the Poisson-subsampled Gaussian with rate `q = batch / n`. Training
//! stops before a step would take ε over the budget. Noise is drawn from a
//! ChaCha20 generator keyed by the operating system (floating-point Gaussian
//! noise, as Opacus and TensorFlow Privacy use).

use burn::tensor::{Device, Tensor};
use ml_core::{Error, Result, RowShape};
use ml_privacy::{DpRng, PldAccountant, RdpAccountant};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::backend::{self, Mode, download, upload};
use crate::network::{LayerConfig, Network};
use crate::train::{Totals, TrainRows, TrainState, loss_tensor};

/// Which accountant turns (σ, q, steps, δ) into ε.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountantKind {
    /// Rényi DP (Mironov 2017; Opacus' and TF Privacy's default).
    #[default]
    Rdp,
    /// Privacy loss distributions (tighter; dp-accounting's `PLDAccountant`).
    Pld,
}

impl AccountantKind {
    /// Parse `rdp` or `pld`.
    ///
    /// # Errors
    /// Anything else.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "rdp" => Ok(AccountantKind::Rdp),
            "pld" => Ok(AccountantKind::Pld),
            other => Err(Error::invalid(
                "dp_accountant",
                format!("{other:?}: expected rdp or pld"),
            )),
        }
    }

    /// `rdp` or `pld`.
    pub fn name(self) -> &'static str {
        match self {
            AccountantKind::Rdp => "rdp",
            AccountantKind::Pld => "pld",
        }
    }

    /// ε of `steps` Poisson-subsampled Gaussian steps.
    ///
    /// # Errors
    /// Parameters outside the accountant's domain.
    pub fn epsilon(self, noise_multiplier: f64, sampling_rate: f64, steps: u64, delta: f64) -> Result<f64> {
        let map = |e: ml_privacy::Error| Error::invalid("privacy", e.to_string());
        if steps == 0 {
            return Ok(0.0);
        }
        match self {
            AccountantKind::Rdp => {
                let mut acc = RdpAccountant::new();
                acc.compose_poisson_subsampled_gaussian(noise_multiplier, sampling_rate, steps)
                    .map_err(map)?;
                Ok(acc.epsilon(delta).map_err(map)?.0)
            }
            AccountantKind::Pld => PldAccountant::default()
                .epsilon(noise_multiplier, sampling_rate, steps, delta)
                .map_err(map),
        }
    }
}

/// The privacy settings of DP-SGD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpConfig {
    /// The ε budget.
    pub epsilon: f64,
    /// δ.
    pub delta: f64,
    /// Per-example L2 clipping norm `C`.
    pub clip: f64,
    /// σ (noise standard deviation over `C`); `None`: the smallest σ whose
    /// planned steps fit the budget.
    pub noise_multiplier: Option<f64>,
    /// The accountant.
    pub accountant: AccountantKind,
    /// A fixed noise seed, for reproducible tests only: no privacy.
    pub insecure_seed: Option<u64>,
}

impl DpConfig {
    pub(crate) fn check(&self) -> Result<()> {
        let pos = |k: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::invalid(k, format!("must be positive and finite, got {v}")))
            }
        };
        pos("dp_epsilon", self.epsilon)?;
        pos("clip", self.clip)?;
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(Error::invalid(
                "dp_delta",
                format!("must be in (0, 1), got {}", self.delta),
            ));
        }
        if let Some(s) = self.noise_multiplier {
            pos("noise_multiplier", s)?;
        }
        Ok(())
    }

    pub(crate) fn params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("dp_epsilon".to_string(), self.epsilon.to_string()),
            ("dp_delta".into(), self.delta.to_string()),
            ("clip".into(), self.clip.to_string()),
            ("dp_accountant".into(), self.accountant.name().into()),
        ];
        if let Some(s) = self.noise_multiplier {
            p.push(("noise_multiplier".into(), s.to_string()));
        }
        p
    }

    pub(crate) fn rng(&self) -> Result<DpRng> {
        match self.insecure_seed {
            Some(s) => Ok(DpRng::insecure_seeded_for_tests(s)),
            None => DpRng::secure().map_err(|e| Error::invalid("randomness", e.to_string())),
        }
    }
}

/// What a private run spent (`mlsdk train --json` prints it under `privacy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyReport {
    /// ε for the steps taken.
    pub epsilon: f64,
    /// δ.
    pub delta: f64,
    /// σ.
    pub noise_multiplier: f64,
    /// q = expected batch / training rows.
    pub sampling_rate: f64,
    /// Noisy steps taken.
    pub steps: u64,
    /// `rdp` or `pld`.
    pub accountant: String,
    /// Per-example clipping norm.
    pub clip: f64,
    /// How per-example gradients were computed: `dense_probes` or `micro_batches`.
    pub per_example: String,
}

/// A private run's plan: σ, the sampling rate and the step budget.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub config: DpConfig,
    pub sampling_rate: f64,
    pub expected_batch: f64,
    pub steps_per_epoch: usize,
    pub max_steps: u64,
    pub sigma: f64,
    pub probes: bool,
}

impl Plan {
    pub(crate) fn new(config: &DpConfig, batch: usize, n: usize, epochs: usize, net: &Network) -> Result<Self> {
        if net.mixes_rows() {
            return Err(Error::invalid(
                "dp",
                "batch normalization mixes examples, so per-example clipping cannot bound one row's influence: use layer normalization",
            ));
        }
        let q = (batch as f64 / n as f64).min(1.0);
        let steps_per_epoch = ((n as f64 / batch as f64).round() as usize).max(1);
        let planned = (epochs * steps_per_epoch) as u64;
        let eps = |sigma: f64, steps: u64| config.accountant.epsilon(sigma, q, steps, config.delta);
        let (sigma, max_steps) = match config.noise_multiplier {
            Some(sigma) => {
                if eps(sigma, 1)? > config.epsilon {
                    return Err(Error::invalid(
                        "dp_epsilon",
                        format!(
                            "one step at noise multiplier {sigma} already spends more than ε = {}",
                            config.epsilon
                        ),
                    ));
                }
                // The most steps within the budget, by bisection (ε grows with steps).
                let (mut lo, mut hi) = (1u64, planned);
                if eps(sigma, hi)? <= config.epsilon {
                    lo = hi;
                }
                while lo < hi {
                    let mid = lo + (hi - lo).div_ceil(2);
                    if eps(sigma, mid)? <= config.epsilon {
                        lo = mid
                    } else {
                        hi = mid - 1
                    }
                }
                (sigma, lo)
            }
            None => {
                // The smallest σ (to 0.1%) whose planned steps fit the budget.
                let (mut lo, mut hi) = (0.3f64, 1.0f64);
                while eps(hi, planned)? > config.epsilon {
                    lo = hi;
                    hi *= 2.0;
                    if hi > 1e4 {
                        return Err(Error::invalid(
                            "dp_epsilon",
                            format!("ε = {} is too small for {planned} steps", config.epsilon),
                        ));
                    }
                }
                while (hi - lo) / hi > 1e-3 {
                    let mid = 0.5 * (lo + hi);
                    if eps(mid, planned)? > config.epsilon {
                        lo = mid
                    } else {
                        hi = mid
                    }
                }
                (hi, planned)
            }
        };
        Ok(Self {
            config: config.clone(),
            sampling_rate: q,
            expected_batch: q * n as f64,
            steps_per_epoch,
            max_steps,
            sigma,
            probes: net.dense_only(),
        })
    }

    pub(crate) fn epsilon(&self, steps: u64) -> Result<f64> {
        self.config
            .accountant
            .epsilon(self.sigma, self.sampling_rate, steps, self.config.delta)
    }

    pub(crate) fn report(&self, steps: u64) -> Result<PrivacyReport> {
        Ok(PrivacyReport {
            epsilon: self.epsilon(steps)?,
            delta: self.config.delta,
            noise_multiplier: self.sigma,
            sampling_rate: self.sampling_rate,
            steps,
            accountant: self.config.accountant.name().into(),
            clip: self.config.clip,
            per_example: if self.probes { "dense_probes" } else { "micro_batches" }.into(),
        })
    }

    /// A Poisson sample: each training row independently with probability q.
    pub(crate) fn sample(&self, train: &[usize], rng: &mut impl rand::Rng) -> Vec<usize> {
        train
            .iter()
            .copied()
            .filter(|_| rng.random::<f64>() < self.sampling_rate)
            .collect()
    }
}

/// A standard normal draw (Box-Muller on 53-bit uniforms).
fn gaussian(rng: &mut DpRng) -> f64 {
    let u = |rng: &mut DpRng| ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let (a, b) = (u(rng), u(rng));
    (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
}

/// One DP-SGD step's gradient: clipped per-example gradients summed, noise
/// added, divided by the expected batch size.
#[allow(clippy::too_many_arguments)]
pub(crate) fn private_gradients(
    plan: &Plan,
    state: &TrainState,
    shapes: &[RowShape],
    rows: &TrainRows,
    batch: &[usize],
    ad: &Device,
    rng: &mut ml_core::SeededRng,
    noise: &mut DpRng,
    totals: &mut Totals,
) -> Result<Vec<Option<Vec<f32>>>> {
    let net = &state.network;
    let c = plan.config.clip;
    let mut sums: Vec<Option<Vec<f64>>> = net
        .params
        .iter()
        .map(|p| p.trainable.then(|| vec![0.0; p.value.len()]))
        .collect();
    if !batch.is_empty() {
        if plan.probes {
            probe_sums(state, shapes, rows, batch, ad, rng, c, &mut sums, totals)?;
        } else {
            for &i in batch {
                let one = [i];
                let leaves = backend::leaves(net, ad, true);
                let (z, _) = backend::forward(net, shapes, &leaves, rows.batch_x(&one, ad), Mode::Train(rng), false);
                let loss = loss_tensor(state.loss, z.clone(), rows, &one, 1.0, ad);
                let grads = loss.backward();
                totals.add(state.loss, &download(z.inner())?, rows, &one);
                let mut per: Vec<Option<Vec<f32>>> = Vec::with_capacity(leaves.len());
                for (leaf, p) in leaves.iter().zip(&net.params) {
                    per.push(match (p.trainable, leaf.grad(&grads)) {
                        (true, Some(g)) => Some(download(g)?),
                        (true, None) => Some(vec![0.0; p.value.len()]),
                        _ => None,
                    });
                }
                let norm = per
                    .iter()
                    .flatten()
                    .flat_map(|g| g.iter())
                    .map(|&v| f64::from(v).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let factor = (c / (norm + 1e-12)).min(1.0);
                for (s, g) in sums.iter_mut().zip(&per) {
                    if let (Some(s), Some(g)) = (s, g) {
                        s.iter_mut().zip(g).for_each(|(a, &b)| *a += factor * f64::from(b));
                    }
                }
            }
        }
    }
    let sd = plan.sigma * c;
    Ok(sums
        .into_iter()
        .map(|s| {
            s.map(|s| {
                s.into_iter()
                    .map(|v| ((v + sd * gaussian(noise)) / plan.expected_batch) as f32)
                    .collect()
            })
        })
        .collect())
}

/// Clipped per-example gradient sums of a dense network from one backward
/// pass through probe leaves.
#[allow(clippy::too_many_arguments)]
fn probe_sums(
    state: &TrainState,
    shapes: &[RowShape],
    rows: &TrainRows,
    batch: &[usize],
    ad: &Device,
    rng: &mut ml_core::SeededRng,
    clip: f64,
    sums: &mut [Option<Vec<f64>>],
    totals: &mut Totals,
) -> Result<()> {
    let net = &state.network;
    let b = batch.len();
    let leaves = backend::leaves(net, ad, false);
    let (z, extras) = backend::forward(net, shapes, &leaves, rows.batch_x(batch, ad), Mode::Train(rng), true);
    let loss = loss_tensor(state.loss, z.clone(), rows, batch, 1.0, ad);
    let grads = loss.backward();
    totals.add(state.loss, &download(z.inner())?, rows, batch);
    // Per trainable dense layer: its input A (b × in) and output gradient G (b × out).
    let mut layers: Vec<(usize, Tensor<2>, Tensor<2>)> = Vec::new();
    for (layer, a, probe) in extras.probes {
        if !net.params_of(layer).any(|i| net.params[i].trainable) {
            continue;
        }
        let g = probe
            .grad(&grads)
            .unwrap_or_else(|| Tensor::<2>::zeros(probe.dims(), &probe.device().inner()));
        layers.push((layer, a.inner(), g));
    }
    let inner = ad.clone().inner();
    let mut norms2 = Tensor::<2>::zeros([b, 1], &inner);
    for (_, a, g) in &layers {
        let ga = g.clone().square().sum_dim(1);
        let aa = a.clone().square().sum_dim(1) + 1.0;
        norms2 = norms2 + ga * aa;
    }
    let norms = download(norms2)?;
    let factors: Vec<f32> = norms
        .iter()
        .map(|&n2| (clip / (f64::from(n2).max(0.0).sqrt() + 1e-12)).min(1.0) as f32)
        .collect();
    let factors = upload(factors, [b, 1], &inner);
    for (layer, a, g) in layers {
        let gc = g * factors.clone();
        let gw = download(gc.clone().transpose().matmul(a))?;
        let gb = download(gc.sum_dim(0))?;
        for i in net.params_of(layer) {
            let p = &net.params[i];
            let src = match p.kind {
                crate::network::ParamKind::Weight => &gw,
                crate::network::ParamKind::Bias => &gb,
                _ => continue,
            };
            if let Some(s) = &mut sums[i] {
                s.iter_mut().zip(src).for_each(|(a, &v)| *a += f64::from(v));
            }
        }
    }
    // Dense layers are the only weighted layers here; keep the invariant visible.
    debug_assert!(net.layers.iter().all(|l| !matches!(l, LayerConfig::Conv2d { .. })));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NetTrainer, Sequential};

    /// The probe shortcut gives the same clipped sums as one backward pass
    /// per example.
    #[test]
    fn probe_gradients_equal_per_example_backward_passes() {
        let data = ml_datasets::breast_cancer().unwrap();
        let cfg = DpConfig {
            epsilon: 10.0,
            delta: 1e-5,
            clip: 0.5,
            noise_multiplier: Some(1.0),
            accountant: AccountantKind::Rdp,
            insecure_seed: Some(1),
        };
        let trainer = NetTrainer {
            architecture: Sequential::new().dense(8).tanh().dense(4).relu(),
            dp: Some(cfg.clone()),
            ..NetTrainer::default()
        };
        let mut state = trainer.initial_state(&data).unwrap();
        // Freeze the first layer: frozen layers take no part in clipping.
        state.network.freeze_below(1, true);
        let rows = trainer.rows(&state, &data).unwrap();
        let shapes = state.network.shapes().unwrap();
        let ad = burn::tensor::Device::flex().autodiff();
        let batch: Vec<usize> = (0..40).collect();
        let mut grads = Vec::new();
        for probes in [true, false] {
            let mut plan = Plan::new(&cfg, 32, rows.n(), 1, &state.network).unwrap();
            plan.probes = probes;
            let mut rng = ml_core::seeded_rng(0);
            let mut noise = DpRng::insecure_seeded_for_tests(3);
            let mut totals = Totals::default();
            grads.push(
                private_gradients(
                    &plan,
                    &state,
                    &shapes,
                    &rows,
                    &batch,
                    &ad,
                    &mut rng,
                    &mut noise,
                    &mut totals,
                )
                .unwrap(),
            );
        }
        assert!(grads[0][0].is_none() && grads[0][1].is_none(), "frozen layer");
        for (a, b) in grads[0].iter().zip(&grads[1]) {
            match (a, b) {
                (Some(a), Some(b)) => {
                    for (x, y) in a.iter().zip(b) {
                        assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
                    }
                }
                (None, None) => {}
                _ => panic!("trainable sets differ"),
            }
        }
    }
}
