//! What other systems run: a container build context (Dockerfile) and
//! Kubernetes manifests (Deployment, Service, HorizontalPodAutoscaler, and
//! KServe's InferenceService) for a server of ours. Pure text from settings;
//! the `ml-sdk` facade writes them beside the model files.
//!
//! The manifests keep to stable, documented fields (apps/v1,
//! autoscaling/v2, serving.kserve.io/v1beta1). The server keeps no state
//! beyond its loaded models, so replicas behind one Service scale freely;
//! replicas serving a `models:/NAME@ALIAS` each resolve the alias when they
//! start or are asked to reload.

use serde_json::{Value, json};

/// The settings of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeploySpec {
    /// The model's name: the served name and the Kubernetes object names.
    pub name: String,
    /// The container image.
    pub image: String,
    /// Replicas to start with (the autoscaler's minimum).
    pub replicas: u32,
    /// The autoscaler's maximum.
    pub max_replicas: u32,
    /// CPU utilization the autoscaler keeps, in percent of the request.
    pub target_cpu_percent: u32,
    /// CPU request and limit (Kubernetes quantities).
    pub cpu: (String, String),
    /// Memory request and limit (Kubernetes quantities).
    pub memory: (String, String),
}

/// The HTTP port inside the container.
pub const HTTP_PORT: u16 = 8080;
/// The gRPC port inside the container.
pub const GRPC_PORT: u16 = 8081;
/// The user the container runs as (no entry in /etc/passwd is needed).
pub const CONTAINER_UID: u32 = 10001;

impl DeploySpec {
    /// Defaults for `name`: image `mlsdk-NAME:latest` (NAME as Kubernetes object names have it), 1 to 4 replicas at
    /// 70 % CPU, requests 250m CPU and 256Mi, limits 2 CPUs and 1Gi.
    pub fn new(name: &str) -> Self {
        let mut spec = Self {
            name: name.to_string(),
            image: String::new(),
            replicas: 1,
            max_replicas: 4,
            target_cpu_percent: 70,
            cpu: ("250m".into(), "2".into()),
            memory: ("256Mi".into(), "1Gi".into()),
        };
        spec.image = format!("mlsdk-{}:latest", spec.object_name());
        spec
    }

    /// Use this image.
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.image = image.into();
        self
    }

    /// Scale between `min` and `max` replicas.
    pub fn replicas(mut self, min: u32, max: u32) -> Self {
        self.replicas = min;
        self.max_replicas = max;
        self
    }

    /// Check the replica counts.
    ///
    /// # Errors
    /// No replica, or a minimum above the maximum.
    pub fn validate(&self) -> crate::Result<()> {
        if self.replicas == 0 || self.max_replicas < self.replicas {
            return Err(crate::Error::bad_request(
                "--replicas must be at least 1 and at most --max-replicas",
            ));
        }
        Ok(())
    }

    /// Kubernetes object names: lower case, digits and `-` (RFC 1123).
    fn object_name(&self) -> String {
        let mut s: String = self
            .name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        s = s.trim_matches('-').to_string();
        if s.is_empty() {
            s = "model".into();
        }
        s.truncate(50);
        s
    }

    fn labels(&self) -> Value {
        json!({"app.kubernetes.io/name": self.object_name(), "app.kubernetes.io/component": "predictor",
               "app.kubernetes.io/managed-by": "ml-sdk"})
    }

    /// The server container: ports, probes on the health routes, resources,
    /// a non-root user and a read-only root filesystem.
    fn container(&self, name: &str) -> Value {
        let probe = |path: &str, delay: u32| {
            json!({"httpGet": {"path": path, "port": "http"}, "initialDelaySeconds": delay,
                   "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3})
        };
        json!({
            "name": name,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "ports": [
                {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
            ],
            "readinessProbe": probe("/v2/health/ready", 2),
            "livenessProbe": probe("/v2/health/live", 10),
            "resources": {
                "requests": {"cpu": self.cpu.0, "memory": self.memory.0},
                "limits": {"cpu": self.cpu.1, "memory": self.memory.1},
            },
            "securityContext": {
                "runAsNonRoot": true,
                "runAsUser": CONTAINER_UID,
                "runAsGroup": CONTAINER_UID,
                "allowPrivilegeEscalation": false,
                "readOnlyRootFilesystem": true,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        })
    }

    /// A Deployment, a Service (HTTP and gRPC) and a HorizontalPodAutoscaler,
    /// as `(file name, object)`.
    pub fn kubernetes(&self) -> Vec<(String, Value)> {
        let name = self.object_name();
        let deployment = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": self.labels()},
            "spec": {
                "replicas": self.replicas,
                "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "template": {
                    "metadata": {"labels": self.labels()},
                    "spec": {
                        "automountServiceAccountToken": false,
                        "terminationGracePeriodSeconds": 40,
                        "securityContext": {"runAsNonRoot": true, "fsGroup": CONTAINER_UID},
                        "containers": [self.container("server")],
                    },
                },
            },
        });
        let service = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": self.labels()},
            "spec": {
                "type": "ClusterIP",
                "selector": {"app.kubernetes.io/name": name},
                "ports": [
                    {"name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP"},
                    {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "protocol": "TCP", "appProtocol": "grpc"},
                ],
            },
        });
        let hpa = json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": self.labels()},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": self.replicas,
                "maxReplicas": self.max_replicas,
                "metrics": [{
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": self.target_cpu_percent}},
                }],
            },
        });
        vec![
            ("deployment.yaml".into(), deployment),
            ("service.yaml".into(), service),
            ("hpa.yaml".into(), hpa),
        ]
    }

    /// KServe's InferenceService running the image as a custom predictor
    /// that speaks the Open Inference Protocol (v2).
    pub fn kserve(&self) -> Value {
        let mut container = self.container("kserve-container");
        // KServe routes to the first port; the v2 protocol is served on HTTP.
        container["ports"] = json!([{"containerPort": HTTP_PORT, "protocol": "TCP"}]);
        container["readinessProbe"]["httpGet"]["port"] = json!(HTTP_PORT);
        container["livenessProbe"]["httpGet"]["port"] = json!(HTTP_PORT);
        container["env"] = json!([{"name": "PROTOCOL", "value": "v2"}]);
        json!({
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": self.object_name(), "labels": self.labels()},
            "spec": {
                "predictor": {
                    "minReplicas": self.replicas,
                    "maxReplicas": self.max_replicas,
                    "containers": [container],
                },
            },
        })
    }

    /// The Dockerfiles of a build context holding `bin/mlsdk` (the server,
    /// built on the host) and `models/` (a model repository): `Dockerfile`
    /// takes the server from the context, `Dockerfile.source` builds it from
    /// crates.io in a Rust stage. Both end in the same small runtime stage on
    /// Debian's slim image, as a non-root user, with a health check.
    pub fn dockerfiles(&self, version: &str) -> (String, String) {
        let runtime = format!(
            r#"FROM debian:bookworm-slim
COPY --from=server /out/mlsdk /usr/local/bin/mlsdk
COPY models /models
USER {uid}:{uid}
EXPOSE {http} {grpc}
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["mlsdk", "probe", "http://127.0.0.1:{http}/v2/health/ready"]
# Inside a container the server listens on every interface. Without a token
# anyone who reaches the port can use the model: to require one, mount it and
# add --auth-token-file PATH in place of --insecure-public.
CMD ["mlsdk", "serve", "--repository", "/models", "--host", "0.0.0.0", "--port", "{http}", "--grpc-port", "{grpc}", "--insecure-public"]
"#,
            uid = CONTAINER_UID,
            http = HTTP_PORT,
            grpc = GRPC_PORT,
        );
        let header = |how: &str, file: &str| {
            format!(
                "# syntax=docker/dockerfile:1\n# Written by `mlsdk deploy docker`; {how}.\n\
                 # Build: docker build{file} -t {image} .   (podman: add --format docker to keep the HEALTHCHECK)\n\n",
                image = self.image
            )
        };
        let context = format!(
            "{}FROM debian:bookworm-slim AS server\nCOPY bin/mlsdk /out/mlsdk\n\n{runtime}",
            header("the server is bin/mlsdk from this context", "")
        );
        let source = format!(
            "{}FROM rust:1-slim-bookworm AS server\n\
             RUN cargo install --locked ml-sdk-cli --version {version} --root /tmp/cargo \\\n    \
             && mkdir -p /out && cp /tmp/cargo/bin/mlsdk /out/mlsdk\n\n{runtime}",
            header("the server is built from crates.io", " -f Dockerfile.source")
        );
        (context, source)
    }
}

/// Write Kubernetes objects as YAML files into `out` (created if missing),
/// each atomically; an existing file of the same name is refused.
///
/// # Errors
/// Existing files, I/O failures.
pub fn write_manifests(out: &std::path::Path, objects: &[(String, Value)]) -> ml_core::Result<Vec<std::path::PathBuf>> {
    for (file, _) in objects {
        let path = out.join(file);
        if path.exists() {
            return Err(ml_core::Error::invalid(
                "out",
                format!("{} exists; remove it or choose another --out", path.display()),
            ));
        }
    }
    let staged = ml_core::io::StagedDir::new(out)?;
    let mut written = Vec::new();
    for (file, object) in objects {
        let header = "# Written by mlsdk deploy; kubectl apply -f this directory.\n";
        let path = staged.path().join(file);
        ml_core::io::write_atomic(&path, format!("{header}{}", to_yaml(object)).as_bytes())?;
        written.push(staged.final_path(&path));
    }
    staged.commit()?;
    Ok(written)
}

/// Ask a server's health route: `Ok` on 200.
///
/// # Errors
/// A URL that is not `http://HOST:PORT/PATH`, no answer within `timeout`,
/// another status.
pub fn probe(url: &str, timeout: std::time::Duration) -> crate::Result<()> {
    use std::io::{Read, Write};
    let bad = || {
        crate::Error::bad_request(format!(
            "'{}' is not http://HOST:PORT/PATH",
            ml_core::limits::shorten(url, 100)
        ))
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let addr = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)?;
    let fail = |e: std::io::Error| crate::Error::new(503, format!("{url}: {e}"));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(fail)?;
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(fail)?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).map_err(fail)?;
    match &head[9..12] {
        b"200" => Ok(()),
        status => Err(crate::Error::new(
            503,
            format!("{url} answered {}", String::from_utf8_lossy(status)),
        )),
    }
}

/// YAML for a JSON value: block style, every string double-quoted (so no
/// value is read back as another type), keys in the map's order.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(value, 0, &mut out);
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty())
}

fn write_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = serde_json::to_string(k).unwrap_or_default();
                let key = if k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                    k.clone()
                } else {
                    key
                };
                if is_block(v) {
                    out.push_str(&format!("{pad}{key}:\n"));
                    write_yaml(v, indent + 2, out);
                } else {
                    out.push_str(&format!("{pad}{key}: {}\n", scalar(v)));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                if is_block(item) {
                    // The first line of the item goes after the dash.
                    let mut inner = String::new();
                    write_yaml(item, indent + 2, &mut inner);
                    let inner = inner.trim_start_matches(' ');
                    out.push_str(&format!("{pad}- {inner}"));
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_nests_maps_and_lists_and_quotes_strings() {
        let v = json!({"a": {"b": [1, {"c": "x", "d": []}], "e": true}, "f": "1"});
        assert_eq!(
            to_yaml(&v),
            "a:\n  b:\n    - 1\n    - c: \"x\"\n      d: []\n  e: true\nf: \"1\"\n"
        );
    }

    #[test]
    fn object_names_follow_rfc_1123() {
        assert_eq!(DeploySpec::new("Credit_Model.v2").object_name(), "credit-model-v2");
        assert_eq!(DeploySpec::new("__").object_name(), "model");
    }
}
