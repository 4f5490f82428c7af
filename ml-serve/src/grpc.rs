//! The Open Inference Protocol over gRPC: `inference.GRPCInferenceService`
//! (Triton's definition, whose first six methods are KServe's), on the same
//! models, limits, token and statistics as the HTTP routes. Tensors travel
//! in `raw_input_contents`/`raw_output_contents` or in typed contents.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use ml_proto::inference as pb;
use ml_proto::inference::grpc_inference_service_server::{GrpcInferenceService, GrpcInferenceServiceServer};
use ml_proto::prost::bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::error::Error;
use crate::model::TensorSpec;
use crate::repository::StatsSnapshot;
use crate::server::Shared;
use crate::tensor::{self, DataType, InferRequest, InputTensor, RequestedOutput, TensorData};
use crate::triton::TritonConfig;

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let message = e.message().to_string();
        match e.status() {
            400 | 415 => Status::invalid_argument(message),
            401 => Status::unauthenticated(message),
            404 => Status::not_found(message),
            408 => Status::deadline_exceeded(message),
            413 => Status::resource_exhausted(message),
            503 => Status::unavailable(message),
            _ => Status::internal(message),
        }
    }
}

/// The service over the server's shared state.
pub(crate) struct Service {
    shared: Arc<Shared>,
}

impl Service {
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let given = request.metadata().get("authorization").and_then(|v| v.to_str().ok());
        if self.shared.authorized(given) {
            Ok(())
        } else {
            Err(Status::unauthenticated(
                "this method needs authorization: Bearer <token> metadata",
            ))
        }
    }
}

fn version(v: &str) -> Option<&str> {
    (!v.is_empty()).then_some(v)
}

fn tensor_metadata(t: &TensorSpec) -> pb::model_metadata_response::TensorMetadata {
    pb::model_metadata_response::TensorMetadata {
        name: t.name.clone(),
        datatype: t.datatype.as_str().to_string(),
        shape: t.shape.clone(),
    }
}

fn duration((count, ns): (u64, u64)) -> Option<pb::StatisticDuration> {
    Some(pb::StatisticDuration { count, ns })
}

fn statistics(name: String, version: String, s: StatsSnapshot) -> pb::ModelStatistics {
    pb::ModelStatistics {
        name,
        version,
        last_inference: s.last_inference_ms,
        inference_count: s.inference_count,
        execution_count: s.execution_count,
        inference_stats: Some(pb::InferStatistics {
            success: duration(s.success),
            fail: duration(s.fail),
            queue: duration((0, 0)),
            compute_input: duration((0, 0)),
            compute_infer: duration(s.compute),
            compute_output: duration((0, 0)),
            cache_hit: duration((0, 0)),
            cache_miss: duration((0, 0)),
        }),
        ..Default::default()
    }
}

fn config_type(d: DataType) -> i32 {
    pb::DataType::from_str_name(&d.config_name()).map_or(0, |t| t as i32)
}

/// Triton's `ModelConfig` message of what [`TritonConfig`] describes.
fn model_config(c: &TritonConfig) -> pb::ModelConfig {
    let reshape = |scalar: bool| scalar.then(|| pb::ModelTensorReshape { shape: Vec::new() });
    pb::ModelConfig {
        name: c.name().to_string(),
        platform: c.platform().to_string(),
        max_batch_size: i32::try_from(c.max_batch_size()).unwrap_or(i32::MAX),
        input: c
            .tensors(true)
            .into_iter()
            .map(|(name, datatype, dims, scalar)| pb::ModelInput {
                name,
                data_type: config_type(datatype),
                dims,
                reshape: reshape(scalar),
                ..Default::default()
            })
            .collect(),
        output: c
            .tensors(false)
            .into_iter()
            .map(|(name, datatype, dims, scalar)| pb::ModelOutput {
                name,
                data_type: config_type(datatype),
                dims,
                reshape: reshape(scalar),
                ..Default::default()
            })
            .collect(),
        instance_group: vec![pb::ModelInstanceGroup {
            kind: pb::model_instance_group::Kind::Cpu as i32,
            count: i32::try_from(c.instances()).unwrap_or(1),
            ..Default::default()
        }],
        scheduling_choice: c.delay_us().map(|us| {
            pb::model_config::SchedulingChoice::DynamicBatching(pb::ModelDynamicBatching {
                max_queue_delay_microseconds: us,
                ..Default::default()
            })
        }),
        ..Default::default()
    }
}

/// A gRPC request's tensors as the HTTP decoder gives them.
fn decode(request: pb::ModelInferRequest) -> Result<InferRequest, Error> {
    let raw = request.raw_input_contents;
    if !raw.is_empty() && raw.len() != request.inputs.len() {
        return Err(Error::bad_request(format!(
            "{} raw_input_contents for {} inputs",
            raw.len(),
            request.inputs.len()
        )));
    }
    let mut inputs = Vec::with_capacity(request.inputs.len());
    for (i, input) in request.inputs.into_iter().enumerate() {
        let datatype = tensor::input_datatype(&input.name, &input.datatype)?;
        let (shape, count) = tensor::element_count(&input.name, &input.shape)?;
        let data = match raw.get(i) {
            Some(bytes) => tensor::decode_binary(&input.name, datatype, bytes, count)?,
            None => contents(&input.name, datatype, input.contents.unwrap_or_default(), count)?,
        };
        inputs.push(InputTensor {
            name: input.name,
            datatype,
            shape,
            data,
        });
    }
    Ok(InferRequest {
        id: version(&request.id).map(str::to_string),
        inputs,
        outputs: request
            .outputs
            .into_iter()
            .map(|o| RequestedOutput {
                name: o.name,
                binary: None,
            })
            .collect(),
        binary_output: true,
    })
}

/// Typed contents: the field for the datatype, as many elements as the shape.
fn contents(name: &str, datatype: DataType, c: pb::InferTensorContents, count: usize) -> Result<TensorData, Error> {
    let data = match datatype {
        DataType::Bool => TensorData::Numbers(c.bool_contents.into_iter().map(|b| f64::from(u8::from(b))).collect()),
        DataType::Int8 | DataType::Int16 | DataType::Int32 => {
            TensorData::Numbers(c.int_contents.into_iter().map(f64::from).collect())
        }
        DataType::Int64 => TensorData::Numbers(c.int64_contents.into_iter().map(|v| v as f64).collect()),
        DataType::Uint8 | DataType::Uint16 | DataType::Uint32 => {
            TensorData::Numbers(c.uint_contents.into_iter().map(f64::from).collect())
        }
        DataType::Uint64 => TensorData::Numbers(c.uint64_contents.into_iter().map(|v| v as f64).collect()),
        DataType::Fp32 => TensorData::Numbers(c.fp32_contents.into_iter().map(f64::from).collect()),
        DataType::Fp64 => TensorData::Numbers(c.fp64_contents),
        DataType::Bytes => TensorData::Bytes(c.bytes_contents.into_iter().map(|b| b.to_vec()).collect()),
        DataType::Fp16 => {
            return Err(Error::bad_request(format!(
                "input '{name}': FP16 travels in raw_input_contents only"
            )));
        }
    };
    if data.len() != count {
        return Err(Error::bad_request(format!(
            "input '{name}': its shape holds {count} elements but its {datatype} contents have {}",
            data.len()
        )));
    }
    Ok(data)
}

fn output_tensor(o: &tensor::OutputTensor) -> (pb::model_infer_response::InferOutputTensor, Bytes) {
    (
        pb::model_infer_response::InferOutputTensor {
            name: o.name.clone(),
            datatype: o.data.datatype().as_str().to_string(),
            shape: o.shape.iter().map(|&d| d as i64).collect(),
            ..Default::default()
        },
        Bytes::from(o.data.to_bytes()),
    )
}

#[tonic::async_trait]
impl GrpcInferenceService for Service {
    async fn server_live(&self, _: Request<pb::ServerLiveRequest>) -> Result<Response<pb::ServerLiveResponse>, Status> {
        Ok(Response::new(pb::ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _: Request<pb::ServerReadyRequest>,
    ) -> Result<Response<pb::ServerReadyResponse>, Status> {
        Ok(Response::new(pb::ServerReadyResponse {
            ready: !self.shared.repo.is_empty(),
        }))
    }

    async fn model_ready(&self, r: Request<pb::ModelReadyRequest>) -> Result<Response<pb::ModelReadyResponse>, Status> {
        let r = r.into_inner();
        Ok(Response::new(pb::ModelReadyResponse {
            ready: self.shared.repo.get(&r.name, version(&r.version)).is_ok(),
        }))
    }

    async fn server_metadata(
        &self,
        _: Request<pb::ServerMetadataRequest>,
    ) -> Result<Response<pb::ServerMetadataResponse>, Status> {
        Ok(Response::new(pb::ServerMetadataResponse {
            name: "ml-sdk".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: crate::server::EXTENSIONS.iter().map(|e| e.to_string()).collect(),
        }))
    }

    async fn model_metadata(
        &self,
        r: Request<pb::ModelMetadataRequest>,
    ) -> Result<Response<pb::ModelMetadataResponse>, Status> {
        let r = r.into_inner();
        let loaded = self.shared.repo.get(&r.name, version(&r.version))?;
        let m = &loaded.model;
        Ok(Response::new(pb::ModelMetadataResponse {
            name: m.name().to_string(),
            versions: self.shared.repo.versions(&r.name),
            platform: m.platform().to_string(),
            inputs: m.inputs().iter().map(tensor_metadata).collect(),
            outputs: m.outputs().iter().map(tensor_metadata).collect(),
        }))
    }

    async fn model_infer(
        &self,
        request: Request<pb::ModelInferRequest>,
    ) -> Result<Response<pb::ModelInferResponse>, Status> {
        self.authorize(&request)?;
        let s = &self.shared;
        let _permit = s.inflight.clone().try_acquire_owned().map_err(|_| s.overloaded())?;
        let started = Instant::now();
        let request = request.into_inner();
        let loaded = s.repo.get(&request.model_name, version(&request.model_version))?;
        let result = async {
            let decoded = decode(request)?;
            let rows = loaded.model.matrix(&decoded)?;
            let inference = s.infer(&loaded, rows, &decoded).await?;
            let (outputs, raw): (Vec<_>, Vec<_>) = inference.outputs.iter().map(output_tensor).unzip();
            Ok::<_, Error>((
                (inference.rows, inference.compute_ns),
                pb::ModelInferResponse {
                    model_name: loaded.model.name().to_string(),
                    model_version: loaded.model.version().to_string(),
                    id: decoded.id.unwrap_or_default(),
                    outputs,
                    raw_output_contents: raw,
                    ..Default::default()
                },
            ))
        };
        let result = tokio::time::timeout(s.config.request_timeout, result)
            .await
            .unwrap_or_else(|_| Err(Error::new(408, "the request did not complete in time")));
        match result {
            Ok((counts, response)) => {
                s.record(&loaded, started, Ok(counts));
                Ok(Response::new(response))
            }
            Err(e) => {
                s.record(&loaded, started, Err(e.status()));
                Err(e.into())
            }
        }
    }

    type ModelStreamInferStream = tonic::codegen::BoxStream<pb::ModelStreamInferResponse>;

    async fn model_stream_infer(
        &self,
        _: Request<tonic::Streaming<pb::ModelInferRequest>>,
    ) -> Result<Response<Self::ModelStreamInferStream>, Status> {
        Err(Status::unimplemented(
            "streaming inference is not supported; use ModelInfer",
        ))
    }

    async fn model_config(
        &self,
        r: Request<pb::ModelConfigRequest>,
    ) -> Result<Response<pb::ModelConfigResponse>, Status> {
        let r = r.into_inner();
        let loaded = self.shared.repo.get(&r.name, version(&r.version))?;
        let config = TritonConfig::new(&loaded.model, self.shared.config.batch.as_ref(), false);
        Ok(Response::new(pb::ModelConfigResponse {
            config: Some(model_config(&config)),
        }))
    }

    async fn model_statistics(
        &self,
        r: Request<pb::ModelStatisticsRequest>,
    ) -> Result<Response<pb::ModelStatisticsResponse>, Status> {
        let r = r.into_inner();
        let name = (!r.name.is_empty()).then_some(r.name.as_str());
        let stats = self.shared.repo.statistics(name, version(&r.version))?;
        Ok(Response::new(pb::ModelStatisticsResponse {
            model_stats: stats.into_iter().map(|(n, v, s)| statistics(n, v, s)).collect(),
        }))
    }

    async fn repository_index(
        &self,
        r: Request<pb::RepositoryIndexRequest>,
    ) -> Result<Response<pb::RepositoryIndexResponse>, Status> {
        self.authorize(&r)?;
        Ok(Response::new(pb::RepositoryIndexResponse {
            models: self
                .shared
                .repo
                .index_entries()
                .into_iter()
                .map(|(name, version)| pb::repository_index_response::ModelIndex {
                    name,
                    version,
                    state: "READY".into(),
                    reason: String::new(),
                })
                .collect(),
        }))
    }

    async fn repository_model_load(
        &self,
        r: Request<pb::RepositoryModelLoadRequest>,
    ) -> Result<Response<pb::RepositoryModelLoadResponse>, Status> {
        self.authorize(&r)?;
        let name = r.into_inner().model_name;
        let repo = self.shared.repo.clone();
        tokio::task::spawn_blocking(move || repo.reload(&name))
            .await
            .map_err(|_| Status::internal("loading the model failed"))??;
        self.shared.count_models();
        Ok(Response::new(pb::RepositoryModelLoadResponse {}))
    }

    async fn repository_model_unload(
        &self,
        r: Request<pb::RepositoryModelUnloadRequest>,
    ) -> Result<Response<pb::RepositoryModelUnloadResponse>, Status> {
        self.authorize(&r)?;
        self.shared.repo.unload(&r.into_inner().model_name)?;
        self.shared.count_models();
        Ok(Response::new(pb::RepositoryModelUnloadResponse {}))
    }

    async fn system_shared_memory_status(
        &self,
        _: Request<pb::SystemSharedMemoryStatusRequest>,
    ) -> Result<Response<pb::SystemSharedMemoryStatusResponse>, Status> {
        Err(no_shared_memory())
    }

    async fn system_shared_memory_register(
        &self,
        _: Request<pb::SystemSharedMemoryRegisterRequest>,
    ) -> Result<Response<pb::SystemSharedMemoryRegisterResponse>, Status> {
        Err(no_shared_memory())
    }

    async fn system_shared_memory_unregister(
        &self,
        _: Request<pb::SystemSharedMemoryUnregisterRequest>,
    ) -> Result<Response<pb::SystemSharedMemoryUnregisterResponse>, Status> {
        Err(no_shared_memory())
    }

    async fn cuda_shared_memory_status(
        &self,
        _: Request<pb::CudaSharedMemoryStatusRequest>,
    ) -> Result<Response<pb::CudaSharedMemoryStatusResponse>, Status> {
        Err(no_shared_memory())
    }

    async fn cuda_shared_memory_register(
        &self,
        _: Request<pb::CudaSharedMemoryRegisterRequest>,
    ) -> Result<Response<pb::CudaSharedMemoryRegisterResponse>, Status> {
        Err(no_shared_memory())
    }

    async fn cuda_shared_memory_unregister(
        &self,
        _: Request<pb::CudaSharedMemoryUnregisterRequest>,
    ) -> Result<Response<pb::CudaSharedMemoryUnregisterResponse>, Status> {
        Err(no_shared_memory())
    }

    async fn trace_setting(
        &self,
        _: Request<pb::TraceSettingRequest>,
    ) -> Result<Response<pb::TraceSettingResponse>, Status> {
        Err(Status::unimplemented(
            "tracing settings are not supported; logs go through `tracing`",
        ))
    }

    async fn log_settings(
        &self,
        _: Request<pb::LogSettingsRequest>,
    ) -> Result<Response<pb::LogSettingsResponse>, Status> {
        Err(Status::unimplemented(
            "log settings are not supported; logs go through `tracing`",
        ))
    }
}

fn no_shared_memory() -> Status {
    Status::unimplemented("shared-memory tensors are not supported; send tensors in the request")
}

/// Serve gRPC on `listener` until `stop` changes, then drain.
pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let max = shared.config.max_body;
    let drain = shared.config.drain_timeout;
    let service = GrpcInferenceServiceServer::new(Service { shared })
        .max_decoding_message_size(max)
        .max_encoding_message_size(usize::MAX)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Deflate)
        .send_compressed(CompressionEncoding::Gzip);
    let graceful = GracefulShutdown::new();
    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("gRPC accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let connection = http2.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("gRPC calls still running after the drain timeout were cut off");
    }
}
