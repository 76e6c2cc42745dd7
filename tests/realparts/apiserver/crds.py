"""The CRDs the harness installs before nbgen's objects: Argo CD's (every environment) and, by the
API groups out/<env>/ uses, the Kubeflow and OpenShift targets'. Upstream's files are located by
tests/realparts/fixtures.py (never committed here) and made loadable by kube-apiserver 1.20 by
program; when they are not found, nbgen's own minimal structural stand-ins are generated here
(`standin_crd`), and the harness says which it used."""

import os

import yaml

import fixtures

ARGO_SOURCE = "argocd-crds"
CRD_FILES = ["appproject-crd.yaml", "application-crd.yaml"]


# --- nbgen's stand-ins, used when upstream's CRDs are not found ---------------------------------
#
# A stand-in CRD has the published group, versions, kind, plural and scope, and a structural schema
# that keeps whatever the object has under its top-level fields (`x-kubernetes-preserve-unknown-
# fields: true` under spec, status and any other listed field). With it the API server still checks
# that the kind exists in that group and version, the object's name and its placement (namespaced
# or cluster-scoped), and the fields outside those (apiVersion, kind, metadata); it checks nothing
# of the kind's own schema and prunes nothing under spec.
def standin_crd(group, kind, plural, versions, scope="Namespaced", fields=("spec", "status")):
    """A minimal structural CRD; versions[0] is the storage version."""
    props = {f: {"type": "object", "x-kubernetes-preserve-unknown-fields": True} for f in fields}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}",
                     "annotations": {"nbgen.io/realparts": "minimal structural stand-in (tests/realparts/apiserver/crds.py)"}},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "versions": [{"name": v, "served": True, "storage": i == 0,
                          "schema": {"openAPIV3Schema": {"type": "object", "properties": props}}}
                         for i, v in enumerate(versions)],
        },
    }


# upstream file -> the stand-in(s) replacing it (same group, kinds, versions, scope as published)
STANDINS = {
    ("argocd-crds", "appproject-crd.yaml", None): lambda: standin_crd(
        "argoproj.io", "AppProject", "appprojects", ["v1alpha1"]),
    ("argocd-crds", "application-crd.yaml", None): lambda: standin_crd(
        "argoproj.io", "Application", "applications", ["v1alpha1"], fields=("spec", "status", "operation")),
    ("kubeflow-notebooks", "kubeflow.org_notebooks.yaml", None): lambda: standin_crd(
        "kubeflow.org", "Notebook", "notebooks", ["v1", "v1beta1", "v1alpha1"]),
    ("kubeflow-dashboard", "kubeflow.org_profiles.yaml", None): lambda: standin_crd(
        "kubeflow.org", "Profile", "profiles", ["v1", "v1beta1"], scope="Cluster"),
    ("kubeflow-dashboard", "poddefaults-crd.yaml", None): lambda: standin_crd(
        "kubeflow.org", "PodDefault", "poddefaults", ["v1alpha1"]),
    ("istio", "crd-all.gen.yaml", "authorizationpolicies.security.istio.io"): lambda: standin_crd(
        "security.istio.io", "AuthorizationPolicy", "authorizationpolicies", ["v1", "v1beta1"]),
    ("openshift-api", "routes.crd.yaml", None): lambda: standin_crd(
        "route.openshift.io", "Route", "routes", ["v1"]),
}

STANDIN_NOTE = ("the API server checks kind, version, name and placement (namespaced or cluster-scoped) "
                "of these objects, not their schema")


def argocd_status():
    """(upstream found?, one line for the harness's output)."""
    if fixtures.available(ARGO_SOURCE, CRD_FILES):
        return True, f"Argo CD CRDs: upstream ({fixtures.describe(ARGO_SOURCE)})"
    return False, ("Argo CD CRDs: nbgen's minimal structural stand-ins (upstream CRDs "
                   f"{fixtures.origin(ARGO_SOURCE)} not found: see tests/realparts/README.md): {STANDIN_NOTE}; "
                   "Argo CD's schema is checked by .ci/oracles.sh with npm's @kubernetes-models/argo-cd")


def strip_empty_defaults(node, path="", removed=None):
    """1.20 refuses `default: ""` in a CRD schema (it checks defaults against the structural schema
    more strictly than later versions); remove every such entry in an openAPIV3Schema. Returns the
    list of paths removed. Only `default` keys whose value is the empty string are touched."""
    if removed is None:
        removed = []
    if isinstance(node, dict):
        if node.get("default") == "" and ("type" in node or "description" in node):
            del node["default"]
            removed.append(path + ".default")
        for k, v in node.items():
            strip_empty_defaults(v, f"{path}.{k}", removed)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            strip_empty_defaults(v, f"{path}[{i}]", removed)
    return removed


def load():
    """[(label, crd object, [removed default paths])]: Argo CD's AppProject and Application CRDs,
    upstream's (`default: ""` removed) or, when not found, nbgen's stand-ins."""
    out = []
    upstream = fixtures.available(ARGO_SOURCE, CRD_FILES)
    for f in CRD_FILES:
        if not upstream:
            out.append((f"nbgen's stand-in for {ARGO_SOURCE}/{f}", STANDINS[(ARGO_SOURCE, f, None)](), []))
            continue
        with open(fixtures.path(ARGO_SOURCE, f)) as fh:
            crd = yaml.safe_load(fh)
        removed = []
        for v in crd["spec"]["versions"]:
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if schema is not None:
                strip_empty_defaults(schema, f"spec.versions[{v['name']}].schema.openAPIV3Schema", removed)
        out.append((f"{ARGO_SOURCE}/{f}", crd, removed))
    return out


# --- the Kubeflow and OpenShift targets' CRDs (upstream files located by fixtures.py) -----------
#
# Installed only when out/<env>/ has an object of the CRD's group (by apiVersion). The upstream
# files are never edited; every change 1.20 needs is made here, by program, and printed. When a
# file is not found, its stand-in (STANDINS above) is installed instead and labelled so:
#
#   notebooks.kubeflow.org  kubeflow/notebooks (notebooks-v1) config/crd/bases + the JSON patches
#                           of config/crd/patches/validation_patches.yaml, which the controller's
#                           kustomization applies (containers need name and image, minItems 1).
#                           1.20 needs no change.
#   profiles.kubeflow.org, poddefaults.kubeflow.org   kubeflow/dashboard; 1.20 needs no change.
#   authorizationpolicies.security.istio.io   extracted at load time from istio's
#                           crd-all.gen.yaml (the whole file is the fixture); its 12
#                           x-kubernetes-validations (CEL, 1.25+) are removed: 1.20 would drop
#                           them silently anyway, so their checks are not made here.
#   routes.route.openshift.io   openshift/api; refused by 1.20 as it stands: (1) its spec-level
#                           allOf/anyOf has the alternative `properties: {tls: {enum: [null]}}`
#                           ("tls is absent or null"); 1.20's v1->internal conversion then fails to
#                           see the single version's schema as identical to itself and refuses the
#                           CRD with "per-version schemas may not all be set to identical values".
#                           Each such alternative becomes `not: {required: [tls]}` (the same test
#                           for an object-typed field that is not nullable). (2) its 14
#                           x-kubernetes-validations (CEL) are removed as above.
#
# `default: ""` is left in place: the Notebook CRD has 18 and the PodDefault CRD 6 (probes'
# grpc.service), and 1.20.2 accepts both CRDs with them (measured: 201, Established), so removing
# them (as crds.load() must for Argo CD's) is not needed here and would change defaulting.

import copy  # noqa: E402

ISTIO_AP = "authorizationpolicies.security.istio.io"

# group -> [(source, file, CRD name to extract or None)]
TARGET_CRDS = {
    "kubeflow.org": [
        ("kubeflow-notebooks", "kubeflow.org_notebooks.yaml", None),
        ("kubeflow-dashboard", "kubeflow.org_profiles.yaml", None),
        ("kubeflow-dashboard", "poddefaults-crd.yaml", None),
    ],
    "security.istio.io": [("istio", "crd-all.gen.yaml", ISTIO_AP)],
    "route.openshift.io": [("openshift-api", "routes.crd.yaml", None)],
}


def _walk(node, fn, path=""):
    if isinstance(node, dict):
        fn(node, path)
        for k, v in list(node.items()):
            _walk(v, fn, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk(v, fn, f"{path}[{i}]")


def _json_patch(doc, ops):
    """The `replace`/`add` operations of an RFC 6902 patch (all validation_patches.yaml uses)."""
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        node = doc
        for p in parts[:-1]:
            node = node[int(p)] if isinstance(node, list) else node[p]
        last = parts[-1]
        if op["op"] not in ("replace", "add"):
            raise ValueError(f"unsupported patch op {op['op']}")
        if isinstance(node, list):
            if op["op"] == "add" and last == "-":
                node.append(op["value"])
            else:
                node[int(last)] = op["value"]
        else:
            if op["op"] == "replace" and last not in node:
                raise ValueError(f"replace of missing {op['path']}")
            node[last] = op["value"]


def adapt_for_1_20(crd):
    """The changes kube-apiserver 1.20 needs (see above). Returns [(path, what, why)]."""
    changes = []

    def cel(node, path):
        if "x-kubernetes-validations" in node:
            n = len(node.pop("x-kubernetes-validations") or [])
            changes.append((path, f"removed x-kubernetes-validations ({n} CEL rule{'s' if n != 1 else ''})",
                            "CEL validation rules are 1.25+; 1.20 drops them silently"))

    def enum_null(node, path):
        for key in ("allOf", "anyOf", "oneOf"):
            for i, alt in enumerate(node.get(key) or []):
                props = alt.get("properties") if isinstance(alt, dict) else None
                if props and len(alt) == 1 and len(props) == 1:
                    (field, sch), = props.items()
                    if sch == {"enum": [None]}:
                        node[key][i] = {"not": {"required": [field]}}
                        changes.append((f"{path}.{key}[{i}]", f"properties.{field}.enum [null] -> not.required [{field}]",
                                        "1.20 refuses a CRD whose schema has enum [null] (per-version schemas "
                                        "'may not all be set to identical values')"))

    for v in crd["spec"]["versions"]:
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            continue
        base = f"spec.versions[{v['name']}].schema.openAPIV3Schema"
        _walk(schema, cel, base)
        _walk(schema, enum_null, base)
    return changes


def _load_one(source, fname, name):
    with open(fixtures.path(source, fname)) as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d]
    if name:
        docs = [d for d in docs if d.get("kind") == "CustomResourceDefinition" and d["metadata"]["name"] == name]
        if len(docs) != 1:
            raise ValueError(f"{source}/{fname}: expected one CRD {name}, found {len(docs)}")
    if len(docs) != 1:
        raise ValueError(f"{source}/{fname}: expected one CRD, found {len(docs)}")
    crd = copy.deepcopy(docs[0])
    changes = []
    if fname == "kubeflow.org_notebooks.yaml":
        with open(fixtures.path(source, "validation_patches.yaml")) as fh:
            ops = yaml.safe_load(fh)
        _json_patch(crd, ops)
        changes.append(("spec.versions[*]...containers", f"applied validation_patches.yaml ({len(ops)} ops)",
                        "the notebook-controller's kustomization installs the CRD with these patches"))
    changes += adapt_for_1_20(crd)
    return crd, changes


def groups_in(objects):
    return {str(o.get("apiVersion", "")).rsplit("/", 1)[0] for _, o in objects if "/" in str(o.get("apiVersion", ""))}


def load_targets(objects, sources=None):
    """[(label, crd, [(path, what, why)])] for the target CRDs whose group out/<env>/ uses: upstream's
    when found, else nbgen's stand-in (labelled so, with an empty change list). `sources` maps a
    (source, file) of TARGET_CRDS to the source a target installs it from instead (a mode's
    targets.CRD_SOURCES: ODH's own Notebook CRD)."""
    out = []
    for group in sorted(groups_in(objects)):
        for standin_source, fname, name in TARGET_CRDS.get(group, []):
            source = (sources or {}).get((standin_source, fname), standin_source)
            needs = [fname] + (["validation_patches.yaml"] if fname == "kubeflow.org_notebooks.yaml" else [])
            if not fixtures.available(source, needs):
                out.append((f"nbgen's minimal structural stand-in (upstream {fixtures.origin(source)} "
                            f"{fname} not found: see tests/realparts/README.md; {STANDIN_NOTE})",
                            STANDINS[(standin_source, fname, name)](), []))
                continue
            crd, changes = _load_one(source, fname, name)
            out.append((f"{source}/{fname}" + (f"#{name}" if name else ""), crd, changes))
    return out
