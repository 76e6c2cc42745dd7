#!/usr/bin/env python3
"""Upstream files the real-part harnesses use, located outside this repository (README.md here).

The harnesses (tests/realparts/apiserver, tests/realparts/pods, tests/realparts/scc) use a few
published files of other projects: Argo CD's, Kubeflow's, Istio's and OpenShift's CRDs and roles,
OpenShift's SCCs, the jupyter/docker-stacks start scripts, a Kubeflow notebook image's service
script. None of them is committed here. Each is named below by repository, commit, path and the
SHA-256 of the file as published, and looked up, verified, in the first of:

  1. $NBGEN_REALPARTS_FIXTURES/<source>/<file>              (set by whoever runs the harness)
  2. <clone>/../shared/realparts-fixtures/<source>/<file>    (the steering repo's shared/, beside
                                                              the clone: where CI finds them)
  3. the cache $NBGEN_REALPARTS_CACHE/<source>/<file>        (default ${NBGEN_CACHE:-~/.cache/nbgen}
                                                              /realparts-fixtures), filled at run
     time from a git mirror ${NBGEN_MIRROR:-/work/.mirror}/<owner>+<name>/repo when there is one
     (as the search tool's `fetch` lays them out)

Never inside the clone: a directory of 1 or 3 inside it is refused. A file found with another
SHA-256 is an error in 1 and 2 (never edit these copies; FixtureConfigError, which no harness
answers with a stand-in) and is replaced from the mirror (or dropped) in 3.

When a source is not found, each harness falls back to nbgen's own stand-in where it has one and
says so on every run (README.md, "When the upstream files are absent").

    fixtures.py check                 # each file: where it was found, or MISSING (exit 1 if any)
    fixtures.py stage [--mirror DIR] [--dest DIR] [SOURCE...]
                                      # copy them out of the git mirrors into the cache (or DIR,
                                      # e.g. to lay out shared/realparts-fixtures/)
    fixtures.py sums                  # SHA256SUMS of every file, as <source>/<file>
    fixtures.py guard                 # fail if a file git tracks here is one of these files
"""

import argparse
import hashlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

# source -> repository, commit, notes (this repository's file describing the source), and
# files: {file name under <source>/: (path in the repository at that commit, SHA-256 as published)}
SOURCES = {
    # --- tests/realparts/apiserver: Argo CD, every environment ---------------------------------
    "argocd-crds": {
        "repo": "argoproj/argo-cd", "commit": "37ee0097cf851bc2dd7665fc081bbce61a7e836e",
        "notes": "tests/realparts/apiserver/fixtures/argocd-crds/PROVENANCE.md",
        "files": {
            "application-crd.yaml": ("manifests/crds/application-crd.yaml",
                                     "9fd0da3e7097ad6d1af614fabd5c960bc7ddb00d768c3ef485a2fda6e9460df8"),
            "appproject-crd.yaml": ("manifests/crds/appproject-crd.yaml",
                                    "ab225266944322750136f1198d93786e4a79a0e43c8d149abfba44da30a3eac8"),
            "LICENSE": ("LICENSE", "c996fc213c94f4a4a838407d355b081226caa7b103a4f239bb87fb8f1d8e3a60"),
        }},
    # --- tests/realparts/apiserver: the Kubeflow and OpenShift targets ---------------------------
    "kubeflow-notebooks": {
        "repo": "kubeflow/notebooks", "commit": "177b098656264a36af71ea27d098c2ad14999eec",  # branch notebooks-v1
        "notes": "tests/realparts/apiserver/fixtures/kubeflow-notebooks/PROVENANCE.md",
        "files": {
            "kubeflow.org_notebooks.yaml": ("components/notebook-controller/config/crd/bases/kubeflow.org_notebooks.yaml",
                                            "1312f2b27462f8d4b5c9cedf4e78eabbadf25f1be175c938f4cd694a62844a8b"),
            "validation_patches.yaml": ("components/notebook-controller/config/crd/patches/validation_patches.yaml",
                                        "740b15102b3732d2ea83e0b495fe2340079b068e49dca755c2a2e27b5dcbecda"),
            "LICENSE": ("LICENSE", "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"),
        }},
    "kubeflow-dashboard": {
        "repo": "kubeflow/dashboard", "commit": "d84246482d865a2bbd7e782ccafa6cd842bf6999",
        "notes": "tests/realparts/apiserver/fixtures/kubeflow-dashboard/PROVENANCE.md",
        "files": {
            "kubeflow.org_profiles.yaml": ("components/profile-controller/manifests/kustomize/base/crd/kubeflow.org_profiles.yaml",
                                           "5e7c62f4eae06c48578d3879becb5dbe09b3da24c7b5289acd9121ccd119e582"),
            "poddefaults-crd.yaml": ("components/poddefaults-webhooks/manifests/kustomize/base/crd.yaml",
                                     "5c12756fea8aea0ede95a251a987f87eb3f081e4b1460a013067587dca951233"),
            "LICENSE": ("LICENSE", "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"),
        }},
    "kubeflow-manifests": {
        "repo": "kubeflow/manifests", "commit": "009c88084074904c7743384ff50d3bd70012ef55",
        "notes": "tests/realparts/apiserver/fixtures/kubeflow-manifests/PROVENANCE.md",
        "files": {
            "kubeflow-roles.yaml": ("common/kubeflow-roles/base/cluster-roles.yaml",
                                    "b7a635e30e5254f3f3813ed6f7f32952feba27f3e7faff01782dd6a43bf90825"),
            "istio-roles.yaml": ("common/istio/kubeflow-istio-resources/base/cluster-roles.yaml",
                                 "a3c9e8028acd7ab01cdddbc0bf3a844ed2b19237e5c85435fb0593e89caac80c"),
            "notebook-controller-roles.yaml": ("applications/jupyter/notebook-controller/upstream/rbac/user_cluster_roles.yaml",
                                               "dc9b609057ea0e6daaec0926b6a5a9a520733d68edd1716401c005a8f2f8fb84"),
            "admission-webhook-roles.yaml": ("applications/admission-webhook/upstream/base/cluster-role.yaml",
                                             "5c2b3371de29e370da1bf2a66ff7a53591fbdbda08e94dd9cace689d3e748b9a"),
            "pipelines-roles.yaml": ("applications/pipeline/upstream/base/installs/multi-user/view-edit-cluster-roles.yaml",
                                     "ca104d2b962e748650948d16657f478ecb87b7ec25026283107a432bc7dad7ee"),
            "LICENSE": ("LICENSE", "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"),
        }},
    "odh-kubeflow": {
        "repo": "opendatahub-io/kubeflow", "commit": "b85f66ae8d18de4f402c07b2b53338ab92a44a1a",
        "notes": "tests/realparts/apiserver/fixtures/odh-kubeflow/PROVENANCE.md",
        "files": {
            "odh-notebook-controller-roles.yaml": ("components/odh-notebook-controller/config/rbac/user_cluster_roles.yaml",
                                                   "7770c6d3e11ef6eac4b365c49a137d82f7ec175ce66e11733b9191f6c4049ac1"),
            # ODH's own Notebook CRD (its pod template has hostUsers; kubeflow/notebooks' has not)
            # and the validation patches its kustomization applies, as the ODH operator installs it
            "kubeflow.org_notebooks.yaml": ("components/notebook-controller/config/crd/bases/kubeflow.org_notebooks.yaml",
                                            "0802aa468abbbe612bab9c3595db93effc267ae00c9d2814d7095a60df081b89"),
            "validation_patches.yaml": ("components/notebook-controller/config/crd/patches/validation_patches.yaml",
                                        "99fc6174546128c3289e4b8c3ce6535446c14232dd6aaf203e85907fca790a1d"),
            "LICENSE": ("LICENSE", "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"),
        }},
    "istio": {
        "repo": "istio/istio", "commit": "86c9f01fd735fb01d8192f5bcaf0d424afb7f14c",
        "notes": "tests/realparts/apiserver/fixtures/istio/PROVENANCE.md",
        "files": {
            "crd-all.gen.yaml": ("manifests/charts/base/files/crd-all.gen.yaml",
                                 "0ea765a267c9cc96fae6c29f42566fbc31110de5abecc3d7c57210ad2a787013"),
            "LICENSE": ("LICENSE", "9fa6e54dafda853bb3cdc01486b677a55102f0d488282a85ba6e426d9125f8c5"),
        }},
    "openshift-api": {
        "repo": "openshift/api", "commit": "2a3d73913b5a7caec4c57d5c3d04f51106ec4da3",
        "notes": "tests/realparts/apiserver/fixtures/openshift-api/PROVENANCE.md",
        "files": {
            "routes.crd.yaml": ("route/v1/zz_generated.crd-manifests/routes.crd.yaml",
                                "65e2171923f7596a2a7b7da21891e9ed5906da8108ce15145b61924b9db73d82"),
            "LICENSE": ("LICENSE", "ea81dcff98532f22802f03eb0ad532407b9122c4c76aae32cbd58442485f3885"),
        }},
    # --- tests/realparts/scc -------------------------------------------------------------------
    "openshift-scc": {
        "repo": "openshift/cluster-kube-apiserver-operator", "commit": "c813e820bb94cf2af88a6343c8554624c334c04c",
        "notes": "tests/realparts/apiserver/fixtures/openshift-scc/PROVENANCE.md",
        "files": {
            "scc-restricted-v2.yaml": ("bindata/bootkube/scc-manifests/0000_20_kube-apiserver-operator_00_scc-restricted-v2.yaml",
                                       "c68fbfc04cf0373b800a36e3bdc7559ce1f3868a6d083fef5dc50e0d5e1d8d8e"),
            "scc-restricted-v3.yaml": ("bindata/bootkube/scc-manifests/0000_20_kube-apiserver-operator_00_scc-restricted-v3.yaml",
                                       "da24fe60815949b46e754ee127b33572ebf31f4bd5a719048fa501ab106f389d"),
            "LICENSE": ("LICENSE", "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"),
        }},
    # --- tests/realparts/pods: the stand-in images' own files, by their path in the image --------
    "docker-stacks": {
        "repo": "jupyter/docker-stacks", "commit": "8209386950497966c8a9aa446b9a84a5dd78eab5",
        "notes": "tests/realparts/pods/images/docker-stacks/SOURCE.md",
        "files": {
            "usr/local/bin/start.sh": ("images/docker-stacks-foundation/start.sh",
                                       "901c1c39d004e90e27a3e9a9c93b9cac531df671050950fdac5add530655a795"),
            "usr/local/bin/_docker_stacks_log.sh": ("images/docker-stacks-foundation/_docker_stacks_log.sh",
                                                    "536c994da47e3e44b96a449469cffc2dbfed16c4bab12a2e524e126dd949e0bd"),
            "usr/local/bin/run-hooks.sh": ("images/docker-stacks-foundation/run-hooks.sh",
                                           "7a05abd75b8eee1c36dacf9222fd1552be41cbff207adc370a0fbbffe1b746d5"),
            "usr/local/bin/start-notebook.py": ("images/base-notebook/start-notebook.py",
                                                "dfae35584dc6159b642dc37c30467042802ef771ae1db39eef8f1a40dfcec62c"),
            "usr/local/bin/start-notebook.sh": ("images/base-notebook/start-notebook.sh",
                                                "b76211ad36c167074b35db9d18b5638f74aa54ed2b096d5e0a3e33d6d1e9420f"),
            "usr/local/bin/start-singleuser.py": ("images/base-notebook/start-singleuser.py",
                                                  "69029d8d41bbb44a8ada811f0a319c70d5f13339a25d1f1b22a4f5059a27bae8"),
            "usr/local/bin/start-singleuser.sh": ("images/base-notebook/start-singleuser.sh",
                                                  "4f40d0879afdd8fed40ca3d9ba710050eb85676289eea1f03442260b63cc6602"),
            "etc/jupyter/jupyter_server_config.py": ("images/base-notebook/jupyter_server_config.py",
                                                     "ab72ca406e3d131162269e7514ddd2124f431db93e927b568bdb2fd61c28df50"),
            "LICENSE.md": ("LICENSE.md", "9ccb28a18c2cf737840fc847e9f0a878d4bb1a734be8ab9810bdddb6159723a0"),
        }},
    "kubeflow-notebook-servers": {
        # the parent of 4bf108b41 ("Remove Kubeflow Notebooks components"), the last commit of
        # kubeflow/kubeflow with the example notebook server images
        "repo": "kubeflow/kubeflow", "commit": "6dbe516130193616f6304f0464c7d54699792a63",
        "notes": "tests/realparts/pods/images/kubeflow/SOURCE.md",
        "files": {
            "etc/services.d/jupyterlab/run": ("components/example-notebook-servers/jupyter/s6/services.d/jupyterlab/run",
                                              "8bc3e3f30cc780f25b870f099d6599172b0cb3b2fc467423cf1e06581de8e0b7"),
            "etc/cont-init.d/01-copy-tmp-home": ("components/example-notebook-servers/base/s6/cont-init.d/01-copy-tmp-home",
                                                 "f8b7396e01e518df16473d1d5f68fdaba475935f443563fcc7413b7522e17e0b"),
            "LICENSE": ("LICENSE", "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"),
        }},
}


class FixtureMissing(Exception):
    """An upstream file is nowhere to be found (callers with a stand-in fall back to it)."""


class FixtureConfigError(Exception):
    """The lookup is misconfigured (a directory inside the clone): never a reason to fall back."""


def _inside_clone(d):
    d, root = os.path.realpath(d), os.path.realpath(ROOT)
    return d == root or d.startswith(root + os.sep)


def cache_dir():
    if os.environ.get("NBGEN_REALPARTS_CACHE"):
        return os.path.abspath(os.environ["NBGEN_REALPARTS_CACHE"])
    base = os.environ.get("NBGEN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "nbgen")
    return os.path.join(os.path.abspath(base), "realparts-fixtures")


def mirror_dir():
    return os.environ.get("NBGEN_MIRROR") or "/work/.mirror"


def search_dirs():
    """[(kind, directory)] in lookup order (see the module's doc)."""
    dirs = []
    if os.environ.get("NBGEN_REALPARTS_FIXTURES"):
        dirs.append(("NBGEN_REALPARTS_FIXTURES", os.path.abspath(os.environ["NBGEN_REALPARTS_FIXTURES"])))
    dirs.append(("shared", os.path.normpath(os.path.join(ROOT, "..", "shared", "realparts-fixtures"))))
    dirs.append(("cache", cache_dir()))
    for kind, d in dirs:
        if kind != "shared" and _inside_clone(d):
            raise FixtureConfigError(f"{kind} directory {d} is inside the clone {ROOT}: upstream files are "
                                 f"never kept there (they must not be committed); point it outside")
    return dirs


def origin(source):
    """e.g. 'jupyter/docker-stacks@8209386'"""
    s = SOURCES[source]
    return f"{s['repo']}@{s['commit'][:7]}"


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _mirror_git(source):
    return os.path.join(mirror_dir(), SOURCES[source]["repo"].replace("/", "+"), "repo")


def _from_mirror(source, name):
    """The file's bytes from the git mirror, or None when there is no mirror (or not that commit)."""
    git = _mirror_git(source)
    if not os.path.isdir(git):
        return None
    s = SOURCES[source]
    p = subprocess.run(["git", "-C", git, "show", f"{s['commit']}:{s['files'][name][0]}"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return p.stdout if p.returncode == 0 else None


def _write_atomic(dest, data):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = f"{dest}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)


def _missing_message(source, name):
    s = SOURCES[source]
    where = ", ".join(d for _k, d in search_dirs())
    return (f"upstream file {source}/{name} not found in {where} nor in a git mirror under {mirror_dir()}: "
            f"it is {s['repo']}@{s['commit'][:12]}:{s['files'][name][0]} (SHA-256 {s['files'][name][1]}). "
            f"Place it at <dir>/{source}/{name} in one of those directories (e.g. ../shared/realparts-fixtures, "
            f"which the steering team fills), or set NBGEN_REALPARTS_FIXTURES, or NBGEN_MIRROR to a directory "
            f"with a git mirror {s['repo'].replace('/', '+')}/repo; see tests/realparts/README.md")


def locate(source, name):
    """(path, kind) of one upstream file, verified; kind is NBGEN_REALPARTS_FIXTURES, shared or
    cache (staged from the mirror now or earlier). FixtureMissing if it is nowhere;
    FixtureConfigError if a copy differs from the published file or a directory is in the clone."""
    if source not in SOURCES or name not in SOURCES[source]["files"]:
        raise KeyError(f"{source}/{name} is not in fixtures.SOURCES")
    want = SOURCES[source]["files"][name][1]
    for kind, d in search_dirs():
        p = os.path.join(d, source, name)
        if not os.path.isfile(p):
            continue
        with open(p, "rb") as f:
            got = _sha(f.read())
        if got == want:
            return p, kind
        if kind != "cache":
            raise FixtureConfigError(f"{p}: SHA-256 {got} is not the published file's {want} "
                                 f"({origin(source)}); never edit these copies")
        os.unlink(p)  # a stale or broken cache entry: staged again below, or missing
    data = _from_mirror(source, name)
    if data is not None:
        if _sha(data) != want:
            raise FixtureConfigError(f"{_mirror_git(source)}: {SOURCES[source]['files'][name][0]} at "
                                 f"{SOURCES[source]['commit'][:12]} has SHA-256 {_sha(data)}, not {want}")
        p = os.path.join(cache_dir(), source, name)
        _write_atomic(p, data)
        return p, "cache"
    raise FixtureMissing(_missing_message(source, name))


def path(source, name):
    """The verified path of one upstream file, or FixtureMissing saying where it was looked for."""
    return locate(source, name)[0]


def available(source, names=None):
    try:
        for n in names or SOURCES[source]["files"]:
            path(source, n)
        return True
    except FixtureMissing:
        return False


def describe(source):
    """One line: where the source's files come from, or why not."""
    try:
        kinds = sorted({locate(source, n)[1] for n in SOURCES[source]["files"]})
    except FixtureMissing as e:
        return f"{origin(source)}: not found ({e})"
    where = {"cache": f"cache {os.path.join(cache_dir(), source)}",
             "shared": "../shared/realparts-fixtures",
             "NBGEN_REALPARTS_FIXTURES": "$NBGEN_REALPARTS_FIXTURES"}
    return f"{origin(source)}, from " + " and ".join(where[k] for k in kinds)


def stage(sources, mirror, dest):
    """Copy the sources' files out of git mirrors into dest/<source>/, verified."""
    bad = 0
    for source in sources:
        s = SOURCES[source]
        git = os.path.join(mirror, s["repo"].replace("/", "+"), "repo")
        for name, (p, want) in s["files"].items():
            r = subprocess.run(["git", "-C", git, "show", f"{s['commit']}:{p}"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            if r.returncode != 0:
                bad += 1
                print(f"MISSING {source}/{name}: {s['repo']}@{s['commit'][:12]}:{p}: {r.stderr.decode().strip()}")
                continue
            if _sha(r.stdout) != want:
                bad += 1
                print(f"BAD     {source}/{name}: SHA-256 {_sha(r.stdout)}, not {want}")
                continue
            _write_atomic(os.path.join(dest, source, name), r.stdout)
            print(f"staged  {source}/{name} <- {s['repo']}@{s['commit'][:12]}:{p} ({len(r.stdout)} bytes)")
    return bad


def guard():
    """Files git tracks in this clone that are one of the upstream files (by SHA-256)."""
    known = {want: f"{src}/{name} ({origin(src)}:{p})"
             for src, s in SOURCES.items() for name, (p, want) in s["files"].items()}
    r = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        return None
    hits = []
    for rel in r.stdout.decode().split("\0"):
        p = os.path.join(ROOT, rel)
        if rel and os.path.isfile(p) and not os.path.islink(p):
            with open(p, "rb") as f:
                h = _sha(f.read())
            if h in known:
                hits.append(f"{rel} is {known[h]}")
    return hits


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("stage", help="copy the files out of git mirrors (default: into the cache)")
    st.add_argument("--mirror", default=None, help="default: $NBGEN_MIRROR or /work/.mirror")
    st.add_argument("--dest", default=None, help="default: the cache")
    st.add_argument("sources", nargs="*", help="default: all")
    sub.add_parser("check", help="where each file is found (staging from a mirror into the cache)")
    sub.add_parser("sums", help="SHA256SUMS of every file, <source>/<file>")
    sub.add_parser("guard", help="fail if git tracks one of these files here")
    a = ap.parse_args()
    try:
        search_dirs()
    except FixtureConfigError as e:
        print(f"fixtures: {e}", file=sys.stderr)
        return 2
    if a.cmd == "stage":
        sources = a.sources or list(SOURCES)
        unknown = [s for s in sources if s not in SOURCES]
        if unknown:
            ap.error(f"unknown sources {unknown}; known: {', '.join(SOURCES)}")
        dest = os.path.abspath(a.dest or cache_dir())
        if _inside_clone(dest):
            ap.error(f"{dest} is inside the clone: upstream files are never kept there")
        return 1 if stage(sources, a.mirror or mirror_dir(), dest) else 0
    if a.cmd == "sums":
        for src, s in SOURCES.items():
            for name, (_p, want) in s["files"].items():
                print(f"{want}  {src}/{name}")
        return 0
    if a.cmd == "guard":
        hits = guard()
        if hits is None:
            print("fixtures guard: not a git clone; nothing checked")
            return 0
        for h in hits:
            print(f"fixtures guard: committed upstream file: {h}")
        print(f"fixtures guard: {len(hits)} upstream file(s) tracked by git"
              + (" (they must not be committed: see tests/realparts/README.md)" if hits else ""))
        return 1 if hits else 0
    bad = 0
    for source, s in SOURCES.items():
        for n, (p, want) in s["files"].items():
            try:
                found, kind = locate(source, n)
                print(f"ok      {want[:16]}  {source}/{n}: {kind} {found}")
            except FixtureConfigError as e:
                bad += 1
                print(f"BAD     {want[:16]}  {source}/{n}: {e}")
            except FixtureMissing as e:
                bad += 1
                print(f"MISSING {want[:16]}  {source}/{n}: {s['repo']}@{s['commit'][:12]}:{p}")
                if os.environ.get("FIXTURES_VERBOSE"):
                    print(f"        {e}")
    print(f"fixtures: {sum(len(s['files']) for s in SOURCES.values()) - bad} found, {bad} missing or bad "
          f"(looked in {', '.join(d for _k, d in search_dirs())}, mirror {mirror_dir()})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
