//! ml-serve's request decoders on arbitrary bytes: Open Inference Protocol
//! JSON bodies, the binary tensor framing with an arbitrary header length,
//! and MLflow's `/invocations` payloads (JSON and CSV); whatever decodes is
//! turned into a model's rows, predicted and encoded back as a response, as
//! the server does. Any panic is a finding; errors are the expected answer.
//!
//! The first byte picks the decoder; for binary framing the next two give
//! the JSON header's length.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use ml_core::{Frame, LoadOptions, Trainer};
use ml_serve::tensor::{InferResponse, decode_request};
use ml_serve::{ModelInterface, ServedModel};

/// A logistic regression over a numeric and a categorical column.
fn served() -> &'static ServedModel {
    static MODEL: OnceLock<ServedModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let csv = "x,color,y\n1.0,red,a\n2.0,blue,b\n3.5,red,a\n0.5,green,b\n2.5,blue,a\n4.0,green,b\n";
        let data = Frame::from_csv_reader(csv.as_bytes())
            .and_then(|f| f.to_dataset(&LoadOptions::with_target("y")))
            .expect("the seed data set reads");
        let pipeline = ml_learn::Pipeline::from_params("logistic", &[], None).expect("a known trainer");
        let model = pipeline.fit(&data).expect("the seed model fits");
        ServedModel::new("m", "1", Arc::from(model), ModelInterface::default()).expect("a valid name")
    })
}

fn respond(model: &ServedModel, request: &ml_serve::tensor::InferRequest) {
    let Ok(rows) = model.matrix(request) else { return };
    let Ok(predictions) = model.predict(rows.view()) else { return };
    if let Ok(outputs) = model.output_tensors(&predictions, request) {
        let _ = InferResponse {
            model_name: "m".into(),
            model_version: "1".into(),
            id: request.id.clone(),
            outputs,
        }
        .encode();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let model = served();
    match selector % 4 {
        0 => {
            if let Ok(request) = decode_request(body, None) {
                respond(model, &request);
            }
        }
        1 => {
            let Some((len, body)) = body.split_first_chunk::<2>() else { return };
            if let Ok(request) = decode_request(body, Some(usize::from(u16::from_le_bytes(*len)))) {
                respond(model, &request);
            }
        }
        kind => {
            let content_type = if kind == 2 { "application/json" } else { "text/csv" };
            if let Ok(rows) = ml_serve::mlflow::parse_invocations(Some(content_type), body, model) {
                let _ = model.predict(rows.view());
            }
        }
    }
});
