//! The server over real sockets: every route, both tensor encodings,
//! compression, MLflow payloads, the limits, the token, batching, reloads and
//! graceful shutdown. Requests are written byte by byte so malformed and
//! slow ones can be sent too.
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ml_core::ndarray::Array2;
use ml_core::{Dataset, Model, Predictions};
use ml_learn::Pipeline;
use ml_serve::{ModelInterface, ModelLoader, Repository, RunningServer, ServeConfig, ServedModel, start};
use serde_json::{Value, json};

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error key"))
            .to_string()
    }
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Send raw bytes on a fresh connection and read the reply to its end.
fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(bytes).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse_reply(&raw)
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    send_raw(addr, &bytes)
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &[], b"")
}

fn post_json(addr: SocketAddr, path: &str, body: &Value) -> Reply {
    request(addr, "POST", path, &[], &serde_json::to_vec(body).unwrap())
}

fn fit(algorithm: &str, params: &[(&str, &str)], data: &Dataset) -> Arc<dyn Model> {
    let ps: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Arc::new(
        Pipeline::from_params(algorithm, &ps, Some(1))
            .unwrap()
            .fit_pipeline(data)
            .unwrap(),
    )
}

struct Fixture {
    bc: Dataset,
    german: Dataset,
    logistic: Arc<dyn Model>,
    german_forest: Arc<dyn Model>,
    diabetes_linear: Arc<dyn Model>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let bc = ml_datasets::breast_cancer().unwrap();
        let german = ml_datasets::german_credit().unwrap();
        let diabetes = ml_datasets::diabetes().unwrap();
        Fixture {
            logistic: fit("logistic", &[], &bc),
            german_forest: fit("forest", &[("n_trees", "10")], &german),
            diabetes_linear: fit("linear", &[], &diabetes),
            bc,
            german,
        }
    })
}

fn repo() -> Arc<Repository> {
    let f = fixture();
    let repo = Arc::new(Repository::default());
    repo.insert(ServedModel::new("bc", "1", f.logistic.clone(), ModelInterface::default()).unwrap());
    repo.insert(ServedModel::new("german", "3", f.german_forest.clone(), ModelInterface::default()).unwrap());
    repo.insert(
        ServedModel::new(
            "diabetes",
            "1",
            f.diabetes_linear.clone(),
            ModelInterface::default().with_double(false),
        )
        .unwrap(),
    );
    repo
}

fn serve(config: ServeConfig) -> RunningServer {
    start(repo(), config.bind([127, 0, 0, 1].into(), 0)).unwrap()
}

fn rows(data: &Dataset, n: usize) -> Array2<f64> {
    data.features().slice(ml_core::ndarray::s![..n, ..]).to_owned()
}

fn probabilities(p: &Predictions) -> Vec<f64> {
    match p {
        Predictions::Classification {
            probabilities: Some(m), ..
        } => m.iter().copied().collect(),
        other => panic!("{other:?}"),
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn health_metadata_config_stats_and_index() {
    let server = serve(ServeConfig::new());
    let a = server.http_addr();
    for path in [
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/bc/ready",
        "/v2/models/german/versions/3/ready",
        "/ping",
        "/health",
    ] {
        assert_eq!(get(a, path).status, 200, "{path}");
    }
    let meta = get(a, "/v2").json();
    assert_eq!(meta["name"], "ml-sdk");
    assert!(
        meta["extensions"]
            .as_array()
            .unwrap()
            .contains(&json!("binary_tensor_data"))
    );

    let m = get(a, "/v2/models/bc").json();
    assert_eq!(m["name"], "bc");
    assert_eq!(m["versions"], json!(["1"]));
    assert_eq!(
        m["inputs"],
        json!([{"name": "input", "datatype": "FP64", "shape": [-1, 30]}])
    );
    assert_eq!(
        m["outputs"][0],
        json!({"name": "label", "datatype": "INT64", "shape": [-1]})
    );
    assert_eq!(
        m["outputs"][1],
        json!({"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]})
    );
    let d = get(a, "/v2/models/diabetes/versions/1").json();
    assert_eq!(
        d["outputs"],
        json!([{"name": "variable", "datatype": "FP32", "shape": [-1, 1]}])
    );

    let config = get(a, "/v2/models/bc/config").json();
    assert_eq!(config["input"][0]["data_type"], "TYPE_FP64");
    assert_eq!(config["input"][0]["dims"], json!([30]));
    assert_eq!(config["output"][0]["reshape"], json!({"shape": []}));

    let index = request(a, "POST", "/v2/repository/index", &[], b"{}").json();
    let names: Vec<&str> = index
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bc", "diabetes", "german"]);
    assert_eq!(index[2]["version"], "3");

    let body = json!({"inputs": [{"name": "input", "shape": [2, 30], "datatype": "FP64",
        "data": rows(&fixture().bc, 2).iter().copied().collect::<Vec<_>>()}]});
    assert_eq!(post_json(a, "/v2/models/bc/infer", &body).status, 200);
    let stats = get(a, "/v2/models/bc/stats").json();
    assert_eq!(stats["model_stats"][0]["inference_count"], 2);
    assert_eq!(stats["model_stats"][0]["inference_stats"]["success"]["count"], 1);
    assert_eq!(
        get(a, "/v2/models/stats").json()["model_stats"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let metrics = get(a, "/metrics");
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("mlsdk_inference_requests_total{model=\"bc\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("mlsdk_models_loaded 3"), "{text}");
}

#[test]
fn json_tensors_flat_nested_and_of_any_numeric_type_give_the_models_predictions() {
    let server = serve(ServeConfig::new());
    let a = server.http_addr();
    let f = fixture();
    let x = rows(&f.bc, 5);
    let expected = f.logistic.predict(x.view()).unwrap();
    let flat: Vec<f64> = x.iter().copied().collect();
    let nested: Vec<Vec<f64>> = x.outer_iter().map(|r| r.to_vec()).collect();
    for (datatype, data) in [("FP64", json!(flat)), ("FP32", json!(nested)), ("FP64", json!(nested))] {
        let r = post_json(
            a,
            "/v2/models/bc/infer",
            &json!({"id": "req-7", "inputs": [{"name": "input", "shape": [5, 30], "datatype": datatype, "data": data}]}),
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        assert_eq!(v["id"], "req-7");
        assert_eq!(v["model_name"], "bc");
        assert_eq!(v["model_version"], "1");
        assert_eq!(v["outputs"][0]["name"], "label");
        assert_eq!(v["outputs"][1]["shape"], json!([5, 2]));
        let got = numbers(&v["outputs"][1]["data"]);
        let tol = if datatype == "FP32" { 1e-4 } else { 1e-12 };
        for (g, e) in got.iter().zip(probabilities(&expected)) {
            assert!((g - e).abs() <= tol, "{datatype}: {g} vs {e}");
        }
    }
    // Integer features, and the outputs filter.
    let ints: Vec<i64> = x.iter().map(|v| v.round() as i64).collect();
    let xi = Array2::from_shape_vec((5, 30), ints.iter().map(|&v| v as f64).collect()).unwrap();
    let r = post_json(
        a,
        "/v2/models/bc/infer",
        &json!({"inputs": [{"name": "input", "shape": [5, 30], "datatype": "INT64", "data": ints}],
                "outputs": [{"name": "label"}]}),
    )
    .json();
    assert_eq!(r["outputs"].as_array().unwrap().len(), 1);
    let labels = match f.logistic.predict(xi.view()).unwrap() {
        Predictions::Classification { labels, .. } => labels.to_vec(),
        other => panic!("{other:?}"),
    };
    let got: Vec<usize> = r["outputs"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(got, labels);
}

fn binary_request(x: &Array2<f64>, outputs: Option<Value>) -> (Vec<u8>, usize) {
    let mut header = json!({"inputs": [{"name": "input", "shape": [x.nrows(), x.ncols()], "datatype": "FP32",
        "parameters": {"binary_data_size": x.len() * 4}}]});
    match outputs {
        Some(o) => header["outputs"] = o,
        None => header["parameters"] = json!({"binary_data_output": true}),
    }
    let mut body = serde_json::to_vec(&header).unwrap();
    let n = body.len();
    for v in x.iter() {
        body.extend_from_slice(&(*v as f32).to_le_bytes());
    }
    (body, n)
}

#[test]
fn binary_tensors_both_ways_and_compressed_requests() {
    let server = serve(ServeConfig::new());
    let a = server.http_addr();
    let f = fixture();
    let x = rows(&f.bc, 3);
    let expected = probabilities(&f.logistic.predict(x.mapv(|v| f64::from(v as f32)).view()).unwrap());

    let (body, n) = binary_request(&x, None);
    let r = request(
        a,
        "POST",
        "/v2/models/bc/infer",
        &[("Inference-Header-Content-Length", &n.to_string())],
        &body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let head_len: usize = r.header("inference-header-content-length").unwrap().parse().unwrap();
    let head: Value = serde_json::from_slice(&r.body[..head_len]).unwrap();
    assert_eq!(head["outputs"][0]["parameters"]["binary_data_size"], 3 * 8);
    assert_eq!(head["outputs"][1]["parameters"]["binary_data_size"], 3 * 2 * 8);
    let probs: Vec<f64> = r.body[head_len + 24..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(probs, expected);

    // One output binary, the other JSON.
    let (body, n) = binary_request(
        &x,
        Some(
            json!([{"name": "probabilities", "parameters": {"binary_data": false}}, {"name": "label", "parameters": {"binary_data": true}}]),
        ),
    );
    let r = request(
        a,
        "POST",
        "/v2/models/bc/infer",
        &[
            ("Inference-Header-Content-Length", &n.to_string()),
            ("Content-Type", "application/octet-stream"),
        ],
        &body,
    );
    let head_len: usize = r.header("inference-header-content-length").unwrap().parse().unwrap();
    let head: Value = serde_json::from_slice(&r.body[..head_len]).unwrap();
    assert_eq!(numbers(&head["outputs"][0]["data"]), expected);
    assert_eq!(r.body.len() - head_len, 3 * 8);

    // Compressed request bodies (gzip, and deflate in its zlib form).
    let json_body = serde_json::to_vec(
        &json!({"inputs": [{"name": "input", "shape": [3, 30], "datatype": "FP32",
        "data": x.iter().map(|v| *v as f32).collect::<Vec<_>>()}]}),
    )
    .unwrap();
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&json_body).unwrap();
        e.finish().unwrap()
    };
    let zlib = {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&json_body).unwrap();
        e.finish().unwrap()
    };
    for (encoding, body) in [("gzip", gz), ("deflate", zlib)] {
        let r = request(
            a,
            "POST",
            "/v2/models/bc/infer",
            &[("Content-Encoding", encoding)],
            &body,
        );
        assert_eq!(r.status, 200, "{encoding}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(numbers(&r.json()["outputs"][1]["data"]), expected);
    }
    let r = request(
        a,
        "POST",
        "/v2/models/bc/infer",
        &[("Content-Encoding", "br")],
        &json_body,
    );
    assert_eq!(r.status, 415);
    assert!(r.error().contains("'br' is not supported"));
}

#[test]
fn one_tensor_per_column_with_categories_as_strings() {
    let server = serve(ServeConfig::new());
    let a = server.http_addr();
    let f = fixture();
    let sig = f.german_forest.signature().clone();
    let x = rows(&f.german, 4);
    let inputs: Vec<Value> = sig
        .inputs
        .iter()
        .enumerate()
        .map(|(j, c)| match &c.kind {
            ml_core::FeatureKind::Categorical { categories } => {
                json!({"name": c.name, "shape": [4, 1], "datatype": "BYTES",
                "data": x.column(j).iter().map(|&code| categories[code as usize].clone()).collect::<Vec<_>>()})
            }
            _ => json!({"name": c.name, "shape": [4], "datatype": "FP64", "data": x.column(j).to_vec()}),
        })
        .collect();
    let r = post_json(a, "/v2/models/german/infer", &json!({ "inputs": inputs }));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["model_version"], "3");
    assert_eq!(
        numbers(&v["outputs"][1]["data"]),
        probabilities(&f.german_forest.predict(x.view()).unwrap())
    );

    let mut wrong = inputs.clone();
    let cat = sig
        .inputs
        .iter()
        .position(|c| matches!(c.kind, ml_core::FeatureKind::Categorical { .. }))
        .unwrap();
    wrong[cat]["data"][0] = json!("no such category");
    let r = post_json(a, "/v2/models/german/infer", &json!({ "inputs": wrong }));
    assert_eq!(r.status, 400);
    assert!(
        r.error().contains("unknown category 'no such category'"),
        "{}",
        r.error()
    );
    let r = post_json(a, "/v2/models/german/infer", &json!({ "inputs": inputs[1..] }));
    assert_eq!(r.status, 400);
    assert!(r.error().contains("is missing"), "{}", r.error());
}

#[test]
fn bad_requests_get_json_errors_and_the_server_stays_up() {
    let server = serve(ServeConfig::new());
    let a = server.http_addr();
    let one_row = |shape: Value, datatype: &str, data: Value| json!({"inputs": [{"name": "input", "shape": shape, "datatype": datatype, "data": data}]});
    let row: Vec<f64> = rows(&fixture().bc, 1).iter().copied().collect();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("/v2/models/nope/infer", vec![], b"{}".to_vec(), 404, "unknown model 'nope'"),
        ("/v2/models/bc/versions/9/infer", vec![], b"{}".to_vec(), 404, "no version '9'"),
        ("/v2/models/bc/infer", vec![("Inference-Header-Content-Length", "abc")], b"{}".to_vec(), 400, "must be a non-negative integer"),
        ("/v2/models/bc/infer", vec![("Inference-Header-Content-Length", "99999999999")], b"{}".to_vec(), 400, "but the body has 2 bytes"),
        ("/v2/models/bc/infer", vec![], b"not json".to_vec(), 400, "invalid inference request"),
        ("/v2/models/bc/infer", vec![], serde_json::to_vec(&one_row(json!([1, 29]), "FP64", json!(row[..29]))).unwrap(), 400, "takes [N, 30]"),
        ("/v2/models/bc/infer", vec![], serde_json::to_vec(&one_row(json!([1, 30]), "BYTES", json!(vec!["a"; 30]))).unwrap(), 400, "is BYTES"),
        ("/v2/models/bc/infer", vec![], serde_json::to_vec(&json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1]}]})).unwrap(), 400, "has no input 'x'"),
        ("/v2/models/bc/infer", vec![], serde_json::to_vec(&json!({"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": row}], "outputs": [{"name": "score"}]})).unwrap(), 400, "no output 'score'"),
        ("/v2/models/bc/infer", vec![], b"{\"inputs\": []}".to_vec(), 400, "no inputs"),
        ("/v2/nothing", vec![], vec![], 404, "no route POST /v2/nothing"),
    ];
    for (path, headers, body, status, message) in cases {
        let r = request(a, "POST", path, &headers, &body);
        assert_eq!(r.status, status, "{path}: {}", String::from_utf8_lossy(&r.body));
        assert!(r.error().contains(message), "{path}: '{}' lacks '{message}'", r.error());
    }
    // A non-finite value in binary form.
    let mut x = rows(&fixture().bc, 1);
    x[[0, 3]] = f64::NAN;
    let (body, n) = binary_request(&x, None);
    let r = request(
        a,
        "POST",
        "/v2/models/bc/infer",
        &[("Inference-Header-Content-Length", &n.to_string())],
        &body,
    );
    assert_eq!(r.status, 400);
    assert!(r.error().contains("cannot take missing values"), "{}", r.error());
    // Wrong method.
    assert_eq!(get(a, "/v2/models/bc/infer").status, 405);
    assert_eq!(get(a, "/v2/health/ready").status, 200);
}

#[test]
fn oversized_bodies_are_refused_before_and_after_decompression() {
    let server = serve(ServeConfig::new().max_body(4096));
    let a = server.http_addr();
    let r = request(a, "POST", "/v2/models/bc/infer", &[], &vec![b' '; 5000]);
    assert_eq!(r.status, 413);
    assert!(
        r.error().contains("exceeds 4.0 KiB") || r.error().contains("exceeds"),
        "{}",
        r.error()
    );
    // Chunked, with no length announced.
    let mut chunked =
        b"POST /v2/models/bc/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(b"800\r\n");
        chunked.extend_from_slice(&[b' '; 0x800]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(send_raw(a, &chunked).status, 413);
    // A small gzip body that inflates past the limit.
    let bomb = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b' '; 1 << 20]).unwrap();
        e.finish().unwrap()
    };
    assert!(bomb.len() < 4096);
    let r = request(a, "POST", "/v2/models/bc/infer", &[("Content-Encoding", "gzip")], &bomb);
    assert_eq!(r.status, 413);
    assert!(r.error().contains("decompressed"));
}

#[test]
fn mlflow_payloads_all_score_the_first_model() {
    let server = serve(ServeConfig::new());
    let a = server.http_addr();
    let f = fixture();
    let x = rows(&f.bc, 3);
    let names = f.logistic.signature().input_names();
    let expected = probabilities(&f.logistic.predict(x.view()).unwrap());
    let data: Vec<Vec<f64>> = x.outer_iter().map(|r| r.to_vec()).collect();
    let records: Vec<Value> = data
        .iter()
        .map(|r| Value::Object(names.iter().cloned().zip(r.iter().map(|v| json!(v))).collect()))
        .collect();
    let columns: serde_json::Map<String, Value> = names
        .iter()
        .enumerate()
        .map(|(j, n)| (n.clone(), json!(x.column(j).to_vec())))
        .collect();
    // Columns in another order are matched by name.
    let mut reversed_names = names.clone();
    reversed_names.reverse();
    let reversed: Vec<Vec<f64>> = data.iter().map(|r| r.iter().rev().copied().collect()).collect();
    let payloads = [
        json!({"dataframe_split": {"columns": names, "data": data}}),
        json!({"dataframe_split": {"columns": reversed_names, "data": reversed}}),
        json!({"dataframe_records": records}),
        json!({"instances": data}),
        json!({"inputs": data}),
        json!({"inputs": {"input": data}}),
        json!({"inputs": columns}),
    ];
    for p in &payloads {
        let r = post_json(a, "/invocations", p);
        assert_eq!(r.status, 200, "{p}: {}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        let got: Vec<f64> = v["predictions"]["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(numbers)
            .collect();
        assert_eq!(got, expected, "{p}");
        assert_eq!(v["predictions"]["label"].as_array().unwrap().len(), 3);
    }
    let mut csv = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(",");
    for r in &data {
        csv.push('\n');
        csv.push_str(&r.iter().map(f64::to_string).collect::<Vec<_>>().join(","));
    }
    let r = request(
        a,
        "POST",
        "/invocations",
        &[("Content-Type", "text/csv")],
        csv.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["predictions"]["label"].as_array().unwrap().len(), 3);

    for (body, message) in [
        (json!({"instances": data, "inputs": data}), "send one"),
        (json!({"rows": data}), "needs one of dataframe_split"),
        (json!({"instances": [[1, 2]]}), "takes 30 columns"),
        (json!({"instances": [[1, 2], [1]]}), "row 1 has 1 cells"),
    ] {
        let r = post_json(a, "/invocations", &body);
        assert_eq!(r.status, 400, "{body}");
        assert!(r.error().contains(message), "'{}' lacks '{message}'", r.error());
        assert_eq!(r.json()["error_code"], "BAD_REQUEST");
    }
    let r = request(
        a,
        "POST",
        "/invocations",
        &[("Content-Type", "application/xml")],
        b"<a/>",
    );
    assert_eq!(r.status, 415);
    assert_eq!(get(a, "/version").body, env!("CARGO_PKG_VERSION").as_bytes());
}

#[test]
fn a_token_guards_inference_and_repository_routes_but_not_health() {
    let server = serve(ServeConfig::new().auth_token("s3cret-token"));
    let a = server.http_addr();
    let body = serde_json::to_vec(&json!({"instances": [rows(&fixture().bc, 1).row(0).to_vec()]})).unwrap();
    for (path, b) in [("/invocations", &body[..]), ("/v2/repository/index", &b"{}"[..])] {
        let r = request(a, "POST", path, &[], b);
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert!(r.error().contains("Authorization: Bearer"));
        assert_eq!(
            request(a, "POST", path, &[("Authorization", "Bearer wrong-token!")], b).status,
            401
        );
        assert_eq!(
            request(a, "POST", path, &[("Authorization", "Bearer s3cret-token")], b).status,
            200,
            "{path}"
        );
    }
    assert_eq!(get(a, "/v2/health/ready").status, 200);
    assert_eq!(get(a, "/v2/health/live").status, 200);

    let public = ServeConfig::new().bind([0, 0, 0, 0].into(), 0);
    let err = start(repo(), public.clone()).unwrap_err();
    assert!(err.to_string().contains("without --auth-token-file"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "  abc123\n").unwrap();
    assert!(public.clone().auth_token_file(&token).unwrap().validate().is_ok());
    std::fs::write(&token, "two words").unwrap();
    assert!(public.auth_token_file(&token).is_err());
}

#[test]
fn slow_clients_time_out_and_overload_is_answered_503() {
    let config = ServeConfig::new()
        .timeouts(Duration::from_millis(300), Duration::from_millis(600))
        .max_concurrency(1);
    let server = serve(config);
    let a = server.http_addr();
    // Headers that never end: the connection is closed.
    let mut slow = TcpStream::connect(a).unwrap();
    slow.write_all(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the slow connection was held"
    );

    // A body that never ends holds the one inference slot: the next request
    // hears 503 with Retry-After, and the slow one 408 in the end.
    let mut stuck = TcpStream::connect(a).unwrap();
    stuck
        .write_all(b"POST /v2/models/bc/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let r = request(a, "POST", "/v2/models/bc/infer", &[], b"{}");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("1"));
    stuck.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut raw = Vec::new();
    stuck.read_to_end(&mut raw).unwrap();
    let r = parse_reply(&raw);
    assert_eq!(r.status, 408);
    assert!(r.error().contains("did not complete"));
    // The slot is free again.
    assert_eq!(request(a, "POST", "/v2/repository/index", &[], b"").status, 200);
}

#[test]
fn dynamic_batching_merges_concurrent_requests_and_splits_the_answers() {
    let server = serve(ServeConfig::new().batching(64, Duration::from_millis(20)));
    let a = server.http_addr();
    let f = fixture();
    let threads: Vec<_> = (0..24)
        .map(|i| {
            std::thread::spawn(move || {
                let x = f.bc.features().slice(ml_core::ndarray::s![i..i + 2, ..]).to_owned();
                let body = json!({"inputs": [{"name": "input", "shape": [2, 30], "datatype": "FP64", "data": x.iter().copied().collect::<Vec<_>>()}]});
                let r = post_json(a, "/v2/models/bc/infer", &body);
                assert_eq!(r.status, 200);
                assert_eq!(numbers(&r.json()["outputs"][1]["data"]), probabilities(&f.logistic.predict(x.view()).unwrap()));
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = get(a, "/v2/models/bc/stats").json();
    let executions = stats["model_stats"][0]["execution_count"].as_u64().unwrap();
    assert_eq!(stats["model_stats"][0]["inference_count"], 48);
    assert!(executions < 24, "24 requests ran in {executions} calls of the model");
}

#[derive(Debug, Default)]
struct CountingLoader {
    loads: AtomicUsize,
}

impl ModelLoader for CountingLoader {
    fn load(&self, name: &str, uri: &str) -> ml_core::Result<ServedModel> {
        let n = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
        if uri == "missing" {
            return Err(ml_core::Error::Unsupported("no such model".into()));
        }
        Ok(ServedModel::new(
            name,
            &n.to_string(),
            fixture().logistic.clone(),
            ModelInterface::default(),
        )?
        .with_origin("ml-sdk", uri))
    }
}

#[test]
fn load_re_resolves_a_model_and_unload_removes_it() {
    let loader = Arc::new(CountingLoader::default());
    let repo = Arc::new(Repository::with_loader(loader.clone()));
    repo.load("credit", "models:/credit@champion").unwrap();
    assert!(repo.load("other", "missing").is_err());
    let server = start(repo, ServeConfig::new().bind([127, 0, 0, 1].into(), 0)).unwrap();
    let a = server.http_addr();
    assert_eq!(get(a, "/v2/models/credit").json()["versions"], json!(["1"]));
    assert_eq!(
        request(a, "POST", "/v2/repository/models/credit/load", &[], b"").status,
        200
    );
    let m = get(a, "/v2/models/credit").json();
    assert_eq!(
        m["versions"],
        json!(["3"]),
        "the reload is served, the old version gone"
    );
    assert_eq!(
        request(a, "POST", "/v2/repository/models/nope/load", &[], b"").status,
        404
    );
    assert_eq!(
        request(a, "POST", "/v2/repository/models/credit/unload", &[], b"").status,
        200
    );
    assert_eq!(get(a, "/v2/models/credit").status, 404);
    assert_eq!(get(a, "/v2/health/ready").status, 503);
}

#[test]
fn stopping_lets_the_request_in_flight_finish() {
    let server = serve(ServeConfig::new());
    let a = server.http_addr();
    let row: Vec<f64> = rows(&fixture().bc, 1).iter().copied().collect();
    let body =
        serde_json::to_vec(&json!({"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP64", "data": row}]}))
            .unwrap();
    let mut s = TcpStream::connect(a).unwrap();
    let head = format!(
        "POST /v2/models/bc/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let stopper = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(200));
    s.write_all(&body[10..]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    assert_eq!(parse_reply(&raw).status, 200);
    stopper.join().unwrap();
    assert!(TcpStream::connect(a).is_err(), "still accepting after stop");
}

#[test]
fn the_deployer_serves_a_model_until_shut_down() {
    use ml_core::Deployer;
    let deployer = ml_serve::HttpDeployer::new(ServeConfig::new().bind([127, 0, 0, 1].into(), 0));
    let deployment = deployer.deploy("bc", fixture().logistic.clone()).unwrap();
    let endpoint = deployment.endpoint();
    let addr: SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    assert_eq!(get(addr, "/v2/models/bc/ready").status, 200);
    deployment.shutdown().unwrap();
    assert!(TcpStream::connect(addr).is_err());
    assert!(deployer.deploy("bad/name", fixture().logistic.clone()).is_err());
}
