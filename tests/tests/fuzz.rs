//! A bounded, deterministic mutation fuzzer over the whole local pipeline (ingest → QC → DE → pathway → report):
//! the committed corpus (`tests/fuzz/corpus`) first as it is, then `FUZZ_CASES` mutations of it (default 1 500,
//! at most `FUZZ_SECONDS`, default 90) of the input, the design or the parameters. A panic or a case that does not
//! finish within `CASE_TIMEOUT` fails the test, and the case is written to `target/artifacts/fuzz/` to replay.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use proteo_jobs::params::Origin;
use proteo_pipeline::{run_job, JobParams, JobSpec, ObjectStore, Progress, StoreError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// One case must finish (results or a refusal) within this; the corpus runs in milliseconds.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);
const SEED: u64 = 0x17_17;

/// Tokens that broke parsers and numerics before: huge and tiny numbers, non-numbers, separators, quotes.
const INTERESTING: &[&str] = &[
    "1e155",
    "1.7e308",
    "-1.7e308",
    "1e-320",
    "-1",
    "-0",
    "0",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    ",",
    ";",
    "\"",
    "\"\"",
    "#",
    "+",
    "NA",
    "999999999999999999999999999999",
    "0x10",
    "1,5",
    "٣",
    "\u{feff}",
    "\0",
    "A_1",
    "B",
    "group",
    "sample",
];

struct Mem(Mutex<HashMap<String, Bytes>>);

impl ObjectStore for Mem {
    async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        self.0.lock().unwrap().get(key).cloned().ok_or_else(|| StoreError::NotFound { key: key.to_string() })
    }
    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap().insert(key.to_string(), Bytes::from(body));
        Ok(())
    }
}

#[derive(Clone)]
struct Case {
    name: String,
    input: Vec<u8>,
    design: Vec<u8>,
    params: Value,
}

#[derive(Debug)]
enum Outcome {
    Succeeded,
    /// Refused at the door (the parameter check).
    RefusedParams(String),
    /// A stage failed: its error type and sentence.
    Failed(&'static str, String),
    Panicked(String),
}

fn corpus_dir() -> PathBuf {
    proteo_tests::repo_root().join("tests/fuzz")
}

fn load_corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(corpus_dir().join("corpus")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs {
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{}/{f}: {e}", dir.display()));
        cases.push(Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            input: read("input.tsv"),
            design: read("design.tsv"),
            params: serde_json::from_slice(&read("params.json")).unwrap(),
        });
    }
    assert!(cases.len() >= 8, "the corpus is missing seeds: {}", cases.len());
    cases
}

fn run(case: &Case, gmt: &Bytes) -> Outcome {
    if let Err(e) = proteo_jobs::params::check(&case.params, Origin::Local) {
        return Outcome::RefusedParams(e.to_string());
    }
    let mut params: JobParams = match serde_json::from_value(case.params.clone()) {
        Ok(p) => p,
        Err(e) => return Outcome::RefusedParams(format!("passed the check but not serde: {e}")),
    };
    params.pathway.gene_sets = "sets.gmt".into();
    let store = Mem(Mutex::new(HashMap::from([
        ("input.tsv".to_string(), Bytes::from(case.input.clone())),
        ("design.tsv".to_string(), Bytes::from(case.design.clone())),
        ("sets.gmt".to_string(), gmt.clone()),
    ])));
    let job = JobSpec {
        job_id: "fuzz".into(),
        prefix: String::new(),
        input_key: "input.tsv".into(),
        design_key: "design.tsv".into(),
        params,
    };
    match pollster::block_on(run_job(&store, &job, &proteo_report::HtmlReport, &|_: Progress| {})) {
        // A report that could not be rendered is a bug of ours on any input the stages accepted.
        Ok(run) if run.warning.is_some() => Outcome::Failed("Internal", run.warning.unwrap_or_default()),
        Ok(_) => Outcome::Succeeded,
        Err((_, e)) => Outcome::Failed(e.error_type(), e.to_string()),
    }
}

/// Run `case` on its own thread: its outcome, or `None` when it did not finish within [`CASE_TIMEOUT`].
fn run_bounded(case: &Case, gmt: &Bytes) -> Option<Outcome> {
    let (tx, rx) = mpsc::channel();
    let (case, gmt) = (case.clone(), gmt.clone());
    std::thread::Builder::new()
        .stack_size(2 << 20) // what a tokio blocking thread of `proteo serve` gets
        .spawn(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run(&case, &gmt))).unwrap_or_else(|p| {
                let text = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic".into());
                Outcome::Panicked(text)
            });
            let _ = tx.send(outcome);
        })
        .unwrap();
    rx.recv_timeout(CASE_TIMEOUT).ok()
}

fn lines(text: &[u8]) -> Vec<Vec<u8>> {
    text.split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

fn mutate_text(rng: &mut ChaCha8Rng, text: &mut Vec<u8>) {
    let pick = |rng: &mut ChaCha8Rng, n: usize| if n == 0 { 0 } else { rng.random_range(0..n) };
    match rng.random_range(0..9) {
        0 => {
            // Replace a numeric-looking field with an interesting token.
            let token = INTERESTING[pick(rng, INTERESTING.len())].as_bytes();
            let starts: Vec<usize> = (0..text.len())
                .filter(|&i| text[i].is_ascii_digit() && (i == 0 || matches!(text[i - 1], b'\t' | b',')))
                .collect();
            if let Some(&s) = starts.get(pick(rng, starts.len())) {
                let e = (s..text.len()).find(|&i| matches!(text[i], b'\t' | b',' | b'\n')).unwrap_or(text.len());
                text.splice(s..e, token.iter().copied());
            }
        }
        1 => {
            let i = pick(rng, text.len());
            if let Some(b) = text.get_mut(i) {
                *b ^= 1 << rng.random_range(0..8);
            }
        }
        2 => {
            let i = pick(rng, text.len() + 1);
            let token = INTERESTING[pick(rng, INTERESTING.len())].as_bytes();
            text.splice(i..i, token.iter().copied());
        }
        3 => {
            if !text.is_empty() {
                let i = pick(rng, text.len());
                let n = rng.random_range(1..=8).min(text.len() - i);
                text.drain(i..i + n);
            }
        }
        4 | 5 => {
            let mut ls = lines(text);
            if !ls.is_empty() {
                let i = pick(rng, ls.len());
                match rng.random_range(0..3) {
                    0 => {
                        ls.remove(i);
                    }
                    1 => {
                        let l = ls[i].clone();
                        ls.insert(i, l);
                    }
                    _ => {
                        let j = pick(rng, ls.len());
                        ls.swap(i, j);
                    }
                }
                *text = ls.concat();
            }
        }
        6 => {
            let cut = pick(rng, text.len() + 1);
            text.truncate(cut);
        }
        7 => {
            let (from, to) = [(b'\t', b','), (b',', b'\t'), (b'\t', b' '), (b'\n', b'\r')][pick(rng, 4)];
            for b in text.iter_mut().filter(|b| **b == from) {
                if rng.random_bool(0.3) {
                    *b = to;
                }
            }
        }
        _ => {
            // A long field: ids, headers and numbers of unusual length.
            let i = pick(rng, text.len() + 1);
            let fill = [b'x', b'9', b'\t'][pick(rng, 3)];
            let n = [100, 5_000, 70_000][pick(rng, 3)];
            text.splice(i..i, std::iter::repeat_n(fill, n));
        }
    }
}

fn mutate_params(rng: &mut ChaCha8Rng, params: &mut Value) {
    let numbers = [json!(0), json!(-1), json!(0.5), json!(1e300), json!(2), json!(1e-300), json!(500), json!(3)];
    let any = |rng: &mut ChaCha8Rng| numbers[rng.random_range(0..numbers.len())].clone();
    match rng.random_range(0..8) {
        0 => {
            let ops = ["B-A", "C-A", "(B+C)/2-A", "2*B-2*A", "vs:A", "vs:Z", "all-pairs", "A-A", "B-A,B-A", "1e400*B"];
            let mut text: String = params["de"]["contrasts"].as_str().unwrap_or("B-A").chars().take(200).collect();
            let piece = ops[rng.random_range(0..ops.len())];
            match rng.random_range(0..3) {
                0 => text = piece.into(),
                1 => text = format!("{text},{piece}"),
                _ => {
                    let chars = ['(', ')', '+', '-', '*', '/', '.', '9', ' ', 'A', ',', 'é'];
                    let at = text.char_indices().map(|(i, _)| i).nth(rng.random_range(0..text.chars().count().max(1)));
                    text.insert(at.unwrap_or(text.len()), chars[rng.random_range(0..chars.len())]);
                }
            }
            params["de"]["contrasts"] = json!(text);
        }
        1 => params["qc"]["log2_input"] = json!(rng.random_bool(0.5)),
        2 => params["qc"]["impute"] = json!(["perseus", "none"][rng.random_range(0..2)]),
        3 => {
            params["de"]["method"] =
                json!(["limma", "welch", "student", "anova", "welch-anova"][rng.random_range(0..5)])
        }
        4 => params["de"]["posthoc"] = json!(["none", "tukey"][rng.random_range(0..2)]),
        5 => params["qc"]["min_valid"] = any(rng),
        6 => params["pathway"]["alpha"] = any(rng),
        _ => {
            params["de"]["trend"] = json!(rng.random_bool(0.5));
            params["de"]["robust"] = json!(rng.random_bool(0.5));
        }
    }
}

fn mutated(base: &Case, seed: u64) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut case = base.clone();
    case.name = format!("{}~{seed}", base.name);
    for _ in 0..rng.random_range(1..=3) {
        match rng.random_range(0..10) {
            0..=5 => mutate_text(&mut rng, &mut case.input),
            6 | 7 => mutate_text(&mut rng, &mut case.design),
            _ => {
                if !case.params.is_object() {
                    case.params = json!({});
                }
                for section in ["qc", "de", "pathway"] {
                    if !case.params[section].is_object() {
                        case.params[section] = json!({});
                    }
                }
                mutate_params(&mut rng, &mut case.params)
            }
        }
    }
    case
}

fn save(case: &Case, why: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| "target".into());
    let dir = target.join("artifacts/fuzz").join(case.name.replace(['~', '/'], "-"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("input.tsv"), &case.input).unwrap();
    std::fs::write(dir.join("design.tsv"), &case.design).unwrap();
    std::fs::write(dir.join("params.json"), serde_json::to_vec_pretty(&case.params).unwrap()).unwrap();
    std::fs::write(dir.join("why.txt"), why).unwrap();
    dir
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn check_sentence(case: &Case, message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err(format!("{}: an error without a message", case.name));
    }
    Ok(())
}

#[test]
fn the_corpus_seeds_end_with_results_or_a_sentence() {
    let gmt = Bytes::from(std::fs::read(corpus_dir().join("gene_sets.gmt")).unwrap());
    let expect: BTreeMap<&str, &str> = [
        ("baseline", "SUCCEEDED"),
        ("constant_protein_tukey", "SUCCEEDED"),
        ("contrast_400_digits", "out of range"),
        ("contrast_deep_nesting", "nests parentheses"),
        ("covariate_nan", "expected a finite number"),
        ("log2_input_1e155", "is not a log2 intensity"),
        ("negative_linear_intensity", "is negative"),
        ("value_1_7e308_impute_none", "SUCCEEDED"),
    ]
    .into();
    for case in load_corpus() {
        let started = Instant::now();
        let outcome =
            run_bounded(&case, &gmt).unwrap_or_else(|| panic!("{}: did not finish in {CASE_TIMEOUT:?}", case.name));
        println!("{:<28} {:>6.2} s  {outcome:?}", case.name, started.elapsed().as_secs_f64());
        let shown = match &outcome {
            Outcome::Succeeded => "SUCCEEDED".to_string(),
            Outcome::RefusedParams(m) | Outcome::Failed(_, m) => m.clone(),
            Outcome::Panicked(p) => panic!("{}: panicked: {p}", case.name),
        };
        if let Some(want) = expect.get(case.name.as_str()) {
            assert!(shown.contains(want), "{}: expected `{want}`, got {outcome:?}", case.name);
        }
        if let Outcome::Failed(kind, _) = &outcome {
            assert_eq!(*kind, "InvalidInput", "{}: {outcome:?}", case.name);
        }
    }
}

#[test]
fn mutations_of_the_corpus_never_panic_or_hang() {
    let gmt = Bytes::from(std::fs::read(corpus_dir().join("gene_sets.gmt")).unwrap());
    let corpus = load_corpus();
    let cases = env_number("FUZZ_CASES", 1500);
    let budget = Duration::from_secs(env_number("FUZZ_SECONDS", 90));
    let started = Instant::now();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    let mut run_count = 0;
    for i in 0..cases {
        if started.elapsed() > budget {
            break;
        }
        let base = &corpus[(i as usize) % corpus.len()];
        let case = mutated(base, SEED + i);
        let t = Instant::now();
        let outcome = run_bounded(&case, &gmt);
        run_count += 1;
        if t.elapsed() > slowest.0 {
            slowest = (t.elapsed(), case.name.clone());
        }
        let key = match &outcome {
            None => {
                let dir = save(&case, "did not finish within the case timeout");
                failures.push(format!("{}: hang (saved in {})", case.name, dir.display()));
                // The thread is still spinning: stop here rather than measure everything else on one core.
                break;
            }
            Some(Outcome::Panicked(p)) => {
                let dir = save(&case, p);
                failures.push(format!("{}: panic `{p}` (saved in {})", case.name, dir.display()));
                "panicked".to_string()
            }
            Some(Outcome::Succeeded) => "succeeded".into(),
            Some(Outcome::RefusedParams(m)) => {
                if let Err(e) = check_sentence(&case, m) {
                    failures.push(e);
                }
                "refused: params".into()
            }
            Some(Outcome::Failed(kind, m)) => {
                if let Err(e) = check_sentence(&case, m) {
                    failures.push(e);
                }
                if *kind != "InvalidInput" {
                    let dir = save(&case, m);
                    failures.push(format!("{}: {kind} error `{m}` (saved in {})", case.name, dir.display()));
                }
                format!("failed: {kind}")
            }
        };
        *counts.entry(key).or_default() += 1;
    }
    std::panic::set_hook(previous_hook);
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {run_count} mutated cases of {} seeds in {elapsed:.1} s ({:.0} cases/s)",
        corpus.len(),
        run_count as f64 / elapsed
    );
    for (k, n) in &counts {
        println!("  {k:<22} {n}");
    }
    println!("  slowest case            {:.2} s ({})", slowest.0.as_secs_f64(), slowest.1);
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(run_count >= 200.min(cases as usize), "only {run_count} cases ran within {budget:?}");
}
