#![allow(clippy::unwrap_used)] // Test and benchmark helpers: a panic is the failure report.
#![cfg(unix)]
//! `mlsdk serve` under load on loopback: 20,000 requests from 32 keep-alive
//! connections with malformed, oversized, wrong-shape and unknown-model
//! requests mixed in and slow-header connections held open beside them;
//! each bad request gets its status and every good one succeeds. Then
//! SIGTERM during load: every response that starts arrives whole and 200,
//! and the server exits 0.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;

use common::{Serve, run_in};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 32;
const REQUESTS: usize = 20_000;

/// A trained model and `mlsdk serve` on it.
fn start(dir: &Path) -> Serve {
    run_in(dir, &["datasets", "export", "breast_cancer", "--out", "bc.csv"]);
    run_in(
        dir,
        &[
            "train", "--data", "bc.csv", "--target", "target", "--model", "logistic", "--out", "m",
        ],
    );
    Serve::start(dir, &["--model", "bc=m", "--max-body", "65536"])
}

fn row_body(rows: usize) -> Vec<u8> {
    let data: Vec<f64> = (0..rows * 30).map(|i| (i % 17) as f64 * 0.5 + 1.0).collect();
    format!(r#"{{"inputs":[{{"name":"input","shape":[{rows},30],"datatype":"FP64","data":{data:?}}}]}}"#).into_bytes()
}

fn request(path: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Read one response: status and whole body (by Content-Length). `None`
/// when the connection ends before any byte of it.
fn read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<(u16, Vec<u8>)>> {
    let mut status_line = String::new();
    if reader.read_line(&mut status_line)? == 0 {
        return Ok(None);
    }
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("response headers cut off"));
        }
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().map_err(std::io::Error::other)?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some((status, body)))
}

fn connect(addr: &str) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

#[test]
fn twenty_thousand_requests_with_bad_ones_mixed_in() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path());
    let addr = server.http.clone();
    let good = Arc::new(row_body(1));
    let wrong_shape = Arc::new(
        br#"{"inputs":[{"name":"input","shape":[1,29],"datatype":"FP64","data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29]}]}"#.to_vec(),
    );
    // Slow clients: headers begun and never finished, held open during the load.
    let slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"POST /v2/models/bc/infer HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    let counts: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                let (addr, good, wrong_shape) = (&addr, good.clone(), wrong_shape.clone());
                scope.spawn(move || {
                    let (mut w, mut r) = connect(addr);
                    let (mut ok, mut bad) = (0, 0);
                    for i in 0..REQUESTS / CONNECTIONS {
                        let (bytes, expected) = match (i + c) % 20 {
                            5 => (request("/v2/models/bc/infer", b"{not json", ""), 400),
                            10 => (request("/v2/models/bc/infer", &wrong_shape, ""), 400),
                            15 => (request("/v2/models/nope/infer", &good, ""), 404),
                            _ => (request("/v2/models/bc/infer", &good, ""), 200),
                        };
                        w.write_all(&bytes).unwrap();
                        let (status, body) = read_response(&mut r).unwrap().expect("a response");
                        assert_eq!(status, expected, "{}", String::from_utf8_lossy(&body));
                        if status == 200 {
                            ok += 1;
                        } else {
                            assert!(body.starts_with(b"{\"error\":"), "{}", String::from_utf8_lossy(&body));
                            bad += 1;
                        }
                    }
                    // An oversized body, announced by its length: refused at once.
                    let (mut w, mut r) = connect(addr);
                    w.write_all(b"POST /v2/models/bc/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
                        .unwrap();
                    let (status, _) = read_response(&mut r).unwrap().expect("a response");
                    assert_eq!(status, 413);
                    (ok, bad + 1)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let ok: usize = counts.iter().map(|c| c.0).sum();
    let bad: usize = counts.iter().map(|c| c.1).sum();
    assert_eq!(ok + bad, REQUESTS + CONNECTIONS);
    assert!(ok >= REQUESTS * 8 / 10, "{ok} good requests");
    eprintln!(
        "{ok} good and {bad} bad requests in {:.2} s ({:.0} requests/s)",
        elapsed.as_secs_f64(),
        (ok + bad) as f64 / elapsed.as_secs_f64()
    );
    // The slow clients were cut off by the header timeout (10 s) while the load ran.
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(started.elapsed() < Duration::from_secs(30), "a slow client was held");
    }
}

#[test]
fn sigterm_under_load_completes_every_response_that_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start(tmp.path());
    let addr = server.http.clone();
    let body = Arc::new(row_body(200));
    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (addr, body, stop, completed) = (addr.clone(), body.clone(), stop.clone(), completed.clone());
            std::thread::spawn(move || {
                let bytes = request("/v2/models/bc/infer", &body, "");
                while !stop.load(Ordering::SeqCst) {
                    let Ok(s) = TcpStream::connect(&addr) else { return };
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    let mut w = s.try_clone().unwrap();
                    let mut r = BufReader::new(s);
                    loop {
                        if w.write_all(&bytes).is_err() {
                            break;
                        }
                        match read_response(&mut r) {
                            // Started responses arrive whole, and succeed.
                            Ok(Some((status, _))) => {
                                assert_eq!(status, 200);
                                completed.fetch_add(1, Ordering::SeqCst);
                            }
                            // Closed before answering: not accepted.
                            Ok(None) => break,
                            Err(e) => {
                                assert!(
                                    matches!(
                                        e.kind(),
                                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                                    ),
                                    "a response was cut off: {e}"
                                );
                                break;
                            }
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let before = completed.load(Ordering::SeqCst);
    assert!(before > 0, "no request completed before SIGTERM");
    server.terminate(Duration::from_secs(20));
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    eprintln!(
        "{} requests completed, {before} before SIGTERM",
        completed.load(Ordering::SeqCst)
    );
}
