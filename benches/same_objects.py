#!/usr/bin/env python3
"""Check that two multi-document YAML streams hold the same Kubernetes objects.

usage: same_objects.py NBGEN_STREAM HELM_STREAM

Objects are matched by (kind, namespace, name). Prints the count per kind, then every object
only one side has and every object whose content differs (as parsed YAML, so key order, quoting
and comments do not matter). Exit 0 when the sets are equal, 1 otherwise.
"""
import collections
import sys

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def objects(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.load_all(f, Loader=Loader) if d]
    out = {}
    for d in docs:
        meta = d.get("metadata", {})
        key = (d["kind"], meta.get("namespace", ""), meta["name"])
        if key in out:
            sys.exit(f"{path}: {key} appears twice")
        out[key] = d
    return out


def first_difference(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}/{k}: only in {'helm' if k not in a else 'nbgen'}"
            d = first_difference(a[k], b[k], f"{path}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}/{i}")
            if d:
                return d
        return None
    return None if a == b else f"{path}: nbgen {a!r}, helm {b!r}"


def main():
    nbgen, helm = objects(sys.argv[1]), objects(sys.argv[2])
    kinds = collections.Counter(k[0] for k in nbgen)
    helm_kinds = collections.Counter(k[0] for k in helm)
    print(f"{'kind':24} {'nbgen':>7} {'helm':>7}")
    for kind in sorted(set(kinds) | set(helm_kinds)):
        print(f"{kind:24} {kinds[kind]:7} {helm_kinds[kind]:7}")
    print(f"{'total':24} {len(nbgen):7} {len(helm):7}")
    problems = []
    for key in sorted(set(nbgen) - set(helm)):
        problems.append(f"only nbgen renders {key}")
    for key in sorted(set(helm) - set(nbgen)):
        problems.append(f"only helm renders {key}")
    for key in sorted(set(nbgen) & set(helm)):
        d = first_difference(nbgen[key], helm[key])
        if d:
            problems.append(f"{key} differs at {d}")
    for p in problems[:20]:
        print(p)
    if problems:
        print(f"{len(problems)} differences")
        return 1
    print("same objects: kinds, counts, names and content")
    return 0


if __name__ == "__main__":
    sys.exit(main())
