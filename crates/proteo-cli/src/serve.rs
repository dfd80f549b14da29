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
    /// Gene sets for jobs that name none: a GMT file (plain or gzip) [default: $PROTEO_GENE_SETS, else the shipped
    /// GO BP]. Jobs may name any shipped collection (`builtin:go_bp_human_uniprot`, `…go_mf…`, `…go_cc…`).
    #[arg(long)]
    gene_sets: Option<PathBuf>,
    /// Pause this many milliseconds before each of QC, DE and pathway, so progress can be watched on a small job
    /// (demos, the browser test).
    #[arg(long, default_value_t = 0, hide = true)]
    stage_pause_ms: u64,
}

pub fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let mut builtins = crate::builtin_gene_sets();
    if let Some(path) = args.gene_sets.clone().or_else(|| std::env::var_os("PROTEO_GENE_SETS").map(PathBuf::from)) {
        let gmt = std::fs::read(&path).with_context(|| format!("cannot read the gene sets {}", path.display()))?;
        builtins = builtins.with(proteo_pipeline::execution::BUILTIN_GO_BP_KEY, gmt.into());
    }
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if workers == 0 {
        anyhow::bail!("--workers must be at least 1");
    }
    let shown_host = if args.host.is_unspecified() { "127.0.0.1".to_string() } else { url_host(args.host) };
    let config = proteo_serve::ServeConfig {
        data_dir: args.data_dir.clone(),
        public_url: args.public_url.clone().unwrap_or_else(|| format!("http://{shown_host}:{}", args.port)),
        workers,
        gene_sets: builtins,
        retry_interval_scale: 1.0,
        stage_pause: std::time::Duration::from_millis(args.stage_pause_ms),
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(proteo_serve::serve(config, SocketAddr::new(args.host, args.port))).map_err(|e| anyhow::anyhow!(e))
}

fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}
