//! A progress bar for training runs: environment steps done of the total,
//! steps per second, the recent episode return and the time left. Drawn
//! on stderr when it is a terminal, nowhere otherwise.

use std::io::IsTerminal;

use crate::ppo::PpoStats;

/// A training run's progress bar (hidden when stderr is not a terminal or
/// when made [`StepsProgress::hidden`]).
#[derive(Debug)]
pub struct StepsProgress {
    bar: Option<indicatif::ProgressBar>,
    start: u64,
}

impl StepsProgress {
    /// A bar for `steps` environment steps after the `done` a resumed run
    /// starts from.
    pub fn new(done: usize, steps: usize) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self::hidden();
        }
        let bar = indicatif::ProgressBar::new((done + steps) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps, {per_sec} {msg} [{elapsed} < {eta}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_position(done as u64);
        bar.reset_eta();
        Self {
            bar: Some(bar),
            start: done as u64,
        }
    }

    /// A bar that draws nothing (`--json`, tests).
    pub fn hidden() -> Self {
        Self { bar: None, start: 0 }
    }

    /// Show the stats after an update.
    pub fn update(&self, stats: &PpoStats) {
        if let Some(bar) = &self.bar {
            bar.set_position((stats.env_steps as u64).max(self.start));
            if let Some(r) = stats.recent_return(20) {
                bar.set_message(format!("return {r:.1}"));
            }
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
