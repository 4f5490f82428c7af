//! Transfer learning on digits: pretrain on the digits 0-4, then learn 5-9
//! from 10% of their training rows, by fine-tuning the pretrained network
//! (head replaced and trained alone at a high rate, then all layers at a
//! lower one)
//! and, for comparison, by training the same architecture from scratch.
//!
//! `cargo run --release -p ml-neural --example transfer_learning [SEEDS]`

use ml_core::{Dataset, Model, Predictions, Result};
use ml_neural::{NetTrainer, Sequential};
use rand::seq::SliceRandom;

fn accuracy(model: &dyn Model, data: &Dataset) -> Result<f64> {
    let Predictions::Classification { labels, .. } = model.predict(data.features())? else {
        unreachable!("a classifier")
    };
    let (y, _) = data.classes()?;
    ml_core::metrics::accuracy(&y.to_vec(), &labels.to_vec())
}

fn main() -> Result<()> {
    let seeds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let digits = ml_datasets::digits()?;
    // Digits 0-4 to pretrain, 5-9 (relabelled 0-4) to fine-tune.
    let (source, target) = (
        digits.select_classes(&[0, 1, 2, 3, 4])?,
        digits.select_classes(&[5, 6, 7, 8, 9])?,
    );
    let body = Sequential::new().dense(64).relu().dense(64).relu();
    let base = NetTrainer {
        architecture: body,
        epochs: 100,
        ..NetTrainer::default()
    };
    println!(
        "seed  scratch(lr 1e-3)  scratch(lr 1e-2)  frozen  fine-tuned   (test accuracy on digits 5-9, 10% of their training rows)"
    );
    let mut sums = [0.0; 4];
    for seed in 0..seeds {
        let pretrained = NetTrainer { seed, ..base.clone() }.fit_network(&source, &mut |_| {})?;
        let (train, test) = ml_core::train_test_split(&target, 0.25, seed, true)?;
        let mut rows: Vec<usize> = (0..train.n_samples()).collect();
        rows.shuffle(&mut ml_core::seeded_rng(seed));
        rows.truncate(train.n_samples() / 10);
        let few = train.select_rows(&rows)?;

        // Scratch gets the same epochs, at the default and at the head's rate.
        let scratch = NetTrainer { seed, ..base.clone() }.fit_network(&few, &mut |_| {})?;
        let scratch_fast = NetTrainer {
            seed,
            learning_rate: 1e-2,
            ..base.clone()
        }
        .fit_network(&few, &mut |_| {})?;

        // Replace the head, train it alone, then everything at a lower rate.
        let mut net = pretrained.network().clone();
        net.replace_head(5, &mut ml_core::seeded_rng(seed))?;
        net.freeze_all_but_head();
        let head = NetTrainer {
            seed,
            learning_rate: 1e-2,
            ..base.clone()
        };
        let frozen = head.fine_tune(pretrained.state(), net, &few, &mut |_| {})?;
        let mut all = frozen.network().clone();
        all.freeze_below(all.layers.len(), false);
        let tuned = NetTrainer {
            seed,
            learning_rate: 1e-3,
            epochs: 50,
            ..base.clone()
        }
        .fine_tune(frozen.state(), all, &few, &mut |_| {})?;

        let acc = [
            accuracy(&scratch, &test)?,
            accuracy(&scratch_fast, &test)?,
            accuracy(&frozen, &test)?,
            accuracy(&tuned, &test)?,
        ];
        println!(
            "{seed:>4}  {:.4}            {:.4}            {:.4}  {:.4}",
            acc[0], acc[1], acc[2], acc[3]
        );
        sums.iter_mut().zip(acc).for_each(|(s, a)| *s += a);
    }
    let n = seeds as f64;
    println!(
        "mean  {:.4}            {:.4}            {:.4}  {:.4}   ({} training rows of digits 5-9; pretrained on {} rows of 0-4)",
        sums[0] / n,
        sums[1] / n,
        sums[2] / n,
        sums[3] / n,
        target.n_samples() * 3 / 4 / 10,
        source.n_samples()
    );
    Ok(())
}
