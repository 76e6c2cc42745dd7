#!/usr/bin/env python3
"""Would OpenShift's SCC admission admit the rendered pods? (README.md)

    scc_check.py [--scc FILE ...] [--namespace FILE] [--json] OUT_ENV_DIR...

For every pod template in each out/<env>/ (Deployment, StatefulSet, Job, CronJob, kubeflow.org
Notebook spec.template) and each SCC (default: restricted-v2 and restricted-v3 as published,
located by tests/realparts/fixtures.py), decide admitted or refused as
openshift/apiserver-library-go's sccmatching provider does: first the SCC's defaults are applied
(CreatePodSecurityContext / CreateContainerSecurityContext: uid, fsGroup, supplemental groups,
SELinux level, seccomp, dropped capabilities, allowPrivilegeEscalation), then the result is
validated. Strategies and ranges come from the SCC file, else from the namespace's
openshift.io/sa.scc.* annotations, as OpenShift does. A pod is admitted if any SCC admits it;
OpenShift tries them by priority, then restrictiveness, then name (restricted-v2 and -v3 tie on
restrictiveness, so restricted-v2 first), and the first that admits is the one it runs with.

Prints each pod's verdict per SCC with reasons, and the security context it would run with.
Exit 0: every pod admitted; 1: a pod refused by every SCC; 2: could not run.

--pinned (nbgen's OpenShift pods, `.ci/scc.sh --targets`): every pod must pin an SCC
(openshift.io/required-scc) and be admitted by it; a pod in a user namespace (hostUsers: false)
must be admitted by every SCC given, and a pod the pinned SCC runs with a uid a user namespace
cannot map (above 65535) must not ask for one; a pod without a user namespace may be refused by
an SCC that requires one, but only for that: with hostUsers: false and without its own
supplementalGroups (host groups, which that SCC's in-namespace ranges do not hold) that SCC must
admit it, else it fails. Such a refusal is printed as expected, with its reasons.
"""
import argparse
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))  # tests/realparts: fixtures.py
import fixtures  # noqa: E402

UID_RANGE = "openshift.io/sa.scc.uid-range"
SUP_GROUPS = "openshift.io/sa.scc.supplemental-groups"
MCS = "openshift.io/sa.scc.mcs"
# a pod annotation naming the one SCC admission may use for it (OpenShift 4.14+; sccadmission's
# listSortedSCCs takes only that SCC when it is set)
REQUIRED_SCC = "openshift.io/required-scc"
# volume types as the SCC's `volumes` names them (fsType), from a pod volume's key
VOLUME_FS = {"hostPath": "hostPath", "emptyDir": "emptyDir", "gcePersistentDisk": "gcePersistentDisk",
             "awsElasticBlockStore": "awsElasticBlockStore", "gitRepo": "gitRepo", "secret": "secret",
             "nfs": "nfs", "iscsi": "iscsi", "glusterfs": "glusterfs", "persistentVolumeClaim": "persistentVolumeClaim",
             "rbd": "rbd", "flexVolume": "flexVolume", "cinder": "cinder", "cephfs": "cephFS", "flocker": "flocker",
             "downwardAPI": "downwardAPI", "fc": "fc", "azureFile": "azureFile", "configMap": "configMap",
             "vsphereVolume": "vsphere", "quobyte": "quobyte", "azureDisk": "azureDisk",
             "photonPersistentDisk": "photonPersistentDisk", "projected": "projected", "portworxVolume": "portworxVolume",
             "scaleIO": "scaleIO", "storageos": "storageOS", "csi": "csi", "ephemeral": "ephemeral", "image": "image"}


def parse_block(v):
    """"1000680000/10000" -> (1000680000, 1000689999); "1000680000-1000689999" too."""
    v = v.split(",")[0].strip()
    if "/" in v:
        a, n = v.split("/", 1)
        return int(a), int(a) + int(n) - 1
    a, b = v.split("-", 1)
    return int(a), int(b)


class SCC:
    def __init__(self, doc, ns_ann):
        self.doc = doc
        self.name = doc["metadata"]["name"]
        d = doc
        self.priority = d.get("priority")
        self.run_as_user = d.get("runAsUser") or {}
        self.fs_group = d.get("fsGroup") or {}
        self.sup_groups = d.get("supplementalGroups") or {}
        self.selinux = d.get("seLinuxContext") or {}
        self.ns = ns_ann
        self.errors_setup = []
        # ranges, from the SCC or the namespace (sccmatching's assignSCCDefaults)
        self.uid_range = None
        if self.run_as_user.get("type") == "MustRunAsRange":
            if self.run_as_user.get("uidRangeMin") is not None:
                self.uid_range = (self.run_as_user["uidRangeMin"], self.run_as_user["uidRangeMax"])
            elif UID_RANGE in ns_ann:
                self.uid_range = parse_block(ns_ann[UID_RANGE])
            else:
                self.errors_setup.append(f"unable to find annotation {UID_RANGE}")
        self.fs_ranges = self._group_ranges(self.fs_group)
        self.sup_ranges = self._group_ranges(self.sup_groups)
        self.level = None
        if self.selinux.get("type") == "MustRunAs":
            self.level = (self.selinux.get("seLinuxOptions") or {}).get("level") or ns_ann.get(MCS)
            if not self.level:
                self.errors_setup.append(f"unable to find annotation {MCS}")

    def _group_ranges(self, strat):
        if strat.get("type") != "MustRunAs":
            return None
        if strat.get("ranges"):
            return [(r["min"], r["max"]) for r in strat["ranges"]]
        v = self.ns.get(SUP_GROUPS) or self.ns.get(UID_RANGE)
        if not v:
            self.errors_setup.append(f"unable to find annotation {SUP_GROUPS}")
            return []
        return [parse_block(x) for x in v.split(",")]

    def sort_key(self):
        # OpenShift: priority (higher first, nil = 0), then restrictiveness points, then name.
        # restricted-v2/-v3 have the same points (MustRunAsRange, drop ALL, no host features).
        return (-(self.priority or 0), self.name)

    # --- CreatePodSecurityContext + CreateContainerSecurityContext, then Validate* ---------------
    def admit(self, pod_spec):
        errs = list(self.errors_setup)
        ps = dict(pod_spec.get("securityContext") or {})
        # pod level
        if ps.get("supplementalGroups") is None and self.sup_ranges:
            ps["supplementalGroups"] = [self.sup_ranges[0][0]]
        if ps.get("fsGroup") is None and self.fs_ranges:
            ps["fsGroup"] = self.fs_ranges[0][0]
        if ps.get("seLinuxOptions") is None and self.level:
            ps["seLinuxOptions"] = {"level": self.level}
        allowed_seccomp = self.doc.get("seccompProfiles") or []
        if allowed_seccomp and not ps.get("seccompProfile"):
            ps["seccompProfile"] = seccomp_field(allowed_seccomp[0])
        # pod-level validation
        if self.fs_ranges is not None and "fsGroup" in ps:
            if not in_ranges(ps["fsGroup"], self.fs_ranges):
                errs.append(f"spec.securityContext.fsGroup: Invalid value: [{ps['fsGroup']}]: "
                            f"{ps['fsGroup']} is not an allowed group (ranges {fmt_ranges(self.fs_ranges)})")
        if self.sup_ranges is not None:
            for g in ps.get("supplementalGroups") or []:
                if not in_ranges(g, self.sup_ranges):
                    errs.append(f"spec.securityContext.supplementalGroups: Invalid value: {ps['supplementalGroups']}: "
                                f"{g} is not an allowed group (ranges {fmt_ranges(self.sup_ranges)})")
        if self.level and (ps.get("seLinuxOptions") or {}).get("level") not in (None, self.level):
            errs.append(f"spec.securityContext.seLinuxOptions.level: Invalid value: {ps['seLinuxOptions']['level']!r}: "
                        f"must be {self.level!r}")
        for key, allow, what in (("hostNetwork", "allowHostNetwork", "Host network"),
                                 ("hostPID", "allowHostPID", "Host PID"), ("hostIPC", "allowHostIPC", "Host IPC")):
            if pod_spec.get(key) and not self.doc.get(allow):
                errs.append(f"spec.securityContext.{key}: Invalid value: true: {what} is not allowed to be used")
        if self.doc.get("userNamespaceLevel") == "RequirePodLevel" and pod_spec.get("hostUsers", True) is not False:
            errs.append(f"spec.securityContext.hostUsers: Invalid value: {str(pod_spec.get('hostUsers', True)).lower()}: "
                        f"Host Users must be set to false")
        vols = self.doc.get("volumes") or []
        for i, v in enumerate(pod_spec.get("volumes") or []):
            kind = next((VOLUME_FS[k] for k in v if k in VOLUME_FS), None)
            if kind is None:
                kind = next((k for k in v if k != "name"), "?")
            if "*" not in vols and kind not in vols:
                errs.append(f"spec.volumes[{i}]: Invalid value: {kind!r}: {kind} volumes are not allowed to be used")
        if not seccomp_ok(ps.get("seccompProfile"), allowed_seccomp):
            errs.append(f"spec.securityContext.seccompProfile: Invalid value: {ps.get('seccompProfile')}: "
                        f"must be one of {allowed_seccomp}")
        # containers
        ctxs = []
        for kind in ("initContainers", "containers"):
            for i, c in enumerate(pod_spec.get(kind) or []):
                cs, cerrs = self.container(ps, pod_spec, c, f"spec.{kind}[{i}].securityContext", allowed_seccomp)
                errs += cerrs
                ctxs.append((c.get("name"), cs))
        return errs, ps, ctxs

    def container(self, ps, pod_spec, c, path, allowed_seccomp):
        errs = []
        cs = dict(c.get("securityContext") or {})
        eff_uid = cs.get("runAsUser", ps.get("runAsUser"))
        if eff_uid is None and self.uid_range:
            cs["runAsUser"] = self.uid_range[0]
            eff_uid = cs["runAsUser"]
        if cs.get("seLinuxOptions") is None and ps.get("seLinuxOptions") is None and self.level:
            cs["seLinuxOptions"] = {"level": self.level}
        if cs.get("runAsNonRoot", ps.get("runAsNonRoot")) is None and eff_uid is not None and eff_uid > 0:
            cs["runAsNonRoot"] = True
        caps = dict(cs.get("capabilities") or {})
        drop = list(caps.get("drop") or [])
        for d in self.doc.get("requiredDropCapabilities") or []:
            if d not in drop:
                drop.append(d)
        if drop:
            caps["drop"] = drop
        if caps:
            cs["capabilities"] = caps
        if cs.get("allowPrivilegeEscalation") is None and self.doc.get("allowPrivilegeEscalation") is False:
            cs["allowPrivilegeEscalation"] = False
        # validate
        if self.run_as_user.get("type") == "MustRunAsRange" and self.uid_range:
            if eff_uid is None:
                errs.append(f"{path}.runAsUser: Required value")
            elif not (self.uid_range[0] <= eff_uid <= self.uid_range[1]):
                errs.append(f"{path}.runAsUser: Invalid value: {eff_uid}: must be in the ranges: "
                            f"[{self.uid_range[0]}, {self.uid_range[1]}]")
        elif self.run_as_user.get("type") == "MustRunAsNonRoot" and eff_uid == 0:
            errs.append(f"{path}.runAsUser: Invalid value: 0: running with the root UID is forbidden")
        lvl = (cs.get("seLinuxOptions") or {}).get("level")
        if self.level and lvl not in (None, self.level):
            errs.append(f"{path}.seLinuxOptions.level: Invalid value: {lvl!r}: must be {self.level!r}")
        if cs.get("privileged") and not self.doc.get("allowPrivilegedContainer"):
            errs.append(f"{path}.privileged: Invalid value: true: Privileged containers are not allowed")
        allowed_caps = set(self.doc.get("allowedCapabilities") or []) | set(self.doc.get("defaultAddCapabilities") or [])
        for cap in (cs.get("capabilities") or {}).get("add") or []:
            if "*" not in allowed_caps and cap not in allowed_caps:
                errs.append(f"{path}.capabilities.add: Invalid value: {cap!r}: capability may not be added")
        if self.doc.get("readOnlyRootFilesystem") and cs.get("readOnlyRootFilesystem") is not True:
            errs.append(f"{path}.readOnlyRootFilesystem: Invalid value: {cs.get('readOnlyRootFilesystem')}: "
                        f"ReadOnlyRootFilesystem must be set to true")
        if cs.get("allowPrivilegeEscalation") and self.doc.get("allowPrivilegeEscalation") is False:
            errs.append(f"{path}.allowPrivilegeEscalation: Invalid value: true: "
                        f"Allowing privilege escalation for containers is not allowed")
        if not seccomp_ok(cs.get("seccompProfile"), allowed_seccomp, unset_ok=True):
            errs.append(f"{path}.seccompProfile: Invalid value: {cs.get('seccompProfile')}: must be one of {allowed_seccomp}")
        for i, p in enumerate(c.get("ports") or []):
            if p.get("hostPort") and not self.doc.get("allowHostPorts"):
                errs.append(f"{path[:-len('.securityContext')]}.ports[{i}].hostPort: Invalid value: {p['hostPort']}: "
                            f"Host ports are not allowed to be used")
        return cs, errs


def seccomp_field(name):
    if name in ("runtime/default", "docker/default"):
        return {"type": "RuntimeDefault"}
    if name == "unconfined":
        return {"type": "Unconfined"}
    if name.startswith("localhost/"):
        return {"type": "Localhost", "localhostProfile": name[len("localhost/"):]}
    return {"type": name}


def seccomp_ok(field, allowed, unset_ok=False):
    if not allowed or "*" in allowed:
        return True
    if field is None:
        return unset_ok
    t = field.get("type")
    name = {"RuntimeDefault": "runtime/default", "Unconfined": "unconfined"}.get(t)
    if t == "Localhost":
        name = "localhost/" + str(field.get("localhostProfile"))
    return name in allowed or (name == "runtime/default" and "docker/default" in allowed)


def in_ranges(v, ranges):
    return any(a <= v <= b for a, b in ranges)


def fmt_ranges(ranges):
    return ", ".join(f"{a}-{b}" for a, b in ranges)


def pod_templates(env_dir):
    for root, dirs, files in os.walk(env_dir):
        dirs.sort()
        for f in sorted(files):
            if not f.endswith((".yaml", ".yml")):
                continue
            with open(os.path.join(root, f)) as fh:
                for d in yaml.safe_load_all(fh):
                    if not isinstance(d, dict):
                        continue
                    k, spec = d.get("kind"), d.get("spec") or {}
                    tpl = None
                    if k in ("Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"):
                        tpl = spec.get("template")
                    elif k == "CronJob":
                        tpl = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
                    elif k == "Notebook" and str(d.get("apiVersion", "")).startswith("kubeflow.org/"):
                        tpl = spec.get("template")
                    elif k == "Pod":
                        tpl = {"spec": spec}
                    if tpl is not None:
                        md = d.get("metadata") or {}
                        if k == "Pod":
                            ann = md.get("annotations") or {}
                        elif k == "Notebook":
                            # the notebook controller copies the Notebook's annotations onto its pod,
                            # except keys with "kubectl" or "notebook" in them
                            ann = {a: v for a, v in (md.get("annotations") or {}).items()
                                   if "kubectl" not in a and "notebook" not in a}
                        else:
                            ann = (tpl.get("metadata") or {}).get("annotations") or {}
                        yield (f"{md.get('namespace', 'default')}/{k}/{md.get('name')}", (tpl.get("spec") or {}),
                               ann.get(REQUIRED_SCC))


def load_sccs(paths, ns_ann):
    out = []
    for p in paths:
        with open(p) as fh:
            out.append(SCC(yaml.safe_load(fh), ns_ann))
    return sorted(out, key=SCC.sort_key)


# the largest uid a pod's user namespace maps (the kubelet maps 65536 ids per pod)
USERNS_MAX_ID = 65535


def userns_refusal(scc, spec, verdict):
    """Why `scc`, which requires a user namespace, refuses a pod that has none, if that is the only
    reason: the reasons, else None. Checked by asking `scc` again with hostUsers: false and without
    the pod's supplementalGroups (host groups: the SCC's ranges are ids inside the namespace)."""
    if scc.doc.get("userNamespaceLevel") != "RequirePodLevel" or spec.get("hostUsers") is False:
        return None
    again = dict(spec, hostUsers=False)
    psc = dict(spec.get("securityContext") or {})
    psc.pop("supplementalGroups", None)
    again["securityContext"] = psc
    errs, _, _ = scc.admit(again)
    return None if errs else verdict["reasons"]


def pinned_problems(r, spec, sccs):
    """--pinned: the rule for nbgen's OpenShift pods (module doc). Returns (problems, expected),
    expected: {scc: reasons} of the explained refusals."""
    problems, expected = [], {}
    required = r["required"]
    if required is None:
        problems.append(f"--pinned: no {REQUIRED_SCC} annotation")
        return problems, expected
    pinned = next((v for v in r["verdicts"] if v["scc"] == required), None)
    if pinned is None:
        return problems, expected  # already a problem: not one of the SCCs checked
    if not pinned["admitted"]:
        problems.append(f"--pinned: {required}, which it pins, refuses it")
    else:
        c = next(iter(pinned["containers"].values()), {})
        uid = c.get("runAsUser", pinned["podSecurityContext"].get("runAsUser"))
        if spec.get("hostUsers") is False and uid is not None and uid > USERNS_MAX_ID:
            problems.append(f"--pinned: hostUsers: false, but {required} runs it with uid {uid}, which a user "
                            f"namespace cannot map (at most {USERNS_MAX_ID})")
    by_name = {s.name: s for s in sccs}
    for v in r["verdicts"]:
        if v["admitted"] or v["scc"] == required:
            continue
        why = userns_refusal(by_name[v["scc"]], spec, v)
        if why is None:
            problems.append(f"--pinned: {v['scc']} refuses it for more than the user namespace it requires")
        else:
            expected[v["scc"]] = why
    return problems, expected


def check(env_dirs, scc_paths, ns_path, as_json=False, out=sys.stdout, require_all=False, pinned=False):
    with open(ns_path) as fh:
        ns_ann = ((yaml.safe_load(fh) or {}).get("metadata") or {}).get("annotations") or {}
    sccs = load_sccs(scc_paths, ns_ann)
    results = []
    for env in env_dirs:
        for label, spec, required in pod_templates(env):
            verdicts = []
            for scc in sccs:
                errs, ps, ctxs = scc.admit(spec)
                verdicts.append({"scc": scc.name, "admitted": not errs, "reasons": errs,
                                 "podSecurityContext": ps, "containers": {n: c for n, c in ctxs}})
            # OpenShift runs the pod with the first SCC that admits it, or only the required one
            candidates = [v for v in verdicts if required in (None, v["scc"])]
            chosen = next((v for v in candidates if v["admitted"]), None)
            problems = []
            if required is not None and not any(v["scc"] == required for v in verdicts):
                problems.append(f"{REQUIRED_SCC}: {required} is not one of the SCCs checked")
            if require_all:
                problems += [f"--require-all: {v['scc']} refuses it" for v in verdicts if not v["admitted"]]
            r = {"env": env, "pod": label, "by": chosen["scc"] if chosen else None, "required": required,
                 "verdicts": verdicts, "expected_refusals": {}}
            if pinned:
                more, r["expected_refusals"] = pinned_problems(r, spec, sccs)
                problems += more
            r.update(admitted=chosen is not None and not problems, problems=problems)
            results.append(r)
    if as_json:
        json.dump(results, out, indent=1)
        out.write("\n")
    else:
        for r in results:
            head = f"{'ADMITTED' if r['admitted'] else 'REFUSED '} {r['env']}: {r['pod']}"
            if r["by"]:
                v = next(v for v in r["verdicts"] if v["scc"] == r["by"])
                c = next(iter(v["containers"].values()), {})
                ps = v["podSecurityContext"]
                head += (f"  by {r['by']}: uid {c.get('runAsUser', ps.get('runAsUser'))}, "
                         f"gid {c.get('runAsGroup', ps.get('runAsGroup', '(image; 0 for an arbitrary uid)'))}, "
                         f"fsGroup {ps.get('fsGroup')}, supplementalGroups {ps.get('supplementalGroups')}, "
                         f"seLinux {(ps.get('seLinuxOptions') or {}).get('level')}, "
                         f"seccomp {(ps.get('seccompProfile') or {}).get('type')}, "
                         f"drop {((c.get('capabilities') or {}).get('drop'))}, "
                         f"allowPrivilegeEscalation {c.get('allowPrivilegeEscalation')}")
                if r["required"]:
                    head += f" ({REQUIRED_SCC}: {r['required']})"
            if require_all or pinned:
                head += f"; admitted by {sum(v['admitted'] for v in r['verdicts'])} of {len(r['verdicts'])} SCCs"
            print(head, file=out)
            for p in r["problems"]:
                print(f"    - {p}", file=out)
            for v in r["verdicts"]:
                if v["admitted"]:
                    continue
                if v["scc"] in r["expected_refusals"]:
                    print(f"    {v['scc']}: refused, as expected: the pod runs without a user namespace, which "
                          f"{v['scc']} requires (with hostUsers: false and without its host supplementalGroups "
                          f"{v['scc']} admits it: nothing else refuses it):", file=out)
                else:
                    print(f"    {v['scc']}: refused:", file=out)
                for e in v["reasons"]:
                    print(f"      - {e}", file=out)
        n_ok = sum(r["admitted"] for r in results)
        if pinned:
            n_exp = sum(len(r["expected_refusals"]) for r in results)
            what = (f"pods admitted by the SCC they pin, in a user namespace by every SCC; "
                    f"{n_exp} expected refusal(s) for want of a user namespace, each the only reason")
        elif require_all:
            what = "pods admitted by every SCC / refused by one"
        else:
            what = "pods admitted / refused by every SCC"
        print(f"scc: {n_ok} passed, {len(results) - n_ok} failed ({what})", file=out)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("envs", nargs="+")
    ap.add_argument("--scc", action="append", help="an SCC YAML file (repeatable); default restricted-v2 and -v3")
    ap.add_argument("--namespace", default=os.path.join(HERE, "namespace-openshift.yaml"),
                    help="a Namespace with OpenShift's openshift.io/sa.scc.* annotations")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--require-all", action="store_true",
                    help="a pod passes only if every SCC given admits it (not only the first that does)")
    ap.add_argument("--pinned", action="store_true",
                    help="nbgen's OpenShift rule: each pod admitted by the SCC it pins; in a user namespace by "
                         "every SCC; without one refused by an SCC requiring one only for that (module doc)")
    a = ap.parse_args()
    try:
        sccs = a.scc or [fixtures.path("openshift-scc", "scc-restricted-v2.yaml"),
                         fixtures.path("openshift-scc", "scc-restricted-v3.yaml")]
    except (fixtures.FixtureMissing, fixtures.FixtureConfigError) as e:
        # no stand-in: the strategies and ranges are read from OpenShift's published SCCs
        print(f"scc: cannot run without OpenShift's published SCCs (nbgen has no stand-in for them): {e}",
              file=sys.stderr)
        return 2
    for e in a.envs:
        if not os.path.isdir(e):
            print(f"scc: {e}: not a directory", file=sys.stderr)
            return 2
    results = check(a.envs, sccs, a.namespace, a.json, require_all=a.require_all, pinned=a.pinned)
    if not results:
        print(f"scc: no pod templates in {' '.join(a.envs)}: nothing was checked", file=sys.stderr)
        return 2
    return 0 if all(r["admitted"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
