//! Test helpers (compiled for unit tests only): a scripted HTTP/1.1 server and service-account keys.
//!
//! The server answers each request with what a closure returns, can hang (to provoke timeouts) or drop the
//! connection after reading the request (to provoke "sent but no answer"), and records every request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::key::ServiceAccountKey;

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// 0-based arrival order.
    pub seq: usize,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Values of a query parameter, in order (percent-decoded).
    pub fn query_values(&self, name: &str) -> Vec<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .collect()
    }
}

/// What the server does with a request.
#[derive(Debug, Clone)]
pub enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Wait this long, then close without answering.
    Hang(Duration),
    /// Close the connection without answering.
    Close,
}

pub fn reply_json(status: u16, body: &str) -> Reply {
    Reply::Respond {
        status,
        headers: Vec::new(),
        body: body.to_owned(),
    }
}

pub fn reply_with_header(status: u16, header: (&str, &str), body: &str) -> Reply {
    Reply::Respond {
        status,
        headers: vec![(header.0.to_owned(), header.1.to_owned())],
        body: body.to_owned(),
    }
}

/// A token endpoint answer.
pub fn token_reply() -> Reply {
    reply_json(
        200,
        r#"{"access_token":"test-token","expires_in":3599,"token_type":"Bearer"}"#,
    )
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct TestServer {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start<F>(handler: F) -> TestServer
    where
        F: Fn(&Recorded) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let seq = Arc::new(AtomicUsize::new(0));
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                let recorded = Arc::clone(&recorded);
                let seq = Arc::clone(&seq);
                tokio::spawn(async move {
                    serve(stream, handler, recorded, seq).await;
                });
            }
        });
        TestServer {
            addr,
            requests,
            task,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or_default()
    }

    /// Requests other than token requests.
    pub fn api_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path != "/token")
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: Arc<Handler>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    seq: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target.clone(), String::new()),
    };
    let request = Recorded {
        seq: seq.fetch_add(1, Ordering::SeqCst),
        method,
        path,
        query,
        headers,
        body,
    };
    if let Ok(mut r) = recorded.lock() {
        r.push(request.clone());
    }
    match handler(&request) {
        Reply::Respond {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} Status\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&body);
            let _ = stream.write_all(out.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
        }
        Reply::Close => {}
    }
}

/// An executor whose token endpoint is `server`'s `/token`, with fast retries.
pub fn http_for(server: &TestServer) -> super::http::GoogleHttp {
    use super::http::{GoogleHttp, HttpConfig, build_http_client};
    use super::retry::RetryPolicy;
    let client = build_http_client(&HttpConfig::default()).expect("client");
    let (key, _) = fixed_key(&server.url("/token"));
    let tokens = Arc::new(
        super::auth::TokenProvider::new(key, client.clone(), RetryPolicy::fast()).expect("tokens"),
    );
    GoogleHttp::new(client, tokens, RetryPolicy::fast())
}

/// A key file's JSON whose PEM holds a dummy body (enough for parsing, not for signing).
pub fn key_json(token_uri: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": "kid-1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nSECRETMATERIAL\n-----END PRIVATE KEY-----\n",
        "client_email": "sync@demo-project.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    })
    .to_string()
}

/// A real RSA key (generated once per test binary) and its public PEM.
pub fn fixed_key(token_uri: &str) -> (ServiceAccountKey, String) {
    static PAIR: OnceLock<(String, String)> = OnceLock::new();
    let (private_pem, public_pem) = PAIR.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let private =
            rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate key");
        let public = rsa::RsaPublicKey::from(&private);
        (
            private
                .to_pkcs8_pem(LineEnding::LF)
                .expect("pkcs8 pem")
                .to_string(),
            public.to_public_key_pem(LineEnding::LF).expect("spki pem"),
        )
    });
    let key = ServiceAccountKey {
        key_type: "service_account".to_owned(),
        project_id: "demo-project".to_owned(),
        private_key_id: "kid-1".to_owned(),
        private_key: private_pem.clone(),
        client_email: "sync@demo-project.iam.gserviceaccount.com".to_owned(),
        client_id: "1234567890".to_owned(),
        token_uri: token_uri.to_owned(),
    };
    (key, public_pem.clone())
}
