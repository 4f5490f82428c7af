//! Replies that are not what MLflow's REST API sends (missing fields, wrong
//! types, unknown enum values, not JSON) are typed errors naming the
//! endpoint, never silent empty strings or zeros. A scripted server on
//! 127.0.0.1 answers each request with the next canned reply.
#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use ml_track::{Error, MlflowRestClient, RetryPolicy, TrackingStore};

/// Serve `replies` in order (one per connection), then stop.
fn scripted(replies: Vec<(u16, &'static str)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (status, body) in replies {
            let Ok((mut stream, _)) = listener.accept() else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body_in = vec![0; length];
            let _ = reader.read_exact(&mut body_in);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn client(url: &str) -> MlflowRestClient {
    MlflowRestClient::new(url).with_retry(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    })
}

const RUN: &str = "0123456789abcdef0123456789abcdef";

/// A client call whose reply is checked.
type Call = fn(&MlflowRestClient) -> ml_track::Result<()>;

#[test]
fn partial_and_malformed_replies_are_typed_errors() {
    let cases: Vec<(&'static str, Call)> = vec![
        // A run without its info's required fields.
        (r#"{"run": {"info": {"run_id": "x"}}}"#, |c| c.get_run(RUN).map(drop)),
        // A start time that is not a number.
        (
            r#"{"run": {"info": {"run_id": "x", "experiment_id": "1", "status": "FINISHED", "start_time": "soon", "artifact_uri": "/a"}}}"#,
            |c| c.get_run(RUN).map(drop),
        ),
        // An unknown run status.
        (
            r#"{"run": {"info": {"run_id": "x", "experiment_id": "1", "status": "EXPLODED", "start_time": 1, "artifact_uri": "/a"}}}"#,
            |c| c.get_run(RUN).map(drop),
        ),
        // A model version whose number is text.
        (r#"{"model_version": {"name": "m", "version": "one"}}"#, |c| {
            c.resolve_alias("m", "champion").map(drop)
        }),
        // Not JSON at all.
        ("<html>proxy error</html>", |c| c.registered_models().map(drop)),
    ];
    for (body, call) in cases {
        let url = scripted(vec![(200, body)]);
        let e = call(&client(&url)).unwrap_err();
        assert!(matches!(e, Error::Reply { .. }), "{body}: {e:?}");
    }
}

#[test]
fn artifact_locations_of_unknown_schemes_are_named() {
    let info = r#"{"run": {"info": {"run_id": "0123456789abcdef0123456789abcdef", "experiment_id": "1", "status": "FINISHED", "start_time": 1, "artifact_uri": "gs://bucket/1/run/artifacts"}}}"#;
    let url = scripted(vec![(200, info)]);
    let e = TrackingStore::list_artifacts(&client(&url), RUN, "model").unwrap_err();
    assert!(matches!(&e, Error::UnsupportedUri(m) if m.contains("'gs'")), "{e}");
}

#[test]
fn server_errors_keep_mlflow_error_codes() {
    let url = scripted(vec![(
        404,
        r#"{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Registered Model with name=m not found"}"#,
    )]);
    let e = client(&url).model_versions("m").unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
}

#[test]
fn a_server_that_never_answers_is_named_after_the_timeout() {
    // Accepts connections and reads requests, but never replies.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    let client = MlflowRestClient::new(&url).with_retry(RetryPolicy {
        request_timeout: std::time::Duration::from_millis(300),
        ..RetryPolicy::default()
    });
    let e = client.registered_models().unwrap_err();
    assert!(matches!(e, Error::NoAnswer { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains(&url) && text.contains("did not answer within 0.3 s"),
        "{text}"
    );
    // One attempt: a silent server is not asked again.
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn mlflow_timeout_and_retry_variables_are_read() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_string())
    };
    let policy = RetryPolicy::from_vars(vars(&[
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", "90"),
        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"),
        ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0.5"),
    ]))
    .unwrap();
    assert_eq!(policy.request_timeout, std::time::Duration::from_secs(90));
    assert_eq!(policy.total, std::time::Duration::from_secs(180));
    assert_eq!(policy.max_attempts, 3);
    assert_eq!(policy.initial_backoff, std::time::Duration::from_millis(500));
    let bad = RetryPolicy::from_vars(vars(&[("MLFLOW_HTTP_REQUEST_TIMEOUT", "soon")])).unwrap_err();
    assert!(bad.to_string().contains("MLFLOW_HTTP_REQUEST_TIMEOUT"), "{bad}");
}
