//! The runtimes behind [`crate::OnnxModel`]: tract (pure Rust, the default)
//! and ONNX Runtime through `ort` (feature `ort`), loaded at run time from a
//! shared library such as the one in the `onnxruntime` PyPI wheel.

use std::fmt::Debug;

use crate::{Error, Result};

/// Which runtime executes a model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Runtime {
    /// tract: pure Rust, no native dependency.
    #[default]
    Tract,
    /// ONNX Runtime (feature `ort`), loaded from `library`, or when `None`
    /// from `ORT_DYLIB_PATH`.
    Ort {
        /// Path of `libonnxruntime.so` / `.dylib` / `onnxruntime.dll`.
        library: Option<std::path::PathBuf>,
    },
}

impl Runtime {
    /// `"tract"` or `"ort"`.
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Tract => "tract",
            Runtime::Ort { .. } => "ort",
        }
    }

    /// Parse `tract` or `ort` (ONNX Runtime from `ORT_DYLIB_PATH`).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for other names.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "tract" => Ok(Runtime::Tract),
            "ort" | "onnxruntime" => Ok(Runtime::Ort { library: None }),
            other => Err(Error::Unsupported(format!("runtime '{other}' (tract, ort)"))),
        }
    }
}

/// An input batch: `rows × width`, row-major.
pub(crate) enum Input<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// One output tensor, copied out of the runtime.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OutData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Output {
    pub shape: Vec<usize>,
    pub data: OutData,
}

/// A loaded model ready to run.
pub(crate) trait Session: Send + Sync + Debug {
    /// Run on `rows` rows of `width` values; outputs in graph order, those
    /// whose `wanted` flag is false (or lies past its end) not copied out.
    fn run(&self, input: Input<'_>, rows: usize, width: usize, wanted: &[bool]) -> Result<Vec<Option<Output>>>;
}

fn runtime_error(runtime: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Runtime {
        runtime,
        message: format!("{e:#}"),
    }
}

/// Turn a panic inside a runtime into an error: hostile graphs must not
/// take the process down.
fn guarded<T>(runtime: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(runtime_error(runtime, format!("the runtime failed: {msg}")))
        }
    }
}

#[cfg(feature = "tract")]
pub(crate) mod tract {
    use tract_onnx::prelude::*;

    use super::{Input, OutData, Output, guarded, runtime_error};
    use crate::Result;

    type Plan = std::sync::Arc<TypedRunnableModel>;

    pub(crate) struct TractSession {
        plan: Plan,
        /// A run state kept between calls: spawning one allocates every
        /// value slot of the plan, which dominates one-row latency.
        state: std::sync::Mutex<Option<TypedSimpleState>>,
    }

    impl std::fmt::Debug for TractSession {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("TractSession").finish_non_exhaustive()
        }
    }

    fn err(e: impl std::fmt::Display) -> crate::Error {
        runtime_error("tract", e)
    }

    /// Load `bytes` (already rewritten for tract) with a `[N, width]` input
    /// of `f32` or `f64`.
    pub(crate) fn load(bytes: &[u8], width: usize, f64_input: bool) -> Result<TractSession> {
        guarded("tract", || {
            let mut model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).map_err(err)?;
            let n = model.sym("N");
            let dt = if f64_input {
                f64::datum_type()
            } else {
                f32::datum_type()
            };
            model = model
                .with_input_fact(0, InferenceFact::dt_shape(dt, tvec![n.to_dim(), width.to_dim()]))
                .map_err(err)?;
            let mut typed = model.into_optimized().map_err(err)?;
            crate::trees::accelerate(&mut typed).map_err(err)?;
            let plan = typed.into_runnable().map_err(err)?;
            Ok(TractSession {
                plan,
                state: std::sync::Mutex::new(None),
            })
        })
    }

    impl super::Session for TractSession {
        fn run(&self, input: Input<'_>, rows: usize, width: usize, wanted: &[bool]) -> Result<Vec<Option<Output>>> {
            guarded("tract", || {
                let t = match input {
                    Input::F32(x) => Tensor::from_shape(&[rows, width], x),
                    Input::F64(x) => Tensor::from_shape(&[rows, width], x),
                }
                .map_err(err)?;
                // Reuse the idle state; a concurrent caller spawns its own.
                let idle = self.state.lock().ok().and_then(|mut s| s.take());
                let mut state = match idle {
                    Some(s) => s,
                    None => self.plan.spawn().map_err(err)?,
                };
                let outs = state.run(tvec![t.into_tvalue()]).map_err(err)?;
                if let Ok(mut slot) = self.state.lock() {
                    *slot = Some(state);
                }
                outs.iter()
                    .enumerate()
                    .map(|(i, o)| {
                        if !wanted.get(i).copied().unwrap_or(false) {
                            return Ok(None);
                        }
                        let shape = o.shape().to_vec();
                        let plain = o.try_as_plain_ram().map_err(err)?;
                        let data = match o.datum_type() {
                            DatumType::F32 => OutData::F32(plain.as_slice::<f32>().map_err(err)?.to_vec()),
                            DatumType::F64 => OutData::F64(plain.as_slice::<f64>().map_err(err)?.to_vec()),
                            DatumType::I64 => OutData::I64(plain.as_slice::<i64>().map_err(err)?.to_vec()),
                            DatumType::String => OutData::Str(plain.as_slice::<String>().map_err(err)?.to_vec()),
                            // Other integers, and constant labels tract folds into
                            // symbolic dimensions (TDim).
                            dt if dt.is_integer() || dt == DatumType::TDim => {
                                let as_i64 = o.cast_to::<i64>().map_err(err)?;
                                let plain = as_i64.try_as_plain_ram().map_err(err)?;
                                OutData::I64(plain.as_slice::<i64>().map_err(err)?.to_vec())
                            }
                            other => return Err(err(format!("output of type {other:?}"))),
                        };
                        Ok(Some(Output { shape, data }))
                    })
                    .collect()
            })
        }
    }
}

#[cfg(feature = "ort")]
pub(crate) mod onnxruntime {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    use ort::session::Session as OrtSession;
    use ort::value::TensorRef;

    use super::{Input, OutData, Output, guarded, runtime_error};
    use crate::{Error, Result};

    fn err(e: impl std::fmt::Display) -> Error {
        runtime_error("ort", e)
    }

    /// The process-wide environment: ONNX Runtime loads once per process,
    /// from the first library that loads; failures are not remembered, so a
    /// corrected path works on the next try.
    static ENV: Mutex<Option<(PathBuf, ort::environment::Environment)>> = Mutex::new(None);

    fn environment(library: Option<&Path>) -> Result<ort::environment::Environment> {
        let wanted = match library {
            Some(p) => p.to_path_buf(),
            None => std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).ok_or_else(|| {
                err(
                    "no ONNX Runtime library: set ORT_DYLIB_PATH to libonnxruntime (for instance the one in the \
                     onnxruntime wheel: site-packages/onnxruntime/capi/libonnxruntime.so.*)",
                )
            })?,
        };
        let mut env = ENV.lock().map_err(|_| err("environment lock poisoned"))?;
        if let Some((loaded, e)) = env.as_ref() {
            if *loaded != wanted {
                return Err(err(format!(
                    "ONNX Runtime is already loaded from {} in this process; cannot also load {}",
                    loaded.display(),
                    wanted.display()
                )));
            }
            return Ok(e.clone());
        }
        if !wanted.is_file() {
            return Err(err(format!("ONNX Runtime library {} does not exist", wanted.display())));
        }
        let builder = ort::init_from(&wanted).map_err(|e| err(format!("loading {}: {e}", wanted.display())))?;
        let e = builder.with_name("ml-sdk").with_telemetry(false).build().map_err(err)?;
        *env = Some((wanted, e.clone()));
        Ok(e)
    }

    #[derive(Debug)]
    pub(crate) struct OrtRunner {
        session: Mutex<OrtSession>,
        input: String,
    }

    pub(crate) fn load(bytes: &[u8], library: Option<&Path>, input: &str) -> Result<OrtRunner> {
        let env = environment(library)?;
        guarded("ort", || {
            // ONNX Runtime's default threading, as its Python API has.
            let session = OrtSession::builder(&env)
                .map_err(err)?
                .commit_from_memory(bytes)
                .map_err(err)?;
            Ok(OrtRunner {
                session: Mutex::new(session),
                input: input.to_string(),
            })
        })
    }

    impl super::Session for OrtRunner {
        fn run(&self, input: Input<'_>, rows: usize, width: usize, wanted: &[bool]) -> Result<Vec<Option<Output>>> {
            let mut session = self.session.lock().map_err(|_| err("session lock poisoned"))?;
            let shape = [rows as i64, width as i64];
            let value = match input {
                Input::F32(x) => TensorRef::from_array_view((shape, x)).map_err(err)?.into_dyn(),
                Input::F64(x) => TensorRef::from_array_view((shape, x)).map_err(err)?.into_dyn(),
            };
            let outputs = session.run(ort::inputs![self.input.as_str() => value]).map_err(err)?;
            let mut out = Vec::new();
            for (i, (_, v)) in outputs.iter().enumerate() {
                if !wanted.get(i).copied().unwrap_or(false) {
                    out.push(None);
                    continue;
                }
                // Dispatch on the element type: a failed extraction builds an
                // error message, which costs more than the whole run.
                use ort::value::{TensorElementType as T, ValueType};
                let ty = match v.dtype() {
                    ValueType::Tensor { ty, .. } => *ty,
                    other => return Err(err(format!("output of type {other:?}"))),
                };
                let (shape, data) = match ty {
                    T::Float32 => v
                        .try_extract_tensor::<f32>()
                        .map(|(s, d)| (s.clone(), OutData::F32(d.to_vec()))),
                    T::Float64 => v
                        .try_extract_tensor::<f64>()
                        .map(|(s, d)| (s.clone(), OutData::F64(d.to_vec()))),
                    T::Int64 => v
                        .try_extract_tensor::<i64>()
                        .map(|(s, d)| (s.clone(), OutData::I64(d.to_vec()))),
                    T::Int32 => v
                        .try_extract_tensor::<i32>()
                        .map(|(s, d)| (s.clone(), OutData::I64(d.iter().map(|&x| i64::from(x)).collect()))),
                    T::String => v.try_extract_strings().map(|(s, d)| (s.clone(), OutData::Str(d))),
                    other => return Err(err(format!("output of type {other:?}"))),
                }
                .map_err(err)?;
                out.push(Some(Output {
                    shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                    data,
                }));
            }
            Ok(out)
        }
    }
}
