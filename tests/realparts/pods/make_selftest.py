#!/usr/bin/env python3
"""Make a hand-edited copy of an out/<env>/ tree for the harness's self-test: every notebook server
becomes what nbgen is about to render (a StatefulSet `<server>` whose container serves Jupyter at
/notebook/<ns>/<server>/ on 0.0.0.0 with the Secret's token, HOME, JUPYTER_RUNTIME_DIR under /tmp,
a /dev/shm Memory emptyDir and a startupProbe), so the harness shows a pass; with --loopback one
server binds 127.0.0.1 instead, which the harness must report as a failure.

Usage: make_selftest.py SRC_OUT_ENV DEST_DIR [--loopback SERVER]
"""
import fnmatch
import os
import shutil
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def family(image):
    with open(os.path.join(HERE, "images.yaml")) as fh:
        for r in yaml.safe_load(fh)["images"]:
            if fnmatch.fnmatchcase(image, r["pattern"]):
                return r["family"]
    return None


def edit(path, loopback):
    with open(path) as fh:
        text = fh.read()
    d = yaml.safe_load(text)
    if d.get("kind") != "Deployment":
        return
    ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
    d["kind"] = "StatefulSet"
    d["spec"].pop("strategy", None)
    d["spec"]["serviceName"] = name
    spec = d["spec"]["template"]["spec"]
    c = spec["containers"][0]
    base = "/notebook/%s/%s/" % (ns, name)
    ip = "127.0.0.1" if name == loopback else "0.0.0.0"
    opts = ["--ServerApp.base_url=" + base, "--ServerApp.ip=" + ip, "--ServerApp.port=8888"]
    if family(c["image"]) == "docker-stacks":
        c.pop("command", None)
        c["args"] = ["start-notebook.py"] + opts
    else:
        c.pop("args", None)
        c["command"] = ["jupyter", "lab"] + opts + ["--ServerApp.root_dir=/home/jovyan", "--no-browser"]
    env = [e for e in c.get("env") or [] if e["name"] not in ("HOME", "JUPYTER_RUNTIME_DIR")]
    c["env"] = [{"name": "HOME", "value": "/home/jovyan"},
                {"name": "JUPYTER_RUNTIME_DIR", "value": "/tmp/jupyter-runtime"}] + env
    if not any(e["name"] == "JUPYTER_TOKEN" for e in env):
        c["env"].append({"name": "JUPYTER_TOKEN", "valueFrom": {"secretKeyRef": {"name": name + "-token", "key": "token"}}})
    c["startupProbe"] = {"httpGet": {"path": base + "api", "port": "http"}, "periodSeconds": 2, "failureThreshold": 60}
    c.setdefault("volumeMounts", []).append({"name": "dshm", "mountPath": "/dev/shm"})
    spec.setdefault("volumes", []).append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}})
    os.remove(path)
    with open(os.path.join(os.path.dirname(path), "statefulset-%s.yaml" % name), "w") as fh:
        yaml.safe_dump(d, fh, sort_keys=False)


def main():
    args = sys.argv[1:]
    loopback = None
    if "--loopback" in args:
        i = args.index("--loopback")
        loopback = args[i + 1]
        del args[i:i + 2]
    src, dest = args
    if os.path.exists(dest):
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    for root, dirs, files in os.walk(dest):
        for f in files:
            if f.startswith("deployment-") and f.endswith(".yaml"):
                edit(os.path.join(root, f), loopback)


if __name__ == "__main__":
    main()
