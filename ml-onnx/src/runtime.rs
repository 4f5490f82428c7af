//! The runtimes behind [`crate::OnnxModel`]: tract (pure Rust, the default)
//! and ONNX Runtime through `ort` (feature `ort`), loaded at run time from a
//! shared library such as the one in the `onnxruntime` PyPI wheel.
//! A build without either (export and import only) keeps the plumbing
//! compiled but unused.
#![cfg_attr(not(any(feature = "tract", feature = "ort")), allow(dead_code))]

use std::fmt::Debug;

use ml_core::ndarray::ArrayView2;

use crate::{Error, Result};

/// Which runtime executes a model. The default is tract, or ONNX Runtime
/// in a build with the `ort` feature and without `tract`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// tract (feature `tract`, on by default): pure Rust, no native dependency.
    Tract,
    /// ONNX Runtime (feature `ort`), loaded from `library`, or when `None`
    /// from `ORT_DYLIB_PATH`.
    Ort {
        /// Path of `libonnxruntime.so` / `.dylib` / `onnxruntime.dll`.
        library: Option<std::path::PathBuf>,
    },
}

impl Default for Runtime {
    fn default() -> Self {
        if cfg!(all(feature = "ort", not(feature = "tract"))) {
            Runtime::Ort { library: None }
        } else {
            Runtime::Tract
        }
    }
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

/// An input batch, converted by the runtime into its own buffer as `f32`
/// or `f64`, whichever the graph's input is.
pub(crate) struct Input<'a> {
    pub rows: ArrayView2<'a, f64>,
    pub as_f32: bool,
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
    /// Run on a batch; outputs in graph order, `None` for those the session
    /// was loaded not to read.
    fn run(&self, input: Input<'_>) -> Result<Vec<Option<Output>>>;
}

/// Load `bytes` (already rewritten for `runtime`) with a `[N, width]` input
/// named `input` of `f32` or `f64`; runs copy out the outputs flagged in
/// `wanted`. A runtime this build lacks is [`Error::Unsupported`].
#[cfg_attr(not(all(feature = "tract", feature = "ort")), allow(unused_variables))]
pub(crate) fn open(
    runtime: &Runtime,
    bytes: &[u8],
    width: usize,
    f64_input: bool,
    input: &str,
    wanted: Vec<bool>,
) -> Result<Box<dyn Session>> {
    match runtime {
        #[cfg(feature = "tract")]
        Runtime::Tract => Ok(Box::new(tract::load(bytes, width, f64_input, wanted)?)),
        #[cfg(not(feature = "tract"))]
        Runtime::Tract => Err(Error::Unsupported(
            "tract: this build has no tract runtime (ml-onnx's feature `tract`, ml-sdk's `onnx`)".into(),
        )),
        #[cfg(feature = "ort")]
        Runtime::Ort { library } => Ok(Box::new(onnxruntime::load(bytes, library.as_deref(), input, &wanted)?)),
        #[cfg(not(feature = "ort"))]
        Runtime::Ort { .. } => Err(Error::Unsupported(
            "ONNX Runtime: this build has no ONNX Runtime back end (ml-onnx's feature `ort`, ml-sdk's `onnx-ort`)"
                .into(),
        )),
    }
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
        /// Which outputs are copied out, in graph order.
        wanted: Vec<bool>,
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
    /// of `f32` or `f64`; runs copy out the outputs flagged in `wanted`.
    pub(crate) fn load(bytes: &[u8], width: usize, f64_input: bool, wanted: Vec<bool>) -> Result<TractSession> {
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
                wanted,
                state: std::sync::Mutex::new(None),
            })
        })
    }

    impl super::Session for TractSession {
        fn run(&self, input: Input<'_>) -> Result<Vec<Option<Output>>> {
            guarded("tract", || {
                let x = input.rows;
                let t = if input.as_f32 {
                    let data: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                    tract_ndarray::Array2::from_shape_vec(x.dim(), data).map(IntoTensor::into_tensor)
                } else {
                    let data: Vec<f64> = x.iter().copied().collect();
                    tract_ndarray::Array2::from_shape_vec(x.dim(), data).map(IntoTensor::into_tensor)
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
                        if !self.wanted.get(i).copied().unwrap_or(false) {
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

    use ml_core::ndarray::ArrayView2;
    use ort::session::{IoBinding, Session as OrtSession};
    use ort::value::Tensor;

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

    /// A session run through an I/O binding: its outputs are bound once to
    /// CPU memory, its input to a tensor kept between calls while the batch
    /// shape stays the same. A plain `Run` resolves every input and output
    /// name and wraps a borrowed input on each call, which costs a quarter
    /// of a one-row call.
    #[derive(Debug)]
    pub(crate) struct OrtRunner {
        state: Mutex<State>,
        input: String,
        /// Number of graph outputs.
        outputs: usize,
        /// The graph outputs bound (those read), in binding order.
        bound: Vec<(usize, String)>,
    }

    #[derive(Debug)]
    struct State {
        session: OrtSession,
        binding: IoBinding,
        buffer: Option<Buffer>,
    }

    #[derive(Debug)]
    enum Buffer {
        F32(Tensor<f32>),
        F64(Tensor<f64>),
    }

    impl Buffer {
        fn fits(&self, rows: usize, width: usize, as_f32: bool) -> bool {
            let shape = match self {
                Buffer::F32(t) if as_f32 => t.shape(),
                Buffer::F64(t) if !as_f32 => t.shape(),
                _ => return false,
            };
            shape[..] == [rows as i64, width as i64]
        }
    }

    /// Load `bytes` with one input named `input`; runs fetch the outputs
    /// flagged in `wanted`.
    pub(crate) fn load(bytes: &[u8], library: Option<&Path>, input: &str, wanted: &[bool]) -> Result<OrtRunner> {
        let env = environment(library)?;
        guarded("ort", || {
            // ONNX Runtime's default threading, as its Python API has.
            let session = OrtSession::builder(&env)
                .map_err(err)?
                .commit_from_memory(bytes)
                .map_err(err)?;
            let bound: Vec<(usize, String)> = session
                .outputs()
                .iter()
                .enumerate()
                .filter(|&(i, _)| wanted.get(i).copied().unwrap_or(false))
                .map(|(i, o)| (i, o.name().to_string()))
                .collect();
            let mut binding = session.create_binding().map_err(err)?;
            bind_outputs(&session, &mut binding, &bound)?;
            Ok(OrtRunner {
                outputs: session.outputs().len(),
                state: Mutex::new(State {
                    session,
                    binding,
                    buffer: None,
                }),
                input: input.to_string(),
                bound,
            })
        })
    }

    /// Bind the outputs read to CPU memory that ONNX Runtime allocates on
    /// the next run (the others it computes but does not hand back). It keeps
    /// those tensors for the runs after, so a new batch shape needs them bound
    /// afresh.
    fn bind_outputs(session: &OrtSession, binding: &mut IoBinding, bound: &[(usize, String)]) -> Result<()> {
        binding.clear_outputs();
        let cpu = session.allocator().memory_info();
        for (_, name) in bound {
            binding.bind_output_to_device(name, cpu).map_err(err)?;
        }
        Ok(())
    }

    /// Write `x` row-major into `dst` (of the same size), through a plain
    /// slice when `x` is contiguous: ndarray's element iterator zipped
    /// element by element costs more than the conversion itself.
    fn fill<T>(dst: &mut [T], x: ArrayView2<'_, f64>, convert: impl Fn(f64) -> T) {
        match x.as_slice() {
            Some(src) => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = convert(v)),
            None => dst.iter_mut().zip(x.iter()).for_each(|(d, &v)| *d = convert(v)),
        }
    }

    impl super::Session for OrtRunner {
        fn run(&self, input: Input<'_>) -> Result<Vec<Option<Output>>> {
            let mut guard = self.state.lock().map_err(|_| err("session lock poisoned"))?;
            let state = &mut *guard;
            let x = input.rows;
            let (rows, width) = x.dim();
            // ONNX Runtime reads a bound CPU tensor in place, so a kept
            // buffer needs no new binding after it is refilled.
            let mut rebind = false;
            let buffer = match state.buffer.take() {
                Some(b) if b.fits(rows, width, input.as_f32) => b,
                previous => {
                    rebind = true;
                    if previous.is_some() {
                        bind_outputs(&state.session, &mut state.binding, &self.bound)?;
                    }
                    let alloc = state.session.allocator();
                    if input.as_f32 {
                        Buffer::F32(Tensor::new(alloc, [rows, width]).map_err(err)?)
                    } else {
                        Buffer::F64(Tensor::new(alloc, [rows, width]).map_err(err)?)
                    }
                }
            };
            let buffer = state.buffer.insert(buffer);
            match buffer {
                Buffer::F32(t) => {
                    fill(t.extract_tensor_mut().1, x, |v| v as f32);
                    if rebind {
                        state.binding.bind_input(&self.input, t).map_err(err)?;
                    }
                }
                Buffer::F64(t) => {
                    fill(t.extract_tensor_mut().1, x, |v| v);
                    if rebind {
                        state.binding.bind_input(&self.input, t).map_err(err)?;
                    }
                }
            }
            let first = state
                .session
                .run_binding(&state.binding)
                .map_err(err)
                .and_then(|o| self.copy_out(&o));
            match first {
                // Kept output tensors have the last run's shapes; an output
                // whose shape depends on the values needs fresh ones.
                Err(_) if !rebind => {
                    bind_outputs(&state.session, &mut state.binding, &self.bound)?;
                    let outputs = state.session.run_binding(&state.binding).map_err(err)?;
                    self.copy_out(&outputs)
                }
                result => result,
            }
        }
    }

    impl OrtRunner {
        /// Copy the bound outputs out of ONNX Runtime's buffers, in graph
        /// order.
        fn copy_out(&self, outputs: &ort::session::SessionOutputs<'_>) -> Result<Vec<Option<Output>>> {
            let mut out = vec![None; self.outputs];
            for (&(i, _), (_, v)) in self.bound.iter().zip(outputs.iter()) {
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
                out[i] = Some(Output {
                    shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                    data,
                });
            }
            Ok(out)
        }
    }
}
