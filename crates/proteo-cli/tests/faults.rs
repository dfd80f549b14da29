//! `proteo serve` as a user installs it (the binary, over loopback HTTP) under load and faults: hundreds of
//! concurrent jobs, `kill -9` mid-run, SIGTERM, a wedged stage, slow and idle clients, huge uploads, a data
//! directory that turns read-only or fills up. Each is bounded in count and time and prints its numbers (counts,
//! p50/p99 latencies, the server's peak memory). The read-only and full-disk cases mount a small tmpfs (or a loop
//! ext4 image) and are skipped with the reason printed where the kernel refuses both.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The tiny job of the load test: 40 proteins × 9 samples (the fuzz corpus's baseline) and its gene sets.
fn tiny() -> (Vec<u8>, String, PathBuf) {
    let dir = root().join("tests/fuzz");
    let input = std::fs::read(dir.join("corpus/baseline/input.tsv")).unwrap();
    let design = std::fs::read_to_string(dir.join("corpus/baseline/design.tsv")).unwrap();
    (input, design, dir.join("gene_sets.gmt"))
}

fn example() -> (Vec<u8>, String) {
    (
        std::fs::read(root().join("data/example/proteinGroups.txt")).unwrap(),
        std::fs::read_to_string(root().join("data/example/experimental_design.tsv")).unwrap(),
    )
}

struct Server {
    child: Child,
    port: u16,
    data: PathBuf,
    args: Vec<String>,
    /// The line `proteo serve` prints once it listens.
    banner: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    fn start(data: &Path, args: &[&str]) -> Server {
        Server::start_on(data, free_port(), args.iter().map(|s| s.to_string()).collect())
    }

    fn start_on(data: &Path, port: u16, args: Vec<String>) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_proteo"))
            .args(["serve", "--port", &port.to_string(), "--data-dir"])
            .arg(data)
            .args(&args)
            .env("PROTEO_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("proteo serve starts");
        let mut out = child.stdout.take().unwrap();
        let mut banner = Vec::new();
        let started = Instant::now();
        let mut byte = [0u8; 1];
        while !banner.ends_with(b"\n") {
            assert!(started.elapsed() < Duration::from_secs(60), "proteo serve did not start");
            match out.read(&mut byte) {
                Ok(1) => banner.push(byte[0]),
                _ => panic!("proteo serve exited before listening: {}", String::from_utf8_lossy(&banner)),
            }
        }
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Server { child, port, data: data.to_path_buf(), args, banner: String::from_utf8_lossy(&banner).into_owned() }
    }

    fn restart(mut self) -> Server {
        self.stop();
        Server::start_on(&self.data.clone(), self.port, self.args.clone())
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
    }

    /// SIGTERM and wait; how long the server took to exit.
    fn stop(&mut self) -> Duration {
        let t = Instant::now();
        if self.child.try_wait().unwrap().is_none() {
            self.signal("TERM");
            while self.child.try_wait().unwrap().is_none() {
                if t.elapsed() > Duration::from_secs(30) {
                    let _ = self.child.kill();
                    panic!("proteo serve ignored SIGTERM for 30 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        t.elapsed()
    }

    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Peak resident memory of the server so far (VmHWM), in MiB.
    fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn call(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        http(self.port, method, path, &[("content-type", "application/json")], body)
    }

    fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (status, bytes) = self.call(method, path, &serde_json::to_vec(&body).unwrap());
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// POST /jobs and PUT the data: the job id.
    fn submit(&self, data: &[u8], design: &str, params: Value) -> String {
        let request = json!({"fileName": "data.tsv", "fileSize": data.len(), "design": design, "params": params});
        let (status, created) = self.json("POST", "/jobs", request);
        assert_eq!(status, 201, "{created}");
        let (status, body) = self.call("PUT", &path_of(created["uploadUrl"].as_str().unwrap()), data);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        created["jobId"].as_str().unwrap().to_string()
    }

    fn poll(&self, id: &str) -> Value {
        let (status, body) = self.json("GET", &format!("/jobs/{id}"), Value::Null);
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Poll until `done(body)`; every status seen in order.
    fn wait_until(&self, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> (Value, Vec<String>) {
        let t = Instant::now();
        let mut seen: Vec<String> = Vec::new();
        loop {
            let body = self.poll(id);
            let status = body["status"].as_str().unwrap_or_default().to_string();
            if seen.last() != Some(&status) {
                seen.push(status);
            }
            if done(&body) {
                return (body, seen);
            }
            assert!(t.elapsed() < limit, "job {id} not there within {limit:?}: {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_finished(&self, id: &str, limit: Duration) -> (Value, Vec<String>) {
        self.wait_until(id, limit, |b| b["status"] == "SUCCEEDED" || b["status"] == "FAILED")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `http://127.0.0.1:P/files/…?…` → `/files/…?…`.
fn path_of(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest[rest.find('/').unwrap_or(rest.len())..].to_string()
}

/// One HTTP/1.1 request on its own connection (`Connection: close`): status and body.
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> (u16, Vec<u8>) {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return (0, raw.to_vec()) };
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(0);
            if n == 0 || rest.len() < eol + 2 + n {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
            rest = &rest[(eol + 4 + n).min(rest.len())..];
        }
        body = out;
    }
    (status, body)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

fn summary(name: &str, mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    format!(
        "{name:<14} n={:<5} p50={:>7.1} ms  p99={:>7.1} ms  max={:>7.1} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    )
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn hundreds_of_concurrent_jobs_all_finish_and_none_is_lost() {
    let jobs = env_number("LOAD_JOBS", 300);
    let clients = 48;
    let dir = tempfile::tempdir().unwrap();
    let (input, design, gmt) = tiny();
    let server = Server::start(dir.path(), &["--workers", "2", "--gene-sets", gmt.to_str().unwrap()]);
    let params = json!({"pathway": {"min_set_size": 2, "max_set_size": 50}});
    let latencies: Arc<Mutex<[Vec<f64>; 3]>> = Arc::default();
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for c in 0..clients {
            let (server, input, design, params, latencies, ids) = (&server, &input, &design, &params, &latencies, &ids);
            scope.spawn(move || {
                for _ in (c..jobs).step_by(clients) {
                    let t = Instant::now();
                    let request =
                        json!({"fileName": "data.tsv", "fileSize": input.len(), "design": design, "params": params});
                    let (status, created) = server.json("POST", "/jobs", request);
                    assert_eq!(status, 201, "{created}");
                    let post = ms(t);
                    let t = Instant::now();
                    let (status, _) = server.call("PUT", &path_of(created["uploadUrl"].as_str().unwrap()), input);
                    assert_eq!(status, 200);
                    let put = ms(t);
                    let mut l = latencies.lock().unwrap();
                    l[0].push(post);
                    l[1].push(put);
                    ids.lock().unwrap().push(created["jobId"].as_str().unwrap().to_string());
                }
            });
        }
    });
    let submitted = started.elapsed();
    let ids = ids.lock().unwrap().clone();
    assert_eq!(ids.len(), jobs);
    let mut finished = std::collections::BTreeMap::<String, usize>::new();
    let mut remaining = ids.clone();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !remaining.is_empty() {
        assert!(Instant::now() < deadline, "{} jobs still unfinished after 600 s", remaining.len());
        let mut still = Vec::new();
        for id in remaining {
            let t = Instant::now();
            let body = server.poll(&id);
            latencies.lock().unwrap()[2].push(ms(t));
            match body["status"].as_str() {
                Some(s @ ("SUCCEEDED" | "FAILED")) => *finished.entry(s.to_string()).or_default() += 1,
                _ => still.push(id),
            }
        }
        remaining = still;
        std::thread::sleep(Duration::from_millis(200));
    }
    let l = latencies.lock().unwrap();
    println!(
        "load: {jobs} jobs from {clients} clients, submitted in {:.1} s, all finished in {:.1} s; {finished:?}",
        submitted.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    println!("  {}", summary("POST /jobs", l[0].clone()));
    println!("  {}", summary("PUT upload", l[1].clone()));
    println!("  {}", summary("GET /jobs/{id}", l[2].clone()));
    println!("  server peak RSS {:.0} MiB", server.peak_mib());
    assert_eq!(finished.get("SUCCEEDED"), Some(&jobs), "{finished:?}");
    let (_, listing) = server.json("GET", "/jobs", Value::Null);
    assert_eq!(listing["counts"]["SUCCEEDED"], jobs, "{listing}");
}

const RESULT_FILES: [&str; 5] =
    ["qc/matrix.parquet", "qc/pca.parquet", "de/results.parquet", "de/ftest.parquet", "pathway/enrichment.parquet"];

#[test]
fn kill_9_mid_run_then_restart_resumes_to_byte_identical_outputs() {
    let (input, design) = example();
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = Server::start(reference_dir.path(), &["--workers", "1"]);
    let ref_id = reference.submit(&input, &design, json!({}));
    assert_eq!(reference.wait_finished(&ref_id, Duration::from_secs(300)).0["status"], "SUCCEEDED");
    drop(reference);

    for stage in ["qc", "de", "pathway"] {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path(), &["--workers", "1", "--stage-pause-ms", "700"]);
        let id = server.submit(&input, &design, json!({}));
        server.wait_until(&id, Duration::from_secs(300), |b| b["stage"] == stage);
        let mut server = server;
        server.kill9();
        let server = Server::start_on(dir.path(), server.port, server.args.clone());
        assert!(server.banner.contains("1 resumed"), "{}", server.banner);
        let (done, seen) = server.wait_finished(&id, Duration::from_secs(300));
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
        assert_eq!(seen, ["RUNNING", "SUCCEEDED"], "killed in {stage}");
        for file in RESULT_FILES {
            let a = std::fs::read(reference_dir.path().join(format!("objects/jobs/{ref_id}/{file}"))).unwrap();
            let b = std::fs::read(dir.path().join(format!("objects/jobs/{id}/{file}"))).unwrap();
            assert!(a == b, "killed in {stage}: {file} differs from an uninterrupted run");
        }
        println!("kill -9 in {stage}: resumed, {} result files byte-identical", RESULT_FILES.len());
    }
}

/// 5 000 proteins × 9 groups × 4 replicates with Tukey HSD: tens of seconds of DE in a debug build.
fn heavy_job(dir: &Path) -> (Vec<u8>, String) {
    let out = dir.join("heavy");
    let status = Command::new(env!("CARGO_BIN_EXE_proteo"))
        .args(["synthetic", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    (std::fs::read(out.join("matrix.tsv")).unwrap(), std::fs::read_to_string(out.join("design.tsv")).unwrap())
}

#[test]
fn sigterm_stops_the_server_within_seconds_mid_stage_and_the_job_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (input, design) = heavy_job(dir.path());
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--workers", "1"]);
    let id = server.submit(&input, &design, json!({"de": {"method": "anova", "posthoc": "tukey"}}));
    server.wait_until(&id, Duration::from_secs(300), |b| b["stage"] == "de");
    std::thread::sleep(Duration::from_millis(500));
    let mut server = server;
    let took = server.stop();
    println!("SIGTERM during DE: the server exited in {:.2} s", took.as_secs_f64());
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let server = Server::start_on(&data, server.port, server.args.clone());
    assert!(server.banner.contains("1 resumed"), "{}", server.banner);
    assert_eq!(server.poll(&id)["status"], "RUNNING");
}

#[test]
fn a_stage_past_its_time_limit_fails_its_job_and_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let (input, design) = heavy_job(dir.path());
    let data = dir.path().join("data");
    let (_, _, gmt) = tiny();
    // The tiny gene sets: parsing the shipped GO BP takes longer than the limit in a debug build.
    // Half a second: the heavy job's QC and DE (5 000 × 36, ANOVA + Tukey for 180 000 pairs) each take longer in a
    // debug build, the tiny job's stages a few milliseconds.
    let limit = "0.5";
    let server =
        Server::start(&data, &["--workers", "1", "--stage-time-limit-s", limit, "--gene-sets", gmt.to_str().unwrap()]);
    let t = Instant::now();
    let id = server.submit(&input, &design, json!({"de": {"method": "anova", "posthoc": "tukey"}}));
    let (done, _) = server.wait_finished(&id, Duration::from_secs(120));
    println!("stage time limit {limit} s: the job FAILED after {:.1} s: {}", t.elapsed().as_secs_f64(), done["error"]);
    assert_eq!((done["status"].as_str(), done["errorType"].as_str()), (Some("FAILED"), Some("Timeout")), "{done}");
    // The worker is free again: a small job runs straight after.
    let (tiny_input, tiny_design, _) = tiny();
    let next = server.submit(&tiny_input, &tiny_design, json!({"pathway": {"min_set_size": 2, "max_set_size": 50}}));
    assert_eq!(server.wait_finished(&next, Duration::from_secs(60)).0["status"], "SUCCEEDED");
    let server = server.restart();
    assert!(server.banner.contains("0 resumed"), "{}", server.banner);
    assert_eq!(server.poll(&id)["status"], "FAILED");
}

#[test]
fn idle_and_slow_clients_are_cut_off_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--idle-timeout-s", "2"]);
    let idle: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap()).collect();
    // A slowloris: headers a byte at a time, never finished.
    let mut slow_headers = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    slow_headers.write_all(b"GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    // A body that trickles slower than the idle limit.
    let (_, created) = server.json(
        "POST",
        "/jobs",
        json!({"fileName": "x.tsv", "fileSize": 1000000, "design": "sample\tgroup\nA\tA\n"}),
    );
    let mut slow_body = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let put = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000000\r\n\r\n",
        path_of(created["uploadUrl"].as_str().unwrap()),
        server.host()
    );
    slow_body.write_all(put.as_bytes()).unwrap();
    let t = Instant::now();
    let mut served = Vec::new();
    while t.elapsed() < Duration::from_secs(5) {
        let _ = slow_headers.write_all(b"X");
        let _ = slow_body.write_all(b"1");
        let q = Instant::now();
        assert_eq!(server.call("GET", "/jobs", b"").0, 200);
        served.push(ms(q));
        std::thread::sleep(Duration::from_millis(2500));
    }
    // Closed: the server sent its end (perhaps after a 408), or reset the connection; open: the read times out.
    let closed = |s: &TcpStream| -> bool {
        let mut s = s.try_clone().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return false
                }
                Err(_) => return true,
            }
        }
    };
    let closed_idle = idle.iter().filter(|s| closed(s)).count();
    println!(
        "slow clients: {closed_idle}/300 idle connections closed after {:.1} s; slowloris headers closed: {}; \
         trickled body closed: {}; {}",
        t.elapsed().as_secs_f64(),
        closed(&slow_headers),
        closed(&slow_body),
        summary("GET /jobs meanwhile", served)
    );
    assert_eq!(closed_idle, 300);
    assert!(closed(&slow_headers) && closed(&slow_body));
    for s in &idle {
        let _ = s.shutdown(Shutdown::Both);
    }
}

#[test]
fn huge_uploads_are_refused_early_or_cut_at_the_limit_without_holding_them_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let design = "sample\tgroup\nA\tA\n";
    let t = Instant::now();
    let (status, refused) =
        server.json("POST", "/jobs", json!({"fileName": "big.tsv", "fileSize": 3u64 << 30, "design": design}));
    let at_the_door = ms(t);
    assert_eq!(status, 413, "{refused}");
    let max = 512u64 << 20;
    let (_, created) = server.json("POST", "/jobs", json!({"fileName": "big.tsv", "fileSize": max, "design": design}));
    let path = path_of(created["uploadUrl"].as_str().unwrap());
    assert_eq!(created["maxUploadBytes"], max);

    // A PUT declaring 3 GiB: refused from the headers, before a byte of the body is sent.
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.host(),
        3u64 << 30
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.read_to_end(&mut raw);
    let (status, body) = parse_response(&raw);
    let early = ms(t);
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));

    // 600 MiB sent chunked (no length declared): cut once it passes 512 MiB, never buffered.
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.host()
    );
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'7'; 1 << 20];
    let mut sent = 0u64;
    for _ in 0..600 {
        let frame = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk.clone(), b"\r\n".to_vec()].concat();
        if s.write_all(&frame).is_err() {
            break;
        }
        sent += chunk.len() as u64;
    }
    let _ = s.write_all(b"0\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let (status, _) = parse_response(&raw);
    let streamed = ms(t);
    let peak = server.peak_mib();
    println!(
        "huge uploads: a 3 GiB fileSize refused at POST /jobs in {at_the_door:.0} ms, a PUT declaring 3 GiB in \
         {early:.0} ms; {} MiB streamed to a 512 MiB URL, answered {status} after {streamed:.0} ms; server peak RSS \
         {peak:.0} MiB",
        sent >> 20
    );
    assert!(status == 413 || status == 0, "{status}");
    assert!(peak < 200.0, "the upload was held in memory: peak {peak:.0} MiB");
    let leftovers: Vec<_> =
        walk(&dir.path().join("objects")).into_iter().filter(|p| p.to_string_lossy().contains("big.tsv")).collect();
    assert!(leftovers.is_empty(), "a refused upload left files: {leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A small filesystem mounted at `dir` (tmpfs, else a loop-mounted ext4 image), unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
    image: Option<PathBuf>,
}

impl SmallDisk {
    fn mount(dir: &Path, mib: u64) -> Result<SmallDisk, String> {
        std::fs::create_dir_all(dir).unwrap();
        let tmpfs = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| e.to_string())?;
        if tmpfs.status.success() {
            return Ok(SmallDisk { dir: dir.to_path_buf(), image: None });
        }
        let image = dir.with_extension("img");
        let steps: [Vec<String>; 2] = [
            vec!["truncate".into(), "-s".into(), format!("{mib}M"), image.display().to_string()],
            vec!["mkfs.ext4".into(), "-q".into(), image.display().to_string()],
        ];
        for step in steps {
            let ok = Command::new(&step[0]).args(&step[1..]).status().map_err(|e| e.to_string())?;
            if !ok.success() {
                return Err(format!("{step:?} failed"));
            }
        }
        let loop_mount =
            Command::new("mount").args(["-o", "loop"]).arg(&image).arg(dir).output().map_err(|e| e.to_string())?;
        if loop_mount.status.success() {
            return Ok(SmallDisk { dir: dir.to_path_buf(), image: Some(image) });
        }
        Err(format!(
            "mount -t tmpfs: {}; mount -o loop: {}",
            String::from_utf8_lossy(&tmpfs.stderr).trim(),
            String::from_utf8_lossy(&loop_mount.stderr).trim()
        ))
    }

    fn remount(&self, mode: &str) {
        let ok = Command::new("mount").args(["-o", &format!("remount,{mode}")]).arg(&self.dir).status().unwrap();
        assert!(ok.success(), "remount {mode}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        if let Some(image) = &self.image {
            let _ = std::fs::remove_file(image);
        }
    }
}

/// Statuses only move forward: QUEUED → RUNNING → SUCCEEDED | FAILED, never out of a finished one.
fn forward_only(seen: &[String]) -> bool {
    let rank = |s: &str| match s {
        "QUEUED" => 0,
        "RUNNING" => 1,
        _ => 2,
    };
    seen.windows(2).all(|w| rank(&w[0]) < rank(&w[1])) && seen.iter().filter(|s| rank(s) == 2).count() <= 1
}

fn fault_run(name: &str, break_disk: impl Fn(&SmallDisk), repair: impl Fn(&SmallDisk)) {
    let dir = tempfile::tempdir().unwrap();
    let disk = match SmallDisk::mount(&dir.path().join("data"), 48) {
        Ok(d) => d,
        Err(reason) => {
            println!("skipped ({name}): the kernel refused both a tmpfs and a loop mount: {reason}");
            return;
        }
    };
    let (input, design) = example();
    let server = Server::start(&disk.dir, &["--workers", "1", "--stage-pause-ms", "1500"]);
    let id = server.submit(&input, &design, json!({}));
    let (_, mut seen) = server.wait_until(&id, Duration::from_secs(120), |b| b["stage"] == "qc");
    break_disk(&disk);
    // The stage's writes fail (Transient, retried 2 + 4 + 8 s), then Mark Failed cannot be written either.
    let (stuck, more) = server.wait_until(&id, Duration::from_secs(120), |b| {
        b["message"].as_str().is_some_and(|m| m.contains("could not be saved"))
    });
    seen.extend(more);
    println!("{name}: while broken the job shows {} — {}", stuck["status"], stuck["message"]);
    assert_eq!(stuck["status"], "RUNNING", "{stuck}");
    let mut server = server;
    server.stop();
    repair(&disk);
    let server = Server::start_on(&disk.dir, server.port, server.args.clone());
    let (done, more) = server.wait_finished(&id, Duration::from_secs(300));
    seen.extend(more);
    seen.dedup();
    println!("{name}: after repair and restart: {} (statuses seen {seen:?})", done["status"]);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert!(forward_only(&seen), "status went backwards: {seen:?}");
    drop(server);
}

#[test]
fn a_data_dir_that_turns_read_only_or_fills_up_never_shows_a_status_a_restart_contradicts() {
    fault_run("read-only", |d| d.remount("ro"), |d| d.remount("rw"));
    fault_run(
        "disk full",
        |d| {
            let mut filler = std::fs::File::create(d.dir.join("filler")).unwrap();
            let block = vec![0u8; 1 << 20];
            while filler.write_all(&block).is_ok() {}
            let _ = filler.sync_all();
        },
        |d| std::fs::remove_file(d.dir.join("filler")).unwrap(),
    );
}
