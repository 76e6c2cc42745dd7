#!/usr/bin/env python3
"""nbgen's rendered manifests against a real kube-apiserver 1.20 (see README.md).

    harness.py --apiserver BIN [--root REPO] [--out DIR] [--environments DIR] [ENV...]

For each environment (default: every out/<env>/ with an environments/<env>.yaml), on a fresh
etcd + kube-apiserver: create the Namespaces (and `argocd`), Argo CD's CRDs, then every object of
out/<env>/; fail on any refusal and on any field the server dropped or changed (apart from the
version-skew allowances in skew.py); then ask the SubjectAccessReviews of access-cases.yaml,
whose expectations come from the environment spec, not from the rendered RBAC.

Exit 0: all passed; 1: some check failed; 2: the harness could not run.
"""

import argparse
import collections
import os
import re
import sys
import time
import traceback

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # tests/realparts: fixtures.py

import access  # noqa: E402
import crds  # noqa: E402
import skew  # noqa: E402
import fixtures  # noqa: E402
import spec as specmod  # noqa: E402
import targets  # noqa: E402
from cluster import Cluster, ClusterError  # noqa: E402

MISSING = object()


# --- reading out/<env>/ -------------------------------------------------------------------------
def read_objects(env_out):
    objs = []
    for dirpath, dirnames, filenames in os.walk(env_out):
        dirnames.sort()
        for fn in sorted(filenames):
            if not fn.endswith((".yaml", ".yml")):
                continue
            path = os.path.join(dirpath, fn)
            with open(path) as f:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            rel = os.path.relpath(path, env_out)
            if len(docs) != 1:
                raise ValueError(f"{rel}: expected one YAML object, found {len(docs)}")
            objs.append((rel, docs[0]))
    return objs


def wave(obj):
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    try:
        return int(ann.get("argocd.argoproj.io/sync-wave", "0"))
    except ValueError:
        return 0


# --- discovery: apiVersion + kind -> REST path --------------------------------------------------
class Discovery:
    def __init__(self, cluster):
        self.c = cluster
        self.cache = {}

    def resource(self, api_version, kind):
        if api_version not in self.cache:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            code, data = self.c.get(path)
            self.cache[api_version] = {} if code != 200 else {
                r["kind"]: (r["name"], r["namespaced"])
                for r in data.get("resources", []) if "/" not in r["name"]
            }
        return self.cache[api_version].get(kind)

    def collection(self, api_version, kind, namespace):
        found = self.resource(api_version, kind)
        if found is None:
            return None
        plural, namespaced = found
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced:
            return f"{base}/namespaces/{namespace}/{plural}"
        return f"{base}/{plural}"


# --- the server's own schema: does it know a field? ----------------------------------------------
class Schema:
    """The served OpenAPI v2 document. Used for one thing: a zero value (false, 0, "", {}, [])
    that the server did not echo is tolerated only if the server's types have that field (Go's
    `omitempty` then makes absence mean the same); an unknown field is a drop, whatever its value.
    """

    def __init__(self, cluster):
        code, doc = cluster.get("/openapi/v2")
        if code != 200:
            raise RuntimeError(f"GET /openapi/v2: {code}")
        self.defs = doc.get("definitions", {})
        self.by_gvk = {}
        for name, d in self.defs.items():
            for gvk in d.get("x-kubernetes-group-version-kind") or []:
                av = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
                self.by_gvk[(av, gvk["kind"])] = name

    def _resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.defs.get(node["$ref"].split("/")[-1], {})
        return node

    def knows(self, api_version, kind, path):
        name = self.by_gvk.get((api_version, kind))
        if name is None:
            return False
        node = self.defs[name]
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
            node = self._resolve(node)
            if part.startswith("["):
                node = node.get("items") if node.get("type") == "array" else None
            else:
                props = node.get("properties") or {}
                node = props.get(part) if part in props else None
            if node is None:
                return False
        return True


# --- comparing what was sent with what came back ------------------------------------------------
QTY = re.compile(r"^([+-]?[0-9.]+)([a-zA-Z]*)$")
SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(v):
    m = QTY.match(str(v))
    if not m or m.group(2) not in SUFFIX:
        return None
    try:
        return float(m.group(1)) * SUFFIX[m.group(2)]
    except ValueError:
        return None


def is_zero(v):
    return v in (False, 0, "", None) or v == {} or v == []


def diff(sent, got, path, out):
    """Every place where `sent` is not contained in `got` (fields the server adds are ignored).
    Appends (path, sent value, returned value or MISSING, note)."""
    if isinstance(sent, dict):
        if not isinstance(got, dict):
            out.append((path, sent, got, ""))
            return
        for k, v in sent.items():
            p = f"{path}.{k}" if path else k
            if k not in got:
                # Go's omitempty: a zero value the server did not echo means the same thing
                out.append((p, v, MISSING, "zero value omitted" if is_zero(v) else ""))
            else:
                diff(v, got[k], p, out)
    elif isinstance(sent, list):
        if not isinstance(got, list) or len(got) != len(sent):
            out.append((path, sent, got, ""))
            return
        for i, (a, b) in enumerate(zip(sent, got)):
            diff(a, b, f"{path}[{i}]", out)
    elif sent != got:
        if (isinstance(sent, (str, int, float)) and isinstance(got, (str, int, float))
                and not isinstance(sent, bool) and quantity(sent) is not None
                and quantity(sent) == quantity(got)):
            out.append((path, sent, got, "same quantity"))
        else:
            out.append((path, sent, got, ""))


def short(v):
    if v is MISSING:
        return "(absent)"
    s = yaml.safe_dump(v, default_flow_style=True, width=10**6).strip()
    if s.endswith("\n..."):
        s = s[:-4]
    return s if len(s) <= 160 else s[:157] + "..."


# --- one environment ----------------------------------------------------------------------------
class Report:
    def __init__(self, env):
        self.env = env
        self.passed = collections.Counter()
        self.failed = collections.Counter()
        self.lines = []
        self.skew_used = collections.Counter()

    def ok(self, cat):
        self.passed[cat] += 1

    def fail(self, cat, msg):
        self.failed[cat] += 1
        print(f"  FAIL [{self.env}] {cat}: {msg}", flush=True)


def run_env(env, env_out, env_spec, apiserver, args):
    rep = Report(env)
    spec = specmod.load_env(os.path.dirname(env_spec), os.path.splitext(os.path.basename(env_spec))[0])
    objects = read_objects(env_out)
    mode = targets.mode(spec, objects)
    lo, hi = specmod.node_port_range(spec)
    port_range = (min(20000, lo), max(32767, hi))
    t0 = time.monotonic()
    print(f"==> {env}: {len(objects)} objects from {os.path.relpath(env_out)}; starting etcd + "
          f"kube-apiserver {skew.SERVER_VERSION} (NodePorts {port_range[0]}-{port_range[1]})", flush=True)
    with Cluster(apiserver, node_port_range=port_range, feature_gates=skew.FEATURE_GATES,
                 keep_dir=args.keep) as c:
        print(f"    ready in {time.monotonic() - t0:.1f}s at {c.url}"
              + (f"; target {mode} (targets.py)" if mode else ""), flush=True)
        disc = Discovery(c)
        create_all(c, disc, objects, rep, mode)
        if mode:
            agg = targets.aggregate(c)
            print(f"    aggregated by hand (no controller-manager): "
                  + ", ".join(f"{k} {v} rules" for k, v in agg.items() if k.startswith(("kubeflow-", "admin", "edit", "view"))),
                  flush=True)
        if not args.no_access:
            if mode:
                sp = targets.check_model(mode, spec, objects, rep)
                targets.check_bindings(mode, c, spec, sp, rep)
                check_access_targets(c, spec, sp, rep, args)
            else:
                check_model(spec, objects, rep)
                check_access(c, spec, rep, args)
    dt = time.monotonic() - t0
    for (k, p), n in sorted(rep.skew_used.items()):
        print(f"    skew allowance used {n}x: {k} {p}")
    np, nf = sum(rep.passed.values()), sum(rep.failed.values())
    cats = sorted(set(rep.passed) | set(rep.failed))
    print(f"    [{env}] " + "; ".join(f"{c}: {rep.passed[c]} passed, {rep.failed[c]} failed" for c in cats))
    print(f"<== {env}: {np} passed, {nf} failed ({dt:.0f}s)", flush=True)
    return np, nf


def create_one(c, disc, rel, obj, rep, cat, schema):
    av, kind = obj.get("apiVersion"), obj.get("kind")
    md = obj.get("metadata") or {}
    ident = f"{rel} ({av} {kind} {md.get('namespace', '') + '/' if md.get('namespace') else ''}{md.get('name')})"
    if (av, kind) in skew.SKIP_KINDS:
        print(f"    note: skipped {ident}: {skew.SKIP_KINDS[(av, kind)]}")
        rep.skew_used[("skip", f"{av} {kind}")] += 1
        return None
    send = obj
    if (av, kind) in skew.API_VERSIONS:
        new_av, _why = skew.API_VERSIONS[(av, kind)]
        send = dict(obj, apiVersion=new_av)
        rep.skew_used[("apiVersion", f"{av} {kind} -> {new_av}")] += 1
    url = disc.collection(send["apiVersion"], kind, md.get("namespace") or "default")
    if url is None:
        rep.fail(cat, f"{ident}: the server does not serve {send['apiVersion']} {kind} "
                      f"(add a commented entry to skew.py if this is version skew)")
        return None
    code, got = c.post(url, send)
    if code not in (200, 201):
        rep.fail(cat, f"{ident}: refused ({code} {got.get('reason', '')}): {got.get('message', got)}")
        return None
    diffs = []
    diff({k: v for k, v in send.items() if k != "apiVersion"},
         {k: v for k, v in got.items() if k != "apiVersion"}, "", diffs)
    if got.get("apiVersion") != send["apiVersion"]:
        diffs.append(("apiVersion", send["apiVersion"], got.get("apiVersion"), ""))
    bad = []
    for path, s, g, note in diffs:
        allowed = skew.tolerated_drop(kind, path)
        if allowed and g is MISSING:
            rep.skew_used[allowed] += 1
        elif note == "zero value omitted" and not schema.knows(send["apiVersion"], kind, path):
            bad.append(f"{path}: sent {short(s)}, got {short(g)} (a field the server does not know)")
        elif note:
            if args_verbose:
                print(f"    note: {ident}: {path}: sent {short(s)}, got {short(g)} ({note})")
        else:
            bad.append(f"{path}: sent {short(s)}, got {short(g)}")
    if bad:
        rep.fail(cat, f"{ident}: the server dropped or changed:\n        " + "\n        ".join(bad))
    else:
        rep.ok(cat)
    return got


args_verbose = False


def create_all(c, disc, objects, rep, mode=None):
    namespaces = [(r, o) for r, o in objects if o.get("kind") == "Namespace" and o.get("apiVersion") == "v1"]
    names = {(o.get("metadata") or {}).get("name") for _, o in namespaces}
    # A cluster with Argo CD has its namespace already (nbgen does not render it): `argocd`, or
    # the one gitops.argocd.namespace names (OpenShift GitOps: openshift-gitops).
    argo = {(o.get("metadata") or {}).get("namespace") for _, o in objects
            if str(o.get("apiVersion", "")).startswith("argoproj.io/")} - {None}
    for ns in sorted((argo or {"argocd"}) - names):
        code, got = c.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": ns}})
        if code != 201:
            raise ClusterError(f"cannot create namespace {ns}: {got.get('message')}")
    schema = Schema(c)
    for rel, o in namespaces:
        create_one(c, disc, rel, o, rep, "create", schema)
    for f, crd, removed in crds.load():
        for p in removed:
            print(f"    note: {f}: removed {p} (1.20 refuses default: \"\")")
        install_crd(c, crd, f, rep)
    # the Kubeflow/OpenShift targets' CRDs, by the API groups out/<env>/ uses (crds.py)
    for label, crd, changes in crds.load_targets(objects, targets.CRD_SOURCES.get(mode)):
        kinds = collections.Counter(what.split(" (")[0] for _p, what, _why in changes)
        print(f"    CRD {crd['metadata']['name']} from {label}"
              + (": " + "; ".join(f"{n}x {k}" for k, n in kinds.items()) if changes else ""))
        if args_verbose:
            for p, what, why in changes:
                print(f"      {p}: {what} ({why})")
        install_crd(c, crd, label, rep)
    # the platform's own ClusterRoles (aggregated by hand later, targets.aggregate)
    for label, role in targets.platform_roles(mode):
        code, got = c.post("/apis/rbac.authorization.k8s.io/v1/clusterroles", role)
        if code != 201:
            rep.fail("platform", f"{label}: ClusterRole {role['metadata']['name']} refused: {got.get('message')}")
    rest = [(r, o) for r, o in objects if (r, o) not in namespaces]
    rest.sort(key=lambda ro: (wave(ro[1]), ro[0]))
    schema = Schema(c)  # again: now with the CRDs
    if mode == "kubeflow":
        # Profiles first, then what the profile-controller would make of each (its namespace,
        # the owner's RoleBinding): a stand-in, as this setup runs no controller
        profiles = [(r, o) for r, o in rest if o.get("kind") == "Profile" and targets.group_of(o.get("apiVersion", "")) == "kubeflow.org"]
        rendered_ns = {(o.get("metadata") or {}).get("name"): o for _, o in namespaces}
        for rel, o in profiles:
            if create_one(c, disc, rel, o, rep, "create", schema) is not None:
                for msg in targets.profile_controller(c, o, rendered_ns):
                    rep.fail("profile-controller", msg)
        rest = [ro for ro in rest if ro not in profiles]
    for rel, o in rest:
        create_one(c, disc, rel, o, rep, "create", schema)


def install_crd(c, crd, label, rep):
    """Create a CustomResourceDefinition and wait until it serves, or fail with the server's reason."""
    code, got = c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    if code != 201:
        rep.fail("crd", f"{label}: refused ({code}): {got.get('message', got)}")
        return
    wait_established(c, crd["metadata"]["name"], rep, label)


def wait_established(c, name, rep, f):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        code, got = c.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conds = {x["type"]: x["status"] for x in (got.get("status") or {}).get("conditions") or []}
        if conds.get("Established") == "True":
            rep.ok("crd")
            return
        time.sleep(0.3)
    rep.fail("crd", f"{f}: CRD {name} not Established within 30s: {conds}")


def check_model(spec, objects, rep):
    """The harness's own model of the spec must agree with the servers nbgen rendered: every
    server S it computes has a Service S in its namespace (today's and the target's naming)."""
    services = {((o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name"))
                for _, o in objects if o.get("kind") == "Service"}
    for t in specmod.teams(spec):
        for s in t.servers:
            if (s.namespace, s.name) in services:
                rep.ok("model")
            else:
                rep.fail("model", f"the spec gives server {s.namespace}/{s.name}, but out/ has no Service "
                                  f"{s.name} there (the harness's model and nbgen disagree)")


def check_access(c, spec, rep, args):
    cases, conflicts, subjects = access.build_cases(spec, args.cases)
    for a, b in conflicts:
        rep.fail("access-cases", f"contradictory expectations for {a.subject.label()} {a.what()}: "
                                 f"{a.expect} ({a.section}) vs {b.expect} ({b.section})")
    print(f"    {len(cases)} access cases for {len(subjects)} subjects", flush=True)
    review_cases(c, cases, rep)


def review_cases(c, cases, rep):
    """Ask the API server each case's SubjectAccessReview; report every wrong answer, then the
    failures counted by case section."""
    tally = collections.Counter()
    for case in cases:
        got, reason = access.review(c, case)
        if got == case.expect:
            rep.ok("access")
        else:
            tally[(case.section, case.expect)] += 1
            rep.fail("access", f"{case.subject.label()}: {case.what()}: expected {case.expect}, got {got}"
                               f"  [{case.section}]" + (f"  ({reason})" if reason else ""))
    if tally:
        print(f"    access failures by case section:")
        for (sec, exp), n in sorted(tally.items()):
            print(f"      {n:5d}  expected {exp:7s}  {sec}")


def check_access_targets(c, spec, sp, rep, args):
    cases, subjects = targets.build_cases(spec, sp, args.target_cases, access.Subject, access.Case,
                                          access.expand, access.ALLOWED, access.DENIED, access.outsider)
    print(f"    {len(cases)} access cases ({os.path.basename(args.target_cases)}) for {len(subjects)} subjects", flush=True)
    review_cases(c, cases, rep)


# --- main ---------------------------------------------------------------------------------------
def main():
    global args_verbose
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--apiserver", required=True, help="kube-apiserver 1.20 binary")
    ap.add_argument("--root", default=".", help="repository root (default: .)")
    ap.add_argument("--out", help="the out/ directory (default: ROOT/out)")
    ap.add_argument("--environments", help="the spec directory (default: ROOT/environments)")
    ap.add_argument("--cases", default=os.path.join(HERE, "access-cases.yaml"))
    ap.add_argument("--target-cases", default=os.path.join(HERE, "access-cases-targets.yaml"))
    ap.add_argument("--no-access", action="store_true", help="only the creation check")
    ap.add_argument("--keep", action="store_true", help="keep each cluster's temp dir (logs)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print tolerated differences")
    ap.add_argument("envs", nargs="*")
    args = ap.parse_args()
    args_verbose = args.verbose
    out = args.out or os.path.join(args.root, "out")
    envdir = args.environments or os.path.join(args.root, "environments")
    envs = args.envs or sorted(e for e in os.listdir(out)
                               if os.path.isdir(os.path.join(out, e))
                               and os.path.isfile(os.path.join(envdir, f"{e}.yaml")))
    if not envs:
        print(f"harness: no out/<env>/ with a spec in {envdir}", file=sys.stderr)
        return 2
    total_p = total_f = 0
    results = []
    try:
        print(crds.argocd_status()[1])
    except (fixtures.FixtureMissing, fixtures.FixtureConfigError) as e:
        print(f"harness: could not run: {e}", file=sys.stderr)
        return 2
    for env in envs:
        env_out, env_spec = os.path.join(out, env), os.path.join(envdir, f"{env}.yaml")
        if not os.path.isdir(env_out) or not os.path.isfile(env_spec):
            print(f"harness: {env}: need {env_out}/ and {env_spec}", file=sys.stderr)
            return 2
        try:
            p, f = run_env(env, env_out, env_spec, args.apiserver, args)
        except (ClusterError, OSError, ValueError, RuntimeError, specmod.SpecError, fixtures.FixtureMissing, fixtures.FixtureConfigError) as e:
            print(f"harness: {env}: could not run: {e}", file=sys.stderr)
            traceback.print_exc()
            return 2
        results.append((env, p, f))
        total_p += p
        total_f += f
    print()
    for env, p, f in results:
        print(f"    {env:20s} {p:6d} passed {f:6d} failed")
    print(f"apiserver harness: {total_p} passed, {total_f} failed")
    return 1 if total_f else 0


def _terminate(signum, _frame):
    # SIGTERM (CI timeout, a parent's cleanup): unwind, so each Cluster stops its processes
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())
