// The web page end to end in headless Chromium against a running `proteo serve` (PROTEO_URL); scripts/test-browser
// starts the server and runs this. Screenshots go to SCREENSHOT_DIR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BASE = (process.env.PROTEO_URL || "").replace(/\/+$/, "");
/** A second server started with `--token` (scripts/test-browser), and its token. */
const TOKEN_BASE = (process.env.PROTEO_TOKEN_URL || "").replace(/\/+$/, "");
const TOKEN = process.env.PROTEO_TOKEN || "";
const SHOTS = process.env.SCREENSHOT_DIR || path.join(ROOT, "target/artifacts/browser");
const EXAMPLE = process.env.PROTEO_EXAMPLE || path.join(ROOT, "data/example/proteinGroups.txt");
const EXAMPLE_DESIGN = process.env.PROTEO_EXAMPLE_DESIGN || path.join(ROOT, "data/example/experimental_design.tsv");
/** The bundled example runs in seconds; a debug build on a 2-core machine is given ample room. */
const JOB_TIMEOUT_MS = 240_000;
const SCENARIO_TIMEOUT_MS = 300_000;
const DESKTOP = { width: 1280, height: 900 };
/** The real DIA-NN 2.1 report.parquet of ../shared (scenario F skips when it is absent, e.g. in a clone without it). */
const SHARED_PARQUET = path.join(ROOT, "../shared/data/formats/diann_report-parquet_2.1.0-alphapepttools/top20_report.parquet");
/** DIA-NN 1.8.2 beta 8 report.tsv header, exactly as ../shared/data/formats/diann_report-tsv_1.8.2b8-einprot has it. */
const DIANN_18_HEADER = ("File.Name Run Protein.Group Protein.Ids Protein.Names Genes PG.Quantity PG.Normalised PG.MaxLFQ " +
  "Genes.Quantity Genes.Normalised Genes.MaxLFQ Genes.MaxLFQ.Unique Modified.Sequence Stripped.Sequence Precursor.Id " +
  "Precursor.Charge Q.Value PEP Global.Q.Value Protein.Q.Value PG.Q.Value Global.PG.Q.Value GG.Q.Value Translated.Q.Value " +
  "Proteotypic Precursor.Quantity Precursor.Normalised Precursor.Translated Translated.Quality Ms1.Translated " +
  "Quantity.Quality RT RT.Start RT.Stop iRT Predicted.RT Predicted.iRT Lib.Q.Value Lib.PG.Q.Value Ms1.Profile.Corr " +
  "Ms1.Area Evidence Spectrum.Similarity Averagine Mass.Evidence CScore Decoy.Evidence Decoy.CScore Fragment.Quant.Raw " +
  "Fragment.Quant.Corrected Fragment.Correlations MS2.Scan IM iIM Predicted.IM Predicted.iIM").split(" ");
const PHONE = { width: 375, height: 800 };

let browser;
/** The job of scenario A, reopened at phone width in scenario C. */
let exampleJobId = null;

before(async () => {
  assert.ok(BASE, "PROTEO_URL must point at a running `proteo serve` (scripts/test-browser sets it)");
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
});

/** A page that records uncaught script errors; on failure the scenario leaves `failed-<name>.png` behind. */
async function scenario(name, viewport, body, contextOptions = {}) {
  const context = await browser.newContext({ viewport, ...contextOptions });
  const page = await context.newPage();
  const scriptErrors = [];
  page.on("pageerror", (e) => scriptErrors.push(e.message));
  try {
    await body(page, context);
    assert.deepEqual(scriptErrors, [], "the page threw script errors");
  } catch (e) {
    await page.screenshot({ path: path.join(SHOTS, `failed-${name}.png`), fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await context.close();
  }
}

/** `label` → `condition` rows of a design TSV, in file order. */
function readDesign(file) {
  const [header, ...lines] = fs.readFileSync(file, "utf8").trim().split(/\r?\n/).map((l) => l.split("\t"));
  const li = header.indexOf("label");
  const ci = header.indexOf("condition");
  assert.ok(li >= 0 && ci >= 0, `${file} has label and condition columns`);
  return lines.map((r) => ({ label: r[li], condition: r[ci] }));
}

async function samplesAndGroups(page) {
  return page.$$eval('[data-testid="group-input"]', (inputs) => inputs.map((i) => ({ sample: i.dataset.sample, group: i.value })));
}

/** Waits until the job shows results or a failure; returns the progress values seen on the bar meanwhile. */
async function waitForOutcome(page) {
  const seen = [];
  const deadline = Date.now() + JOB_TIMEOUT_MS;
  for (;;) {
    const now = await page.evaluate(() => ({
      value: Number(document.getElementById("progress-bar").getAttribute("aria-valuenow")),
      progressShown: !document.getElementById("progress-view").hidden,
      results: !document.getElementById("results-view").hidden,
      failed: !document.getElementById("failed-view").hidden,
    }));
    if (now.progressShown && seen[seen.length - 1] !== now.value) seen.push(now.value);
    if (now.results) return { outcome: "results", seen };
    if (now.failed) return { outcome: "failed", seen };
    assert.ok(Date.now() < deadline, `no result after ${JOB_TIMEOUT_MS / 1000} s; progress seen: ${seen.join(", ")}`);
    await page.waitForTimeout(100);
  }
}

/**
 * A small DIA-NN 1.8 report.tsv with the real header: the bundled example's first `proteins` annotated protein groups
 * (so the gene sets match), three precursors each, six runs (ctrl_1-3, treat_1-3 as Windows paths in `File.Name`),
 * about 5 % of precursor × run rows absent as DIA-NN leaves them, and every fifth protein 4× up in treat.
 */
function writeDiannReport(file, proteins = 240) {
  const lines = fs.readFileSync(EXAMPLE, "utf8").split(/\r?\n/);
  const head = lines[0].split("\t");
  const idAt = head.indexOf("Protein IDs");
  const geneAt = head.indexOf("Gene names");
  const groups = lines.slice(1).map((l) => l.split("\t")).filter((r) => r[geneAt] && !/^(REV|CON)__/.test(r[idAt]))
    .slice(0, proteins).map((r) => ({ id: r[idAt].split(";")[0], gene: r[geneAt].split(";")[0] }));
  assert.equal(groups.length, proteins, "the bundled example has enough annotated protein groups");
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const runs = ["ctrl_1", "ctrl_2", "ctrl_3", "treat_1", "treat_2", "treat_3"];
  const out = [DIANN_18_HEADER.join("\t")];
  groups.forEach((g, p) => {
    const level = 1e5 * (1 + 50 * random());
    for (let k = 0; k < 3; k++) {
      const peptide = `PEPT${String.fromCharCode(65 + (p % 26))}${p}IDE${k}K`;
      const response = 0.2 + random();
      for (const run of runs) {
        if (random() < 0.05) continue;
        const up = p % 5 === 0 && run.startsWith("treat") ? 4 : 1;
        const q = (level * response * up * (0.9 + 0.2 * random())).toFixed(1);
        const cells = Object.fromEntries(DIANN_18_HEADER.map((c) => [c, "0"]));
        Object.assign(cells, {
          "File.Name": `D:\\raw\\${run}.mzML`, Run: run, "Protein.Group": g.id, "Protein.Ids": g.id, "Protein.Names": `${g.gene}_HUMAN`,
          Genes: g.gene, "Modified.Sequence": peptide, "Stripped.Sequence": peptide, "Precursor.Id": `${peptide}2`, "Precursor.Charge": "2",
          "Q.Value": "0.001", "Lib.Q.Value": "0.001", "Lib.PG.Q.Value": "0.001", "PG.Q.Value": "0.002", "Global.PG.Q.Value": "0.002",
          Proteotypic: "1", "Precursor.Quantity": q, "Precursor.Normalised": q, "Fragment.Quant.Raw": `${q};${q};`,
          "Fragment.Quant.Corrected": `${q};${q};`, "Fragment.Correlations": "0.9;0.8;",
        });
        out.push(DIANN_18_HEADER.map((c) => cells[c]).join("\t"));
      }
    }
  });
  fs.writeFileSync(file, out.join("\n") + "\n");
  return runs;
}

const noHorizontalOverflow = (page) =>
  page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));

test("A: the bundled example from file choice to report, top hits and downloads", { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  await scenario("example", DESKTOP, async (page, context) => {
    await page.goto(`${BASE}/`);
    assert.equal(await page.title(), "proteo — proteomics analysis");
    await page.setInputFiles('[data-testid="data-file"]', EXAMPLE);
    await page.locator('[data-testid="sample-count"]').waitFor();

    const design = readDesign(EXAMPLE_DESIGN);
    const guessed = await samplesAndGroups(page);
    assert.equal(await page.textContent('[data-testid="sample-count"]'), `${design.length} samples`);
    assert.deepEqual(guessed.map((g) => g.sample).sort(), design.map((d) => d.label).sort(), "the LFQ intensity columns are the design's samples");
    // The server's detection (POST /inspect, the rules `proteo inspect` and ingest use) names the format.
    assert.match(await page.textContent('[data-testid="detected-format"]'), /^MaxQuant proteinGroups\.txt .*LFQ intensity/);

    // The guesses (H1 → H) group the samples exactly as the design's conditions do.
    const conditionOf = new Map(design.map((d) => [d.label, d.condition]));
    const guessToCondition = new Map();
    for (const { sample, group } of guessed) {
      const condition = conditionOf.get(sample);
      assert.equal(guessToCondition.get(group) ?? condition, condition, `guessed group ${group} mixes conditions`);
      guessToCondition.set(group, condition);
    }
    assert.equal(new Set(guessToCondition.values()).size, guessToCondition.size, "two guessed groups share one condition");

    // Name the groups as the design does, by typing.
    for (const { sample } of guessed) {
      await page.fill(`[data-testid="group-input"][data-sample="${sample}"]`, conditionOf.get(sample));
    }
    const conditions = [...new Set(design.map((d) => d.condition))];
    assert.equal(await page.textContent('[data-testid="group-count"]'), `${conditions.length} groups:`);
    assert.equal(await page.locator('[data-testid="group-error"]').count(), 0);

    await page.screenshot({ path: path.join(SHOTS, "page-start.png"), fullPage: true });

    await page.click('[data-testid="submit"]');
    const submitted = Date.now();
    const { outcome, seen } = await waitForOutcome(page);
    const seconds = (Date.now() - submitted) / 1000;
    if (outcome === "failed") assert.fail(`the job failed: ${await page.textContent('[data-testid="error-message"]')}`);
    console.log(`submit→results: ${seconds.toFixed(1)} s (bundled example, ${design.length} samples)`);

    // Polled progress only moves forward and ends at 100; say whether a rise below 100 was caught on screen.
    const polled = (await page.getAttribute('[data-testid="progress-bar"]', "data-history")).split(",").filter(Boolean).map(Number);
    console.log(`progress polled: ${polled.join(", ")}; seen on the bar: ${seen.join(", ")}`);
    assert.ok(polled.length >= 1, "the page polled the job at least once");
    for (let i = 1; i < polled.length; i++) assert.ok(polled[i] >= polled[i - 1], `progress went back: ${polled.join(", ")}`);
    assert.equal(polled[polled.length - 1], 100);
    // The server pauses before each stage (scripts/test-browser), so the bar must have shown the job advancing:
    // at least two different values strictly between 0 and 100, rising.
    const between = [...new Set(seen.filter((v) => v > 0 && v < 100))];
    assert.ok(between.length >= 2, `the progress bar did not move through the stages; seen: ${seen.join(", ")}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `the bar went back: ${seen.join(", ")}`);
    exampleJobId = page.url().match(/#job=([^&]+)/)?.[1] ?? null;
    assert.ok(exampleJobId, "the address names the job");

    // Summary counts.
    const stats = await page.$$eval('[data-testid="summary-stats"] .stat', (s) => Object.fromEntries(s.map((x) => [x.querySelector("dt").textContent, x.querySelector("dd").textContent])));
    assert.equal(stats["Samples"], String(design.length));
    assert.ok(Number(stats["Kept after QC"].replace(/,/g, "")) > 0, JSON.stringify(stats));
    const contrastRows = await page.locator('[data-testid="contrast-summary"] tbody tr').count();
    assert.equal(contrastRows, (conditions.length * (conditions.length - 1)) / 2, "all-pairs contrasts in the summary");

    // The report: a volcano plot (inline SVG) inside the DE section.
    const report = page.frameLocator('[data-testid="report-frame"]');
    await report.locator("#de svg").first().waitFor({ timeout: 30_000 });
    assert.ok((await report.locator("#de svg").count()) >= 1);
    for (const id of ["summary", "qc", "ftest", "heatmap", "pathway"]) assert.equal(await report.locator(`#${id}`).count(), 1, `report section #${id}`);
    // The bundled example's sample N1 (96 % missing) is flagged, in the report and on the page.
    assert.equal(await report.locator('[data-testid="sample-qc"] tr.outlier').count(), 1, "one outlier row in the report");
    assert.match(await page.textContent('[data-testid="outlier-flag"]'), /N1/);
    const openHref = await page.getAttribute('[data-testid="report-open"]', "href");
    assert.match(openHref, /report\.html$/);

    // The interactive volcano: hovering a point names its protein, clicking it opens the protein's profile with one
    // point per sample, imputed values marked.
    const point = page.locator('[data-testid="volcano-point"]').first();
    await point.waitFor({ timeout: 30_000 });
    assert.ok((await page.locator('[data-testid="volcano-point"]').count()) > 100, "the volcano shows the ranked rows");
    const protein = await point.getAttribute("data-protein");
    await point.hover();
    await page.waitForFunction((p) => document.querySelector('[data-testid="volcano-hover"]').textContent.includes(p), protein);
    await point.click();
    await page.locator('[data-testid="de-profile"] [data-testid="profile-point"]').first().waitFor();
    const profilePoints = await page.locator('[data-testid="de-profile"] [data-testid="profile-point"]').count();
    assert.equal(profilePoints, design.length, "one profile point per sample (values are imputed, so none is missing)");
    assert.match(await page.textContent('[data-testid="de-profile"]'), new RegExp(protein.split(";")[0].replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    const imputedMarks = await page.locator('[data-testid="de-profile"] [data-imputed="true"]').count();
    assert.match(await page.textContent('[data-testid="de-profile"] p'), new RegExp(`^${imputedMarks} of ${design.length} values imputed`));

    // Top hits: a first page of rows, three contrasts, and a second page by cursor.
    const deRows = page.locator('[data-testid="de-table"] tbody tr');
    await page.locator('[data-testid="de-table"] tbody td:not(.empty)').first().waitFor();
    assert.ok((await deRows.count()) >= 1, "the top-hits table has rows");
    const options = await page.$$eval('[data-testid="de-contrast"] option', (o) => o.map((x) => x.value));
    assert.equal(options.length, contrastRows);
    const headers = await page.$$eval('[data-testid="de-table"] thead th', (h) => h.map((x) => x.textContent));
    assert.ok(headers.includes("Protein") && headers.includes("log2 FC"), headers.join(", "));
    const firstPage = await page.textContent('[data-testid="de-table"] tbody');
    if (!(await page.isDisabled('[data-testid="de-next"]'))) {
      await page.click('[data-testid="de-next"]');
      await page.waitForFunction(() => document.getElementById("de-status").textContent.startsWith("Rows 21"));
      assert.notEqual(await page.textContent('[data-testid="de-table"] tbody'), firstPage);
      await page.click('[data-testid="de-prev"]');
      await page.waitForFunction(() => document.getElementById("de-status").textContent.startsWith("Rows 1–"));
    }
    await page.selectOption('[data-testid="de-contrast"]', options[options.length - 1]);
    await page.waitForFunction((first) => document.querySelector('[data-testid="de-table"] tbody').textContent !== first, firstPage);
    await page.locator('[data-testid="pw-table"] tbody tr').first().waitFor();
    // CAMERA runs by default (with ORA): its card lists each contrast's top gene sets, paged through the API.
    await page.locator('[data-testid="camera-table"] tbody td:not(.empty)').first().waitFor({ timeout: 30_000 });
    const cameraHeaders = await page.$$eval('[data-testid="camera-table"] thead th', (h) => h.map((x) => x.textContent));
    for (const h of ["Direction", "Term", "Inter-gene cor.", "p-value"]) assert.ok(cameraHeaders.includes(h), cameraHeaders.join(", "));
    assert.equal((await page.$$eval('[data-testid="camera-contrast"] option', (o) => o.length)), contrastRows, "CAMERA has every contrast");
    assert.ok(await page.isHidden('[data-testid="gsea-card"]'), "no GSEA card when the job did not run GSEA");

    // Downloads: every result, and a Parquet file really downloads.
    const links = await page.$$eval('[data-testid="downloads"] a', (a) => a.map((x) => ({ key: x.dataset.key, href: x.href })));
    const keys = links.map((l) => l.key);
    for (const k of ["report.html", "summary.json", "de/results.parquet", "qc/matrix.parquet"]) assert.ok(keys.includes(k), `download ${k} in ${keys.join(", ")}`);
    const parquet = await context.request.get(links.find((l) => l.key === "de/results.parquet").href);
    assert.equal(parquet.status(), 200);
    assert.equal((await parquet.body()).subarray(0, 4).toString(), "PAR1");

    await page.click('#report-nav button[data-section="de"]');
    await page.screenshot({ path: path.join(SHOTS, "page-results.png"), fullPage: true });
    // What a user sees without scrolling (the README's picture of the page: scripts/screenshots).
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, "page-results-top.png") });
    await page.locator('[data-testid="report-frame"]').screenshot({ path: path.join(SHOTS, "report.png") });
  });
});

test("B: a malformed file ends with the server's sentence and a way to start over", { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "proteo-browser-"));
  const file = path.join(dir, "proteinGroups_malformed.txt");
  fs.writeFileSync(file,
    "Protein IDs\tGene names\tLFQ intensity A_1\tLFQ intensity A_2\tLFQ intensity B_1\tLFQ intensity B_2\n" +
    "P12345\tALB\t1000\t1\t2\t3\textra\n");
  try {
    await scenario("malformed", DESKTOP, async (page) => {
      await page.goto(`${BASE}/`);
      await page.setInputFiles('[data-testid="data-file"]', file);
      await page.locator('[data-testid="sample-count"]').waitFor();
      assert.equal(await page.textContent('[data-testid="sample-count"]'), "4 samples");
      assert.deepEqual((await samplesAndGroups(page)).map((g) => g.group), ["A", "A", "B", "B"]);

      // Fewer than 2 groups is refused in the page, with the reason.
      for (const input of await page.$$('[data-testid="group-input"]')) await input.fill("A");
      assert.match(await page.textContent('[data-testid="group-error"]'), /at least 2/);
      await page.click('[data-testid="submit"]');
      assert.match(await page.textContent('[data-testid="form-error"]'), /at least 2/);
      assert.ok(await page.isVisible('[data-testid="start-view"]'));
      await page.fill('[data-testid="group-input"][data-sample="B_1"]', "B");
      await page.fill('[data-testid="group-input"][data-sample="B_2"]', "B");

      await page.click('[data-testid="submit"]');
      const { outcome } = await waitForOutcome(page);
      assert.equal(outcome, "failed", "a malformed file ends in the failure view");
      const message = await page.textContent('[data-testid="error-message"]');
      console.log(`failure shown: ${message}`);
      assert.match(message, /line 2/);
      assert.match(message, /fields/);
      await page.screenshot({ path: path.join(SHOTS, "page-failed.png"), fullPage: true });

      await page.click('[data-testid="start-over"]');
      assert.ok(await page.isVisible('[data-testid="start-view"]'));
      assert.ok(await page.isHidden('[data-testid="failed-view"]'));
      assert.equal(await page.inputValue('[data-testid="data-file"]'), "");
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("D: the page names each tool's format before upload, and a wrong file with what to upload", { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "proteo-browser-"));
  const diann = path.join(dir, "report.pg_matrix.tsv");
  fs.writeFileSync(diann,
    "Protein.Group\tProtein.Ids\tProtein.Names\tGenes\tFirst.Protein.Description\t/data/runs/ctrl_1.mzML\t/data/runs/ctrl_2.mzML\t/data/runs/treat_1.mzML\n" +
    "P1\tP1\tX_HUMAN\tX\t\t1\t2\t3\n");
  const peptides = path.join(dir, "combined_peptide.tsv");
  fs.writeFileSync(peptides, "Peptide Sequence\tPrev AA\tNext AA\tProtein\tProtein ID\tGene\tA Intensity\nPEPTIDE\tK\tR\tsp|P1|X\tP1\tX\t5\n");
  try {
    await scenario("detection", DESKTOP, async (page) => {
      await page.goto(`${BASE}/`);
      await page.setInputFiles('[data-testid="data-file"]', diann);
      await page.locator('[data-testid="sample-count"]').waitFor();
      assert.match(await page.textContent('[data-testid="detected-format"]'), /^DIA-NN report\.pg_matrix\.tsv/);
      assert.deepEqual((await samplesAndGroups(page)).map((g) => g.sample), ["ctrl_1", "ctrl_2", "treat_1"], "run paths and extensions removed");
      assert.deepEqual((await samplesAndGroups(page)).map((g) => g.group), ["ctrl", "ctrl", "treat"]);

      await page.setInputFiles('[data-testid="data-file"]', peptides);
      await page.locator('[data-testid="file-error"]').waitFor();
      const refusal = await page.textContent('[data-testid="file-error"]');
      console.log(`refusal shown: ${refusal}`);
      assert.match(refusal, /combined_peptide\.tsv looks like a FragPipe combined_peptide\.tsv/);
      assert.match(refusal, /upload combined_protein\.tsv/);
      assert.ok(await page.isHidden('[data-testid="submit"]'));
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("E: a DIA-NN report.tsv is quantified: runs listed from its Run column, the job succeeds with GSEA and CAMERA", { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "proteo-browser-"));
  const file = path.join(dir, "report.tsv");
  const runs = writeDiannReport(file);
  try {
    await scenario("diann-report", DESKTOP, async (page) => {
      await page.goto(`${BASE}/`);
      await page.setInputFiles('[data-testid="data-file"]', file);
      await page.locator('[data-testid="sample-count"]').waitFor();
      assert.match(await page.textContent('[data-testid="detected-format"]'), /^DIA-NN report\.tsv .*precursors, quantified by MaxLFQ/);
      assert.match(await page.textContent('[data-testid="file-note"]'), /MaxLFQ/);
      const listed = await samplesAndGroups(page);
      assert.deepEqual(listed.map((g) => g.sample), runs, "the runs of the Run column, in order of first appearance");
      assert.deepEqual(listed.map((g) => g.group), ["ctrl", "ctrl", "ctrl", "treat", "treat", "treat"]);
      await page.click('[data-testid="options"] summary');
      await page.check('[data-testid="opt-gsea"]');
      await page.click('[data-testid="submit"]');
      const { outcome } = await waitForOutcome(page);
      if (outcome === "failed") assert.fail(`the job failed: ${await page.textContent('[data-testid="error-message"]')}`);
      const stats = await page.$$eval('[data-testid="summary-stats"] .stat', (s) => Object.fromEntries(s.map((x) => [x.querySelector("dt").textContent, x.querySelector("dd").textContent])));
      assert.equal(stats["Samples"], "6");
      assert.ok(Number(stats["Proteins read"].replace(/,/g, "")) > 200, JSON.stringify(stats));
      await page.locator('[data-testid="de-table"] tbody td:not(.empty)').first().waitFor();
      assert.deepEqual(await page.$$eval('[data-testid="de-contrast"] option', (o) => o.map((x) => x.value)), ["treat-ctrl"]);
      // GSEA (ticked) and CAMERA (default) list the contrast's top gene sets.
      for (const method of ["gsea", "camera"]) {
        await page.locator(`[data-testid="${method}-table"] tbody td:not(.empty)`).first().waitFor({ timeout: 30_000 });
      }
      const gseaHeaders = await page.$$eval('[data-testid="gsea-table"] thead th', (h) => h.map((x) => x.textContent));
      for (const h of ["Term", "ES", "NES", "p-value"]) assert.ok(gseaHeaders.includes(h), gseaHeaders.join(", "));
      await page.screenshot({ path: path.join(SHOTS, "page-diann-report.png"), fullPage: true });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("F: a DIA-NN report.parquet asks for the design first, and its runs come from it", { timeout: SCENARIO_TIMEOUT_MS, skip: !fs.existsSync(SHARED_PARQUET) && "../shared/data/formats (the real report.parquet) is not beside this clone" }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "proteo-browser-"));
  const design = path.join(dir, "design.tsv");
  fs.writeFileSync(design, "sample\tgroup\nrun_A1\tA\nrun_A2\tA\nrun_B1\tB\nrun_B2\tB\n");
  try {
    await scenario("diann-parquet", DESKTOP, async (page) => {
      await page.goto(`${BASE}/`);
      await page.setInputFiles('[data-testid="data-file"]', SHARED_PARQUET);
      await page.locator('[data-testid="design-needed"]').waitFor({ state: "visible" });
      assert.match(await page.textContent('[data-testid="design-needed"]'), /^Load the design file first: the runs of a Parquet report cannot be read in the browser/);
      assert.match(await page.textContent('[data-testid="detected-format"]'), /^DIA-NN report\.parquet · precursors, quantified by MaxLFQ/);
      assert.ok(await page.isHidden('[data-testid="submit"]'), "no submit before the design names the runs");
      await page.setInputFiles('[data-testid="design-file"]', design);
      await page.waitForFunction(() => /2 groups/.test(document.querySelector('[data-testid="group-count"]')?.textContent || ""));
      assert.deepEqual(await samplesAndGroups(page), [
        { sample: "run_A1", group: "A" }, { sample: "run_A2", group: "A" }, { sample: "run_B1", group: "B" }, { sample: "run_B2", group: "B" }]);
      assert.equal(await page.textContent('[data-testid="sample-count"]'), "4 samples");
      assert.ok(await page.isHidden('[data-testid="design-needed"]'));
      assert.ok(await page.isVisible('[data-testid="submit"]'));

      // The real design: the report's 61 runs as `proteo inspect` (the quant path) names them, in two groups; the
      // job quantifies the report in ingest and succeeds.
      const proteo = path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, "target"), "debug/proteo");
      const runs = JSON.parse(execFileSync(proteo, ["inspect", "--json", SHARED_PARQUET], { encoding: "utf8" })).samples;
      assert.equal(runs.length, 61);
      const realDesign = path.join(dir, "design_61_runs.tsv");
      fs.writeFileSync(realDesign, ["sample\tgroup", ...runs.map((r, i) => `${r}\t${i % 2 ? "B" : "A"}`)].join("\n") + "\n");
      await page.setInputFiles('[data-testid="design-file"]', realDesign);
      await page.waitForFunction(() => document.getElementById("sample-count").textContent === "61 samples");
      await page.click('[data-testid="submit"]');
      const { outcome } = await waitForOutcome(page);
      if (outcome === "failed") assert.fail(`the job failed: ${await page.textContent('[data-testid="error-message"]')}`);
      const stats = await page.$$eval('[data-testid="summary-stats"] .stat', (s) => Object.fromEntries(s.map((x) => [x.querySelector("dt").textContent, x.querySelector("dd").textContent])));
      assert.equal(stats["Samples"], "61");
      assert.equal(stats["Proteins read"], "15", "the top20 report's 127 precursors in 15 protein groups");
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("C: phone width has no horizontal page scrolling", { timeout: SCENARIO_TIMEOUT_MS }, async () => {
  await scenario("phone", PHONE, async (page) => {
    await page.goto(`${BASE}/`);
    let w = await noHorizontalOverflow(page);
    assert.ok(w.scrollWidth <= PHONE.width + 1, `start screen is ${w.scrollWidth} px wide at ${PHONE.width} px`);

    await page.setInputFiles('[data-testid="data-file"]', EXAMPLE);
    await page.locator('[data-testid="sample-count"]').waitFor();
    await page.click('[data-testid="options"] summary');
    w = await noHorizontalOverflow(page);
    assert.ok(w.scrollWidth <= PHONE.width + 1, `start screen with samples and options is ${w.scrollWidth} px wide`);
    await page.screenshot({ path: path.join(SHOTS, "page-phone.png"), fullPage: true });

    if (exampleJobId) {
      await page.goto("about:blank");
      await page.goto(`${BASE}/#job=${exampleJobId}`);
      await page.locator('[data-testid="results-view"]').waitFor({ timeout: 60_000 });
      await page.locator('[data-testid="de-table"] tbody td:not(.empty)').first().waitFor();
      w = await noHorizontalOverflow(page);
      assert.ok(w.scrollWidth <= PHONE.width + 1, `results are ${w.scrollWidth} px wide at ${PHONE.width} px`);
      await page.screenshot({ path: path.join(SHOTS, "page-phone-results.png"), fullPage: true });
    }
  }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
});

test("D: a server with a token: the page asks for it, then submits, polls and downloads with it", { timeout: SCENARIO_TIMEOUT_MS, skip: !TOKEN_BASE && "PROTEO_TOKEN_URL is not set" }, async () => {
  await scenario("token", DESKTOP, async (page) => {
    await page.goto(`${TOKEN_BASE}/#job=0b1e7c2a-5f8e-4b7a-9a51-2e0f3c4d5e6f`);
    await page.locator('[data-testid="sign-in"]').waitFor({ state: "visible" });
    assert.match(await page.textContent("#sign-in-message"), /needs you to sign in/);
    await page.fill('[data-testid="token"]', "not-the-token-but-long-enough");
    await page.click('[data-testid="sign-in-submit"]');
    await page.waitForFunction(() => /did not accept/.test(document.getElementById("sign-in-message").textContent));
    assert.ok(await page.isVisible('[data-testid="sign-in"]'), "a wrong token keeps the sign-in card");
    await page.fill('[data-testid="token"]', TOKEN);
    await page.click('[data-testid="sign-in-submit"]');
    await page.locator('[data-testid="sign-in"]').waitFor({ state: "hidden" });
    assert.equal(await page.textContent('[data-testid="sign-in-state"]'), "Signed in");

    await page.goto(`${TOKEN_BASE}/`);
    await page.setInputFiles('[data-testid="data-file"]', EXAMPLE);
    await page.locator('[data-testid="sample-count"]').waitFor();
    await page.setInputFiles('[data-testid="design-file"]', EXAMPLE_DESIGN);
    await page.waitForFunction(() => /3 groups/.test(document.querySelector('[data-testid="group-count"]')?.textContent || ""));
    await page.click('[data-testid="submit"]');
    const { outcome } = await waitForOutcome(page);
    if (outcome === "failed") assert.fail(`the job failed: ${await page.textContent('[data-testid="error-message"]')}`);
    assert.ok(!(await page.isVisible('[data-testid="sign-in"]')), "no request went out without the token");

    // Links cannot carry the token: the report and downloads open the signed URLs the API hands out for them.
    await page.waitForFunction(() => /signature=/.test(document.querySelector('[data-testid="report-frame"]').src));
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click('[data-testid="downloads"] a[data-key="de/results.parquet"]'),
    ]);
    const file = await download.path();
    assert.equal(fs.readFileSync(file).subarray(0, 4).toString(), "PAR1");
    await page.screenshot({ path: path.join(SHOTS, "page-token.png"), fullPage: true });
  });
});
