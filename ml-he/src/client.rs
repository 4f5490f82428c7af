//! A blocking HTTP client for servers that score encrypted requests
//! (`mlsdk serve`'s `POST /v2/models/NAME/encrypted`).

use std::io::Read;

use crate::cipher::{DEFAULT_MESSAGE_LIMIT, EncryptedRequest, EncryptedScores};
use crate::{Error, Result};

/// The client: a base URL (`http://127.0.0.1:8080`) and an optional bearer
/// token. It sends ciphertexts only; keys stay with the caller.
#[derive(Debug, Clone)]
pub struct HttpClient {
    base: String,
    token: Option<String>,
    limit: usize,
    agent: ureq::Agent,
}

impl HttpClient {
    /// A client of the server at `base`.
    pub fn new(base: impl Into<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        Self {
            base: base.into().trim_end_matches('/').to_string(),
            token: None,
            limit: DEFAULT_MESSAGE_LIMIT,
            agent,
        }
    }

    /// Send `Authorization: Bearer TOKEN`.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Refuse responses over `limit` bytes.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Have `model` score `request`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a transport failure or an error status (with
    /// the server's message); the response's own format errors.
    pub fn score(&self, model: &str, request: &EncryptedRequest) -> Result<EncryptedScores> {
        let url = format!("{}/v2/models/{model}/encrypted", self.base);
        let mut req = self.agent.post(&url).header("Content-Type", "application/octet-stream");
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let transport = |e: ureq::Error| Error::invalid("http", format!("{url}: {e}"));
        let mut response = req.send(&request.to_bytes()[..]).map_err(transport)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(self.limit as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| Error::invalid("http", format!("{url}: {e}")))?;
        if status != 200 {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(Error::invalid("http", format!("{url}: status {status}: {message}")));
        }
        EncryptedScores::from_bytes(&body, self.limit)
    }
}
