//! istioctl's HTTP client: one method per API call, errors rendered from `Status` bodies.

use anyhow::{bail, Context, Result};
use istio_planes_config::KindInfo;
use serde_json::{json, Value};

/// A client of one istiod.
pub(super) struct Client {
    http: reqwest::Client,
    server: String,
    token: Option<String>,
}

impl Client {
    /// A client for `server` (e.g. `http://127.0.0.1:8080`).
    pub(super) fn new(server: &str, token: Option<&str>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            server: server.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let text = self.checked(req).await?.text().await.context("response interrupted")?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    fn collection(info: &KindInfo, ns: Option<&str>) -> String {
        match ns {
            Some(ns) => {
                format!("/apis/{}/{}/namespaces/{ns}/{}", info.group, info.versions[0], info.plural)
            }
            None => format!("/apis/{}/{}/{}", info.group, info.versions[0], info.plural),
        }
    }

    /// `POST /v1/apply`.
    pub(super) async fn apply(&self, yaml: &str, namespace: &str, dry_run: bool) -> Result<Value> {
        let mut url = self.url(&format!("/v1/apply?namespace={namespace}"));
        if dry_run {
            url.push_str("&dryRun=All");
        }
        self.send(
            self.http.post(url).header("content-type", "application/yaml").body(yaml.to_owned()),
        )
        .await
    }

    /// One object.
    pub(super) async fn get(&self, info: &KindInfo, ns: &str, name: &str) -> Result<Value> {
        self.send(self.http.get(self.url(&format!("{}/{name}", Self::collection(info, Some(ns))))))
            .await
    }

    /// Every object of a kind in `ns` (or all namespaces).
    pub(super) async fn list(&self, info: &KindInfo, ns: Option<&str>) -> Result<Vec<Value>> {
        let v = self.send(self.http.get(self.url(&Self::collection(info, ns)))).await?;
        Ok(v["items"].as_array().cloned().unwrap_or_default())
    }

    /// Deletes one object.
    pub(super) async fn delete(&self, info: &KindInfo, ns: &str, name: &str) -> Result<()> {
        self.send(
            self.http.delete(self.url(&format!("{}/{name}", Self::collection(info, Some(ns))))),
        )
        .await
        .map(|_| ())
    }

    /// Sends `req` with the token; a non-2xx answer becomes an error rendered from its Status.
    async fn checked(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp =
            req.send().await.with_context(|| format!("cannot reach istiod at {}", self.server))?;
        let code = resp.status();
        if !code.is_success() {
            let text = resp.text().await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            bail!("{} ({code})", status_message(&body));
        }
        Ok(resp)
    }

    /// `GET path` as raw bytes.
    pub(super) async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let resp = self.checked(self.http.get(self.url(path))).await?;
        Ok(resp.bytes().await.context("export interrupted")?.to_vec())
    }

    /// `POST path` with a JSON body.
    pub(super) async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// `GET path?query` as JSON.
    pub(super) async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.send(self.http.get(self.url(path)).query(query)).await
    }

    /// `GET path?query` as a stream of JSON lines, each handed to `f`, until the server ends it
    /// or `f` fails (its error is returned).
    pub(super) async fn stream_lines(
        &self,
        path: &str,
        query: &[(&str, String)],
        mut f: impl FnMut(Value) -> Result<()>,
    ) -> Result<()> {
        use futures::StreamExt;
        let req = self
            .http
            .get(self.url(path))
            .query(query)
            .timeout(std::time::Duration::from_secs(365 * 86_400));
        let mut stream = self.checked(req).await?.bytes_stream();
        let mut buf = Vec::new();
        while let Some(chunk) = stream.next().await {
            buf.extend_from_slice(&chunk.context("stream interrupted")?);
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                    if v["kind"] == "Status" {
                        bail!("{}", status_message(&v));
                    }
                    f(v)?;
                }
            }
        }
        Ok(())
    }

    /// `GET /v1/cluster`.
    pub(super) async fn cluster(&self) -> Result<Value> {
        self.send(self.http.get(self.url("/v1/cluster"))).await
    }

    /// `POST /v1/cluster/members`.
    pub(super) async fn add_member(&self, id: u64, raft_addr: &str) -> Result<()> {
        self.send(
            self.http
                .post(self.url("/v1/cluster/members"))
                .json(&json!({"id": id, "raftAddress": raft_addr})),
        )
        .await
        .map(|_| ())
    }

    /// `DELETE /v1/cluster/members/{id}`.
    pub(super) async fn remove_member(&self, id: u64) -> Result<()> {
        self.send(self.http.delete(self.url(&format!("/v1/cluster/members/{id}"))))
            .await
            .map(|_| ())
    }
}

/// Renders a `Status` body as an error message: its message, or — when it lists causes — a
/// heading and one line per cause.
fn status_message(v: &Value) -> String {
    if let Some(text) = v.as_str().filter(|t| !t.trim().is_empty()) {
        return text.trim().to_owned();
    }
    let msg = v["message"].as_str().unwrap_or("request failed").to_owned();
    let Some(causes) = v["details"]["causes"].as_array().filter(|c| !c.is_empty()) else {
        return msg;
    };
    let mut out = format!("{} is invalid:", v["details"]["kind"].as_str().unwrap_or("request"));
    for c in causes {
        let field = c["field"].as_str().unwrap_or_default();
        let m = c["message"].as_str().unwrap_or_default();
        out.push_str("\n  - ");
        if !field.is_empty() {
            out.push_str(field);
            out.push_str(": ");
        }
        out.push_str(m);
    }
    out
}
