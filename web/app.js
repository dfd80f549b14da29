// The proteo web page: reads a table's header in the browser, collects groups and options, submits a job to the
// proteo API (proteo serve or the cloud API), follows its progress and shows the results.
"use strict";

(() => {
  const API_BASE = String((window.PROTEO_CONFIG && window.PROTEO_CONFIG.apiBase) || "").replace(/\/+$/, "");
  /** Bytes of the file read to find the header line. */
  const HEADER_BYTES = 1 << 20;
  /** Polling: first delay, growth per poll, ceiling (ms). */
  const POLL_FIRST_MS = 300;
  const POLL_GROWTH = 1.5;
  const POLL_MAX_MS = 3000;
  /** Consecutive failed polls before the page says the server cannot be reached (it keeps trying). */
  const POLL_ERRORS_BEFORE_NOTE = 3;
  /** Rows per page of the result tables. */
  const PAGE_ROWS = 20;
  /** Contrasts tried, when the first has no rows, to open a result table on one that has. */
  const FIRST_CONTRAST_TRIES = 12;
  /** Defaults, as `proteo run` has them (crates/proteo-core qc.rs/de.rs, crates/proteo-pipeline contracts.rs). */
  const DEFAULTS = { method: "limma", contrasts: "default", normalize: "median", impute: "perseus", seed: 42, alpha: 0.05, minLog2fc: 1.0 };

  const STAGE_TITLES = { ingest: "Reading input", qc: "Quality control", de: "Differential expression", pathway: "Pathway enrichment", report: "Report" };
  const STAGE_ORDER = ["ingest", "qc", "de", "pathway", "report"];
  /** Job progress at the end of each stage (Stage::overall_progress in crates/proteo-pipeline/src/contracts.rs). */
  const STAGE_END = { ingest: 10, qc: 40, de: 80, pathway: 95, report: 99 };
  /** Bytes read from the start of a Parquet footer, where its schema's column names are (they name a DIA-NN report). */
  const PARQUET_SCHEMA_BYTES = 1 << 20;
  /** Result tables: page prefix → the API's `table`, and whether the job may lack it (methods it did not run). */
  const RESULT_TABLES = { de: { table: "de" }, pw: { table: "pathway" }, camera: { table: "camera", optional: true }, gsea: { table: "gsea", optional: true } };
  /** Largest file scanned in the browser for the run names of a long report (one row per fragment). */
  const LONG_SCAN_MAX_BYTES = 512 << 20;
  /** Design columns, compared case-insensitively (crates/proteo-core/src/input/design.rs). */
  const DESIGN_SAMPLE = ["sample", "label", "sample_name", "sample name"];
  const DESIGN_GROUP = ["group", "condition"];
  const DESIGN_EXTRA = ["replicate", "pair", "batch"];

  const COLUMN_LABELS = {
    proteinId: "Protein", geneNames: "Gene", contrast: "Contrast", log2fc: "log2 FC", t: "t", pValue: "p-value",
    adjPValue: "Adj. p-value", tukeyPValue: "Tukey p", avgExpr: "Mean log2", direction: "Direction", termId: "Term",
    termName: "Name", setSize: "Set size", overlap: "Overlap", foldEnrichment: "Fold enrichment", expected: "Expected",
    es: "ES", nes: "NES", leadingEdge: "Leading edge", correlation: "Inter-gene cor.",
  };
  /** Column order of the result tables; columns not named here follow in the order the API sent them. */
  const COLUMN_ORDER = ["proteinId", "geneNames", "direction", "termId", "termName", "setSize", "overlap", "expected",
    "foldEnrichment", "es", "nes", "leadingEdge", "correlation", "log2fc", "avgExpr", "t", "pValue", "adjPValue", "tukeyPValue"];
  const FILE_DESCRIPTIONS = {
    "report.html": "Report with all charts (opens offline)",
    "summary.json": "Counts, parameters and versions",
    "qc/matrix.parquet": "Filtered, normalized, imputed log2 matrix",
    "qc/samples.parquet": "Per-sample QC metrics",
    "qc/pca.parquet": "PCA coordinates",
    "de/results.parquet": "Differential expression, every protein and contrast",
    "de/ftest.parquet": "F test across all groups",
    "pathway/enrichment.parquet": "Enriched gene sets",
    "pathway/camera.parquet": "CAMERA: every tested gene set per contrast",
    "pathway/gsea.parquet": "Preranked GSEA: every tested gene set per contrast",
    "ingest/table.parquet": "The input as read",
    "ingest/design.parquet": "The design as read",
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "for" || k === "scope") node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };
  const show = (node, visible = true) => { node.hidden = !visible; };

  /** Everything the page knows about the current analysis. */
  const state = {
    file: null,
    samples: [],
    format: "",
    /** The server's detection of the chosen file, and groups its header names (Proteome Discoverer). */
    detection: null,
    groupHints: new Map(),
    /** A Parquet report: its runs cannot be read here, so they come from the design file loaded first. */
    needsDesign: false,
    /** From a loaded design file: sample → {replicate, pair, batch}; and which of those columns it had. */
    designExtra: new Map(),
    designColumns: [],
    jobId: null,
    pollTimer: null,
    pollGeneration: 0,
    startedAt: 0,
    elapsedTimer: null,
  };
  /** Progress values the page displayed, in order (the browser test reads it). */
  window.proteoProgressLog = [];

  // ---------------------------------------------------------------- API

  const apiUrl = (path) => API_BASE + path;

  /** The signed-in caller's token (an ID token of the cloud's identity provider, or `proteo serve --token`), kept
   *  for this tab only. Without one the page calls the API anonymously, which `proteo serve` on loopback accepts. */
  const TOKEN_KEY = "proteo-token";
  const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
  const authHeaders = () => (token() ? { Authorization: `Bearer ${token()}` } : {});

  function showSignIn(message) {
    const card = $("sign-in");
    $("sign-in-message").textContent = message || "";
    show($("sign-in-message"), Boolean(message));
    show(card, true);
    $("token").focus();
  }

  function updateSignedIn() {
    $("sign-in-state").textContent = token() ? "Signed in" : "";
    show($("sign-out"), Boolean(token()));
  }
  /** A URL the API returned, made absolute: upload URLs are absolute, result links are paths on the API. */
  const resolveUrl = (u) => new URL(u, API_BASE || location.href).href;

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function errorSentence(response) {
    const text = await response.text().catch(() => "");
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === "string" && body.error) return body.error;
    } catch (_) { /* not JSON */ }
    const snippet = text.trim().slice(0, 300);
    return `The server answered ${response.status} ${response.statusText}${snippet ? `: ${snippet}` : "."}`;
  }

  async function api(path, options = {}) {
    let response;
    try {
      response = await fetch(apiUrl(path), { cache: "no-store", ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
    } catch (e) {
      throw new ApiError(`The proteo server at ${API_BASE || location.origin} cannot be reached (${e.message}).`, 0);
    }
    if (response.status === 401) {
      showSignIn(token() ? "The server did not accept your token (expired or wrong): paste a new one." : "This server needs you to sign in: paste your access token.");
      throw new ApiError("Sign in first: the server answered 401 (not signed in).", 401);
    }
    if (!response.ok) throw new ApiError(await errorSentence(response), response.status);
    return response.json();
  }

  /** A result file's short-lived download URL: with a token, links cannot carry it, so the page asks the API for the
   *  presigned URL (`Accept: application/json`) and opens that; without one the route itself redirects. */
  async function fileUrl(route) {
    if (!token()) return resolveUrl(route);
    const path = new URL(resolveUrl(route)).pathname;
    const body = await api(path, { headers: { Accept: "application/json" } });
    return body.url;
  }

  // ---------------------------------------------------------------- reading a header in the browser

  const unquote = (s) => {
    const t = s.trim();
    return t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0] ? t.slice(1, -1).trim() : t;
  };

  /** Tab if the line has a tab, else `;` if it has `;` and no `,`, else `,` — as the server decides. */
  const delimiterOf = (line) => (line.includes("\t") ? "\t" : line.includes(";") && !line.includes(",") ? ";" : ",");

  /** All lines after the header, split the same way (for design files, which are small). */
  function splitLines(text) {
    const lines = text.replace(/^\uFEFF/, "").split(/\r?\n|\r/).filter((l) => l.trim() !== "");
    if (!lines.length) return [];
    const d = delimiterOf(lines[0]);
    return lines.map((l) => l.split(d).map(unquote));
  }

  /**
   * What the server's detection (the same rules as `proteo inspect` and the ingest function) says the file is.
   * Throws an Error with the sentence to show when the file is refused.
   */
  async function inspectHead(file, head) {
    const body = JSON.stringify({ fileName: file.name, head, complete: file.size <= HEADER_BYTES });
    const answer = await api("/inspect", { method: "POST", headers: { "Content-Type": "application/json" }, body });
    const d = answer.detection;
    if (d.action === "refuse") throw new Error(`${file.name} looks like ${answer.looksLike} (${d.reason}); ${d.advice}.`);
    return { detection: d, title: answer.title, runExtensions: answer.runExtensions || [] };
  }

  /** A run name from a raw file path, as the quant path names DIA-NN runs from `File.Name`
   *  (proteo_detect::run_name_from_path): the directory dropped, then `extensions` (exact case) stripped while one ends it. */
  function runNameFromPath(path, extensions) {
    let name = path.split(/[\\/]/).pop();
    for (;;) {
      const ext = extensions.find((e) => name.length > e.length && name.endsWith(e));
      if (!ext) return name;
      name = name.slice(0, name.length - ext.length);
    }
  }

  /** What the page says a format is: "DIA-NN report.tsv (1.8 column set) · precursors, quantified by MaxLFQ". */
  function formatTitle(title, d) {
    if (d.action === "quantify") return `${title} · precursors, quantified by MaxLFQ (${d.quantity})`;
    return `${title} · ${d.quantity}${d.log2 ? " (log2)" : ""}`;
  }

  /** Whether a Parquet file's schema names a DIA-NN report's columns (`Precursor.Lib.Index` or `Precursor.Id`, as
   *  the server's rule). The footer is the last 8 bytes' length before them; its schema comes first, names as text. */
  async function parquetIsDiannReport(file) {
    const end = new DataView(await file.slice(Math.max(0, file.size - 8)).arrayBuffer());
    const length = end.byteLength === 8 ? end.getUint32(0, true) : 0;
    const start = Math.max(0, file.size - 8 - length);
    const footer = await file.slice(start, Math.min(file.size - 8, start + PARQUET_SCHEMA_BYTES)).arrayBuffer();
    const text = new TextDecoder("latin1").decode(footer);
    return text.includes("Precursor.Lib.Index") || text.includes("Precursor.Id");
  }

  /** The distinct run names of a long report's run column, in order of first appearance. */
  async function longRuns(file, detection, extensions) {
    if (file.size > LONG_SCAN_MAX_BYTES) {
      throw new Error(`${file.name} is a long report of ${formatBytes(file.size)}; the page lists runs of reports up to ${formatBytes(LONG_SCAN_MAX_BYTES)}. Load a design file naming the runs, or export the protein-group pivot report.`);
    }
    const lines = (await file.text()).replace(/^\uFEFF/, "").split(/\r?\n|\r/);
    const header = lines.findIndex((l) => l.trim() !== "");
    const delimiter = delimiterOf(lines[header] || "");
    const index = detection.long.run.index;
    const paths = Boolean(detection.long.run_is_path);
    const runs = new Set();
    for (const line of lines.slice(header + 1)) {
      if (!line.trim()) continue;
      const cell = unquote(line.split(delimiter)[index] || "");
      const run = paths ? runNameFromPath(cell, extensions) : cell;
      if (run) runs.add(run);
    }
    return [...runs];
  }

  /** The group a sample name suggests: the name without a trailing replicate number (H1 → H, CD34High_2 → CD34High). */
  function guessGroup(sample) {
    const g = sample.replace(/[_-]?\d+$/, "").replace(/[_\-\s.]+$/, "");
    return g || sample;
  }

  const formatBytes = (n) => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(0)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`);

  async function chooseFile(file) {
    resetGroups();
    show($("file-error"), false);
    state.file = file || null;
    if (!file) { renderFileInfo(); return; }
    let text;
    try {
      const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
      if (head[0] === 0x1f && head[1] === 0x8b) {
        return fileError(`${file.name} is gzip-compressed; please decompress it first so its columns can be read here.`);
      }
      if (String.fromCharCode(...head) === "PAR1") return chooseParquet(file);
      text = await file.slice(0, HEADER_BYTES).text();
    } catch (e) {
      return fileError(`${file.name} could not be read (${e.message}).`);
    }
    let found;
    let samples;
    try {
      found = await inspectHead(file, text);
      samples = found.detection.long ? await longRuns(file, found.detection, found.runExtensions) : found.detection.samples.map((s) => s.sample);
    } catch (e) {
      return fileError(e.message);
    }
    const d = found.detection;
    const format = formatTitle(found.title, d);
    if (d.action === "quantify") showNote(`Recognised by ${d.reason.replace(/`/g, "")}. When the job runs, ${(d.advice || "").replace(/`/g, "")}.`);
    if (samples.length === 0) return fileError(`${file.name}: no sample columns found in the first line.`);
    const dupes = samples.filter((s, i) => samples.indexOf(s) !== i);
    if (dupes.length) return fileError(`${file.name}: the sample name “${dupes[0]}” appears twice in the first line; sample names must be unique.`);
    state.groupHints = new Map((d.samples || []).filter((s) => s.group_hint).map((s) => [s.sample, s.group_hint]));
    state.detection = d;
    state.samples = samples;
    state.format = format;
    renderFileInfo();
    renderSampleRows();
    show($("groups-card"));
    show($("options-card"));
    show($("submit-row"));
    updateGroupSummary();
  }

  /** A Parquet file: its runs are not readable here, so the design is asked for first and names them. */
  async function chooseParquet(file) {
    let diann;
    try { diann = await parquetIsDiannReport(file); } catch (e) { return fileError(`${file.name} could not be read (${e.message}).`); }
    if (!diann) {
      return fileError(`${file.name} is a Parquet file without DIA-NN's precursor columns (Precursor.Lib.Index, Precursor.Id); proteo reads Parquet input only as a DIA-NN report.parquet, so export this table as TSV or CSV.`);
    }
    state.needsDesign = true;
    state.detection = null;
    state.format = "DIA-NN report.parquet · precursors, quantified by MaxLFQ";
    showNote("Precursor quantities are filtered (Q.Value, Lib.Q.Value, Lib.PG.Q.Value ≤ 0.01) and summarised to protein groups by MaxLFQ when the job runs.");
    $("design-needed").textContent = `Load the design file first: the runs of a Parquet report cannot be read in the browser, so they are taken from the design (one line per run: sample and group).`;
    show($("design-needed"));
    renderFileInfo();
    show($("groups-card"));
  }

  function showNote(text) {
    $("file-note").textContent = text;
    show($("file-note"), Boolean(text));
  }

  function fileError(message) {
    state.file = null;
    renderFileInfo();
    $("file-error").textContent = message;
    show($("file-error"));
  }

  function renderFileInfo() {
    const info = $("file-info");
    info.replaceChildren();
    if (!state.file || !(state.samples.length || state.needsDesign)) { show(info, false); return; }
    const count = state.samples.length ? `${state.samples.length} samples` : "runs from the design file";
    info.append(
      el("strong", { class: "filename", text: state.file.name }),
      el("span", { class: "muted", text: ` · ${formatBytes(state.file.size)} · ` }),
      el("span", { "data-testid": "detected-format", id: "detected-format", title: state.detection ? state.detection.reason : "", text: state.format }),
      el("span", { class: "muted", text: " · " }),
      el("span", { "data-testid": "sample-count", id: "sample-count", text: count }),
    );
    show(info);
  }

  function resetGroups() {
    state.samples = [];
    state.format = "";
    state.needsDesign = false;
    showNote("");
    show($("design-needed"), false);
    state.designExtra = new Map();
    state.designColumns = [];
    $("sample-rows").replaceChildren();
    $("design-info").textContent = "";
    $("design-file").value = "";
    show($("design-error"), false);
    show($("form-error"), false);
    for (const id of ["groups-card", "options-card", "submit-row", "file-info"]) show($(id), false);
  }

  // ---------------------------------------------------------------- groups

  function renderSampleRows() {
    const rows = state.samples.map((sample, i) => {
      const input = el("input", {
        type: "text", id: `group-${i}`, value: (state.groupHints && state.groupHints.get(sample)) || guessGroup(sample), autocomplete: "off", spellcheck: false,
        "data-testid": "group-input", "data-sample": sample, placeholder: "group",
        "aria-label": `Group of sample ${sample}`,
      });
      input.setAttribute("list", "group-names");
      input.addEventListener("input", updateGroupSummary);
      return el("div", { class: "sample-cell", role: "listitem", "data-sample": sample },
        el("label", { for: `group-${i}`, class: "sample-name", title: sample, text: sample }), input);
    });
    $("sample-rows").replaceChildren(...rows);
  }

  const groupInputs = () => [...document.querySelectorAll('#sample-rows input[data-testid="group-input"]')];

  /** Groups in first-seen order with their samples. */
  function currentGroups() {
    const groups = new Map();
    for (const input of groupInputs()) {
      const g = input.value.trim();
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(input.dataset.sample);
    }
    return groups;
  }

  /** Why the groups cannot be submitted, or "" when they can. */
  function groupProblem(groups) {
    if (groups.has("")) {
      const missing = groups.get("");
      return `Give every sample a group: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""} ${missing.length === 1 ? "has" : "have"} none.`;
    }
    if (groups.size < 2) {
      const only = [...groups.keys()][0];
      return `Differential expression compares groups, so at least 2 are needed; all ${state.samples.length} samples are in group “${only}”. Edit the groups or load a design file.`;
    }
    const bad = [...groups.keys()].find((g) => /[\t\n\r]/.test(g));
    if (bad !== undefined) return `The group “${bad}” contains a tab or line break.`;
    return "";
  }

  function updateGroupSummary() {
    const groups = currentGroups();
    const box = $("group-summary");
    box.replaceChildren();
    const names = [...groups.keys()].filter((g) => g);
    const list = el("ul", { class: "chips", "aria-label": "Groups" });
    for (const g of names) {
      const n = groups.get(g).length;
      list.append(el("li", { class: n < 2 ? "chip warn" : "chip", "data-testid": "group-chip", "data-group": g },
        el("strong", { text: g }), ` ${n} sample${n === 1 ? "" : "s"}`));
    }
    box.append(el("p", { "data-testid": "group-count", id: "group-count", text: `${names.length} group${names.length === 1 ? "" : "s"}:` }), list);
    const problem = groupProblem(groups);
    if (problem) {
      box.append(el("p", { class: "msg error", id: "group-error", "data-testid": "group-error", text: problem }));
    } else {
      const single = names.filter((g) => groups.get(g).length < 2);
      if (single.length) {
        box.append(el("p", { class: "msg warn", text: `${single.map((g) => `“${g}”`).join(", ")} ${single.length === 1 ? "has" : "have"} a single sample: without replicates its variance cannot be estimated, and some methods will refuse it.` }));
      }
    }
    let datalist = $("group-names");
    if (!datalist) { datalist = el("datalist", { id: "group-names" }); document.body.append(datalist); }
    datalist.replaceChildren(...names.map((g) => el("option", { value: g })));
    if (!problem) show($("form-error"), false);
    updateReferenceChoices();
  }

  async function loadDesign(file) {
    show($("design-error"), false);
    if (!file) return;
    const fail = (m) => { $("design-error").textContent = m; show($("design-error")); $("design-info").textContent = ""; };
    let rows;
    try {
      rows = splitLines(await file.text());
    } catch (e) {
      return fail(`${file.name} could not be read (${e.message}).`);
    }
    if (rows.length < 2) return fail(`${file.name} has no samples: it needs a header line and one line per sample.`);
    const header = rows[0].map((h) => h.toLowerCase());
    const si = header.findIndex((h) => DESIGN_SAMPLE.includes(h));
    const gi = header.findIndex((h) => DESIGN_GROUP.includes(h));
    if (si < 0 || gi < 0) {
      return fail(`${file.name}: the header needs a ${si < 0 ? "“sample” (or “label”)" : "“group” (or “condition”)"} column; found ${rows[0].map((h) => `“${h}”`).join(", ")}.`);
    }
    const extras = DESIGN_EXTRA.map((name) => [name, header.indexOf(name)]).filter(([, i]) => i >= 0);
    const design = new Map();
    for (const r of rows.slice(1)) {
      const sample = r[si] || "";
      if (!sample) continue;
      design.set(sample, { group: r[gi] || "", extra: Object.fromEntries(extras.map(([name, i]) => [name, r[i] || ""])) });
    }
    if (state.needsDesign) {
      // A Parquet report: the design names the runs (ingest matches them to the report's runs and says which differ).
      state.samples = [...design.keys()];
      state.groupHints = new Map();
      renderSampleRows();
      renderFileInfo();
      show($("design-needed"), false);
      for (const id of ["options-card", "submit-row"]) show($(id));
    }
    const matched = [];
    const unmatched = [];
    for (const input of groupInputs()) {
      const d = design.get(input.dataset.sample);
      if (d) { input.value = d.group; matched.push(input.dataset.sample); } else unmatched.push(input.dataset.sample);
    }
    const ignored = [...design.keys()].filter((s) => !state.samples.includes(s));
    if (!matched.length) {
      return fail(`${file.name} names none of this file's samples (it has ${[...design.keys()].slice(0, 4).join(", ")}…; the data file has ${state.samples.slice(0, 4).join(", ")}…).`);
    }
    state.designExtra = new Map(matched.map((s) => [s, design.get(s).extra]));
    state.designColumns = extras.map(([name]) => name);
    const notes = [`${file.name}: groups set for ${matched.length} of ${state.samples.length} samples`];
    if (state.designColumns.length) notes.push(`; keeps ${state.designColumns.join(", ")}`);
    $("design-info").textContent = notes.join("") + ".";
    const problems = [];
    if (unmatched.length) problems.push(`${unmatched.join(", ")} ${unmatched.length === 1 ? "is" : "are"} not in the design file and kept the guessed group.`);
    if (ignored.length) problems.push(`${ignored.join(", ")} from the design file ${ignored.length === 1 ? "is" : "are"} not a sample of the data file and ${ignored.length === 1 ? "was" : "were"} ignored.`);
    if (problems.length) { $("design-error").textContent = problems.join(" "); $("design-error").className = "msg warn"; show($("design-error")); }
    else $("design-error").className = "msg error";
    updateGroupSummary();
  }

  /** The design as the API takes it: TSV, `label\tcondition` (plus a loaded design file's replicate/pair/batch). */
  function designTsv() {
    const cols = state.designColumns;
    const lines = [["label", "condition", ...cols].join("\t")];
    for (const input of groupInputs()) {
      const extra = state.designExtra.get(input.dataset.sample) || {};
      lines.push([input.dataset.sample, input.value.trim(), ...cols.map((c) => extra[c] || "")].join("\t"));
    }
    return lines.join("\n") + "\n";
  }

  // ---------------------------------------------------------------- options

  // Whole words that name a control group (proteo_core::de::CONTROL_WORDS).
  const CONTROL_WORDS = ["control", "controls", "ctrl", "ctrls", "healthy", "wt", "untreated", "vehicle", "mock", "normal", "sham", "dmso", "baseline"];

  function controlGroup(names) {
    const words = (g) => g.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    const hits = (g) => words(g).filter((w) => CONTROL_WORDS.includes(w)).length;
    return names.find((g) => hits(g) > 0 && hits(g) === words(g).length) ?? names.find((g) => hits(g) > 0) ?? null;
  }

  /** The contrasts `spec` gives for the groups in design order, as the pipeline forms them (parse_contrasts). */
  function previewContrasts(spec, names, chosen) {
    const ref = chosen || controlGroup(names);
    const pairs = [];
    for (let a = 0; a < names.length; a++) for (let b = a + 1; b < names.length; b++) {
      pairs.push(ref && names[a] === ref ? `${names[b]}-${ref}` : `${names[a]}-${names[b]}`);
    }
    if (spec === "" || spec === "default") return ref ? names.filter((g) => g !== ref).map((g) => `${g}-${ref}`) : pairs;
    if (spec === "all-pairs") return pairs;
    const vs = /^vs:(.*)$/i.exec(spec);
    if (vs) return names.filter((g) => g !== vs[1].trim()).map((g) => `${g}-${vs[1].trim()}`);
    return spec.split(",").map((c) => c.trim()).filter(Boolean);
  }

  function updateReferenceChoices() {
    const names = [...currentGroups().keys()].filter((g) => g);
    const select = $("opt-reference");
    const keep = select.value;
    const auto = controlGroup(names);
    select.replaceChildren(el("option", { value: "", text: auto ? `Automatic (${auto})` : "Automatic (none: all pairs)" }),
      ...names.map((g) => el("option", { value: g, text: g, selected: g === keep })));
    updateContrastPreview();
  }

  function updateContrastPreview() {
    const names = [...currentGroups().keys()].filter((g) => g);
    if (names.length < 2) { $("contrast-preview").textContent = ""; return; }
    const list = previewContrasts($("opt-contrasts").value.trim(), names, $("opt-reference").value);
    $("contrast-preview").textContent = ` This design gives: ${list.join(", ")}.`;
  }

  function readParams(groups) {
    const method = $("opt-method").value;
    const contrasts = $("opt-contrasts").value.trim() || DEFAULTS.contrasts;
    const num = (id, what, ok) => {
      const raw = $(id).value.trim();
      const v = Number(raw);
      if (raw === "" || !Number.isFinite(v) || !ok(v)) throw new Error(what);
      return v;
    };
    const alpha = num("opt-alpha", "The adjusted p-value cut-off must be a number above 0 and at most 1.", (v) => v > 0 && v <= 1);
    const minLog2fc = num("opt-min-lfc", "The minimum |log2 fold change| must be a number of 0 or more.", (v) => v >= 0);
    const seed = num("opt-seed", "The random seed must be a whole number of 0 or more.", (v) => Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER);
    const reference = $("opt-reference").value || null;
    if (reference && !groups.has(reference)) throw new Error(`Reference group “${reference}” is not a group of the design; choose it again.`);
    const normalizeOn = $("opt-normalize-on").value.trim() || null;
    if (normalizeOn && !/^(species|regex):.+/.test(normalizeOn)) {
      throw new Error("Normalize on: write species:<NAME> (e.g. species:HUMAN) or regex:<pattern>; id-list files are for proteo run.");
    }
    const vs = /^vs:(.*)$/i.exec(contrasts);
    if (vs && !groups.has(vs[1].trim())) {
      throw new Error(`Contrasts “${contrasts}”: there is no group “${vs[1].trim()}”; the groups are ${[...groups.keys()].join(", ")}.`);
    }
    return {
      qc: { normalize: $("opt-normalize").value, impute: $("opt-impute").value, seed, normalize_on: normalizeOn },
      de: {
        method, contrasts, reference, posthoc: $("opt-posthoc").checked ? "tukey" : "none",
        trend: method === "limma" && $("opt-trend").checked, robust: method === "limma" && $("opt-robust").checked,
      },
      pathway: { alpha, min_log2fc: minLog2fc, methods: ["ora", ...["camera", "gsea"].filter((m) => $(`opt-${m}`).checked)] },
    };
  }

  function updateOptionsDigest() {
    const limma = $("opt-method").value === "limma";
    for (const id of ["opt-trend", "opt-robust"]) {
      $(id).disabled = !limma;
      $(id).closest("label").classList.toggle("disabled", !limma);
    }
    const m = $("opt-method");
    const parts = [m.options[m.selectedIndex].text.replace(/ \(.*\)$/, ""), $("opt-contrasts").value.trim() || DEFAULTS.contrasts,
      `adj. p < ${$("opt-alpha").value}`, `|log2 FC| ≥ ${$("opt-min-lfc").value}`];
    $("options-digest").textContent = `— ${parts.join(", ")}`;
  }

  // ---------------------------------------------------------------- submit

  function formError(message) {
    const box = $("form-error");
    box.textContent = message;
    show(box);
    box.focus();
  }

  async function submit(event) {
    event.preventDefault();
    show($("form-error"), false);
    if (!state.file || !state.samples.length) return formError("Choose a data file first.");
    const groups = currentGroups();
    const problem = groupProblem(groups);
    if (problem) return formError(problem);
    let params;
    try { params = readParams(groups); } catch (e) { $("options").open = true; return formError(e.message); }

    state.submittedDesign = groupInputs().map((input) => ({ sample: input.dataset.sample, group: input.value.trim() }));
    const button = $("submit");
    button.disabled = true;
    button.textContent = "Submitting…";
    try {
      const created = await api("/jobs", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ fileName: state.file.name, fileSize: state.file.size, design: designTsv(), params }),
      });
      state.jobId = created.jobId;
      window.proteoProgressLog = [];
      showProgress(state.file.name);
      setProgress({ progress: 0, stage: "ingest", message: `Uploading ${state.file.name} (${formatBytes(state.file.size)})` });
      let put;
      try {
        put = await fetch(resolveUrl(created.uploadUrl), { method: created.uploadMethod || "PUT", body: state.file });
      } catch (e) {
        throw new ApiError(`The upload of ${state.file.name} failed: ${e.message}.`, 0);
      }
      if (!put.ok) throw new ApiError(await errorSentence(put), put.status);
      history.replaceState(null, "", `#job=${encodeURIComponent(created.jobId)}`);
      poll(created.jobId);
    } catch (e) {
      stopPolling();
      showView("form");
      formError(e.message);
    } finally {
      button.disabled = false;
      button.textContent = "Run analysis";
    }
  }

  // ---------------------------------------------------------------- progress

  function showView(name) {
    show($("job-form"), name === "form");
    show($("progress-view"), name === "progress");
    show($("failed-view"), name === "failed");
    show($("results-view"), name === "results");
    window.scrollTo({ top: 0 });
  }

  function showProgress(fileName) {
    $("progress-file").textContent = fileName || "";
    $("progress-job").textContent = state.jobId || "";
    $("progress-note").textContent = "";
    const bar = $("progress-bar");
    bar.dataset.history = "";
    bar.setAttribute("aria-valuenow", "0");
    $("progress-fill").style.width = "0%";
    state.startedAt = Date.now();
    clearInterval(state.elapsedTimer);
    const tick = () => {
      const s = Math.round((Date.now() - state.startedAt) / 1000);
      $("progress-elapsed").textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    };
    tick();
    state.elapsedTimer = setInterval(tick, 1000);
    showView("progress");
  }

  /**
   * Shows one status. Every polled progress value is recorded in order, as received, in the bar's `data-history` and
   * in `window.proteoProgressLog` (the browser test checks them); the bar itself never moves backwards.
   */
  function setProgress(job) {
    const p = Math.max(0, Math.min(100, Math.round(Number(job.progress) || 0)));
    const bar = $("progress-bar");
    const history = bar.dataset.history ? bar.dataset.history.split(",").map(Number) : [];
    const shown = Math.max(p, Number(bar.getAttribute("aria-valuenow")) || 0);
    if (job.status) {
      history.push(p);
      window.proteoProgressLog.push({ progress: p, status: job.status, stage: job.stage || "", at: Date.now() });
    }
    bar.dataset.history = history.join(",");
    bar.classList.toggle("running", job.status !== "SUCCEEDED" && job.status !== "FAILED");
    bar.setAttribute("aria-valuenow", String(shown));
    bar.setAttribute("aria-valuetext", `${shown}%`);
    $("progress-fill").style.width = `${shown}%`;
    $("progress-percent").textContent = `${shown}%`;
    const title = STAGE_TITLES[job.stage] || "";
    let message = (job.message || "").trim();
    if (job.status === "QUEUED" && !message) message = "Waiting to start";
    const text = title && !message.toLowerCase().startsWith(title.toLowerCase()) ? `${title}${message ? `: ${message}` : ""}` : message || title;
    $("progress-message").textContent = text || "Working…";
    // A stage is done once the job's progress reaches its end (or a later stage reports); the next one is current.
    const reported = STAGE_ORDER.indexOf(job.stage);
    let current = STAGE_ORDER.findIndex((st, i) => i >= reported && shown < STAGE_END[st]);
    if (current < 0 || job.status === "SUCCEEDED") current = STAGE_ORDER.length;
    for (const li of document.querySelectorAll("#stages li")) {
      const i = STAGE_ORDER.indexOf(li.dataset.stage);
      li.classList.toggle("done", i < current);
      li.classList.toggle("current", i === current);
      if (i === current) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    }
  }

  function stopPolling() {
    state.pollGeneration += 1;
    clearTimeout(state.pollTimer);
    clearInterval(state.elapsedTimer);
  }

  function poll(jobId) {
    stopPolling();
    const generation = state.pollGeneration;
    state.elapsedTimer = setInterval(() => {
      const s = Math.round((Date.now() - state.startedAt) / 1000);
      $("progress-elapsed").textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    }, 1000);
    let delay = POLL_FIRST_MS;
    let errors = 0;
    const step = async () => {
      if (generation !== state.pollGeneration) return;
      let job;
      try {
        job = await api(`/jobs/${encodeURIComponent(jobId)}`);
        errors = 0;
        $("progress-note").textContent = "";
      } catch (e) {
        if (generation !== state.pollGeneration) return;
        if (e.status === 404) { stopPolling(); return showFailed({ error: e.message, jobId }); }
        errors += 1;
        if (errors >= POLL_ERRORS_BEFORE_NOTE) $("progress-note").textContent = `${e.message} Still trying…`;
        state.pollTimer = setTimeout(step, delay);
        delay = Math.min(POLL_MAX_MS, delay * POLL_GROWTH);
        return;
      }
      if (generation !== state.pollGeneration) return;
      setProgress(job);
      if (job.status === "SUCCEEDED") { stopPolling(); return showResults(job); }
      if (job.status === "FAILED") { stopPolling(); return showFailed(job); }
      state.pollTimer = setTimeout(step, delay);
      delay = Math.min(POLL_MAX_MS, delay * POLL_GROWTH);
    };
    state.pollTimer = setTimeout(step, delay);
  }

  // ---------------------------------------------------------------- failure

  function showFailed(job) {
    $("error-message").textContent = job.error || "The analysis failed without a message.";
    const where = [];
    if (job.stage && STAGE_TITLES[job.stage]) where.push(`Stage: ${STAGE_TITLES[job.stage]}`);
    if (job.errorType) where.push(`error type ${job.errorType}`);
    if (job.jobId) where.push(`job ${job.jobId}`);
    $("error-detail").textContent = where.join(" · ");
    showView("failed");
    $("start-over").focus({ preventScroll: true });
  }

  function startOver() {
    stopPolling();
    state.jobId = null;
    history.replaceState(null, "", location.pathname + location.search);
    $("data-file").value = "";
    state.file = null;
    resetGroups();
    $("report-frame").removeAttribute("src");
    showView("form");
    $("data-file").focus({ preventScroll: true });
  }

  // ---------------------------------------------------------------- results

  /** A number to 3 significant digits, without exponent where it reads better. */
  function formatNumber(v) {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
    return String(Number(v.toPrecision(3)));
  }

  function showResults(job) {
    const s = job.summary || {};
    $("results-file").textContent = $("progress-file").textContent;
    const seconds = job.createdAt && job.updatedAt ? (job.updatedAt - job.createdAt) / 1000 : null;
    $("results-meta").textContent = [`Job ${job.jobId}`, seconds !== null ? `finished in ${seconds < 60 ? `${seconds.toFixed(1)} s` : `${(seconds / 60).toFixed(1)} min`}` : ""]
      .filter(Boolean).join(" · ");

    const stats = [["Proteins read", s.proteins], ["Kept after QC", s.proteinsKept], ["Samples", s.samples],
      ["Significant terms", s.termsSignificant]];
    if (s.fTestSignificant !== undefined && s.fTestSignificant !== null) stats.splice(3, 0, ["Significant (F test)", s.fTestSignificant]);
    $("summary-stats").replaceChildren(...stats.filter(([, v]) => v !== undefined && v !== null).map(([k, v]) =>
      el("div", { class: "stat" }, el("dt", { text: k }), el("dd", { text: typeof v === "number" ? v.toLocaleString("en") : String(v) }))));
    $("summary-model").textContent = [s.model ? `Model: ${s.model}` : "", s.reference ? `reference group: ${s.reference}` : "",
      s.geneSets ? `gene sets: ${s.geneSets}` : ""].filter(Boolean).join(" · ");
    const outliers = Array.isArray(s.outliers) ? s.outliers : [];
    const flag = $("outlier-flag");
    flag.textContent = outliers.length
      ? `Outlier sample${outliers.length === 1 ? "" : "s"} flagged: ${outliers.join(", ")} (see the report's Sample QC table; rerun with them excluded if they are failed runs).`
      : "";
    show(flag, outliers.length > 0);
    // A job whose report could not be rendered succeeded all the same: its tables are below, the report link is not.
    $("report-warning").textContent = job.warning ? `${job.warning}. The result tables are complete.` : "";
    show($("report-warning"), Boolean(job.warning));

    const contrasts = Array.isArray(s.contrasts) ? s.contrasts : [];
    const table = $("contrast-summary");
    table.replaceChildren(table.querySelector("caption") || "");
    if (contrasts.length) {
      table.append(el("thead", {}, el("tr", {}, ...["Contrast", "Significant", "Up", "Down"].map((h, i) => el("th", { scope: "col", class: i ? "num" : "", text: h })))),
        el("tbody", {}, ...contrasts.map((c) => el("tr", {},
          el("td", { text: c.contrast }), el("td", { class: c.significant ? "num strong" : "num zero", text: String(c.significant ?? "") }),
          el("td", { class: c.up ? "num up" : "num zero", text: String(c.up ?? "") }),
          el("td", { class: c.down ? "num down" : "num zero", text: String(c.down ?? "") })))));
      if (s.contrastsTotal > contrasts.length) {
        table.append(el("tfoot", {}, el("tr", {}, el("td", { colSpan: 4, class: "muted", text: `First ${contrasts.length} of ${s.contrastsTotal} contrasts; summary.json has them all.` }))));
      }
    }
    show(table.parentElement, contrasts.length > 0);

    const results = job.results || {};
    const report = results["report.html"];
    const frame = $("report-frame");
    if (report) {
      const url = resolveUrl(report);
      $("report-open").href = url;
      $("report-open").dataset.route = report;
      fileUrl(report).then((signed) => {
        frame.dataset.base = signed;
        frame.src = signed;
        setReportTab("summary", false);
      }).catch((e) => formError(e.message));
    }
    show(frame.closest(".card"), Boolean(report));

    renderDownloads(job.jobId, results);
    showView("results");
    for (const prefix of Object.keys(RESULT_TABLES)) setupTable(prefix, job.jobId);
  }

  function setReportTab(section, navigate = true) {
    for (const b of document.querySelectorAll("#report-nav button")) b.setAttribute("aria-pressed", String(b.dataset.section === section));
    const frame = $("report-frame");
    if (!navigate || !frame.dataset.base) return;
    try {
      const target = frame.contentDocument && frame.contentDocument.getElementById(section);
      if (target) {
        const win = frame.contentWindow;
        // Keep the section's heading clear of a sticky or fixed header of the report.
        let covered = 0;
        for (const node of frame.contentDocument.querySelectorAll("body > *")) {
          const pos = win.getComputedStyle(node).position;
          if (pos === "sticky" || pos === "fixed") covered = Math.max(covered, node.getBoundingClientRect().height);
        }
        win.scrollTo({ top: Math.max(0, target.getBoundingClientRect().top + win.scrollY - covered - 8) });
        return;
      }
    } catch (_) { /* cross-origin report (cloud): navigate by fragment instead */ }
    frame.src = `${frame.dataset.base}#${section}`;
  }

  function renderDownloads(jobId, results) {
    const keys = Object.keys(results).filter((k) => !/\/ranked\//.test(k)).sort((a, b) => {
      const rank = (k) => (k === "report.html" ? 0 : k === "summary.json" ? 1 : 2);
      return rank(a) - rank(b) || a.localeCompare(b);
    });
    $("downloads").replaceChildren(...keys.map((key) => {
      const name = key.split("/").pop();
      return el("li", {},
        el("a", { href: resolveUrl(results[key]), download: name, "data-key": key, "data-route": results[key], text: key }),
        el("span", { class: "muted small", text: FILE_DESCRIPTIONS[key] || "" }));
    }));
  }

  /** One paged result table ([`RESULT_TABLES`]) with a contrast selector and a cursor; an optional table the job
   *  lacks (a method it did not run) keeps its card hidden. */
  const tables = {};
  function setupTable(prefix, jobId) {
    const { table, optional } = RESULT_TABLES[prefix];
    const t = (tables[prefix] = { jobId, table, optional: Boolean(optional), contrast: null, cursors: [null], page: 0, generation: 0 });
    $(`${prefix}-contrast`).replaceChildren();
    if (t.optional) show($(`${prefix}-card`), false);
    loadPage(prefix, t);
  }

  async function loadPage(prefix, t) {
    const generation = ++t.generation;
    const status = $(`${prefix}-status`);
    status.textContent = "Loading…";
    $(`${prefix}-prev`).disabled = true;
    $(`${prefix}-next`).disabled = true;
    const query = new URLSearchParams({ table: t.table, limit: String(PAGE_ROWS) });
    if (t.contrast !== null) query.set("contrast", t.contrast);
    const cursor = t.cursors[t.page];
    if (cursor !== null && cursor !== undefined) query.set("cursor", cursor);
    let body;
    try {
      body = await api(`/jobs/${encodeURIComponent(t.jobId)}/results?${query}`);
    } catch (e) {
      if (generation !== t.generation) return;
      if (t.optional && e.status === 404 && t.contrast === null) return;
      status.textContent = e.message;
      $(`${prefix}-table`).replaceChildren();
      return;
    }
    if (generation !== t.generation || tables[prefix] !== t) return;
    if (t.optional) show($(`${prefix}-card`));
    if (t.contrast === null) {
      t.contrast = body.contrast ?? (body.contrasts && body.contrasts[0]) ?? "";
      // Open on the first contrast that has rows (enrichment is often empty for some contrasts).
      const others = (body.contrasts || []).filter((c) => c !== t.contrast).slice(0, FIRST_CONTRAST_TRIES);
      for (const c of (body.rows || []).length ? [] : others) {
        query.set("contrast", c);
        const next = await api(`/jobs/${encodeURIComponent(t.jobId)}/results?${query}`).catch(() => null);
        if (generation !== t.generation || tables[prefix] !== t) return;
        if (next && Array.isArray(next.rows) && next.rows.length) { body = next; t.contrast = next.contrast ?? c; break; }
      }
      const select = $(`${prefix}-contrast`);
      select.replaceChildren(...(body.contrasts || []).map((c) => el("option", { value: c, text: c, selected: c === t.contrast })));
      select.disabled = !(body.contrasts && body.contrasts.length > 1);
    }
    t.cursors[t.page + 1] = body.nextCursor ?? null;
    const rows = Array.isArray(body.rows) ? body.rows : [];
    if (prefix === "de" && t.page === 0 && t.volcanoFor !== t.contrast) { t.volcanoFor = t.contrast; drawVolcano(t.jobId, t.contrast); }
    renderRows($(`${prefix}-table`), rows, prefix === "de" ? "No proteins for this contrast." : "No enriched terms for this contrast.");
    const first = Number(cursor || 0);
    status.textContent = rows.length ? `Rows ${first + 1}–${first + rows.length}` : "";
    $(`${prefix}-prev`).disabled = t.page === 0;
    $(`${prefix}-next`).disabled = body.nextCursor === null || body.nextCursor === undefined;
    $(`${prefix}-scroll`).scrollLeft = 0;
  }

  /** Row fields that feed the volcano and the profile rather than the table. */
  const HIDDEN_COLUMNS = ["contrast", "values", "imputed"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  const svgEl = (tag, attrs = {}, ...children) => {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    for (const c of children) node.append(c);
    return node;
  };
  const svgTitle = (text) => { const t = document.createElementNS(SVG_NS, "title"); t.textContent = text; return t; };
  const rowName = (r) => { const g = String(r.geneNames || "").split(";")[0].trim(); return g ? `${g} (${r.proteinId})` : r.proteinId; };

  /** The volcano of the contrast's ranked rows (the top 1 000 by adjusted p): hover names the protein, click opens its profile. */
  async function drawVolcano(jobId, contrast) {
    const box = $("de-volcano");
    const query = new URLSearchParams({ table: "de", limit: "1000" });
    if (contrast) query.set("contrast", contrast);
    let body;
    try { body = await api(`/jobs/${encodeURIComponent(jobId)}/results?${query}`); } catch (e) { box.textContent = e.message; return; }
    const rows = (body.rows || []).filter((r) => Number.isFinite(r.log2fc) && Number.isFinite(r.pValue));
    const W = 460, H = 320, L = 46, B = 36, T = 24;
    const alpha = Number($("opt-alpha").value) || 0.05, minLfc = Number($("opt-min-lfc").value) || 1;
    const maxX = Math.max(1, ...rows.map((r) => Math.abs(r.log2fc))) * 1.05;
    const y = (p) => -Math.log10(Math.max(p, 1e-300));
    const maxY = Math.max(1, ...rows.map((r) => y(r.pValue))) * 1.05;
    const sx = (v) => L + ((v + maxX) / (2 * maxX)) * (W - L - 10), sy = (v) => H - B - (v / maxY) * (H - B - T);
    const svg = svgEl("svg", { width: "100%", viewBox: `0 0 ${W} ${H}`, style: `max-width:${W}px`, role: "img", "aria-label": `Volcano plot of ${body.contrast}` });
    svg.append(svgEl("text", { x: L, y: 16, "font-size": 13 }, `Volcano: ${body.contrast} (top ${rows.length} by adj. p)`));
    svg.append(svgEl("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: "#888" }), svgEl("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#888" }));
    for (const v of [-minLfc, minLfc]) svg.append(svgEl("line", { x1: sx(v), y1: T, x2: sx(v), y2: H - B, stroke: "#bbb", "stroke-dasharray": "4 3" }));
    svg.append(svgEl("text", { x: (W + L) / 2, y: H - 6, "font-size": 11, "text-anchor": "middle" }, "log2 fold change"),
      svgEl("text", { x: 12, y: (H - B + T) / 2, "font-size": 11, "text-anchor": "middle", transform: `rotate(-90 12 ${(H - B + T) / 2})` }, "−log10 p"));
    const hover = $("volcano-hover");
    rows.forEach((r) => {
      const sig = r.adjPValue < alpha && Math.abs(r.log2fc) >= minLfc;
      const c = svgEl("circle", { cx: sx(r.log2fc).toFixed(1), cy: sy(y(r.pValue)).toFixed(1), r: 3, class: sig ? (r.log2fc > 0 ? "up" : "down") : "ns",
        "data-testid": "volcano-point", "data-protein": r.proteinId }, svgTitle(`${rowName(r)}: log2FC ${formatNumber(r.log2fc)}, adj. p ${formatNumber(r.adjPValue)}`));
      c.addEventListener("mouseenter", () => { hover.textContent = `${rowName(r)} — log2FC ${formatNumber(r.log2fc)}, p ${formatNumber(r.pValue)}, adj. p ${formatNumber(r.adjPValue)}`; });
      c.addEventListener("click", () => {
        svg.querySelectorAll("circle.selected").forEach((n) => n.classList.remove("selected"));
        c.classList.add("selected");
        showProfile(r);
      });
      svg.append(c);
    });
    box.replaceChildren(svg);
  }

  /** One protein's log2 values by sample, samples grouped as in the design, imputed values as open circles. */
  function showProfile(r) {
    const box = $("de-profile");
    const values = Array.isArray(r.values) ? r.values : [];
    const imputed = new Set(Array.isArray(r.imputed) ? r.imputed : []);
    const design = state.submittedDesign || values.map((_, i) => ({ sample: `sample ${i + 1}`, group: "" }));
    const groups = [...new Set(design.map((d) => d.group))];
    const W = 420, H = 320, L = 46, B = 70, T = 24;
    const finite = values.filter((v) => Number.isFinite(v));
    const lo = Math.min(...finite), hi = Math.max(...finite), pad = (hi - lo || 1) * 0.1;
    const sy = (v) => H - B - ((v - (lo - pad)) / (hi - lo + 2 * pad)) * (H - B - T);
    const order = groups.flatMap((g) => design.map((d, i) => [d, i]).filter(([d]) => d.group === g));
    const sx = (k) => L + 12 + (k * (W - L - 24)) / Math.max(1, order.length - 1);
    const svg = svgEl("svg", { width: "100%", viewBox: `0 0 ${W} ${H}`, style: `max-width:${W}px`, role: "img", "aria-label": `Profile of ${rowName(r)}` });
    svg.append(svgEl("text", { x: L, y: 16, "font-size": 13 }, `Profile: ${rowName(r)}`));
    svg.append(svgEl("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#888" }));
    svg.append(svgEl("text", { x: 12, y: (H - B + T) / 2, "font-size": 11, "text-anchor": "middle", transform: `rotate(-90 12 ${(H - B + T) / 2})` }, "log2 intensity"));
    const palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
    order.forEach(([d, i], k) => {
      const v = values[i];
      const color = palette[groups.indexOf(d.group) % palette.length];
      if (Number.isFinite(v)) {
        const isImp = imputed.has(i);
        svg.append(svgEl("circle", { cx: sx(k), cy: sy(v), r: 4.5, fill: color, stroke: color, class: isImp ? "imputed" : "observed", "data-testid": "profile-point",
          "data-imputed": isImp ? "true" : "false" }, svgTitle(`${d.sample} (${d.group}): ${formatNumber(v)}${isImp ? ", imputed" : ""}`)));
      }
      svg.append(svgEl("text", { x: sx(k), y: H - B + 10, "font-size": 10, transform: `rotate(60 ${sx(k)} ${H - B + 10})` }, d.sample));
    });
    svg.append(svgEl("text", { x: W - 150, y: H - 8, "font-size": 11 }, "● observed  ○ imputed"));
    box.replaceChildren(svg, el("p", { class: "muted small", text: `${imputed.size} of ${values.length} values imputed; groups: ${groups.join(", ")}.` }));
    show(box, true);
  }

  function renderRows(table, rows, emptyText) {
    const caption = table.querySelector("caption");
    table.replaceChildren(...(caption ? [caption] : []));
    if (!rows.length) {
      table.append(el("tbody", {}, el("tr", {}, el("td", { class: "empty", text: emptyText }))));
      return;
    }
    const rank = (k) => (COLUMN_ORDER.includes(k) ? COLUMN_ORDER.indexOf(k) : COLUMN_ORDER.length);
    const columns = Object.keys(rows[0])
      .filter((k) => !HIDDEN_COLUMNS.includes(k) && rows.some((r) => r[k] !== null && r[k] !== undefined && r[k] !== ""))
      .map((k, i) => [k, i]).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map(([k]) => k);
    const numeric = new Set(columns.filter((k) => rows.every((r) => r[k] === null || r[k] === undefined || typeof r[k] === "number")));
    table.append(el("thead", {}, el("tr", {}, ...columns.map((k) =>
      el("th", { scope: "col", class: numeric.has(k) ? "num" : "", "data-key": k, text: COLUMN_LABELS[k] || k })))));
    table.append(el("tbody", {}, ...rows.map((r) => el("tr", Array.isArray(r.values) ? { class: "clickable", onclick: () => showProfile(r) } : {}, ...columns.map((k) => {
      const v = r[k];
      if (numeric.has(k)) {
        const cls = ["num"];
        if (k === "log2fc" && typeof v === "number") cls.push(v > 0 ? "up" : v < 0 ? "down" : "");
        return el("td", { class: cls.join(" "), title: typeof v === "number" ? String(v) : "", text: typeof v === "number" ? formatNumber(v) : "" });
      }
      const text = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
      return el("td", { class: text.length > 24 ? "text long" : "text", title: text.length > 24 ? text : "", text });
    })))));
  }

  function bindTable(prefix) {
    $(`${prefix}-contrast`).addEventListener("change", (e) => {
      const t = tables[prefix];
      if (!t) return;
      t.contrast = e.target.value;
      t.cursors = [null];
      t.page = 0;
      loadPage(prefix, t);
    });
    $(`${prefix}-next`).addEventListener("click", () => {
      const t = tables[prefix];
      if (!t || t.cursors[t.page + 1] === null || t.cursors[t.page + 1] === undefined) return;
      t.page += 1;
      loadPage(prefix, t);
    });
    $(`${prefix}-prev`).addEventListener("click", () => {
      const t = tables[prefix];
      if (!t || t.page === 0) return;
      t.page -= 1;
      loadPage(prefix, t);
    });
  }

  // ---------------------------------------------------------------- wiring

  /** With a token, a click on a result link opens the presigned URL the API hands out for it. */
  async function openSigned(event) {
    const a = event.target.closest("a[data-route]");
    if (!a || !token()) return;
    event.preventDefault();
    try {
      const url = await fileUrl(a.dataset.route);
      const go = el("a", { href: url, download: a.getAttribute("download") || "", target: a.target || "" });
      document.body.append(go);
      go.click();
      go.remove();
    } catch (e) {
      formError(e.message);
    }
  }

  function init() {
    $("sign-in-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const value = $("token").value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      $("token").value = "";
      show($("sign-in"), false);
      updateSignedIn();
      if (state.jobId) poll(state.jobId);
    });
    $("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      updateSignedIn();
    });
    updateSignedIn();
    document.addEventListener("click", openSigned);
    $("data-file").addEventListener("change", (e) => chooseFile(e.target.files[0]));
    // Cleared after each load, so an edited design of the same name loads again.
    $("design-file").addEventListener("change", (e) => loadDesign(e.target.files[0]).finally(() => { e.target.value = ""; }));
    $("job-form").addEventListener("submit", submit);
    $("start-over").addEventListener("click", startOver);
    $("new-analysis").addEventListener("click", startOver);
    for (const id of ["opt-method", "opt-contrasts", "opt-alpha", "opt-min-lfc"]) $(id).addEventListener("input", updateOptionsDigest);
    $("opt-contrasts").addEventListener("input", updateContrastPreview);
    $("opt-reference").addEventListener("change", updateContrastPreview);
    $("report-nav").addEventListener("click", (e) => {
      const b = e.target.closest("button[data-section]");
      if (b) setReportTab(b.dataset.section);
    });
    for (const prefix of Object.keys(RESULT_TABLES)) bindTable(prefix);
    updateOptionsDigest();

    const zone = $("dropzone");
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      const f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) chooseFile(f);
    });

    // A job in the address (#job=<id>) is followed again after a reload or from a bookmark.
    const m = /^#job=(.+)$/.exec(location.hash);
    if (m) {
      state.jobId = decodeURIComponent(m[1]);
      showProgress("");
      setProgress({ progress: 0, message: "Looking up the job" });
      poll(state.jobId);
    }
  }

  init();
})();
