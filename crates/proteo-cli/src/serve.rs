//! `proteo serve`: the web page and the HTTP API of the cloud, with jobs run in-process (crate proteo-serve).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (127.0.0.1: this machine only; 0.0.0.0 to share it on the network).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Directory of the jobs, their uploads and results (created); a restart with the same directory lists them again.
    #[arg(long, default_value = "proteo-data")]
    data_dir: PathBuf,
    /// Stage runs allowed at once (each holds one matrix in memory); further jobs wait [default: number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// The URL browsers reach this server at, if not http://<host>:<port> (behind a proxy, or a host name).
    #[arg(long)]
    public_url: Option<String>,
    /// Gene sets (GMT, plain or gzip) for jobs that name none [default: $PROTEO_GENE_SETS, else the shipped human GO BP].
    #[arg(long)]
    gene_sets: Option<PathBuf>,
    /// Bearer token every API request must carry (`Authorization: Bearer <token>`; the web page asks for it). Required
    /// when --host is not a loopback address; at least 16 characters.
    #[arg(long, env = "PROTEO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Pause this many milliseconds before each of QC, DE and pathway, so progress can be watched on a small job
    /// (demos, the browser test).
    #[arg(long, default_value_t = 0, hide = true)]
    stage_pause_ms: u64,
    /// Time limit of every stage run, in seconds [default: each stage's Lambda timeout] (fault tests).
    #[arg(long, hide = true)]
    stage_time_limit_s: Option<f64>,
    /// How long a QUEUED job waits for its upload, in seconds [default: the upload URL's lifetime + 60] (tests).
    #[arg(long, hide = true)]
    queued_ttl_s: Option<f64>,
    /// Close connections idle this many seconds [default: 30] (slow-client tests).
    #[arg(long, hide = true)]
    idle_timeout_s: Option<f64>,
}

/// After the server stops, stage threads still computing get this long before the process exits without them
/// (their jobs are RUNNING on disk and resume at the next start).
const RUNTIME_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(1);

pub fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let gmt = match args.gene_sets.clone().or_else(|| std::env::var_os("PROTEO_GENE_SETS").map(PathBuf::from)) {
        Some(path) => std::fs::read(&path).with_context(|| format!("cannot read the gene sets {}", path.display()))?,
        None => crate::SHIPPED_GENE_SETS.to_vec(),
    };
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if workers == 0 {
        anyhow::bail!("--workers must be at least 1");
    }
    let shown_host = if args.host.is_unspecified() { "127.0.0.1".to_string() } else { url_host(args.host) };
    let seconds = |s: Option<f64>, name: &str| -> anyhow::Result<Option<std::time::Duration>> {
        s.map(|s| {
            std::time::Duration::try_from_secs_f64(s).with_context(|| format!("{name} must be a positive number"))
        })
        .transpose()
    };
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{shown_host}:{}", args.port));
    let mut config = proteo_serve::ServeConfig::new(args.data_dir.clone(), public_url, workers, gmt.into());
    config.stage_pause = std::time::Duration::from_millis(args.stage_pause_ms);
    config.token = args.token.clone().filter(|t| !t.is_empty());
    config.stage_time_limit = seconds(args.stage_time_limit_s, "--stage-time-limit-s")?;
    if let Some(ttl) = seconds(args.queued_ttl_s, "--queued-ttl-s")? {
        config.queued_ttl = ttl;
    }
    if let Some(idle) = seconds(args.idle_timeout_s, "--idle-timeout-s")? {
        config.http.idle = idle;
        config.http.header_read = config.http.header_read.min(idle);
    }
    let addr = SocketAddr::new(args.host, args.port);
    config.check(addr).map_err(|e| anyhow::anyhow!(e))?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let served = runtime.block_on(proteo_serve::serve(config, addr));
    // Dropping the runtime would wait for every blocking stage thread; a stop must not.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    served.map_err(|e| anyhow::anyhow!(e))
}

fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}
