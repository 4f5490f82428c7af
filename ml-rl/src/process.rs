//! Environments in another process, over a documented protocol: one JSON
//! object a line on the child's stdin and stdout. This is the seam for
//! simulators written elsewhere (a Gymnasium environment in Python, a game
//! engine, a plant model) and for rollouts on an existing cluster: a Ray
//! actor (or any worker) that speaks these lines serves its environment to
//! ml-rl's vectorized rollouts ([`crate::ThreadVectorEnv`] steps several at
//! once).
//!
//! Requests and replies (`scripts/gym_server.py` is a complete server for
//! any Gymnasium environment):
//!
//! | request | reply |
//! | --- | --- |
//! | `{"cmd": "spaces"}` | `{"id": "...", "observation_space": SPACE, "action_space": SPACE}` |
//! | `{"cmd": "reset", "seed": 3}` (`seed` may be `null`) | `{"obs": [...], "info": {...}}` |
//! | `{"cmd": "step", "action": 1}` (or `[0.5]`) | `{"obs": [...], "reward": r, "terminated": b, "truncated": b, "info": {...}}` |
//! | `{"cmd": "close"}` | `{}`, then the process exits |
//!
//! A SPACE is `{"type": "discrete", "n": N, "start": S}`, `{"type": "box",
//! "low": [...], "high": [...], "shape": [...]}` (an unbounded side is
//! `null`) or `{"type": "multi_discrete", "nvec": [...]}`. Any reply may be
//! `{"error": "message"}` instead. Info values that are not numbers are
//! dropped. A line is at most 16 MiB.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use ml_core::{Error, Result};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::env::{Env, Info, Step};
use crate::space::{Action, Space};

/// The longest line either side may send.
pub const MAX_LINE: u64 = 16 << 20;

/// An environment served by a child process.
pub struct ProcessEnv {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    id: String,
    obs_space: Space,
    act_space: Space,
}

impl std::fmt::Debug for ProcessEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessEnv")
            .field("id", &self.id)
            .field("pid", &self.child.id())
            .finish()
    }
}

fn protocol(reason: impl Into<String>) -> Error {
    Error::Backend {
        backend: "environment process",
        source: reason.into().into(),
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireSpace {
    Discrete {
        n: u64,
        #[serde(default)]
        start: i64,
    },
    Box {
        low: Vec<Option<f32>>,
        high: Vec<Option<f32>>,
        shape: Vec<usize>,
    },
    MultiDiscrete {
        nvec: Vec<u64>,
    },
}

impl WireSpace {
    fn into_space(self) -> Result<Space> {
        Ok(match self {
            WireSpace::Discrete { n, start } if n > 0 => Space::Discrete { n, start },
            WireSpace::Box { low, high, shape }
                if low.len() == high.len() && shape.iter().product::<usize>() == low.len() =>
            {
                Space::Box {
                    low: low.into_iter().map(|v| v.unwrap_or(f32::NEG_INFINITY)).collect(),
                    high: high.into_iter().map(|v| v.unwrap_or(f32::INFINITY)).collect(),
                    shape,
                }
            }
            WireSpace::MultiDiscrete { nvec } if nvec.iter().all(|&n| n > 0) => Space::MultiDiscrete { nvec },
            _ => return Err(protocol("a space with inconsistent sizes")),
        })
    }
}

fn floats(v: &Value, what: &str) -> Result<Vec<f32>> {
    v.as_array()
        .ok_or_else(|| protocol(format!("{what} is not a list")))?
        .iter()
        .map(|x| {
            x.as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| protocol(format!("{what} holds a non-number")))
        })
        .collect()
}

fn info(v: Option<&Value>) -> Info {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f)))
                .collect()
        })
        .unwrap_or_default()
}

impl ProcessEnv {
    /// Start `program args…` and ask it for its spaces.
    ///
    /// # Errors
    /// A program that does not start or does not answer the protocol.
    pub fn spawn(program: &str, args: &[&str]) -> Result<Self> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| protocol(format!("starting {program}: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(protocol("no pipes to the child"));
        };
        let mut env = Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            id: String::new(),
            obs_space: Space::discrete(1),
            act_space: Space::discrete(1),
        };
        let reply = env.call(&json!({"cmd": "spaces"}))?;
        let space = |key: &str| -> Result<Space> {
            let w: WireSpace =
                serde_json::from_value(reply[key].clone()).map_err(|e| protocol(format!("{key}: {e}")))?;
            w.into_space()
        };
        env.obs_space = space("observation_space")?;
        env.act_space = space("action_space")?;
        env.id = reply["id"].as_str().unwrap_or("external").to_string();
        Ok(env)
    }

    fn call(&mut self, request: &Value) -> Result<Value> {
        let mut line = serde_json::to_vec(request).map_err(|e| protocol(e.to_string()))?;
        line.push(b'\n');
        self.stdin
            .write_all(&line)
            .and_then(|()| self.stdin.flush())
            .map_err(|e| protocol(format!("writing to the environment: {e}")))?;
        let mut buf = Vec::new();
        let n = (&mut self.stdout)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| protocol(format!("reading from the environment: {e}")))?;
        if n == 0 {
            return Err(protocol("the environment process closed its output"));
        }
        if !buf.ends_with(b"\n") {
            return Err(Error::LimitExceeded {
                what: "a line from the environment process".into(),
                limit: "16 MiB".into(),
                hint: "or it ended mid-line".into(),
            });
        }
        let reply: Value =
            serde_json::from_slice(&buf).map_err(|e| protocol(format!("a reply that is not JSON: {e}")))?;
        if let Some(msg) = reply.get("error") {
            return Err(protocol(format!(
                "the environment failed: {}",
                msg.as_str().unwrap_or("?")
            )));
        }
        Ok(reply)
    }
}

impl Env for ProcessEnv {
    fn id(&self) -> &str {
        &self.id
    }
    fn observation_space(&self) -> &Space {
        &self.obs_space
    }
    fn action_space(&self) -> &Space {
        &self.act_space
    }
    fn reset(&mut self, seed: Option<u64>) -> Result<(Vec<f32>, Info)> {
        let r = self.call(&json!({"cmd": "reset", "seed": seed}))?;
        Ok((floats(&r["obs"], "obs")?, info(r.get("info"))))
    }
    fn step(&mut self, action: &Action) -> Result<Step> {
        self.act_space.check(action)?;
        let r = self.call(&json!({"cmd": "step", "action": action}))?;
        let flag = |k: &str| r[k].as_bool().ok_or_else(|| protocol(format!("{k} is not a boolean")));
        Ok(Step {
            obs: floats(&r["obs"], "obs")?,
            reward: r["reward"].as_f64().ok_or_else(|| protocol("reward is not a number"))?,
            terminated: flag("terminated")?,
            truncated: flag("truncated")?,
            info: info(r.get("info")),
        })
    }
}

impl Drop for ProcessEnv {
    fn drop(&mut self) {
        let _ = self.call(&json!({"cmd": "close"}));
        // A server that ignores close is stopped.
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            if !matches!(self.child.try_wait(), Ok(Some(_))) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}
