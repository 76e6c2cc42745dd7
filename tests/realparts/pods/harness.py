#!/usr/bin/env python3
"""Pod harness: run every notebook-server and notebook-job pod that nbgen rendered the way a
kubelet would (bubblewrap + setpriv + a network namespace per pod), without a cluster, and check
that it works. See README.md next to this file.

Usage: harness.py [options] OUT_ENV_DIR...      (e.g. out/prod out/staging)
Run as root, with the venv's python (it needs requests, websocket-client, PyYAML).
"""
import argparse
import copy
import fcntl
import ast
import base64
import copy
import concurrent.futures
import fnmatch
import hashlib
import io
import json
import os
import random
import re
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile

import requests
import websocket
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/realparts: fixtures.py
import fixtures  # noqa: E402

# ---- assumptions that nbgen's docs tell users (change them here, in one place) -----------------
# How the stand-in NFS exports are prepared: the kubelet applies no fsGroup to NFS volumes, so the
# docs tell users to prepare each export owned by the notebook user and group, setgid, group-writable.
NFS_EXPORT_UID = 1000
NFS_EXPORT_GID = 100
NFS_EXPORT_MODE = 0o2775

SERVER_KINDS = ("StatefulSet", "Deployment", "Notebook")
# A kubeflow.org Notebook is run as kubeflow/notebooks' controller runs it (notebook_pod_template):
# a StatefulSet of one pod, behind Kubeflow's Istio gateway, which authenticates every request.
JOB_KINDS = ("Job", "CronJob")
SERVER_TIMEOUT = 120      # seconds a server gets to answer its startup probe (harness bound)
JOB_TIMEOUT = 240         # seconds a job pod gets to finish (harness bound)
KERNEL_TIMEOUT = 90       # seconds for one execute_request to reply
GRACE_CAP = 10            # seconds of terminationGracePeriod the harness honours at most
PROBE_PACKAGE = "nbgen_pod_probe"

_print_lock = threading.Lock()
LIVE_PODS = set()          # pods whose process group must die if the harness is stopped
LIVE_NETNS = set()         # network namespaces to delete if the harness is stopped
LIVE_LOCK = threading.Lock()
STOPPING = threading.Event()


def say(line):
    with _print_lock:
        print(line, flush=True)


class HarnessError(Exception):
    """Something the harness cannot run (bad input, unsupported feature): a failure, with reason."""


# ---- the rendered objects ------------------------------------------------------------------------

class Tree:
    """All objects under one out/<env>/ directory."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.env = os.path.basename(self.path.rstrip("/"))
        self.display = os.path.normpath(path)   # as given, to tell out/prod from another prod
        # a cluster per environment directory: its block-backed claims are its own
        self.key = "%s-%s" % (self.env, hashlib.sha256(self.path.encode()).hexdigest()[:8])
        self.objects = []
        for root, dirs, files in os.walk(self.path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for f in sorted(files):
                if f.startswith(".") or not f.endswith((".yaml", ".yml")):
                    continue
                with open(os.path.join(root, f)) as fh:
                    for doc in yaml.safe_load_all(fh):
                        if isinstance(doc, dict) and doc.get("kind"):
                            doc["_file"] = os.path.relpath(os.path.join(root, f), self.path)
                            self.objects.append(doc)

    def get(self, kind, namespace, name):
        for o in self.objects:
            md = o.get("metadata", {})
            if o["kind"] == kind and md.get("name") == name and md.get("namespace", None) in (namespace, None):
                return o
        return None

    def nfs_claims(self):
        """(namespace, claimName) -> 'server:path' for claims bound to an NFS PersistentVolume."""
        out = {}
        for pv in self.objects:
            if pv["kind"] != "PersistentVolume" or "nfs" not in pv.get("spec", {}):
                continue
            ref = pv["spec"].get("claimRef") or {}
            nfs = pv["spec"]["nfs"]
            export = "%s:%s" % (nfs.get("server"), nfs.get("path"))
            if ref.get("name"):
                out[(ref.get("namespace"), ref["name"])] = export
            # also claims that name the PV with volumeName
            for pvc in self.objects:
                if pvc["kind"] == "PersistentVolumeClaim" and pvc.get("spec", {}).get("volumeName") == pv["metadata"]["name"]:
                    out[(pvc["metadata"].get("namespace"), pvc["metadata"]["name"])] = export
        return out

    def workloads(self):
        for o in self.objects:
            if o["kind"] in SERVER_KINDS + JOB_KINDS and (
                    o["kind"] != "Notebook" or str(o.get("apiVersion", "")).startswith("kubeflow.org/")):
                yield o


def is_notebook(obj):
    return obj["kind"] == "Notebook" and str(obj.get("apiVersion", "")).startswith("kubeflow.org/")


def behind_kubeflow_gateway(obj):
    """A Kubeflow Notebook, served without a token behind Kubeflow's gateway. Not an ODH workbench
    (`opendatahub.io/odh-managed: "true"`): its auth proxy is injected by ODH's webhook, and
    Jupyter keeps its own token behind it (docs/openshift.md), so it is checked like a server."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return is_notebook(obj) and labels.get("opendatahub.io/odh-managed") != "true"


def notebook_pod_template(obj):
    """The pod template kubeflow/notebooks' notebook-controller makes of a Notebook
    (generateStatefulSet in controllers/notebook_controller.go): the Notebook's labels, and its
    annotations but those with `notebook` or `kubectl` in the key; the first container's
    workingDir (default /home/jovyan), ports (default 8888 `notebook-port`) and NB_PREFIX
    (/notebook/<namespace>/<name>, added when absent); fsGroup 100 when no securityContext."""
    md = obj.get("metadata") or {}
    spec = copy.deepcopy(((obj.get("spec") or {}).get("template") or {}).get("spec") or {})
    labels = dict(md.get("labels") or {})
    labels.update({"statefulset": md.get("name"), "notebook-name": md.get("name")})
    annotations = {k: v for k, v in (md.get("annotations") or {}).items()
                   if "notebook" not in k and "kubectl" not in k}
    containers = spec.get("containers") or []
    if not containers:
        raise HarnessError("Notebook %s has no container" % md.get("name"))
    c = containers[0]
    c.setdefault("workingDir", "/home/jovyan")
    if c.get("ports") is None:
        c["ports"] = [{"containerPort": 8888, "name": "notebook-port", "protocol": "TCP"}]
    env = c.setdefault("env", [])
    if not any(e.get("name") == "NB_PREFIX" for e in env):
        env.append({"name": "NB_PREFIX", "value": "/notebook/%s/%s" % (md.get("namespace"), md.get("name"))})
    if spec.get("securityContext") is None:
        spec["securityContext"] = {"fsGroup": 100}
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": spec}


def pod_template(obj):
    k = obj["kind"]
    if is_notebook(obj):
        return notebook_pod_template(obj)
    if k in ("StatefulSet", "Deployment", "Job"):
        return obj["spec"]["template"]
    if k == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    raise HarnessError("not a workload: %s" % k)


def rand_suffix(n):
    return "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


def pod_name(obj):
    name = obj["metadata"]["name"]
    k = obj["kind"]
    if k == "StatefulSet" or k == "Notebook":   # a Notebook's StatefulSet is named after it
        return name + "-0"
    if k == "Deployment":
        return "%s-%s-%s" % (name, rand_suffix(10), rand_suffix(5))
    if k == "Job":
        return "%s-%s" % (name, rand_suffix(5))
    # CronJob: job <cronjob>-<scheduled minute>, pod <job>-<5>
    return "%s-%d-%s" % (name, int(time.time() // 60), rand_suffix(5))


# ---- stand-in images -----------------------------------------------------------------------------

class Images:
    def __init__(self, path, venv):
        with open(path) as fh:
            data = yaml.safe_load(fh)
        self.rules = data["images"]
        self.families = data["families"]
        self.venv = venv
        # A family's `upstream` (a tests/realparts/fixtures.py source: the image's own startup
        # files, by their path in the image) is laid over its `files` when found; else its
        # `standin` (nbgen's own files under images/, written after the image's documented
        # behaviour). Decided once per run, and said.
        self.upstream = {}   # family -> {path in the image: verified host path}
        self.origin = {}     # family -> one line for the output
        for name, fam in self.families.items():
            src = fam.get("upstream")
            if not src:
                continue
            what = fam.get("upstream_what", "upstream files")
            try:
                found = fixtures.available(src)
            except fixtures.FixtureConfigError as e:
                raise SystemExit("pod harness: could not run: %s" % e)
            if found:
                self.upstream[name] = {n: fixtures.path(src, n) for n in fixtures.SOURCES[src]["files"]
                                       if not os.path.basename(n).startswith("LICENSE")}
                self.origin[name] = "%s stand-in: %s (%s)" % (name, what, fixtures.describe(src))
            else:
                self.origin[name] = ("%s stand-in: nbgen's behavioural stand-in, images/%s/ (%s %s not found: "
                                     "see tests/realparts/README.md)" % (name, fam["standin"], what, fixtures.origin(src)))

    def family_of(self, image):
        for r in self.rules:
            if fnmatch.fnmatchcase(image, r["pattern"]):
                name = r["family"]
                if name not in self.families:
                    raise HarnessError("images.yaml: image %s maps to unknown family %s" % (image, name))
                return name, self.families[name]
        raise HarnessError("image %s matches no pattern in images.yaml (add it to a stand-in family)" % image)

    def sub(self, s):
        return s.replace("$VENV", self.venv)


# ---- Kubernetes semantics: env and $(VAR) expansion ----------------------------------------------

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(s, env):
    """Kubernetes $(VAR) expansion: $$ -> $, $(X) from env, an unresolved $(X) stays literally."""
    def rep(m):
        if m.group(0) == "$$":
            return "$"
        v = m.group(1)
        return env[v] if v in env else m.group(0)
    return _VAR.sub(rep, s)


class PodContext:
    """What a kubelet knows when it starts one pod."""

    def __init__(self, tree, obj, secrets_):
        self.tree = tree
        self.obj = obj
        self.kind = obj["kind"]
        self.name = obj["metadata"]["name"]
        self.namespace = obj["metadata"].get("namespace", "default")
        self.template = pod_template(obj)
        self.spec = self.template["spec"]
        self.secrets = secrets_   # (namespace, name) -> {key: value}
        cs = self.spec.get("containers") or []
        if len(cs) != 1:
            raise HarnessError("%s/%s: the harness runs exactly one container per pod, found %d"
                               % (self.kind, self.name, len(cs)))
        if self.spec.get("initContainers"):
            raise HarnessError("%s/%s: initContainers are not supported by the harness" % (self.kind, self.name))
        self.container = cs[0]
        self.pod_name = pod_name(obj)

    def configmap(self, name):
        cm = self.tree.get("ConfigMap", self.namespace, name)
        return cm

    def secret(self, name):
        return self.secrets.get((self.namespace, name))

    def resolve_env(self, image_env):
        """Image ENV first, then the container's env in order, resolved as the kubelet does."""
        c = self.container
        container_env = {}
        for src in c.get("envFrom") or []:
            prefix = src.get("prefix", "")
            if "configMapRef" in src:
                cm = self.configmap(src["configMapRef"]["name"])
                if cm is None:
                    if src["configMapRef"].get("optional"):
                        continue
                    raise HarnessError("envFrom: ConfigMap %s not in the out/ tree" % src["configMapRef"]["name"])
                for k, v in (cm.get("data") or {}).items():
                    container_env[prefix + k] = v
            elif "secretRef" in src:
                s = self.secret(src["secretRef"]["name"])
                if s is None:
                    raise HarnessError("envFrom: Secret %s is unknown to the harness" % src["secretRef"]["name"])
                for k, v in s.items():
                    container_env[prefix + k] = v
        for e in c.get("env") or []:
            n = e["name"]
            if "value" in e:
                container_env[n] = expand(str(e["value"]), container_env)
            elif "valueFrom" in e:
                vf = e["valueFrom"]
                if "secretKeyRef" in vf:
                    ref = vf["secretKeyRef"]
                    s = self.secret(ref["name"])
                    if s is None or ref["key"] not in s:
                        if ref.get("optional"):
                            continue
                        raise HarnessError("env %s: secretKeyRef %s/%s is not a Secret the harness makes "
                                           "(it makes <server>-token with key token)" % (n, ref["name"], ref["key"]))
                    container_env[n] = s[ref["key"]]
                elif "configMapKeyRef" in vf:
                    ref = vf["configMapKeyRef"]
                    cm = self.configmap(ref["name"])
                    if cm is None or ref["key"] not in (cm.get("data") or {}):
                        if ref.get("optional"):
                            continue
                        raise HarnessError("env %s: configMapKeyRef %s/%s not in the out/ tree" % (n, ref["name"], ref["key"]))
                    container_env[n] = cm["data"][ref["key"]]
                elif "fieldRef" in vf:
                    fp = vf["fieldRef"]["fieldPath"]
                    vals = {"metadata.name": self.pod_name, "metadata.namespace": self.namespace,
                            "spec.serviceAccountName": self.spec.get("serviceAccountName", "default"),
                            "spec.nodeName": "pod-harness", "status.podIP": self.pod_ip,
                            "status.hostIP": self.host_ip}
                    if fp not in vals:
                        raise HarnessError("env %s: fieldRef %s not supported by the harness" % (n, fp))
                    container_env[n] = vals[fp]
                elif "resourceFieldRef" in vf:
                    raise HarnessError("env %s: resourceFieldRef not supported by the harness" % n)
            else:
                container_env[n] = ""
        env = dict(image_env)
        env.update(container_env)
        # Kubernetes service env vars: enableServiceLinks defaults to true; nbgen sets it false.
        env.setdefault("HOSTNAME", self.pod_name)
        return env, container_env


# ---- volumes -------------------------------------------------------------------------------------

def chown_tree_fsgroup(path, gid):
    """What the kubelet does for fsGroup on a block-backed volume (fsGroupChangePolicy Always):
    group-own everything by fsGroup, add group rw (and x where the owner has x), setgid on dirs."""
    for root, dirs, files in os.walk(path):
        st = os.lstat(root)
        os.lchown(root, -1, gid)
        os.chmod(root, (st.st_mode & 0o7777) | 0o2070)
        for f in files:
            p = os.path.join(root, f)
            st = os.lstat(p)
            os.lchown(p, -1, gid)
            if not os.path.islink(p):
                os.chmod(p, (st.st_mode & 0o7777) | 0o060 | (0o010 if st.st_mode & 0o100 else 0))


class Volumes:
    def __init__(self, ctx, state_dir, run_dir, nfs_claims):
        self.ctx = ctx
        self.state_dir = state_dir
        self.run_dir = run_dir
        self.nfs = nfs_claims
        self.host = {}       # volume name -> host dir
        self.kind = {}       # volume name -> description
        self.tmpfs = {}      # volume name -> size in bytes (medium Memory)
        self.readonly = {}   # volume name -> bool (volume-level readOnly)

    def claim_dir(self, claim):
        key = (self.ctx.namespace, claim)
        if key in self.nfs:
            export = self.nfs[key]
            d = os.path.join(self.state_dir, "nfs", re.sub(r"[^A-Za-z0-9_.-]", "_", export))
            if not os.path.isdir(d):
                os.makedirs(d)
                os.chown(d, NFS_EXPORT_UID, NFS_EXPORT_GID)
                os.chmod(d, NFS_EXPORT_MODE)
            return d, "nfs"
        d = os.path.join(self.state_dir, "claims", self.ctx.tree.key, self.ctx.namespace, claim)
        if not os.path.isdir(d):
            # two pods of one namespace may share a claim and start at once (dev's `scratch`)
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        return d, "block"

    def prepare(self, fresh_emptydirs=True):
        ps = self.ctx.spec.get("securityContext") or {}
        fsgroup = ps.get("fsGroup")
        for v in self.ctx.spec.get("volumes") or []:
            n = v["name"]
            if "emptyDir" in v:
                ed = v["emptyDir"] or {}
                if ed.get("medium") == "Memory":
                    self.tmpfs[n] = parse_quantity(ed.get("sizeLimit")) if ed.get("sizeLimit") else None
                    self.kind[n] = "emptyDir(Memory)"
                    continue
                d = os.path.join(self.run_dir, "emptydir", n)
                if fresh_emptydirs and os.path.exists(d):
                    shutil.rmtree(d)
                os.makedirs(d, exist_ok=True)
                os.chmod(d, 0o777)
                if fsgroup is not None:
                    os.chown(d, -1, fsgroup)
                    os.chmod(d, 0o2777)
                self.host[n], self.kind[n] = d, "emptyDir"
            elif "persistentVolumeClaim" in v:
                pvc = v["persistentVolumeClaim"]
                d, how = self.claim_dir(pvc["claimName"])
                if how == "block" and fsgroup is not None:
                    chown_tree_fsgroup(d, fsgroup)
                self.host[n] = d
                self.kind[n] = "pvc:%s(%s)" % (pvc["claimName"], how)
                self.readonly[n] = bool(pvc.get("readOnly"))
            elif "configMap" in v or "secret" in v:
                is_cm = "configMap" in v
                src = v["configMap"] if is_cm else v["secret"]
                ref = src.get("name") if is_cm else src.get("secretName")
                data = None
                if is_cm:
                    cm = self.ctx.configmap(ref)
                    if cm is not None:
                        data = dict(cm.get("data") or {})
                        for k, b in (cm.get("binaryData") or {}).items():
                            data[k] = base64.b64decode(b)
                else:
                    data = self.ctx.secret(ref)
                if data is None:
                    if src.get("optional"):
                        data = {}
                    else:
                        raise HarnessError("volume %s: %s %s is not %s" % (
                            n, "ConfigMap" if is_cm else "Secret", ref,
                            "in the out/ tree" if is_cm else "a Secret the harness makes"))
                d = os.path.join(self.run_dir, "cm" if is_cm else "secret", n)
                if os.path.exists(d):
                    shutil.rmtree(d)
                os.makedirs(d)
                os.chmod(d, 0o755)
                mode = src.get("defaultMode", 0o644)
                items = src.get("items")
                pairs = [(it["key"], it["path"], it.get("mode", mode)) for it in items] if items else \
                        [(k, k, mode) for k in data]
                for key, path, m in pairs:
                    if key not in data:
                        raise HarnessError("volume %s: key %s not in %s" % (n, key, ref))
                    p = os.path.join(d, path)
                    os.makedirs(os.path.dirname(p), exist_ok=True)
                    val = data[key]
                    with open(p, "wb") as fh:
                        fh.write(val if isinstance(val, bytes) else val.encode())
                    os.chmod(p, m)
                    if fsgroup is not None:
                        os.chown(p, -1, fsgroup)
                self.host[n] = d
                self.kind[n] = ("configMap:" if is_cm else "secret:") + ref
                self.readonly[n] = True   # the kubelet always mounts these read-only
            else:
                raise HarnessError("volume %s: type %s not supported by the harness"
                                   % (n, [k for k in v if k != "name"]))

    def mounts(self):
        """[(container path, host path or None for tmpfs, readOnly, volume name, size)] sorted parent-first."""
        out = []
        for m in self.ctx.container.get("volumeMounts") or []:
            n = m["name"]
            if n not in self.host and n not in self.tmpfs:
                raise HarnessError("volumeMount %s: no volume named %s" % (m["mountPath"], n))
            ro = bool(m.get("readOnly")) or self.readonly.get(n, False)
            if n in self.tmpfs:
                if m.get("subPath"):
                    raise HarnessError("subPath on a Memory emptyDir is not supported by the harness")
                out.append((m["mountPath"], None, ro, n, self.tmpfs[n]))
                continue
            src = self.host[n]
            sub = m.get("subPath") or (expand(m["subPathExpr"], self.ctx.env) if m.get("subPathExpr") else None)
            if sub:
                if sub.startswith("/") or ".." in sub.split("/"):
                    raise HarnessError("volumeMount %s: invalid subPath %s" % (m["mountPath"], sub))
                src = os.path.join(src, sub)
                if not os.path.exists(src):
                    os.makedirs(src)
                    st = os.stat(self.host[n])
                    os.chown(src, st.st_uid, st.st_gid)
                    os.chmod(src, st.st_mode & 0o7777)
            out.append((os.path.normpath(m["mountPath"]), src, ro, n, None))
        out.sort(key=lambda t: t[0].count("/"))
        return out

    def host_path(self, container_path):
        """The host path behind a container path (through the volume mounts), or None."""
        best = None
        for mp, src, ro, n, size in self.mounts():
            if src is None:
                continue
            if container_path == mp or container_path.startswith(mp.rstrip("/") + "/"):
                if best is None or len(mp) > len(best[0]):
                    best = (mp, src)
        if best is None:
            return None
        rel = os.path.relpath(container_path, best[0])
        return os.path.normpath(os.path.join(best[1], rel))


_Q = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "k": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "T": 1000 ** 4}


def parse_quantity(q):
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(q))
    if not m or (m.group(2) and m.group(2) not in _Q):
        raise HarnessError("cannot read quantity %r" % q)
    return int(float(m.group(1)) * _Q.get(m.group(2), 1))


# ---- network namespace ---------------------------------------------------------------------------

class NetNS:
    def __init__(self, index):
        self.index = index
        self.name = "nbgen-pod-%d" % index
        self.veth = "nbgh%d" % index
        self.host_ip = "10.233.%d.1" % index
        self.pod_ip = "10.233.%d.2" % index

    def __enter__(self):
        self.delete()
        with LIVE_LOCK:
            if STOPPING.is_set():
                raise HarnessError("stopping")
            LIVE_NETNS.add(self.name)
            run(["ip", "netns", "add", self.name])
        run(["ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.name])
        run(["ip", "addr", "add", self.host_ip + "/30", "dev", self.veth])
        run(["ip", "link", "set", self.veth, "up"])
        run(["ip", "-n", self.name, "addr", "add", self.pod_ip + "/30", "dev", "eth0"])
        run(["ip", "-n", self.name, "link", "set", "eth0", "up"])
        run(["ip", "-n", self.name, "link", "set", "lo", "up"])
        return self

    def delete(self):
        subprocess.run(["ip", "link", "del", self.veth], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "del", self.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __exit__(self, *a):
        self.delete()
        LIVE_NETNS.discard(self.name)


def run(argv, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        raise HarnessError("%s failed (%d): %s" % (" ".join(argv), r.returncode, r.stdout.strip()))
    return r.stdout


# ---- the sandbox (the "container runtime") -------------------------------------------------------

class Pod:
    """One run of a pod's container: stand-in root fs + volumes + env + identity, in a netns."""

    def __init__(self, ctx, images, volumes, netns, run_dir, log_path):
        self.ctx = ctx
        self.images = images
        self.vols = volumes
        self.netns = netns
        self.run_dir = run_dir
        self.log_path = log_path
        self.proc = None
        c = ctx.container
        self.family_name, fam = images.family_of(c["image"])
        self.family = fam
        image_env = {k: images.sub(str(v)) for k, v in (fam.get("env") or {}).items()}
        self.env, self.container_env = ctx.resolve_env(image_env)
        # identity
        ps = ctx.spec.get("securityContext") or {}
        cs = c.get("securityContext") or {}
        self.uid = cs.get("runAsUser", ps.get("runAsUser", fam.get("user", 0)))
        passwd_gid = {1000: 100, 0: 0}.get(self.uid, 0)
        self.gid = cs.get("runAsGroup", ps.get("runAsGroup", passwd_gid))
        non_root = cs.get("runAsNonRoot", ps.get("runAsNonRoot", False))
        if non_root and self.uid == 0:
            raise HarnessError("CreateContainerConfigError: runAsNonRoot is set and the image (%s stand-in) "
                               "will run as root: set runAsUser" % self.family_name)
        self.groups = []
        for g in ([ps["fsGroup"]] if "fsGroup" in ps else []) + list(ps.get("supplementalGroups") or []):
            if g not in self.groups:
                self.groups.append(g)
        caps = (cs.get("capabilities") or {}).get("add") or []
        if caps:
            raise HarnessError("capabilities.add %s: the harness grants no capabilities" % caps)
        if cs.get("privileged"):
            raise HarnessError("privileged containers are not run by the harness")
        self.read_only_root = bool(cs.get("readOnlyRootFilesystem"))
        # command
        entry = list(fam.get("entrypoint") or [])
        cmd = list(fam.get("cmd") or [])
        if c.get("command"):
            argv = list(c["command"]) + list(c.get("args") or [])
        elif c.get("args") is not None and "args" in c:
            argv = entry + list(c["args"])
        else:
            argv = entry + cmd
        argv = [expand(str(a), self.container_env) for a in argv]
        if not argv:
            raise HarnessError("no command: the image has no ENTRYPOINT/CMD and the container sets none")
        self.argv = argv
        self.workdir = c.get("workingDir") or fam.get("workdir") or "/"

    def build_layer(self):
        """The stand-in image's own files (its layer over the host /usr), copied per pod."""
        layer = os.path.join(self.run_dir, "layer")
        if os.path.exists(layer):
            shutil.rmtree(layer)
        os.makedirs(layer)

        def copy(src):
            for root, dirs, files in os.walk(src):
                rel = os.path.relpath(root, src)
                dst = os.path.normpath(os.path.join(layer, rel))
                os.makedirs(dst, exist_ok=True)
                for f in files:
                    if rel == "." and f.endswith(".md"):
                        continue
                    if f == ".keep":
                        continue
                    shutil.copy2(os.path.join(root, f), os.path.join(dst, f))
        copy(os.path.join(HERE, "images", "common"))
        copy(os.path.join(HERE, "images", self.family["files"]))
        if self.family_name in self.images.upstream:
            # upstream's files, by their path in the image; executable as in the image (the copies
            # found may have lost their mode)
            for rel, src in sorted(self.images.upstream[self.family_name].items()):
                dst = os.path.join(layer, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o755)
        elif self.family.get("standin"):
            copy(os.path.join(HERE, "images", self.family["standin"]))
        etc = os.path.join(layer, "etc")
        with open(os.path.join(etc, "hostname"), "w") as fh:
            fh.write(self.ctx.pod_name + "\n")
        with open(os.path.join(etc, "hosts"), "w") as fh:
            fh.write("127.0.0.1\tlocalhost\n%s\t%s\n" % (self.netns.pod_ip, self.ctx.pod_name))
        with open(os.path.join(etc, "resolv.conf"), "w") as fh:
            fh.write("# pod harness: no DNS\n")
        # image dirs every family has: the home dir (owned by the image user) and /tmp
        home = os.path.join(layer, "home", "jovyan")
        os.makedirs(home, exist_ok=True)
        os.chown(home, 1000, 100)
        os.chmod(home, 0o2775)
        os.makedirs(os.path.join(layer, "tmp"), exist_ok=True)
        os.chmod(os.path.join(layer, "tmp"), 0o1777)
        for root, dirs, files in os.walk(layer):
            for d in dirs:
                p = os.path.join(root, d)
                if p != home:
                    os.chmod(p, os.stat(p).st_mode & 0o7777 | 0o755)
        os.chmod(layer, 0o755)
        self.layer = layer

    def bwrap_argv(self):
        a = ["bwrap", "--tmpfs", "/", "--perms", "0755", "--dir", "/usr", "--ro-bind", "/usr", "/usr"]
        made = {"/", "/usr"}
        for l in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
            if os.path.islink("/" + l):
                a += ["--symlink", os.readlink("/" + l), "/" + l]
                made.add("/" + l)

        def mkdirs(path):
            # bwrap makes missing parents 0700: make each one first with --dir (0755)
            parts = [p for p in path.split("/") if p]
            cur = ""
            for p in parts:
                cur += "/" + p
                if cur in made:
                    continue
                a.extend(["--perms", "0755", "--dir", cur])
                made.add(cur)

        a += ["--proc", "/proc", "--dev", "/dev"]
        made.update({"/proc", "/dev"})
        # the stand-in image's layer: each top-level dir (and /usr/local) bound at its place
        mode = "--ro-bind" if self.read_only_root else "--bind"
        for top in sorted(os.listdir(self.layer)):
            src = os.path.join(self.layer, top)
            if top == "usr":
                for sub in sorted(os.listdir(src)):
                    a += [mode, os.path.join(src, sub), "/usr/" + sub]
                continue
            if os.path.isdir(src):
                mkdirs("/" + top)
            a += [mode, src, "/" + top]   # a dir, or a file such as /init
            made.add("/" + top)
        # the shared venv, at its own path (its scripts' #! lines name it)
        mkdirs(os.path.dirname(self.images.venv))
        a += ["--ro-bind", self.images.venv, self.images.venv]
        made.add(self.images.venv)
        for link, target in (self.family.get("symlinks") or {}).items():
            mkdirs(os.path.dirname(link))
            a += ["--symlink", self.images.sub(target), link]
            made.add(link)
        # volumes, parents first
        for mp, src, ro, n, size in self.vols.mounts():
            mkdirs(os.path.dirname(mp))
            if src is None:
                if size:
                    a += ["--size", str(size)]
                a += ["--perms", "1777", "--tmpfs", mp]
            else:
                ensure_mountpoint(self.layer, mp)
                a += ["--ro-bind" if ro else "--bind", src, mp]
            made.add(mp)
        if self.read_only_root:
            a += ["--remount-ro", "/"]
        a += ["--unshare-pid", "--unshare-uts", "--unshare-ipc", "--hostname", self.ctx.pod_name[:63],
              "--die-with-parent", "--new-session", "--clearenv"]
        for k, v in self.env.items():
            a += ["--setenv", k, v]
        a += ["--chdir", self.workdir]
        groups = ",".join(str(g) for g in self.groups) if self.groups else None
        sp = ["/usr/bin/setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid]
        sp += ["--groups=" + groups] if groups else ["--clear-groups"]
        sp += ["--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"]
        return a + ["--"] + sp + self.argv

    def start(self):
        self.build_layer()
        argv = ["ip", "netns", "exec", self.netns.name] + self.bwrap_argv()
        self.argv_full = argv
        self.log = open(self.log_path, "ab")
        self.log.write(("\n==== %s start %s: %s\n" % (time.strftime("%H:%M:%S"), self.ctx.pod_name, " ".join(self.argv))).encode())
        self.log.flush()
        self.started = time.time()
        with LIVE_LOCK:
            if STOPPING.is_set():
                raise HarnessError("stopping")
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            LIVE_PODS.add(self)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            grace = min(GRACE_CAP, int(self.ctx.spec.get("terminationGracePeriodSeconds", 30)))
            # like the kubelet: SIGTERM to the container's processes (not to bwrap, whose death
            # would SIGKILL them at once), then SIGKILL after the grace period
            for pid in self.container_pids():
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        LIVE_PODS.discard(self)
        self.log.close()

    def container_pids(self):
        """The sandbox's processes: descendants of our `ip netns exec`/bwrap that are not bwrap."""
        parent = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as fh:
                    st = fh.read()
            except OSError:
                continue
            comm = st[st.index("(") + 1:st.rindex(")")]
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            parent[int(d)] = (ppid, comm)
        out = []
        for pid, (ppid, comm) in parent.items():
            if comm == "bwrap":
                continue
            p, hops = ppid, 0
            while p > 1 and hops < 64:
                if p == self.proc.pid:
                    out.append(pid)
                    break
                p, hops = parent.get(p, (0, ""))[0], hops + 1
        return out

    def log_tail(self, n=12):
        try:
            with open(self.log_path, "rb") as fh:
                lines = fh.read().decode(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        # the tail of the last run
        for i in range(len(lines) - 1, -1, -1):
            if lines[i].startswith("==== "):
                lines = lines[i + 1:]
                break
        # collapse repeats (the same line but for timestamps and timings): probe noise
        tail, last_key, reps = [], None, 0
        for l in lines:
            if not l.strip():
                continue
            key = re.sub(r"[0-9a-f]{16,}|[0-9][0-9:.,-]*", "#", l)
            if key == last_key:
                reps += 1
                continue
            if reps:
                tail.append("  (the line above %d more times)" % reps)
            tail.append(l)
            last_key, reps = key, 0
        if reps:
            tail.append("  (the line above %d more times)" % reps)
        tail = tail[-n:]
        return "\n".join("      | " + l[:300] for l in tail)


def ensure_mountpoint(layer, mp):
    """A mount point inside a directory that comes from the (read-only) image layer must exist in
    the layer's source dir: create it there, as a container runtime creates mount points."""
    parts = [p for p in mp.split("/") if p]
    if not parts or not os.path.isdir(os.path.join(layer, parts[0])) or parts[0] == "usr":
        return
    p = layer
    for part in parts:
        p = os.path.join(p, part)
        if not os.path.exists(p):
            os.makedirs(p)
            os.chmod(p, 0o755)


# ---- checks --------------------------------------------------------------------------------------

class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, pod, name, ok, detail="", extra=None):
        with self.lock:
            if ok:
                self.passed += 1
            else:
                self.failed += 1
                self.failures.append("%s %s" % (pod, name))
        line = "%s  %-52s %-30s %s" % ("PASS" if ok else "FAIL", pod, name, detail)
        if extra and not ok:
            line += "\n" + extra
        say(line)
        return ok


def resolve_port(container, port):
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise HarnessError("probe port %r is not a named port of the container" % port)


def probe_url(ctx, probe, ip):
    hg = probe.get("httpGet")
    if not hg:
        raise HarnessError("probe is not httpGet (%s): not supported by the harness" % list(probe))
    port = resolve_port(ctx.container, hg.get("port"))
    scheme = (hg.get("scheme") or "HTTP").lower()
    headers = {h["name"]: h["value"] for h in hg.get("httpHeaders") or []}
    return "%s://%s:%d%s" % (scheme, hg.get("host") or ip, port, hg.get("path") or "/"), headers


def http_get(url, headers=None, timeout=5):
    try:
        r = requests.get(url, headers=headers or {}, timeout=timeout, allow_redirects=False, verify=False)
        return r.status_code, r.text[:200]
    except requests.RequestException as e:
        return None, type(e).__name__ + ": " + str(e)[:160]


def listening(netns):
    r = subprocess.run(["ip", "netns", "exec", netns, "ss", "-ltnH"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return [l.split()[3] for l in r.stdout.splitlines() if len(l.split()) > 3]


def wait_http(url, headers, pod, timeout):
    """Poll like a startup probe (1 s period) until 200, the container exits, or timeout. Stops
    early when the answer cannot change: a steady non-200 HTTP status, or a port bound to loopback."""
    deadline = time.time() + timeout
    last = (None, "not tried")
    first_answer = None
    loopback_seen = 0
    port = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[-1]
    n = 0
    while time.time() < deadline and n < timeout * 2 + 10:
        n += 1
        if pod.proc.poll() is not None:
            return False, "container exited with %s before the probe answered 200 (last: %s %s)" % (
                pod.proc.returncode, last[0], last[1][:120])
        last = http_get(url, headers, timeout=3)
        if last[0] == 200:
            return True, "200 after %.1fs" % (time.time() - pod.started)
        if last[0] is not None:
            first_answer = first_answer or time.time()
            if time.time() - first_answer > 8:
                return False, "the server answers %s, not 200: %s" % (last[0], last[1][:100].replace("\n", " "))
        elif n % 3 == 0:
            socks = listening(pod.netns.name)
            if any(s.endswith(":" + port) for s in socks) and not any(
                    s.endswith(":" + port) and not s.startswith(("127.", "[::1]")) for s in socks):
                loopback_seen += 1
                if loopback_seen >= 3:
                    return False, "port %s listens on loopback only (%s): unreachable from other pods" % (
                        port, " ".join(socks))
        time.sleep(1)
    return False, "no 200 within %ds (last: %s %s; listening: %s)" % (
        timeout, last[0], last[1][:120], " ".join(listening(pod.netns.name)) or "nothing")


def jupyter_base(ctx):
    """The server's base URL: the probe's path up to its /api segment, else NB_PREFIX, else /."""
    for k in ("readinessProbe", "startupProbe", "livenessProbe"):
        p = (ctx.container.get(k) or {}).get("httpGet") or {}
        path = p.get("path") or ""
        if "/api" in path:
            return path[:path.index("/api")] + "/"
    return "/"


def build_wheel(dest_dir, version, run_id):
    """A tiny pure-Python wheel, built by hand (no build backend needed)."""
    name = PROBE_PACKAGE
    dist = "%s-%s" % (name, version)
    files = {
        "%s/__init__.py" % name: ("RUN_ID = %r\n" % run_id).encode(),
        "%s.dist-info/METADATA" % dist: ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: nbgen pod harness probe\n"
                                         % (name.replace("_", "-"), version)).encode(),
        "%s.dist-info/WHEEL" % dist: b"Wheel-Version: 1.0\nGenerator: nbgen-pod-harness\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "%s.dist-info/top_level.txt" % dist: (name + "\n").encode(),
    }
    record = []
    for p, data in files.items():
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (p, h, len(data)))
    record.append("%s.dist-info/RECORD,," % dist)
    files["%s.dist-info/RECORD" % dist] = ("\n".join(record) + "\n").encode()
    path = os.path.join(dest_dir, "%s-py3-none-any.whl" % dist)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for p, data in files.items():
            z.writestr(p, data)
    return path


class Kernel:
    def __init__(self, base_url, auth, timeout=KERNEL_TIMEOUT):
        self.base = base_url
        self.h = dict(auth)
        self.timeout = timeout

    def start(self):
        r = requests.post(self.base + "api/kernels", json={"name": "python3"}, headers=self.h, timeout=30)
        if r.status_code not in (200, 201):
            raise HarnessError("POST api/kernels -> %s %s" % (r.status_code, r.text[:200]))
        self.id = r.json()["id"]
        ws_url = self.base.replace("http://", "ws://").replace("https://", "wss://") + "api/kernels/%s/channels" % self.id
        self.ws = websocket.create_connection(ws_url, header=["%s: %s" % kv for kv in self.h.items()],
                                              timeout=self.timeout)
        return self

    def execute(self, code):
        msg_id = uuid.uuid4().hex
        msg = {"header": {"msg_id": msg_id, "username": "harness", "session": uuid.uuid4().hex,
                          "msg_type": "execute_request", "version": "5.3", "date": ""},
               "parent_header": {}, "metadata": {}, "channel": "shell",
               "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                           "allow_stdin": False, "stop_on_error": True}}
        self.ws.send(json.dumps(msg))
        out, err, status, idle = [], [], None, False
        deadline = time.time() + self.timeout
        n = 0
        while time.time() < deadline and n < 10000 and not (status is not None and idle):
            n += 1
            m = json.loads(self.ws.recv())
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            t = m.get("msg_type") or m["header"]["msg_type"]
            if t == "stream":
                out.append(m["content"]["text"])
            elif t == "error":
                err.append("%s: %s" % (m["content"]["ename"], m["content"]["evalue"]))
            elif t == "execute_reply":
                status = m["content"]["status"]
            elif t == "status" and m["content"].get("execution_state") == "idle":
                idle = True
        return "".join(out), err, status

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass
        try:
            requests.delete(self.base + "api/kernels/" + self.id, headers=self.h, timeout=10)
        except Exception:
            pass


def run_as_openshift(ctx, spec):
    """--run-as UID:GID[:FSGROUP]: run the pod as OpenShift's SCC admission would: an arbitrary uid
    from the project's block (pod and container runAsUser replaced), gid GID (default 0: the
    image's group for a uid with no passwd entry), fsGroup from the manifest if set (an admitted
    pod's is in range), else FSGROUP, else UID (restricted-v2 assigns the block's first)."""
    parts = [int(x) for x in spec.split(":")]
    uid, gid = parts[0], (parts[1] if len(parts) > 1 else 0)
    ps = ctx.spec.setdefault("securityContext", {})
    fsg = ps.get("fsGroup", parts[2] if len(parts) > 2 else uid)
    ps["runAsUser"], ps["runAsGroup"], ps["fsGroup"] = uid, gid, fsg
    cs = ctx.container.get("securityContext") or {}
    for k in ("runAsUser", "runAsGroup"):
        cs.pop(k, None)


def scc_verdicts(path):
    """scc_check.py --json: {(real path of the env dir, "ns/Kind/name"): entry}."""
    with open(path) as fh:
        entries = json.load(fh)
    return {(os.path.realpath(e["env"]), e["pod"]): e for e in entries}


def run_as_scc(ctx, tree, verdicts, scc):
    """--scc-json FILE --scc NAME: run the pod with the security context scc_check.py says SCC `scc`
    gives it (`chosen`: the SCC OpenShift would pick, the pinned one if the pod pins one): uid,
    fsGroup and supplemental groups as the SCC assigns them; the gid stays unset unless the SCC sets
    it (the runtime takes it from the image's passwd entry, else 0). A pod the SCC refuses, or
    missing from the file, is not run."""
    key = "%s/%s/%s" % (ctx.namespace, ctx.kind, ctx.name)
    entry = verdicts.get((os.path.realpath(tree.path), key))
    if entry is None:
        raise HarnessError("no SCC verdict for %s in the --scc-json file (run scc_check.py --json over %s)"
                           % (key, tree.display))
    name = entry.get("by") if scc == "chosen" else scc
    v = next((v for v in entry["verdicts"] if v["scc"] == name), None)
    if v is None or not v["admitted"]:
        raise HarnessError("SCC %s does not admit %s: %s" % (
            name, key, "; ".join((v or {}).get("reasons") or ["not in the verdicts"])))
    ctx.spec["securityContext"] = dict(v["podSecurityContext"])
    cname = ctx.container["name"]
    ctx.container["securityContext"] = dict(v["containers"][cname])
    return name


def scc_pass_skip(verdicts, tree, obj, scc):
    """Why a pass run as SCC `scc` (not `chosen`) leaves this pod out, or None. A pod is run as the
    SCC it pins in the `chosen` pass; another pass runs it again only under an SCC it could get
    on a cluster: left out are the pinned SCC itself (already run) and an SCC that refuses the pod
    only because the pod has no user namespace (scc_check.py --pinned's expected refusals: a pod
    that mounts NFS, pinned to restricted-v2). Any other refusal is run, and fails."""
    if scc in (None, "chosen"):
        return None
    key = "%s/%s/%s" % (obj["metadata"].get("namespace", "default"), obj["kind"], obj["metadata"]["name"])
    entry = verdicts.get((os.path.realpath(tree.path), key))
    if entry is None:
        return None
    if entry.get("by") == scc:
        return "it runs as %s (pinned), in the chosen pass" % scc
    if scc in (entry.get("expected_refusals") or {}):
        return "%s refuses it (no user namespace: it mounts NFS, pinned to %s), as expected" % (
            scc, entry.get("required"))
    return None


# ---- the two kinds of pod test -------------------------------------------------------------------

class Harness:
    def __init__(self, args, results):
        self.args = args
        self.results = results
        self.images = Images(os.path.join(HERE, "images.yaml"), args.venv)
        for line in self.images.origin.values():
            say(line)
        self.state_dir = args.state
        self.work = args.work
        self.run_id = "%d-%s" % (int(time.time()), secrets.token_hex(3))
        self.index_lock = threading.Lock()
        self.next_index = 1
        self.netns_in_use = []
        self.verdicts = scc_verdicts(args.scc_json) if args.scc_json else {}

    def new_index(self):
        with self.index_lock:
            i = self.next_index
            self.next_index += 1
            if i > 250:
                raise HarnessError("more than 250 pods in one run")
            return i

    def test_workload(self, tree, obj, scc=None):
        label = "%s/%s/%s/%s" % (tree.display, obj["metadata"].get("namespace", "default"), obj["kind"], obj["metadata"]["name"])
        if scc:
            # a pass of its own: the SCC's security context goes into a copy of the object
            obj = copy.deepcopy(obj)
            obj["_scc"] = scc
            label += " as " + scc
        try:
            if obj["kind"] in SERVER_KINDS:
                self.test_server(tree, obj, label)
            else:
                self.test_job(tree, obj, label)
        except HarnessError as e:
            self.results.check(label, "run", False, str(e))
        except Exception as e:
            self.results.check(label, "run", False, "harness crashed: %s" % e, traceback.format_exc())

    def pod_setup(self, tree, obj, label, secrets_):
        ctx = PodContext(tree, obj, secrets_)
        if self.args.run_as:
            run_as_openshift(ctx, self.args.run_as)
        if obj.get("_scc"):
            used = run_as_scc(ctx, tree, self.verdicts, obj["_scc"])
            say("....  %-52s %s: uid %s, gid %s, fsGroup %s, supplementalGroups %s" % (
                label, used, ctx.container["securityContext"].get("runAsUser"),
                ctx.container["securityContext"].get("runAsGroup", "unset (the image's passwd entry, else 0)"),
                ctx.spec["securityContext"].get("fsGroup"), ctx.spec["securityContext"].get("supplementalGroups", [])))
        run_dir = os.path.join(self.work, re.sub(r"[^A-Za-z0-9_.-]", "_", label))
        os.makedirs(run_dir, exist_ok=True)
        os.chmod(run_dir, 0o755)
        return ctx, run_dir

    # -- notebook servers
    def test_server(self, tree, obj, label):
        server = obj["metadata"]["name"]
        ns = obj["metadata"].get("namespace", "default")
        token = secrets.token_hex(24)
        secrets_ = {(ns, server + "-token"): {"token": token}}
        # Behind Kubeflow's gateway there is no token: the client is the user's browser, which
        # carries the XSRF cookie and header Jupyter asks of a client it does not authenticate.
        gateway = behind_kubeflow_gateway(obj)
        auth = ({"Cookie": "_xsrf=" + token, "X-XSRFToken": token} if gateway
                else {"Authorization": "token " + token})
        ctx, run_dir = self.pod_setup(tree, obj, label, secrets_)
        idx = self.new_index()
        log_path = os.path.join(run_dir, "container.log")
        wheel_dir = os.path.join(run_dir, "wheel")
        os.makedirs(wheel_dir, exist_ok=True)
        version = "1.0.%d" % int(time.time())
        wheel = build_wheel(wheel_dir, version, self.run_id)
        with NetNS(idx) as net:
            ctx.pod_ip, ctx.host_ip = net.pod_ip, net.host_ip
            vols = Volumes(ctx, self.state_dir, run_dir, tree.nfs_claims())
            vols.prepare()
            ctx.env = {}
            pod = Pod(ctx, self.images, vols, net, run_dir, log_path)
            ctx.env = pod.env
            label = "%s (%s)" % (label, pod.family_name)
            say("....  %-52s pod %s, ip %s, runs: %s" % (label, ctx.pod_name, net.pod_ip, " ".join(pod.argv)[:160]))
            home_mount = self.home_mount(vols, pod.env.get("HOME"))
            try:
                pod.start()
                ok = self.server_checks(ctx, pod, net, label, auth, gateway, wheel, home_mount, vols, first=True)
            finally:
                pod.stop()
            if not ok:
                return
            # restart: a new container on the same volumes (the emptyDirs are fresh, as for a new pod)
            vols2 = Volumes(ctx, self.state_dir, run_dir, tree.nfs_claims())
            vols2.prepare()
            pod2 = Pod(ctx, self.images, vols2, net, run_dir, log_path)
            try:
                pod2.start()
                self.server_checks(ctx, pod2, net, label, auth, gateway, wheel, home_mount, vols2, first=False)
            finally:
                pod2.stop()

    def token_diagnostic(self, ctx, pod, net, label, tag, probe):
        """The probe failed but the server may be up elsewhere (at /): is its files API open?"""
        try:
            port = resolve_port(ctx.container, (probe.get("httpGet") or {}).get("port"))
        except HarnessError:
            return
        for b in dict.fromkeys([jupyter_base(ctx), "/"]):
            url = "http://%s:%d%sapi/contents" % (net.pod_ip, port, b)
            st, body = http_get(url)
            if st is None or st == 404:
                continue
            self.results.check(label, tag + "contents without token refused", st in (401, 403),
                               "GET %s -> %s%s%s" % (url, st,
                               " (token auth is off: anyone on the network gets the files)" if st == 200 else "",
                               " (the server serves at %s, not at the probe's base)" % b if b != jupyter_base(ctx) else ""))
            return

    def home_mount(self, vols, home):
        """The writable block-backed claim the pip check expects packages on: the one at $HOME."""
        cands = [(mp, src) for mp, src, ro, n, size in vols.mounts()
                 if vols.kind.get(n, "").endswith("(block)") and not ro]
        for mp, src in cands:
            if mp.rstrip("/") == (home or "").rstrip("/"):
                return mp, src
        return cands[0] if cands else None

    def server_checks(self, ctx, pod, net, label, auth, gateway, wheel, home_mount, vols, first):
        c = ctx.container
        R = self.results.check
        tag = "" if first else "after restart: "
        probes = [(k, c.get(k)) for k in ("startupProbe", "readinessProbe", "livenessProbe")]
        # wait for the first probe that exists (startup first), as the kubelet gates the others on it
        first_probe = next((p for k, p in probes if p), None)
        if first_probe is None:
            R(label, tag + "probes", False, "the container has no startup/readiness/liveness probe")
            return False
        url, headers = probe_url(ctx, first_probe, net.pod_ip)
        ok, detail = wait_http(url, headers, pod, SERVER_TIMEOUT)
        if not ok:
            R(label, tag + "server up", False, "%s -> %s" % (url, detail), "    container log tail:\n" + pod.log_tail())
            if pod.proc.poll() is None and not gateway:
                self.token_diagnostic(ctx, pod, net, label, tag, first_probe)
            return False
        startup_s = time.time() - pod.started
        all_ok = True
        for k, p in probes:
            if not p:
                all_ok &= R(label, tag + k, False, "absent from the manifest")
                continue
            url, headers = probe_url(ctx, p, net.pod_ip)
            st, body = http_get(url, headers)
            extra = None if st == 200 else "    container log tail:\n" + pod.log_tail()
            all_ok &= R(label, tag + k, st == 200, "GET %s -> %s %s" % (url, st, "" if st == 200 else body[:100]), extra)
        if first:
            # does the startup budget cover the measured startup time?
            sp = c.get("startupProbe") or c.get("livenessProbe")
            if sp:
                budget = sp.get("initialDelaySeconds", 0) + sp.get("failureThreshold", 3) * sp.get("periodSeconds", 10)
                all_ok &= R(label, "startup within probe budget", startup_s < budget,
                            "started in %.1fs, %s allows %ds" % (startup_s, "startupProbe" if c.get("startupProbe") else "livenessProbe", budget))
        port = resolve_port(c, ((c.get("readinessProbe") or first_probe).get("httpGet") or {}).get("port"))
        base = "http://%s:%d%s" % (net.pod_ip, port, jupyter_base(ctx))
        # token
        st, body = http_get(base + "api/contents")
        if gateway:
            # Kubeflow's gateway authenticates and the namespace's AuthorizationPolicies and
            # NetworkPolicies decide who reaches the pod (docs/kubeflow.md): a token of Jupyter's
            # own would stop users at a login page the gateway cannot fill in.
            all_ok &= R(label, tag + "no token of its own (Kubeflow's gateway authenticates)", st == 200,
                        "GET %sapi/contents -> %s%s" % (base, st, " (Jupyter asks for a token behind the gateway)" if st in (401, 403) else ""))
        else:
            all_ok &= R(label, tag + "contents without token refused", st in (401, 403),
                        "GET %sapi/contents -> %s%s" % (base, st, " (token auth is off: anyone on the network gets the files)" if st == 200 else ""))
        st, body = http_get(base + "api/contents", auth)
        if not R(label, tag + ("contents as the gateway's user" if gateway else "contents with token"), st == 200,
                 "-> %s %s" % (st, "" if st == 200 else body[:100]),
                 None if st == 200 else "    container log tail:\n" + pod.log_tail()):
            return False
        # kernel
        try:
            k = Kernel(base, auth).start()
        except Exception as e:
            hint = " (token auth is off, so the token is not checked and XSRF applies)" if "_xsrf" in str(e) else ""
            R(label, tag + "kernel starts", False, str(e)[:200] + hint, "    container log tail:\n" + pod.log_tail())
            return False
        try:
            marker = "nbgen-%s" % secrets.token_hex(4)
            out, err, status = k.execute("print(%r, 6 * 7)" % marker)
            all_ok &= R(label, tag + "kernel runs code", ("%s 42" % marker) in out,
                        "execute_request -> %s %r %s" % (status, out.strip()[:80], err))
            if first:
                all_ok &= self.pip_check(label, k, base, auth, wheel, home_mount, pod)
            else:
                code = ("import importlib, sys\nimport %s as m\nprint('RUN', m.RUN_ID, m.__file__)\n" % PROBE_PACKAGE)
                out, err, status = k.execute(code)
                ok = ("RUN %s " % self.run_id) in out and home_mount is not None and home_mount[0] in out
                all_ok &= R(label, "package survives restart", ok,
                            "import %s in a new pod's kernel -> %r %s" % (PROBE_PACKAGE, out.strip()[:160], err))
        finally:
            k.close()
        return all_ok

    def pip_check(self, label, k, base, auth, wheel, home_mount, pod):
        R = self.results.check
        if home_mount is None:
            return R(label, "pip install", False, "the pod mounts no writable block-backed claim (home volume)")
        # upload the wheel through the files API into the server's root (the home dir)
        name = os.path.basename(wheel)
        with open(wheel, "rb") as fh:
            content = base64.b64encode(fh.read()).decode()
        r = requests.put(base + "api/contents/" + name, headers=auth,
                         json={"type": "file", "format": "base64", "content": content}, timeout=30)
        if r.status_code not in (200, 201):
            return R(label, "upload wheel (files API)", False, "PUT -> %s %s" % (r.status_code, r.text[:150]))
        code = (
            "import os, subprocess, sys\n"
            "w = os.path.abspath(%r)\n"
            "r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-index', '--no-deps', w],\n"
            "                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n"
            "print('PIPRC', r.returncode)\n"
            "print(r.stdout[-600:])\n"
            "r = subprocess.run([sys.executable, '-c', 'import %s as m; print(\"FILE\", m.__file__, m.RUN_ID)'],\n"
            "                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n"
            "print(r.stdout[-400:])\n" % (name, PROBE_PACKAGE))
        out, err, status = k.execute(code)
        rc_ok = "PIPRC 0" in out
        m = re.search(r"FILE (\S+) (\S+)", out)
        where = m.group(1) if m else None
        on_home = bool(where and where.startswith(home_mount[0].rstrip("/") + "/"))
        host_file = None
        if on_home:
            host_file = os.path.join(home_mount[1], os.path.relpath(where, home_mount[0]))
        ok = rc_ok and on_home and host_file is not None and os.path.exists(host_file)
        detail = ("pip install %s -> installed at %s (on the home claim)" % (name, where)) if ok else \
                 ("pip -> %s; module at %s; home mount %s; output: %s %s" % (
                     "rc 0" if rc_ok else "failed", where, home_mount[0], out.strip().replace("\n", " | ")[-300:], err))
        return R(label, "pip install lands on home claim", ok, detail)

    # -- notebook jobs
    def test_job(self, tree, obj, label):
        ctx, run_dir = self.pod_setup(tree, obj, label, {})
        idx = self.new_index()
        log_path = os.path.join(run_dir, "container.log")
        R = self.results.check
        with NetNS(idx) as net:
            ctx.pod_ip, ctx.host_ip = net.pod_ip, net.host_ip
            vols = Volumes(ctx, self.state_dir, run_dir, tree.nfs_claims())
            vols.prepare()
            ctx.env = {}
            pod = Pod(ctx, self.images, vols, net, run_dir, log_path)
            ctx.env = pod.env
            label = "%s (%s)" % (label, pod.family_name)
            say("....  %-52s pod %s, runs: %s" % (label, ctx.pod_name, " ".join(pod.argv)[:160]))
            # papermill's input notebook, output path and parameters file, from the command line
            argv = pod.argv
            if "papermill" not in [os.path.basename(a) for a in argv[:3]]:
                raise HarnessError("the job's command does not run papermill: %s" % argv)
            nbs = [a for a in argv if a.endswith(".ipynb")]
            if len(nbs) < 2:
                raise HarnessError("cannot find papermill's input and output notebooks in %s" % argv)
            nb_in, nb_out = nbs[0], nbs[1]
            params_file = None
            for i, a in enumerate(argv):
                if a in ("-f", "--parameters_file") and i + 1 < len(argv):
                    params_file = argv[i + 1]
            host_in = vols.host_path(nb_in)
            host_out = vols.host_path(nb_out)
            if host_in is None or host_out is None:
                raise HarnessError("notebook paths %s, %s are not on a volume" % (nb_in, nb_out))
            params = {}
            if params_file:
                hp = vols.host_path(params_file)
                if hp is None or not os.path.exists(hp):
                    raise HarnessError("parameters file %s is not on a volume (ConfigMap)" % params_file)
                with open(hp) as fh:
                    params = yaml.safe_load(fh) or {}
            write_job_notebook(host_in)
            out_dir = os.path.dirname(host_out)
            if not os.path.isdir(out_dir):
                os.makedirs(out_dir)
                os.chown(out_dir, NFS_EXPORT_UID, NFS_EXPORT_GID)
                os.chmod(out_dir, NFS_EXPORT_MODE)
            if os.path.exists(host_out):
                os.remove(host_out)
            deadline = min(JOB_TIMEOUT, (obj["spec"].get("activeDeadlineSeconds")
                                         or obj["spec"].get("jobTemplate", {}).get("spec", {}).get("activeDeadlineSeconds")
                                         or JOB_TIMEOUT))
            try:
                pod.start()
                try:
                    rc = pod.proc.wait(deadline)
                except subprocess.TimeoutExpired:
                    rc = None
            finally:
                pod.stop()
            took = time.time() - pod.started
            if not R(label, "container exits 0", rc == 0,
                     "exit %s after %.1fs" % ("timeout %ds" % deadline if rc is None else rc, took),
                     "    container log tail:\n" + pod.log_tail()):
                return
            if not R(label, "output notebook written", os.path.exists(host_out), "%s (host %s)" % (nb_out, host_out)):
                return
            with open(host_out) as fh:
                nb = json.load(fh)
            ok, detail = check_injected(nb, params)
            R(label, "parameters injected", ok, detail)


JOB_NOTEBOOK_MARK = "NBGEN_PARAMS"


def write_job_notebook(path):
    nb = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": "params", "metadata": {"tags": ["parameters"]},
             "outputs": [], "source": ["DEVELOP_MODE = True\n", "SAMPLE_RATE = 0.0\n"]},
            {"cell_type": "code", "execution_count": None, "id": "show", "metadata": {}, "outputs": [],
             "source": ["import json\n",
                        "_p = {k: v for k, v in dict(globals()).items() if k.isupper()}\n",
                        "print(%r, json.dumps(_p, sort_keys=True, default=str))\n" % JOB_NOTEBOOK_MARK]},
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d)
        os.chown(d, NFS_EXPORT_UID, NFS_EXPORT_GID)
        os.chmod(d, NFS_EXPORT_MODE)
    data = json.dumps(nb, indent=1)
    try:
        with open(path) as fh:
            if fh.read() == data:
                return
    except OSError:
        pass
    # atomically: another job (or environment) may be reading the same export right now
    tmp = "%s.%s.tmp" % (path, secrets.token_hex(4))
    with open(tmp, "w") as fh:
        fh.write(data)
    os.chown(tmp, NFS_EXPORT_UID, NFS_EXPORT_GID)
    os.chmod(tmp, 0o664)
    os.rename(tmp, path)


def check_injected(nb, params):
    cells = [c for c in nb.get("cells", []) if "injected-parameters" in (c.get("metadata", {}).get("tags") or [])]
    if not cells:
        return False, "no cell tagged injected-parameters in the output notebook"
    src = "".join(cells[0]["source"]) if isinstance(cells[0]["source"], list) else cells[0]["source"]
    got = {}
    for line in src.splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*) = (.*)$", line)
        if m:
            try:
                got[m.group(1)] = ast.literal_eval(m.group(2))
            except Exception:
                got[m.group(1)] = m.group(2)
    bad = ["%s: want %r got %r" % (k, v, got.get(k, "<missing>")) for k, v in params.items() if got.get(k, "<missing>") != v]
    if bad:
        return False, "; ".join(bad)
    # the executed notebook printed the parameters it saw
    printed = None
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            text = "".join(o.get("text", ""))
            if JOB_NOTEBOOK_MARK in text:
                printed = json.loads(text.split(JOB_NOTEBOOK_MARK, 1)[1].strip().splitlines()[0])
    if printed is None:
        return False, "the notebook's parameter print did not run"
    bad = ["%s printed %r" % (k, printed.get(k)) for k, v in params.items() if json.loads(json.dumps(v, default=str)) != printed.get(k)]
    if bad:
        return False, "injected but not seen by the code: " + "; ".join(bad)
    return True, "injected-parameters cell sets %s" % ", ".join("%s=%r" % kv for kv in sorted(got.items()))


# ---- main ----------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("envs", nargs="+", help="out/<env>/ directories")
    ap.add_argument("--venv", required=True, help="the shared venv the stand-in images use")
    ap.add_argument("--state", default=os.path.expanduser("~/.cache/nbgen/pod-harness-state"),
                    help="persistent claims (kept across runs)")
    ap.add_argument("--work", default=None, help="per-run scratch dir (default: a new temp dir, removed at exit)")
    ap.add_argument("--parallel", type=int, default=2, help="pods run at a time")
    ap.add_argument("--only", action="append", default=[], help="only workloads whose name matches this glob")
    ap.add_argument("--run-as", default=None, metavar="UID:GID[:FSGROUP]",
                    help="run every pod as OpenShift would (e.g. 1000680000:0, the uid tests/realparts/scc assigns); "
                         "fsGroup defaults to UID, as restricted-v2 assigns the project's first")
    ap.add_argument("--scc-json", default=None, metavar="FILE",
                    help="tests/realparts/scc/scc_check.py --json over some of the env dirs: their pods run with "
                         "the security context an SCC gives them (--scc), once per --scc, one pass after another")
    ap.add_argument("--scc", action="append", default=[], metavar="NAME",
                    help="with --scc-json: `chosen` (the SCC OpenShift picks: the pinned one) or an SCC's name "
                         "(e.g. restricted-v2); repeatable (default: chosen)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("harness.py must run as root (bwrap, netns, chown)")
    args.venv = os.path.abspath(args.venv)
    os.makedirs(args.state, exist_ok=True)
    # One run at a time on a machine: runs share the network namespace names, the 10.233.N.0/30
    # addresses and the persistent claims. A second run waits here (the kernel drops the lock
    # when a run dies, however it dies).
    lock = open(os.path.join(os.path.dirname(os.path.abspath(args.state)), "pod-harness.lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("waiting for another pod harness run on this machine to finish...", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    os.chmod(args.state, 0o755)
    for d in ("claims", "nfs"):
        os.makedirs(os.path.join(args.state, d), exist_ok=True)
    own_work = args.work is None
    if own_work:
        args.work = tempfile.mkdtemp(prefix="nbgen-pods-")
    os.makedirs(args.work, exist_ok=True)
    os.chmod(args.work, 0o755)
    # the state dir's parents must be traversable: claims are bind-mounted from there
    requests.packages.urllib3.disable_warnings()

    def on_signal(signum, frame):
        # stop every pod's process group and delete our namespaces, then leave at once
        STOPPING.set()
        LIVE_LOCK.acquire()   # no pod or namespace is created after this
        for p in list(LIVE_PODS):
            try:
                os.killpg(p.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, AttributeError):
                pass
        for n in list(LIVE_NETNS):
            subprocess.run(["ip", "netns", "del", n], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)       # let the killed sandboxes release their mounts
        if own_work:
            shutil.rmtree(args.work, ignore_errors=True)
        say("pod harness stopped by signal %d; pods killed, namespaces deleted" % signum)
        os._exit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t0 = time.time()
    results = Results()
    h = Harness(args, results)
    jobs = []
    for e in args.envs:
        if not os.path.isdir(e):
            results.check(e, "environment", False, "not a directory")
            continue
        tree = Tree(e)
        passes = [None]
        if any(p == os.path.realpath(tree.path) for p, _ in h.verdicts):
            passes = args.scc or ["chosen"]
        n = 0
        for obj in tree.workloads():
            if args.only and not any(fnmatch.fnmatchcase(obj["metadata"]["name"], g) for g in args.only):
                continue
            for p in passes:
                why = scc_pass_skip(h.verdicts, tree, obj, p)
                if why:
                    say("skip  %s/%s/%s/%s as %s: %s" % (
                        tree.display, obj["metadata"].get("namespace", "default"), obj["kind"],
                        obj["metadata"]["name"], p, why))
                    continue
                jobs.append((tree, obj, p))
            n += 1
        say("env %s: %d workloads in %s%s" % (tree.env, n, e, "" if passes == [None] else
                                             ", run as SCCs give them: " + ", ".join(passes)))
    # one pass after another (two passes of a pod share its claims); servers first (they take
    # longest), then jobs
    order = list(dict.fromkeys([None] + (args.scc or ["chosen"])))
    jobs.sort(key=lambda j: (order.index(j[2]), 0 if j[1]["kind"] in SERVER_KINDS else 1))
    try:
        for p in order:
            with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.parallel)) as ex:
                list(ex.map(lambda j: h.test_workload(*j), [j for j in jobs if j[2] == p]))
    finally:
        # leave no netns behind, even after a crash in a worker
        for i in range(1, h.next_index):
            NetNS(i).delete()
        if own_work:
            shutil.rmtree(args.work, ignore_errors=True)
    took = time.time() - t0
    if results.failures:
        say("failed:\n  " + "\n  ".join(results.failures))
    say("%d passed, %d failed (%d pods in %.0fs)" % (results.passed, results.failed, len(jobs), took))
    sys.exit(1 if results.failed else 0)


if __name__ == "__main__":
    main()
