//! A real HTTP gateway on loopback, standing in for an SMS brand-name or Zalo provider: it
//! records every request (path, headers, JSON body), keeps the ids it accepted (as providers do
//! with a request id, a retried message is accepted again but delivered once), and fails on
//! demand: answering 503, refusing a phone number the way Zalo does (200 with a negative
//! `error`), answering a "try again later" code, or closing the connection without an answer
//! after it accepted the message. In eSMS style it answers `{"CodeResult": "100"}`, and `"124"`
//! (duplicate request id) to an id it has seen before on any of its paths, as one provider
//! serving both SMS and Zalo does.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub struct Behaviour {
    /// Answer 503 to this many next requests.
    pub unavailable: AtomicUsize,
    /// Accept the next this many requests, then close the connection without an answer.
    pub hang_up: AtomicUsize,
    /// Phone numbers (84…) the Zalo path refuses with {"error": -118} (eSMS style: "99").
    pub no_zalo: Mutex<Vec<String>>,
    /// Answer this many next requests with a "try again later" code: {"error": -100} (eSMS
    /// style: "103", not enough balance).
    pub try_later: AtomicUsize,
    /// Answer in eSMS style (see the module's documentation).
    pub esms: AtomicBool,
}

pub struct Gateway {
    pub port: u16,
    pub behaviour: Arc<Behaviour>,
    requests: Arc<Mutex<Vec<Request>>>,
    /// Message ids accepted, by path: what reached citizens.
    delivered: Arc<Mutex<BTreeSet<(String, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            if n.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(Some(Request {
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    }))
}

fn answer(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// The message id and phone of a request, whichever template field carries them.
fn id_of(r: &Request) -> String {
    ["id", "tracking_id"]
        .iter()
        .find_map(|k| r.body.get(*k).and_then(|v| v.as_str()))
        .unwrap_or("")
        .to_owned()
}

/// The message ids of the requests to `path` for `phone`, in the order they came.
pub fn ids_to(requests: &[Request], path: &str, phone: &str) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.path == path && phone_of(r) == phone)
        .map(id_of)
        .collect()
}

fn phone_of(r: &Request) -> String {
    ["to", "phone"]
        .iter()
        .find_map(|k| r.body.get(*k).and_then(|v| v.as_str()))
        .unwrap_or("")
        .to_owned()
}

fn take(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Gateway {
    pub fn start() -> std::io::Result<Gateway> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let behaviour = Arc::new(Behaviour::default());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let delivered = Arc::new(Mutex::new(BTreeSet::new()));
        let mut seen = BTreeSet::new();
        let stop = Arc::new(AtomicBool::new(false));
        let (b, r, d, s) = (
            behaviour.clone(),
            requests.clone(),
            delivered.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let Ok(Some(req)) = read_request(&mut stream) else {
                    continue;
                };
                if let Ok(mut all) = r.lock() {
                    all.push(req.clone());
                }
                if take(&b.unavailable) {
                    let _ = answer(
                        &mut stream,
                        "503 Service Unavailable",
                        "{\"error\":\"busy\"}",
                    );
                    continue;
                }
                let esms = b.esms.load(Ordering::SeqCst);
                if take(&b.try_later) {
                    let body = if esms {
                        "{\"CodeResult\":\"103\",\"ErrorMessage\":\"Not enough balance\"}"
                    } else {
                        "{\"error\":-100,\"message\":\"Unknown error\"}"
                    };
                    let _ = answer(&mut stream, "200 OK", body);
                    continue;
                }
                // A provider keeps every request id it processed, accepted or not.
                let replayed = !seen.insert(id_of(&req));
                if esms && replayed {
                    let _ = answer(
                        &mut stream,
                        "200 OK",
                        "{\"CodeResult\":\"124\",\"ErrorMessage\":\"Duplicate RequestId\"}",
                    );
                    continue;
                }
                let refused = req.path.contains("zalo")
                    && b.no_zalo
                        .lock()
                        .map(|l| l.contains(&phone_of(&req)))
                        .unwrap_or(false);
                if refused {
                    let body = if esms {
                        "{\"CodeResult\":\"99\",\"ErrorMessage\":\"84987654321 blocked\"}"
                    } else {
                        "{\"error\":-118,\"message\":\"Zalo account not existed\"}"
                    };
                    let _ = answer(&mut stream, "200 OK", body);
                    continue;
                }
                if let Ok(mut ids) = d.lock() {
                    ids.insert((req.path.clone(), id_of(&req)));
                }
                if take(&b.hang_up) {
                    // Accepted, but the answer is lost.
                    drop(stream);
                    continue;
                }
                let body = if esms {
                    "{\"CodeResult\":\"100\",\"SMSID\":\"x\"}"
                } else {
                    "{\"error\":0,\"message\":\"Success\"}"
                };
                let _ = answer(&mut stream, "200 OK", body);
            }
        });
        Ok(Gateway {
            port,
            behaviour,
            requests,
            delivered,
            stop,
            thread: Some(thread),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// (path, message id) of every message accepted, each once.
    pub fn delivered(&self) -> BTreeSet<(String, String)> {
        self.delivered.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
