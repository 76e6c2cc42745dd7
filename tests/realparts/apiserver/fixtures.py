#!/usr/bin/env python3
"""Upstream data files the real-part harnesses need for the Kubeflow and OpenShift targets.

Each entry names the public repository, the commit, the path there and the SHA-256 of the file
as published. The files themselves are data (CRDs, ClusterRoles, SCCs, licences): they are read
from the first of these directories that has them, verified against the SHA-256, and never
edited (every adaptation for kube-apiserver 1.20 is made by program at load time, in crds.py):

  1. $NBGEN_REALPARTS_FIXTURES/<source>/<file>
  2. <repository root>/../shared/realparts-fixtures/<source>/<file>   (shared/ beside the clone,
     where CI finds it)
  3. tests/realparts/apiserver/fixtures/<source>/<file>   (a local staging copy; git-ignored)

    fixtures.py check                 # which files are found where, and whether they verify
    fixtures.py stage --mirror DIR    # copy them out of git mirrors DIR/<owner>+<name>/repo
                                      # (as the search tool's `fetch` lays them out) into (3)
                                      # or into --dest DIR

See PROVENANCE.md in each tests/realparts/apiserver/fixtures/<source>/ folder.
"""

import argparse
import hashlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
LOCAL = os.path.join(HERE, "fixtures")

# source folder -> (repository, commit, {file here: path in the repository at that commit})
# plus the SHA-256 of each file as published.
SOURCES = {
    "kubeflow-notebooks": (
        "kubeflow/notebooks", "177b098656264a36af71ea27d098c2ad14999eec",  # branch notebooks-v1
        {
            "kubeflow.org_notebooks.yaml": "components/notebook-controller/config/crd/bases/kubeflow.org_notebooks.yaml",
            "validation_patches.yaml": "components/notebook-controller/config/crd/patches/validation_patches.yaml",
            "LICENSE": "LICENSE",
        }),
    "kubeflow-dashboard": (
        "kubeflow/dashboard", "d84246482d865a2bbd7e782ccafa6cd842bf6999",
        {
            "kubeflow.org_profiles.yaml": "components/profile-controller/manifests/kustomize/base/crd/kubeflow.org_profiles.yaml",
            "poddefaults-crd.yaml": "components/poddefaults-webhooks/manifests/kustomize/base/crd.yaml",
            "LICENSE": "LICENSE",
        }),
    "kubeflow-manifests": (
        "kubeflow/manifests", "009c88084074904c7743384ff50d3bd70012ef55",
        {
            "kubeflow-roles.yaml": "common/kubeflow-roles/base/cluster-roles.yaml",
            "istio-roles.yaml": "common/istio/kubeflow-istio-resources/base/cluster-roles.yaml",
            "notebook-controller-roles.yaml": "applications/jupyter/notebook-controller/upstream/rbac/user_cluster_roles.yaml",
            "admission-webhook-roles.yaml": "applications/admission-webhook/upstream/base/cluster-role.yaml",
            "pipelines-roles.yaml": "applications/pipeline/upstream/base/installs/multi-user/view-edit-cluster-roles.yaml",
            "LICENSE": "LICENSE",
        }),
    "odh-kubeflow": (
        "opendatahub-io/kubeflow", "b85f66ae8d18de4f402c07b2b53338ab92a44a1a",
        {
            "odh-notebook-controller-roles.yaml": "components/odh-notebook-controller/config/rbac/user_cluster_roles.yaml",
            "LICENSE": "LICENSE",
        }),
    "istio": (
        "istio/istio", "86c9f01fd735fb01d8192f5bcaf0d424afb7f14c",
        {
            "crd-all.gen.yaml": "manifests/charts/base/files/crd-all.gen.yaml",
            "LICENSE": "LICENSE",
        }),
    "openshift-api": (
        "openshift/api", "2a3d73913b5a7caec4c57d5c3d04f51106ec4da3",
        {
            "routes.crd.yaml": "route/v1/zz_generated.crd-manifests/routes.crd.yaml",
            "LICENSE": "LICENSE",
        }),
    "openshift-scc": (
        "openshift/cluster-kube-apiserver-operator", "c813e820bb94cf2af88a6343c8554624c334c04c",
        {
            "scc-restricted-v2.yaml": "bindata/bootkube/scc-manifests/0000_20_kube-apiserver-operator_00_scc-restricted-v2.yaml",
            "scc-restricted-v3.yaml": "bindata/bootkube/scc-manifests/0000_20_kube-apiserver-operator_00_scc-restricted-v3.yaml",
            "LICENSE": "LICENSE",
        }),
}

# filled in by `stage` the first time (see SHA256SUMS); verified on every load
SUMS_FILE = os.path.join(LOCAL, "SHA256SUMS")


class FixtureMissing(Exception):
    pass


def _sums():
    out = {}
    if os.path.exists(SUMS_FILE):
        with open(SUMS_FILE) as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    h, p = line.split(None, 1)
                    out[p.strip()] = h
    return out


def search_dirs():
    dirs = []
    if os.environ.get("NBGEN_REALPARTS_FIXTURES"):
        dirs.append(os.environ["NBGEN_REALPARTS_FIXTURES"])
    dirs.append(os.path.join(ROOT, "..", "shared", "realparts-fixtures"))
    dirs.append(LOCAL)
    return [os.path.normpath(d) for d in dirs]


def path(source, name):
    """The verified path of one upstream file, or FixtureMissing saying where it was looked for."""
    if source not in SOURCES or name not in SOURCES[source][2]:
        raise KeyError(f"{source}/{name} is not in fixtures.SOURCES")
    want = _sums().get(f"{source}/{name}")
    for d in search_dirs():
        p = os.path.join(d, source, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            if want and got != want:
                raise FixtureMissing(f"{p}: SHA-256 {got} is not the published file's {want} "
                                     f"(SHA256SUMS); never edit these copies")
            return p
    repo, commit, files = SOURCES[source]
    raise FixtureMissing(
        f"upstream file {source}/{name} not found in {', '.join(search_dirs())}: it is "
        f"{repo}@{commit[:12]}:{files[name]} (stage it with tests/realparts/apiserver/fixtures.py stage)")


def available(source, names=None):
    try:
        for n in names or SOURCES[source][2]:
            path(source, n)
        return True
    except FixtureMissing:
        return False


def stage(mirror, dest):
    sums = []
    for source, (repo, commit, files) in SOURCES.items():
        git = os.path.join(mirror, repo.replace("/", "+"), "repo")
        os.makedirs(os.path.join(dest, source), exist_ok=True)
        for name, p in files.items():
            data = subprocess.run(["git", "-C", git, "show", f"{commit}:{p}"], check=True,
                                  stdout=subprocess.PIPE).stdout
            with open(os.path.join(dest, source, name), "wb") as f:
                f.write(data)
            sums.append(f"{hashlib.sha256(data).hexdigest()}  {source}/{name}")
            print(f"staged {source}/{name} <- {repo}@{commit[:12]}:{p} ({len(data)} bytes)")
    return sums


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("stage")
    st.add_argument("--mirror", required=True)
    st.add_argument("--dest", default=LOCAL)
    st.add_argument("--write-sums", action="store_true", help="(re)write SHA256SUMS from what was staged")
    sub.add_parser("check")
    a = ap.parse_args()
    if a.cmd == "stage":
        sums = stage(a.mirror, a.dest)
        if a.write_sums:
            with open(SUMS_FILE, "w") as f:
                f.write("# SHA-256 of each upstream file as published (fixtures.py verifies on load)\n")
                f.write("\n".join(sums) + "\n")
        return 0
    bad = 0
    for source, (_r, _c, files) in SOURCES.items():
        for n in files:
            try:
                print(f"ok      {source}/{n}: {path(source, n)}")
            except FixtureMissing as e:
                bad += 1
                print(f"MISSING {e}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
