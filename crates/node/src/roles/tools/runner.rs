//! What runs a tool: a local command (JSON arguments on stdin, JSON or text on stdout) or an
//! HTTP upstream (JSON arguments posted, JSON or text back), behind one trait.

use serde_json::Value;
use std::{future::Future, pin::Pin, process::Stdio, time::Duration};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Most bytes a tool's output may have.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// What a tool produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    /// The text content (the output as printed, or the JSON of the structured output).
    pub text: String,
    /// The structured output, when the tool printed a JSON object.
    pub structured: Option<Value>,
}

impl ToolOutput {
    /// Reads a tool's raw output: a JSON object is structured output (and its compact JSON the
    /// text), anything else is text.
    pub fn from_bytes(out: &[u8]) -> Result<ToolOutput, String> {
        let text = std::str::from_utf8(out)
            .map_err(|_| "the tool's output is not UTF-8".to_string())?
            .trim()
            .to_string();
        match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) => Ok(ToolOutput {
                text: serde_json::to_string(&v).expect("a JSON value serializes"),
                structured: Some(v),
            }),
            _ => Ok(ToolOutput {
                text,
                structured: None,
            }),
        }
    }
}

/// A running tool call.
pub type RunFuture = Pin<Box<dyn Future<Output = Result<ToolOutput, String>> + Send>>;

/// Runs a tool on arguments that already passed its input schema. An `Err` is a failed call:
/// nothing is billed for it.
pub trait ToolRunner: Send + Sync + 'static {
    /// Runs one call.
    fn run(&self, arguments: Value) -> RunFuture;
}

/// A local command: started once per call with the arguments as JSON on stdin; a non-zero exit
/// or a run past the timeout is a failure (the process is killed).
#[derive(Clone, Debug)]
pub struct CommandRunner {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Longest run.
    pub timeout: Duration,
}

impl ToolRunner for CommandRunner {
    fn run(&self, arguments: Value) -> RunFuture {
        let argv = self.argv.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let (program, args) = argv.split_first().ok_or("no command to run")?;
            let mut child = tokio::process::Command::new(program)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot start {program}: {e}"))?;
            let input = serde_json::to_vec(&arguments).expect("a JSON value serializes");
            let mut stdin = child.stdin.take().expect("piped");
            let mut stdout = child.stdout.take().expect("piped");
            let mut stderr = child.stderr.take().expect("piped");
            let run = async {
                // Written while the output is read: a tool that answers before reading all of
                // its input cannot deadlock us.
                let write = async {
                    let _ = stdin.write_all(&input).await;
                    drop(stdin);
                };
                let mut out = Vec::new();
                let mut err = Vec::new();
                let read = async {
                    (&mut stdout)
                        .take(MAX_OUTPUT_BYTES as u64 + 1)
                        .read_to_end(&mut out)
                        .await
                };
                let read_err = async { (&mut stderr).take(4096).read_to_end(&mut err).await };
                let ((), r, _) = tokio::join!(write, read, read_err);
                r.map_err(|e| format!("reading the tool's output: {e}"))?;
                let status = child
                    .wait()
                    .await
                    .map_err(|e| format!("waiting for the tool: {e}"))?;
                Ok::<_, String>((status, out, err))
            };
            let (status, out, err) = tokio::time::timeout(timeout, run)
                .await
                .map_err(|_| format!("the tool ran past {} ms", timeout.as_millis()))??;
            if out.len() > MAX_OUTPUT_BYTES {
                return Err(format!(
                    "the tool printed more than {MAX_OUTPUT_BYTES} bytes"
                ));
            }
            if !status.success() {
                let err = String::from_utf8_lossy(&err);
                return Err(format!("the tool failed ({status}): {}", err.trim()));
            }
            ToolOutput::from_bytes(&out)
        })
    }
}

/// An HTTP upstream: the arguments posted as JSON; a non-2xx answer or a timeout is a failure.
#[derive(Clone, Debug)]
pub struct HttpRunner {
    /// Where to post.
    pub url: String,
    /// The client (shared connections).
    pub client: reqwest::Client,
    /// Longest wait.
    pub timeout: Duration,
}

impl HttpRunner {
    /// A runner posting to `url`, waiting at most `timeout`.
    pub fn new(url: String, timeout: Duration) -> HttpRunner {
        HttpRunner {
            url,
            client: reqwest::Client::new(),
            timeout,
        }
    }
}

impl ToolRunner for HttpRunner {
    fn run(&self, arguments: Value) -> RunFuture {
        let req = self
            .client
            .post(&self.url)
            .timeout(self.timeout)
            .json(&arguments);
        let url = self.url.clone();
        Box::pin(async move {
            let r = req
                .send()
                .await
                .map_err(|e| format!("upstream {url}: {e}"))?;
            let status = r.status();
            let body = r
                .bytes()
                .await
                .map_err(|e| format!("upstream {url}: {e}"))?;
            if !status.is_success() {
                return Err(format!(
                    "upstream {url} answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(512)])
                ));
            }
            if body.len() > MAX_OUTPUT_BYTES {
                return Err(format!(
                    "upstream {url} sent more than {MAX_OUTPUT_BYTES} bytes"
                ));
            }
            ToolOutput::from_bytes(&body)
        })
    }
}
