//! ml-serve's work per request outside the model, without sockets: the
//! JSON and binary decoders, the rows a request makes, the model, and the
//! encoded response, for one row of the standardized logistic regression
//! on breast_cancer (the request `compare_serving.py` sends). The model
//! alone is timed beside it, so the difference is the server's own cost.
//! HTTP's share is in `compare_serving.py`'s latencies.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ml_sdk::core::Model;
use ml_sdk::serve::tensor::{InferResponse, decode_request};
use ml_sdk::serve::{ModelInterface, ServedModel};
use ml_sdk_benches::logistic;

fn serve(c: &mut Criterion) {
    let bc = ml_sdk::datasets::breast_cancer().unwrap();
    let model: Arc<dyn Model> = Arc::new(logistic().unwrap().fit_pipeline(&bc).unwrap().describe().unwrap());
    let served = ServedModel::new("bc", "1", model.clone(), ModelInterface::default()).unwrap();
    let row: Vec<f64> = bc.features().row(0).to_vec();
    let one_row = bc.features().slice_move(ml_sdk::ndarray::s![0..1, ..]).to_owned();
    let json = format!(r#"{{"inputs":[{{"name":"input","shape":[1,30],"datatype":"FP64","data":{row:?}}}]}}"#);
    let header = r#"{"inputs":[{"name":"input","shape":[1,30],"datatype":"FP64","parameters":{"binary_data_size":240}}],"parameters":{"binary_data_output":true}}"#;
    let mut binary = header.as_bytes().to_vec();
    for v in &row {
        binary.extend_from_slice(&v.to_le_bytes());
    }

    let respond = |body: &[u8], header: Option<usize>| {
        let request = decode_request(body, header).unwrap();
        let rows = served.matrix(&request).unwrap();
        let predictions = served.predict(rows.view()).unwrap();
        let outputs = served.output_tensors(&predictions, &request).unwrap();
        InferResponse {
            model_name: "bc".into(),
            model_version: "1".into(),
            id: request.id,
            outputs,
        }
        .encode()
    };

    let mut g = c.benchmark_group("serve_logistic_1_row");
    g.bench_function("model_alone", |b| b.iter(|| model.predict(one_row.view()).unwrap()));
    g.bench_function("json_request_to_response", |b| {
        b.iter(|| respond(json.as_bytes(), None))
    });
    g.bench_function("binary_request_to_response", |b| {
        b.iter(|| respond(&binary, Some(header.len())))
    });
    g.finish();
}

criterion_group!(benches, serve);
criterion_main!(benches);
