//! Triton's model configuration: as JSON for `GET …/config`, and as the
//! `config.pbtxt` protobuf text of a Triton model repository.

use serde_json::{Value, json};

use crate::batch::BatchPolicy;
use crate::model::{ServedModel, TensorSpec};
use crate::tensor::DataType;

/// Batch size declared when no batching policy says otherwise.
pub const DEFAULT_MAX_BATCH_SIZE: usize = 1024;

/// One input or output of a Triton configuration: dims without the batch
/// dimension; a per-row scalar is `[1]` reshaped to `[]`.
struct ConfigTensor {
    name: String,
    data_type: DataType,
    dims: Vec<i64>,
    reshape_to_scalar: bool,
}

fn config_tensor(t: &TensorSpec) -> ConfigTensor {
    let dims: Vec<i64> = t.shape.iter().skip(1).copied().collect();
    let scalar = dims.is_empty();
    ConfigTensor {
        name: t.name.clone(),
        data_type: t.datatype,
        dims: if scalar { vec![1] } else { dims },
        reshape_to_scalar: scalar,
    }
}

/// What a Triton configuration says about a served model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TritonConfig {
    name: String,
    platform: String,
    max_batch_size: usize,
    delay_us: Option<u64>,
    instances: usize,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
}

impl TritonConfig {
    /// The configuration of `model` as ONNX Runtime would serve its ONNX
    /// export in Triton (`platform: "onnxruntime_onnx"`), or as this server
    /// serves it (`platform` as recorded on the model) when `onnx` is false.
    pub fn new(model: &ServedModel, batch: Option<&BatchPolicy>, onnx: bool) -> Self {
        Self {
            name: model.name().to_string(),
            platform: if onnx {
                "onnxruntime_onnx".into()
            } else {
                model.platform().to_string()
            },
            max_batch_size: batch.map_or(DEFAULT_MAX_BATCH_SIZE, |b| b.max_rows),
            delay_us: batch.map(|b| b.delay.as_micros() as u64),
            instances: 1,
            inputs: model.inputs(),
            outputs: model.outputs(),
        }
    }

    /// Run this many model instances on the CPU (Triton's `instance_group`).
    pub fn with_instances(mut self, n: usize) -> Self {
        self.instances = n.max(1);
        self
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The platform.
    pub fn platform(&self) -> &str {
        &self.platform
    }

    /// The largest batch.
    pub fn max_batch_size(&self) -> usize {
        self.max_batch_size
    }

    /// CPU instances.
    pub fn instances(&self) -> usize {
        self.instances
    }

    /// The dynamic batching delay, when batching is configured.
    pub fn delay_us(&self) -> Option<u64> {
        self.delay_us
    }

    /// The inputs (or outputs) as Triton declares them: name, datatype,
    /// dims after the batch dimension, and whether a `[1]` is reshaped to a scalar.
    pub fn tensors(&self, inputs: bool) -> Vec<(String, DataType, Vec<i64>, bool)> {
        let list = if inputs { &self.inputs } else { &self.outputs };
        list.iter()
            .map(|t| {
                let c = config_tensor(t);
                (c.name, c.data_type, c.dims, c.reshape_to_scalar)
            })
            .collect()
    }

    /// Triton's JSON form (as `GET /v2/models/{m}/config` returns it).
    pub fn to_json(&self) -> Value {
        let tensor = |t: &TensorSpec| {
            let c = config_tensor(t);
            let mut v = json!({
                "name": c.name,
                "data_type": c.data_type.config_name(),
                "dims": c.dims,
            });
            if c.reshape_to_scalar {
                v["reshape"] = json!({"shape": []});
            }
            v
        };
        let mut v = json!({
            "name": self.name,
            "platform": self.platform,
            "max_batch_size": self.max_batch_size,
            "input": self.inputs.iter().map(tensor).collect::<Vec<_>>(),
            "output": self.outputs.iter().map(tensor).collect::<Vec<_>>(),
            "instance_group": [{"kind": "KIND_CPU", "count": self.instances}],
        });
        if let Some(us) = self.delay_us {
            v["dynamic_batching"] = json!({"max_queue_delay_microseconds": us});
        }
        v
    }

    /// The `config.pbtxt` text (protobuf text format of Triton's `ModelConfig`).
    pub fn to_pbtxt(&self) -> String {
        let mut out = String::new();
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_default();
        out.push_str(&format!("name: {}\n", quoted(&self.name)));
        out.push_str(&format!("platform: {}\n", quoted(&self.platform)));
        out.push_str(&format!("max_batch_size: {}\n", self.max_batch_size));
        for (field, tensors) in [("input", &self.inputs), ("output", &self.outputs)] {
            for t in tensors {
                let c = config_tensor(t);
                out.push_str(&format!("{field} {{\n"));
                out.push_str(&format!("  name: {}\n", quoted(&c.name)));
                out.push_str(&format!("  data_type: {}\n", c.data_type.config_name()));
                let dims: Vec<String> = c.dims.iter().map(i64::to_string).collect();
                out.push_str(&format!("  dims: [ {} ]\n", dims.join(", ")));
                if c.reshape_to_scalar {
                    out.push_str("  reshape: { shape: [ ] }\n");
                }
                out.push_str("}\n");
            }
        }
        out.push_str(&format!(
            "instance_group {{\n  kind: KIND_CPU\n  count: {}\n}}\n",
            self.instances
        ));
        out.push_str("dynamic_batching {\n");
        if let Some(us) = self.delay_us {
            out.push_str(&format!("  max_queue_delay_microseconds: {us}\n"));
        }
        out.push_str("}\n");
        out
    }
}

/// The JSON configuration of a served model (`GET …/config`).
pub fn config_json(model: &ServedModel, batch: Option<&BatchPolicy>) -> Value {
    TritonConfig::new(model, batch, false).to_json()
}
