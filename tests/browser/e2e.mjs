// The web page end to end in headless Chromium against a running `proteo serve` (PROTEO_URL); scripts/test-browser
// starts the server and runs this. Screenshots go to SCREENSHOT_DIR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
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
    "P12345\tALB\t1000\n");
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
