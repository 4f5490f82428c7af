//! [`FanOutTracker`]: one run logged to several back ends at once.

use std::collections::HashMap;
use std::sync::Mutex;

use ml_core::{MetricPoint, RunId, RunStatus, Tracker};

/// Forwards every call to each back end, in order. A run started here has its
/// own id, mapped to each back end's run id. The first failure stops the call
/// and is returned; runs already started elsewhere are ended as `FAILED` if
/// starting fails part-way, so no back end keeps a dangling run.
#[derive(Debug)]
pub struct FanOutTracker {
    backends: Vec<Box<dyn Tracker>>,
    runs: Mutex<HashMap<String, Vec<RunId>>>,
}

impl FanOutTracker {
    /// Fan out to these back ends.
    pub fn new(backends: Vec<Box<dyn Tracker>>) -> Self {
        Self {
            backends,
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// The back-end run ids of a fan-out run.
    ///
    /// # Errors
    /// An unknown run.
    pub fn backend_runs(&self, run: &RunId) -> ml_core::Result<Vec<RunId>> {
        let runs = self
            .runs
            .lock()
            .map_err(|_| ml_core::Error::Unsupported("fan-out lock poisoned".into()))?;
        runs.get(&run.0)
            .cloned()
            .ok_or_else(|| ml_core::Error::invalid("run", format!("unknown fan-out run '{}'", run.0)))
    }

    fn each(&self, run: &RunId, mut f: impl FnMut(&dyn Tracker, &RunId) -> ml_core::Result<()>) -> ml_core::Result<()> {
        let ids = self.backend_runs(run)?;
        for (backend, id) in self.backends.iter().zip(&ids) {
            f(backend.as_ref(), id)?;
        }
        Ok(())
    }
}

impl Tracker for FanOutTracker {
    fn start_run(&self, experiment: &str, run_name: Option<&str>) -> ml_core::Result<RunId> {
        let mut ids = Vec::with_capacity(self.backends.len());
        for backend in &self.backends {
            match backend.start_run(experiment, run_name) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    for (b, id) in self.backends.iter().zip(&ids) {
                        let _ = b.end_run(id, RunStatus::Failed);
                    }
                    return Err(e);
                }
            }
        }
        let id = ids.first().map_or_else(|| "fanout-empty".to_string(), |i| i.0.clone());
        let mut runs = self
            .runs
            .lock()
            .map_err(|_| ml_core::Error::Unsupported("fan-out lock poisoned".into()))?;
        let mut key = id.clone();
        let mut n = 1;
        while runs.contains_key(&key) {
            key = format!("{id}-{n}");
            n += 1;
        }
        runs.insert(key.clone(), ids);
        Ok(RunId(key))
    }

    fn log_params(&self, run: &RunId, params: &[(String, String)]) -> ml_core::Result<()> {
        self.each(run, |b, id| b.log_params(id, params))
    }

    fn log_metrics(&self, run: &RunId, metrics: &[MetricPoint]) -> ml_core::Result<()> {
        self.each(run, |b, id| b.log_metrics(id, metrics))
    }

    fn set_tags(&self, run: &RunId, tags: &[(String, String)]) -> ml_core::Result<()> {
        self.each(run, |b, id| b.set_tags(id, tags))
    }

    fn log_artifact(&self, run: &RunId, path: &str, contents: &[u8]) -> ml_core::Result<()> {
        self.each(run, |b, id| b.log_artifact(id, path, contents))
    }

    fn end_run(&self, run: &RunId, status: RunStatus) -> ml_core::Result<()> {
        // End everywhere even if one back end fails; report the first failure.
        let ids = self.backend_runs(run)?;
        let mut first = None;
        for (b, id) in self.backends.iter().zip(&ids) {
            if let Err(e) = b.end_run(id, status) {
                first.get_or_insert(e);
            }
        }
        if let Ok(mut runs) = self.runs.lock() {
            runs.remove(&run.0);
        }
        first.map_or(Ok(()), Err)
    }
}
