"""Argo CD's CRDs (fixtures/argocd-crds/, copied unmodified), made loadable by kube-apiserver 1.20."""

import os

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CRD_DIR = os.path.join(HERE, "fixtures", "argocd-crds")
CRD_FILES = ["appproject-crd.yaml", "application-crd.yaml"]


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
    """[(file, crd object, [removed default paths])]"""
    out = []
    for f in CRD_FILES:
        with open(os.path.join(CRD_DIR, f)) as fh:
            crd = yaml.safe_load(fh)
        removed = []
        for v in crd["spec"]["versions"]:
            schema = (v.get("schema") or {}).get("openAPIV3Schema")
            if schema is not None:
                strip_empty_defaults(schema, f"spec.versions[{v['name']}].schema.openAPIV3Schema", removed)
        out.append((f, crd, removed))
    return out
