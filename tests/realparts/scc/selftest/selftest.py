#!/usr/bin/env python3
"""SELF-TEST of the SCC checker (it tests the checker, not nbgen).

    selftest.py [OUT_ENV_DIR]      default: out/prod

1. Today's plain-target output (runAsUser 1000, fsGroup 100) is REFUSED by restricted-v2 with
   "must be in the ranges" (uid) and "is not an allowed group" (fsGroup) reasons.
2. A hand-edited copy without runAsUser/runAsGroup/fsGroup is ADMITTED by restricted-v2 with uid
   1000680000 (the first of the namespace's block), fsGroup 1000680000, SELinux s0:c26,c10.
3. Small pods: a hostPath volume, an added SYS_ADMIN, allowPrivilegeEscalation: true, an
   Unconfined seccomp profile and hostNetwork are refused; NET_BIND_SERVICE is allowed;
   restricted-v3 alone admits a pod with hostUsers: false (uid 1000 from its own range) and
   refuses one without.
4. --require-all and openshift.io/required-scc as sccadmission reads it.
5. --pinned (nbgen's rule, `.ci/scc.sh --targets`): a pod that pins nothing fails; a restricted-v3
   pod passes only if restricted-v2 admits it too; a restricted-v2 pod without a user namespace
   and with a host supplemental group (100, an NFS export's) passes, its restricted-v3 refusal
   printed as expected; one that restricted-v3 also refuses for something else (an fsGroup of the
   namespace's block) fails; a restricted-v2 pod with hostUsers: false (uid 1000680000, which a
   user namespace cannot map) fails.
"""
import copy
import io
import os
import shutil
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import scc_check  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "..", ".."))
failures = []


def check(cond, msg):
    print(("  ok   " if cond else "  FAIL ") + msg)
    if not cond:
        failures.append(msg)


def run(dirs, sccs=None, require_all=False, pinned=False):
    sccs = sccs or [scc_check.fixtures.path("openshift-scc", f"scc-restricted-{v}.yaml") for v in ("v2", "v3")]
    buf = io.StringIO()
    res = scc_check.check(dirs, sccs, os.path.join(HERE, "..", "namespace-openshift.yaml"), out=buf,
                          require_all=require_all, pinned=pinned)
    return res, buf.getvalue()


def pod_dir(d, spec, annotations=None):
    """A directory holding one StatefulSet with this pod spec (and template annotations)."""
    os.makedirs(d, exist_ok=True)
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "p", "namespace": "ns"},
           "spec": {"template": {"metadata": {"annotations": annotations or {}}, "spec": spec}}}
    with open(os.path.join(d, "statefulset-p.yaml"), "w") as fh:
        yaml.safe_dump(sts, fh)
    return d


def strip_ids(spec):
    for sc in [spec.setdefault("securityContext", {})] + [c.get("securityContext") or {} for c in spec.get("containers") or []]:
        for k in ("runAsUser", "runAsGroup", "fsGroup"):
            sc.pop(k, None)


def main():
    env = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "out", "prod")
    print(f"==> today's output ({os.path.relpath(env, ROOT)}): refused by restricted-v2")
    res, text = run([env])
    check(res and all(not r["admitted"] for r in res), f"{len(res)} pods, all refused")
    v2 = [v for r in res for v in r["verdicts"] if v["scc"] == "restricted-v2"]
    check(all(any("runAsUser: Invalid value: 1000: must be in the ranges: [1000680000, 1000689999]" in e for e in v["reasons"])
              for v in v2), "every pod: runAsUser 1000 must be in the ranges [1000680000, 1000689999]")
    check(all(any("100 is not an allowed group" in e for e in v["reasons"]) for v in v2),
          "every pod: fsGroup 100 is not an allowed group")

    print("==> a copy without runAsUser/runAsGroup/fsGroup: admitted with uid 1000680000")
    with tempfile.TemporaryDirectory() as d:
        dst = os.path.join(d, os.path.basename(env))
        shutil.copytree(env, dst)
        for root, _dirs, files in os.walk(dst):
            for f in files:
                p = os.path.join(root, f)
                if not f.endswith(".yaml"):
                    continue
                with open(p) as fh:
                    doc = yaml.safe_load(fh)
                k = (doc or {}).get("kind")
                if k in ("Deployment", "StatefulSet", "Job"):
                    strip_ids(doc["spec"]["template"]["spec"])
                elif k == "CronJob":
                    strip_ids(doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
                else:
                    continue
                with open(p, "w") as fh:
                    yaml.safe_dump(doc, fh, sort_keys=False)
        res, text = run([dst])
        check(res and all(r["admitted"] and r["by"] == "restricted-v2" for r in res),
              f"{len(res)} pods, all admitted by restricted-v2")
        for r in res:
            v = r["verdicts"][0]
            c = next(iter(v["containers"].values()))
            ps = v["podSecurityContext"]
            check(c.get("runAsUser") == 1000680000 and ps.get("fsGroup") == 1000680000
                  and ps["seLinuxOptions"]["level"] == "s0:c26,c10" and ps["seccompProfile"]["type"] == "RuntimeDefault"
                  and "ALL" in c["capabilities"]["drop"] and c["allowPrivilegeEscalation"] is False,
                  f"{r['pod']}: uid {c.get('runAsUser')}, fsGroup {ps.get('fsGroup')}, "
                  f"SELinux {ps['seLinuxOptions']['level']}, seccomp {ps['seccompProfile']['type']}")
        check("uid 1000680000" in text, "the verdict line names uid 1000680000")

    print("==> small pods")
    base = {"containers": [{"name": "c", "image": "x", "securityContext": {"allowPrivilegeEscalation": False}}]}
    cases = [
        ("hostPath volume", lambda s: s.update(volumes=[{"name": "h", "hostPath": {"path": "/"}}]), "hostPath volumes are not allowed"),
        ("SYS_ADMIN added", lambda s: s["containers"][0]["securityContext"].update(capabilities={"add": ["SYS_ADMIN"]}), "capability may not be added"),
        ("privilege escalation", lambda s: s["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True), "privilege escalation"),
        ("Unconfined seccomp", lambda s: s.update(securityContext={"seccompProfile": {"type": "Unconfined"}}), "seccompProfile"),
        ("hostNetwork", lambda s: s.update(hostNetwork=True), "Host network is not allowed"),
        ("NFS volume", lambda s: s.update(volumes=[{"name": "n", "nfs": {"server": "x", "path": "/"}}]), "nfs volumes are not allowed"),
    ]
    v2path = scc_check.fixtures.path("openshift-scc", "scc-restricted-v2.yaml")
    v3path = scc_check.fixtures.path("openshift-scc", "scc-restricted-v3.yaml")
    with open(os.path.join(HERE, "..", "namespace-openshift.yaml")) as fh:
        ann = yaml.safe_load(fh)["metadata"]["annotations"]
    with open(v2path) as fh:
        v2 = scc_check.SCC(yaml.safe_load(fh), ann)
    with open(v3path) as fh:
        v3 = scc_check.SCC(yaml.safe_load(fh), ann)
    errs, _, _ = v2.admit(copy.deepcopy(base))
    check(not errs, f"a bare pod is admitted by restricted-v2 {errs}")
    for what, fn, reason in cases:
        s = copy.deepcopy(base)
        fn(s)
        errs, _, _ = v2.admit(s)
        check(any(reason in e for e in errs), f"{what}: refused ({'; '.join(errs)[:120]})")
    s = copy.deepcopy(base)
    s["containers"][0]["securityContext"]["capabilities"] = {"add": ["NET_BIND_SERVICE"]}
    errs, _, _ = v2.admit(s)
    check(not errs, "NET_BIND_SERVICE may be added")
    s = copy.deepcopy(base)
    errs, _, _ = v3.admit(s)
    check(any("Host Users must be set to false" in e for e in errs), "restricted-v3 refuses a pod without hostUsers: false")
    s["hostUsers"] = False
    errs, ps, ctxs = v3.admit(s)
    check(not errs and ctxs[0][1]["runAsUser"] == 1000 and ps["fsGroup"] == 1000,
          f"restricted-v3 admits hostUsers: false with uid {ctxs[0][1].get('runAsUser')}, fsGroup {ps.get('fsGroup')} {errs}")

    print("==> --require-all and openshift.io/required-scc")
    with tempfile.TemporaryDirectory() as d:
        plain = pod_dir(os.path.join(d, "plain"), copy.deepcopy(base))
        res, _ = run([plain])
        check(res[0]["admitted"] and res[0]["by"] == "restricted-v2", "without --require-all: admitted by restricted-v2 alone")
        res, text = run([plain], require_all=True)
        check(not res[0]["admitted"] and "--require-all: restricted-v3 refuses it" in text,
              "with --require-all: refused, restricted-v3 named")
        both = dict(copy.deepcopy(base), hostUsers=False)
        res, _ = run([pod_dir(os.path.join(d, "both"), both)], require_all=True)
        check(res[0]["admitted"] and res[0]["by"] == "restricted-v2", "hostUsers: false: both admit, restricted-v2 first")
        res, text = run([pod_dir(os.path.join(d, "pinned"), both, {"openshift.io/required-scc": "restricted-v3"})],
                        require_all=True)
        c = next(iter(next(v for v in res[0]["verdicts"] if v["scc"] == "restricted-v3")["containers"].values()))
        check(res[0]["admitted"] and res[0]["by"] == "restricted-v3" and c["runAsUser"] == 1000,
              f"required-scc restricted-v3: run by restricted-v3 with uid {c.get('runAsUser')}")
        res, _ = run([pod_dir(os.path.join(d, "pinned-v3-only"), copy.deepcopy(base),
                              {"openshift.io/required-scc": "restricted-v3"})])
        check(not res[0]["admitted"], "required-scc restricted-v3 without hostUsers: false: refused (v2 is not tried)")

    print("==> --pinned")
    pin = "openshift.io/required-scc"
    with tempfile.TemporaryDirectory() as d:
        def pinned(name, spec, scc):
            res, text = run([pod_dir(os.path.join(d, name), spec, {pin: scc} if scc else None)], pinned=True)
            return res[0], text
        userns = dict(copy.deepcopy(base), hostUsers=False)
        r, text = pinned("none", userns, None)
        check(not r["admitted"] and "no openshift.io/required-scc annotation" in text, "a pod that pins no SCC fails")
        r, text = pinned("v3", userns, "restricted-v3")
        check(r["admitted"] and r["by"] == "restricted-v3" and not r["expected_refusals"],
              "a restricted-v3 pod that restricted-v2 admits too passes")
        v3_only = copy.deepcopy(userns)
        v3_only["securityContext"] = {"fsGroup": 2000}
        r, text = pinned("v3-only", v3_only, "restricted-v3")
        check(not r["admitted"] and "restricted-v2 refuses it for more than the user namespace" in text,
              "a restricted-v3 pod that restricted-v2 refuses (fsGroup 2000) fails, naming restricted-v2")
        nfs = copy.deepcopy(base)
        nfs["securityContext"] = {"supplementalGroups": [100]}
        r, text = pinned("v2-nfs", nfs, "restricted-v2")
        c = next(iter(r["verdicts"][0]["containers"].values()))
        check(r["admitted"] and r["by"] == "restricted-v2" and list(r["expected_refusals"]) == ["restricted-v3"]
              and c["runAsUser"] == 1000680000
              and r["verdicts"][0]["podSecurityContext"]["supplementalGroups"] == [100]
              and "restricted-v3: refused, as expected" in text and "Host Users must be set to false" in text
              and "100 is not an allowed group (ranges 1000-65534)" in text,
              "a restricted-v2 pod without a user namespace, supplemental group 100: passes (uid 1000680000, "
              "groups kept by RunAsAny), its restricted-v3 refusal printed as expected with both reasons")
        more = copy.deepcopy(nfs)
        more["securityContext"]["fsGroup"] = 1000680000
        r, text = pinned("v2-more", more, "restricted-v2")
        check(not r["admitted"] and "restricted-v3 refuses it for more than the user namespace" in text
              and "restricted-v3: refused, as expected" not in text,
              "a restricted-v2 pod restricted-v3 refuses for its fsGroup too fails")
        r, text = pinned("v2-userns", dict(copy.deepcopy(nfs), hostUsers=False), "restricted-v2")
        check(not r["admitted"] and "uid 1000680000, which a user namespace cannot map" in text,
              "a restricted-v2 pod with hostUsers: false fails: its uid cannot be mapped")
    print(f"\nscc selftest: {'FAILED: ' + str(len(failures)) if failures else 'all passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
