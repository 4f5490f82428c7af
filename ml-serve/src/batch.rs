//! Dynamic batching: concurrent requests for one model are merged into one
//! call of the model, up to a row count or a delay, and the predictions are
//! split back. One task per served model version; it ends when the version
//! is unloaded (its queue's sender dropped).

use std::sync::Weak;
use std::time::Duration;

use ml_core::Predictions;
use ml_core::ndarray::{Array2, ArrayView2, Axis, concatenate, s};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::ServedModel;
use crate::repository::Loaded;

/// How requests are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Most rows one call of the model takes (a single larger request runs alone).
    pub max_rows: usize,
    /// How long the first request of a batch waits for others.
    pub delay: Duration,
}

pub(crate) struct Job {
    pub rows: Array2<f64>,
    pub reply: oneshot::Sender<Result<Predictions>>,
}

/// The queue of one model version.
#[derive(Debug, Clone)]
pub(crate) struct Batcher {
    queue: mpsc::Sender<Job>,
}

/// Requests waiting beyond this many are refused (the server is overloaded).
const QUEUE_CAPACITY: usize = 4096;

impl Batcher {
    /// Start the batching task on the current runtime.
    pub fn spawn(loaded: Weak<Loaded>, name: String, policy: BatchPolicy, metrics: Metrics) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(run(loaded, name, policy, rx, metrics));
        Self { queue }
    }

    /// Predict `rows` as part of a batch.
    ///
    /// # Errors
    /// A full queue (503), the model's error.
    pub async fn predict(&self, rows: Array2<f64>) -> Result<Predictions> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { rows, reply })
            .map_err(|_| Error::new(503, "the batch queue is full; retry later"))?;
        answer.await.map_err(|_| Error::internal("the batching task stopped"))?
    }
}

/// Holds the version weakly (it holds the queue): while requests wait, their
/// handlers hold it strongly, so it is there when their batch runs.
async fn run(loaded: Weak<Loaded>, name: String, policy: BatchPolicy, mut rx: mpsc::Receiver<Job>, metrics: Metrics) {
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut rows = first.rows.nrows();
        let mut jobs = vec![first];
        let deadline = Instant::now() + policy.delay;
        while rows < policy.max_rows {
            let next = match rx.try_recv() {
                Ok(job) => Some(job),
                Err(_) if policy.delay.is_zero() => None,
                Err(_) => tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten(),
            };
            let Some(job) = next else { break };
            if rows + job.rows.nrows() > policy.max_rows {
                carry = Some(job);
                break;
            }
            rows += job.rows.nrows();
            jobs.push(job);
        }
        metrics.observe_batch(&name, rows);
        metrics.queue_depth(&name, rx.len());
        let Some(loaded) = loaded.upgrade() else {
            for job in jobs {
                let _ = job
                    .reply
                    .send(Err(Error::new(503, format!("model '{name}' was unloaded"))));
            }
            continue;
        };
        loaded.stats.record_execution();
        // The model runs off the async workers; the split happens there too.
        let done = tokio::task::spawn_blocking(move || execute(&loaded.model, jobs)).await;
        if done.is_err() {
            tracing::error!("a batch of the model panicked");
        }
    }
}

fn execute(model: &ServedModel, jobs: Vec<Job>) {
    if let [_] = jobs.as_slice() {
        for job in jobs {
            let _ = job.reply.send(model.predict(job.rows.view()));
        }
        return;
    }
    let views: Vec<ArrayView2<'_, f64>> = jobs.iter().map(|j| j.rows.view()).collect();
    let merged = match concatenate(Axis(0), &views) {
        Ok(m) => m,
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(Error::internal(format!("merging a batch: {e}"))));
            }
            return;
        }
    };
    match model.predict(merged.view()) {
        Ok(predictions) => {
            let mut start = 0;
            for job in jobs {
                let end = start + job.rows.nrows();
                let _ = job.reply.send(Ok(slice_rows(&predictions, start, end)));
                start = end;
            }
        }
        // The rows were checked one request at a time before batching, so
        // this is the model failing: every request of the batch hears it.
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

/// Rows `start..end` of predictions.
pub fn slice_rows(p: &Predictions, start: usize, end: usize) -> Predictions {
    match p {
        Predictions::Classification {
            labels,
            probabilities,
            classes,
        } => Predictions::Classification {
            labels: labels.slice(s![start..end]).to_owned(),
            probabilities: probabilities.as_ref().map(|m| m.slice(s![start..end, ..]).to_owned()),
            classes: classes.clone(),
        },
        Predictions::Regression { values } => Predictions::Regression {
            values: values.slice(s![start..end]).to_owned(),
        },
        Predictions::Clustering { clusters } => Predictions::Clustering {
            clusters: clusters.slice(s![start..end]).to_owned(),
        },
        // A kind of prediction this version does not know is passed whole.
        other => other.clone(),
    }
}
