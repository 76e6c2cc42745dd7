// Runs the two documented workflows' own code offline, as GitHub would, against a real nbgen:
//
//   node simulate.mjs ROOT NBGEN OUT_DIR
//
// 1. A scratch repository (ROOT's environments/, templates/, schemas/, out/) gets a pull request
//    (prod: a new image and a new member, re-rendered) and GitHub's test merge commit for it
//    (parents: the base branch, then the pull request's head), checked out as actions/checkout
//    leaves it. The `run:` scripts of docs/nbgen-review.yml's diff and check steps run there with
//    `bash -e`, as on a runner. A second pull request also breaks dev's spec: every environment
//    must still be reported, and the job must fail.
// 2. The `script:` of docs/nbgen-review-comment.yml runs as actions/github-script runs it,
//    against an in-memory GitHub (pull requests, comments) and the reports from 1: one comment
//    per pull request, edited in place; a forged or stale pull request number, someone else's
//    comment with the marker, hostile file names and symbolic links, and reports longer than
//    GitHub's 65,536 characters are each tried.
// Writes the comment bodies to OUT_DIR/*.md. Exit 0 when every expectation holds.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import yaml from "js-yaml";

const [ROOT, NBGEN, OUT] = process.argv.slice(2);
if (!ROOT || !NBGEN || !OUT) {
  console.error("usage: node simulate.mjs ROOT NBGEN OUT_DIR");
  process.exit(2);
}
fs.mkdirSync(OUT, { recursive: true });
const nbgen = path.resolve(NBGEN);
let failures = 0;
function expect(ok, what) {
  console.log(`${ok ? "ok" : "FAILED"}: ${what}`);
  if (!ok) failures++;
}

const review = yaml.load(fs.readFileSync(path.join(ROOT, "docs/nbgen-review.yml"), "utf8"));
const commentWf = yaml.load(fs.readFileSync(path.join(ROOT, "docs/nbgen-review-comment.yml"), "utf8"));
const steps = review.jobs.nbgen.steps;
const diffStep = steps.find((s) => s.id === "diff");
const checkStep = steps.find((s) => (s.name || "").startsWith("Check that out/"));
const installStep = steps.find((s) => (s.name || "").startsWith("Install nbgen"));
const script = commentWf.jobs.comment.steps.find((s) => (s.uses || "").startsWith("actions/github-script@"))
  .with.script;

const git = (cwd, ...args) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();

// A repository with a base branch, a pull request branch and GitHub's merge commit checked out.
function pullRequest(name, edit) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nbgen-wf-${name}-`));
  for (const d of ["environments", "templates", "schemas", "out"]) {
    if (fs.existsSync(path.join(ROOT, d))) fs.cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  }
  git(dir, "init", "-q", "-b", "main");
  git(dir, "-c", "user.name=ci", "-c", "user.email=ci@example.com", "add", "-A");
  git(dir, "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-q", "-m", "base");
  git(dir, "checkout", "-q", "-b", "pr");
  edit(dir);
  git(dir, "add", "-A");
  git(dir, "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-q", "-m", "pr");
  const head = git(dir, "rev-parse", "HEAD");
  git(dir, "checkout", "-q", "main");
  const base = git(dir, "rev-parse", "HEAD");
  git(dir, "-c", "user.name=ci", "-c", "user.email=ci@example.com", "merge", "-q", "--no-ff", "--no-edit", "pr");
  git(dir, "checkout", "-q", "--detach", "HEAD");
  return { dir, head, base };
}
function editProd(dir) {
  const f = path.join(dir, "environments/prod.yaml");
  let s = fs.readFileSync(f, "utf8");
  s = s.replace("ml/infer:2.3.0", "ml/infer:2.4.0").replace("members: [carol@example.com]", "members: [carol@example.com, erin@example.com]");
  fs.writeFileSync(f, s);
  for (const env of ["prod", "staging"]) execFileSync(nbgen, ["render", env], { cwd: dir, stdio: "ignore" });
}
function runStep(step, repo, env = {}) {
  const r = spawnSync("bash", ["-e", "-c", step.run], {
    cwd: repo.dir,
    encoding: "utf8",
    env: {
      ...process.env,
      PATH: `${path.dirname(nbgen)}:${process.env.PATH}`,
      PR_NUMBER: "7",
      BASE_SHA: repo.base,
      GITHUB_STEP_SUMMARY: path.join(repo.dir, "summary.md"),
      NO_COLOR: "1",
      ...env,
    },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}
const codes = (repo) =>
  Object.fromEntries(fs.readdirSync(path.join(repo.dir, "nbgen-review/envs")).filter((f) => f.endsWith(".code"))
    .map((f) => [f.slice(0, -5), fs.readFileSync(path.join(repo.dir, "nbgen-review/envs", f), "utf8").trim()]));

// --- 1. the pull request job --------------------------------------------------------------------
expect(diffStep.if === "github.event_name == 'pull_request'", "the diff step runs for pull requests only");
expect(checkStep.if === "${{ !cancelled() }}", "the check step runs even when the diff step failed");
const guard = runStep(installStep, { dir: os.tmpdir(), base: "" }, { NBGEN_REV: "0".repeat(40) });
expect(guard.code === 1 && /Set NBGEN_REV/.test(guard.out), "the install step refuses the placeholder NBGEN_REV");

const good = pullRequest("good", editProd);
let r = runStep(diffStep, good);
expect(r.code === 0, `diff step passes on a valid pull request (exit ${r.code})`);
// Every environment of the repository is reported; only prod (edited) and staging (built on it)
// change.
const expected = (overrides) => {
  const out = {};
  for (const f of fs.readdirSync(path.join(ROOT, "environments")).sort()) {
    if (f.endsWith(".yaml")) out[f.slice(0, -5)] = "0";
  }
  return JSON.stringify({ ...out, ...overrides });
};
expect(JSON.stringify(codes(good)) === expected({ prod: "1", staging: "1" }),
  `each environment's exit code is recorded: ${JSON.stringify(codes(good))}`);
expect(fs.readFileSync(path.join(good.dir, "nbgen-review/pull-request"), "utf8").trim() === "7", "the artifact carries the pull request number");
expect(fs.existsSync(path.join(good.dir, "nbgen-review/envs/prod.stat.md")), "a --stat report is made for a changed environment");
r = runStep(checkStep, good);
expect(r.code === 0, `check step passes when out/ was re-rendered (exit ${r.code})`);
expect(fs.readFileSync(path.join(good.dir, "summary.md"), "utf8").includes("<!-- nbgen-check -->"), "the check report goes to the job summary");

const bad = pullRequest("bad", (dir) => {
  editProd(dir);
  const f = path.join(dir, "environments/dev.yaml");
  fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace("kind: Environment", "kind: Environmnt"));
});
r = runStep(diffStep, bad);
expect(r.code === 1, `diff step fails when a spec is invalid (exit ${r.code})`);
expect(JSON.stringify(codes(bad)) === expected({ dev: "2", prod: "1", staging: "1" }),
  `every environment is still reported: ${JSON.stringify(codes(bad))}`);
expect(/Environmnt/.test(fs.readFileSync(path.join(bad.dir, "nbgen-review/envs/dev.err"), "utf8")), "the invalid spec's errors are kept");
r = runStep(checkStep, bad);
expect(r.code === 2, `check step fails on the invalid spec (exit ${r.code})`);

// --- 2. the comment workflow ----------------------------------------------------------------------
const MARKER = "<!-- nbgen-review -->";
function fakeGitHub(prs, comments) {
  let next = 1000;
  const log = [];
  const rest = {
    pulls: {
      get: async ({ pull_number }) => {
        if (!prs[pull_number]) throw Object.assign(new Error("Not Found"), { status: 404 });
        return { data: prs[pull_number] };
      },
    },
    issues: {
      listComments: async ({ issue_number }) => ({ data: comments.filter((c) => c.issue === issue_number) }),
      createComment: async ({ issue_number, body }) => {
        if (body.length > 65536) throw Object.assign(new Error("body is too long"), { status: 422 });
        const c = { id: next++, issue: issue_number, body, user: { login: "github-actions[bot]" }, html_url: `https://example.invalid/c/${next}` };
        comments.push(c);
        log.push(["create", issue_number]);
        return { data: c };
      },
      updateComment: async ({ comment_id, body }) => {
        if (body.length > 65536) throw Object.assign(new Error("body is too long"), { status: 422 });
        const c = comments.find((x) => x.id === comment_id);
        if (!c) throw Object.assign(new Error("Not Found"), { status: 404 });
        c.body = body;
        log.push(["update", comment_id]);
        return { data: c };
      },
    },
  };
  return { rest, paginate: async (fn, params) => (await fn(params)).data, log };
}
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const commentScript = new AsyncFunction("require", "github", "context", "core", script);
async function comment(artifactDir, { prs, comments, run }) {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "nbgen-wf-runner-"));
  fs.cpSync(artifactDir, path.join(temp, "nbgen-review"), { recursive: true, verbatimSymlinks: true });
  const github = fakeGitHub(prs, comments);
  const result = { failed: null, notices: [] };
  const core = { setFailed: (m) => (result.failed = m), notice: (m) => result.notices.push(m), info: () => {} };
  const context = { repo: { owner: "acme", repo: "gitops" }, payload: { workflow_run: run } };
  const saved = process.env.RUNNER_TEMP;
  process.env.RUNNER_TEMP = temp;
  try {
    await commentScript(createRequire(import.meta.url), github, context, core);
  } finally {
    process.env.RUNNER_TEMP = saved;
  }
  return { ...result, log: github.log };
}
const fork = { id: 2, full_name: "someone/gitops" };
const runFor = (head, extra = {}) => ({
  id: 99, event: "pull_request", head_sha: head, head_repository: fork, pull_requests: [],
  html_url: "https://example.invalid/acme/gitops/actions/runs/99", ...extra,
});
const prFor = (head, repo = fork) => ({ number: 7, head: { sha: head, repo } });

{
  const comments = [{ id: 1, issue: 7, body: `${MARKER}\nnot the bot's`, user: { login: "mallory" } }];
  const prs = { 7: prFor(good.head) };
  let c = await comment(path.join(good.dir, "nbgen-review"), { prs, comments, run: runFor(good.head) });
  const mine = comments.filter((x) => x.user.login === "github-actions[bot]");
  expect(!c.failed && mine.length === 1, `a fork's pull request gets one comment (${c.failed || "ok"})`);
  expect(comments[0].body === `${MARKER}\nnot the bot's`, "someone else's comment with the marker is left alone");
  const body = mine[0]?.body || "";
  expect(body.startsWith(MARKER), "the comment starts with the hidden marker");
  expect(body.includes("<!-- nbgen-diff:prod -->") && body.includes("<!-- nbgen-diff:staging -->"), "prod's and staging's reports are in it");
  expect(body.includes("No change to out/ for `dev`"), "unchanged environments are listed");
  fs.writeFileSync(path.join(OUT, "comment-valid.md"), body);

  // A later push: the same pull request, a new head; the comment is edited, not duplicated.
  prs[7] = prFor(bad.head);
  c = await comment(path.join(bad.dir, "nbgen-review"), { prs, comments, run: runFor(bad.head) });
  const after = comments.filter((x) => x.user.login === "github-actions[bot]");
  expect(!c.failed && after.length === 1 && c.log.length === 1 && c.log[0][0] === "update", "a later push edits the same comment");
  const body2 = after[0]?.body || "";
  expect(/`dev`: invalid spec/.test(body2) && body2.includes("Environmnt"), "the invalid environment is reported with its errors");
  expect(body2.includes("<!-- nbgen-diff:prod -->"), "the other environments are still reported");
  expect(body2.includes("<!-- nbgen-check -->"), "the failed check is reported");
  fs.writeFileSync(path.join(OUT, "comment-invalid.md"), body2);

  // The older run finishing late (its head is no longer the pull request's): no edit.
  c = await comment(path.join(good.dir, "nbgen-review"), { prs, comments, run: runFor(good.head) });
  expect(c.log.length === 0 && !c.failed && c.notices.length === 1, "a stale run does not overwrite a newer comment");
}

// Forged pull request numbers.
{
  const comments = [];
  const prs = { 7: prFor(good.head), 8: { number: 8, head: { sha: "f".repeat(40), repo: { id: 3 } } } };
  const forged = fs.mkdtempSync(path.join(os.tmpdir(), "nbgen-wf-forged-"));
  fs.cpSync(path.join(good.dir, "nbgen-review"), forged, { recursive: true });
  fs.writeFileSync(path.join(forged, "pull-request"), "8\n");
  let c = await comment(forged, { prs, comments, run: runFor(good.head) });
  expect(c.failed && comments.length === 0, `another repository's pull request number is refused (${c.failed})`);
  prs[8] = { number: 8, head: { sha: "f".repeat(40), repo: fork } };
  c = await comment(forged, { prs, comments, run: runFor(good.head) });
  expect(!c.failed && comments.length === 0, "a pull request whose head is another commit gets no comment");
  c = await comment(forged, { prs, comments, run: runFor(good.head, { pull_requests: [{ number: 7 }] }) });
  expect(c.failed && comments.length === 0, "a number the event's own pull_requests do not list is refused");
  for (const bogus of ["7; rm -rf /", "$(id)", "0", "", "7\n8", "99999999999"]) {
    fs.writeFileSync(path.join(forged, "pull-request"), bogus);
    c = await comment(forged, { prs, comments, run: runFor(good.head) });
    expect(c.failed && comments.length === 0, `pull request number ${JSON.stringify(bogus)} is refused`);
  }
  fs.rmSync(forged, { recursive: true });
}

// Hostile content: links, odd names, huge files; and reports too long for one comment.
{
  const hostile = fs.mkdtempSync(path.join(os.tmpdir(), "nbgen-wf-hostile-"));
  fs.cpSync(path.join(good.dir, "nbgen-review"), hostile, { recursive: true });
  const envs = path.join(hostile, "envs");
  fs.rmSync(path.join(envs, "staging.md"));
  fs.symlinkSync("/etc/passwd", path.join(envs, "staging.md"));
  fs.writeFileSync(path.join(envs, "..evil.code"), "1");
  fs.writeFileSync(path.join(envs, "Evil$(id).code"), "1");
  fs.writeFileSync(path.join(envs, "odd.code"), "1; echo");
  fs.writeFileSync(path.join(envs, "odd.err"), "```\n</details>\n````\nnot a fence");
  const comments = [];
  let c = await comment(hostile, { prs: { 7: prFor(good.head) }, comments, run: runFor(good.head) });
  const body = comments[0]?.body || "";
  expect(!c.failed && comments.length === 1, "a hostile artifact still yields one comment");
  expect(!body.includes("root:") && body.includes("`staging`: report missing"), "a symbolic link is not followed");
  expect(!body.includes("evil") && !body.includes("Evil"), "names that are not environment names are ignored");
  expect(/`odd`: invalid spec\n\n`````text\n/.test(body), "error output cannot close its code fence");

  const long = fs.mkdtempSync(path.join(os.tmpdir(), "nbgen-wf-long-"));
  fs.cpSync(path.join(good.dir, "nbgen-review"), long, { recursive: true });
  fs.writeFileSync(path.join(long, "envs/prod.md"), `<!-- nbgen-diff:prod -->\n${"x".repeat(70000)}\n`);
  fs.writeFileSync(path.join(long, "envs/staging.md"), `<!-- nbgen-diff:staging -->\n${"y".repeat(70000)}\n`);
  const comments2 = [];
  c = await comment(long, { prs: { 7: prFor(good.head) }, comments: comments2, run: runFor(good.head) });
  const b2 = comments2[0]?.body || "";
  expect(!c.failed && b2.length <= 65536 && b2.includes("nbgen diff") && !b2.includes("xxxx"), `too long: the --stat reports are posted (${b2.length} characters)`);
  fs.rmSync(path.join(long, "envs/prod.stat.md"));
  fs.rmSync(path.join(long, "envs/staging.stat.md"));
  const comments3 = [];
  c = await comment(long, { prs: { 7: prFor(good.head) }, comments: comments3, run: runFor(good.head) });
  const b3 = comments3[0]?.body || "";
  expect(!c.failed && b3.length <= 65536 && b3.includes("artifact"), `still too long: cut, pointing at the artifact (${b3.length} characters)`);
  fs.rmSync(hostile, { recursive: true });
  fs.rmSync(long, { recursive: true });
}

for (const repo of [good, bad]) fs.rmSync(repo.dir, { recursive: true, force: true });
console.log(`workflow simulation: ${failures === 0 ? "all expectations hold" : `${failures} FAILED`}`);
process.exit(failures === 0 ? 0 : 1);
