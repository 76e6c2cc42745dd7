// Render a Markdown report the way a GitHub comment shows it, with its Mermaid graphs.
//
//   node render.mjs OUT_DIR REPORT.md...      (run by .ci/render-markdown.sh, which installs
//                                             the pinned npm packages beside this script)
//
// For each REPORT.md, into OUT_DIR/<name>/:
//   mermaid-N.mmd, mermaid-N.png  every ```mermaid block, rendered by the real `mmdc`
//                                 (@mermaid-js/mermaid-cli); a syntax error fails the run;
//   report.html                   the Markdown through `marked` (GitHub-flavoured: tables, task
//                                 lists, raw <details>), styled with github-markdown-css, each
//                                 Mermaid block replaced by its PNG, `diff` fences coloured;
//   report.png                    headless Chromium's full-page screenshot as a reviewer first
//                                 sees the comment (<details> collapsed);
//   report-open.png               the same with every <details> opened.
// Exit 0 when everything rendered, 1 on any Mermaid or rendering error (all reports are tried).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Marked } from "marked";
import puppeteer from "puppeteer";

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const MMDC = path.join(here, "node_modules", ".bin", "mmdc");
const CSS = path.join(here, "node_modules", "github-markdown-css", "github-markdown-light.css");

const [outDir, ...reports] = process.argv.slice(2);
if (!outDir || reports.length === 0) {
  console.error("usage: node render.mjs OUT_DIR REPORT.md...");
  process.exit(2);
}

const escapeHtml = (s) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

// A name for each report's directory: tests/cmd/diff-x/stdout -> diff-x-stdout.
function slug(file, taken) {
  const parts = path.resolve(file).split(path.sep).filter(Boolean);
  let base = parts.slice(-2).join("-").replace(/\.md$/i, "").replace(/[^A-Za-z0-9._-]+/g, "_");
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}

const puppeteerConfig = path.join(outDir, "puppeteer.json");
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(
  puppeteerConfig,
  JSON.stringify({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] }),
);

// Render every ```mermaid block with mmdc; returns the PNG file names, or throws.
function renderMermaid(blocks, dir) {
  return blocks.map((text, i) => {
    const mmd = path.join(dir, `mermaid-${i + 1}.mmd`);
    const png = path.join(dir, `mermaid-${i + 1}.png`);
    fs.writeFileSync(mmd, text);
    try {
      execFileSync(
        MMDC,
        ["-p", puppeteerConfig, "-i", mmd, "-o", png, "-b", "white", "-q"],
        { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 },
      );
    } catch (e) {
      const why = (`${e.stderr || ""}${e.stdout || ""}`.trim() || e.message).split("\n").slice(0, 6).join("\n");
      throw new Error(`Mermaid block ${i + 1} (${path.basename(mmd)}) does not render:\n${why}`);
    }
    if (!fs.existsSync(png) || fs.statSync(png).size === 0) {
      throw new Error(`Mermaid block ${i + 1}: mmdc wrote no image`);
    }
    return path.basename(png);
  });
}

function toHtml(markdown, images, title) {
  let n = 0;
  const marked = new Marked({ gfm: true, breaks: false });
  marked.use({
    renderer: {
      code({ text, lang }) {
        const language = (lang || "").trim().split(/\s+/)[0];
        if (language === "mermaid") {
          const img = images[n++];
          return `<div class="mermaid-diagram"><img src="${img}" alt="Mermaid diagram"></div>\n`;
        }
        if (language === "diff") {
          // GitHub colours diff fences: additions green, removals red, hunks blue.
          const lines = text.split("\n").map((line) => {
            const cls = line.startsWith("+++") || line.startsWith("---") ? "meta"
              : line.startsWith("+") ? "add"
              : line.startsWith("-") ? "del"
              : line.startsWith("@@") ? "hunk"
              : "";
            return cls ? `<span class="${cls}">${escapeHtml(line)}</span>` : escapeHtml(line);
          });
          return `<pre class="diff"><code>${lines.join("\n")}</code></pre>\n`;
        }
        return false; // marked's own rendering
      },
    },
  });
  const body = marked.parse(markdown);
  const css = fs.readFileSync(CSS, "utf8");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${css}</style>
<style>
  body { margin: 0; background: #fff; }
  .comment { box-sizing: border-box; width: 100%; max-width: 900px; margin: 16px;
             border: 1px solid #d0d7de; border-radius: 6px; }
  .comment-header { background: #f6f8fa; border-bottom: 1px solid #d0d7de; padding: 8px 16px;
                    font: 14px -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif;
                    color: #59636e; }
  .markdown-body { padding: 16px; }
  .mermaid-diagram { overflow-x: auto; }
  .mermaid-diagram img { max-width: 100%; }
  pre.diff .add { color: #116329; background: #dafbe1; display: inline-block; width: 100%; }
  pre.diff .del { color: #82071e; background: #ffebe9; display: inline-block; width: 100%; }
  pre.diff .hunk { color: #0550ae; }
  pre.diff .meta { color: #59636e; font-weight: 600; }
</style></head>
<body><div class="comment"><div class="comment-header">github-actions <b>bot</b> commented</div>
<article class="markdown-body">
${body}
</article></div></body></html>
`;
}

const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  args: ["--no-sandbox", "--disable-gpu"],
  headless: true,
});
const failures = [];
const taken = new Set();
try {
  for (const report of reports) {
    const name = slug(report, taken);
    const dir = path.join(outDir, name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    try {
      const markdown = fs.readFileSync(report, "utf8");
      // The blocks marked will see as ```mermaid fences, in order.
      const blocks = [];
      const walker = new Marked({ gfm: true });
      walker.walkTokens(walker.lexer(markdown), (t) => {
        if (t.type === "code" && (t.lang || "").trim().split(/\s+/)[0] === "mermaid") {
          blocks.push(t.text);
        }
      });
      const images = renderMermaid(blocks, dir);
      const html = toHtml(markdown, images, report);
      if (html.includes("language-mermaid")) throw new Error("a Mermaid block was left unrendered");
      const htmlFile = path.join(dir, "report.html");
      fs.writeFileSync(htmlFile, html);

      const page = await browser.newPage();
      await page.setViewport({ width: 940, height: 600, deviceScaleFactor: 1 });
      await page.goto(pathToFileURL(htmlFile).href, { waitUntil: "load" });
      const broken = await page.$$eval("img", (imgs) =>
        imgs.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.src),
      );
      if (broken.length) throw new Error(`images that did not load: ${broken.join(", ")}`);
      // Size the viewport to the whole page before each shot (a full-page screenshot taken
      // right after opening <details> can keep the old height).
      const shoot = async (file) => {
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
        const h = await page.evaluate(() => document.documentElement.scrollHeight);
        await page.setViewport({ width: 940, height: h, deviceScaleFactor: 1 });
        await page.screenshot({ path: path.join(dir, file) });
        return h;
      };
      await shoot("report.png");
      await page.$$eval("details", (ds) => ds.forEach((d) => (d.open = true)));
      const height = await shoot("report-open.png");
      await page.close();
      console.log(
        `ok: ${report}: ${blocks.length} Mermaid block(s), ${markdown.length} characters, ` +
          `page ${height}px -> ${path.relative(process.cwd(), dir) || dir}/report.png`,
      );
    } catch (e) {
      console.error(`FAILED: ${report}: ${e.message}`);
      failures.push(report);
    }
  }
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(`render-markdown: ${failures.length} of ${reports.length} report(s) failed`);
  process.exit(1);
}
console.log(`render-markdown: ${reports.length} report(s) rendered into ${outDir}`);
