// The README's screenshots of report.html: opens a report from disk (file://, as a user would) in headless Chromium
// and saves the QC section and the first volcano plot. scripts/screenshots runs `proteo run` on the bundled example
// and calls this; the page screenshot comes from the browser test (tests/browser/e2e.mjs).
//   node tests/browser/screenshots.mjs <report.html> <out dir>
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const [report, outDir] = process.argv.slice(2);
if (!report || !outDir) {
  console.error("usage: node tests/browser/screenshots.mjs <report.html> <out dir>");
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(pathToFileURL(path.resolve(report)).href);
  // The report's header sticks to the top while scrolling; in a still picture it would cover the chart below it.
  await page.addStyleTag({ content: "header{position:static!important}" });
  const shoot = async (selector, file, maxHeight) => {
    const el = page.locator(selector).first();
    await el.scrollIntoViewIfNeeded();
    const box = await el.boundingBox();
    if (!box) throw new Error(`${selector} is not visible in ${report}`);
    const scroll = await page.evaluate(() => window.scrollY);
    const clip = { x: box.x, y: box.y + scroll, width: box.width, height: Math.min(box.height, maxHeight) };
    await page.screenshot({ path: path.join(outDir, file), clip, fullPage: true });
    console.log(`${file}: ${Math.round(clip.width)}×${Math.round(clip.height)} from ${selector}`);
  };
  await shoot("section#qc", "report-qc.png", 900);
  // The contrast with the most significant proteins: its volcano has coloured, labelled hits.
  await page.evaluate(() => {
    const count = (d) => Number((d.querySelector("summary")?.textContent.match(/(\d+) significant/) || [0, 0])[1]);
    const all = [...document.querySelectorAll("section#de details")];
    const best = all.reduce((a, b) => (count(b) > count(a) ? b : a), all[0]);
    if (best) Object.assign(best, { id: "most-significant", open: true });
  });
  await shoot("details#most-significant", "report-volcano.png", 520);
} finally {
  await browser.close();
}
