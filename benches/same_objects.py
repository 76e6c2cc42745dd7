#!/usr/bin/env python3
"""Check that two multi-document YAML streams hold the same Kubernetes objects.

usage: same_objects.py NBGEN_STREAM HELM_STREAM

Objects are matched by identity (kind, namespace, name), then compared whole as parsed YAML, so
key order, quoting, flow or block style and comments do not matter, but every field and value
does. Prints the count per kind, every object only one side renders, and every field that
differs, grouped by kind and field path (list indices kept) with the number of objects affected
and one example. Exit 0 when both streams hold exactly the same objects, 1 otherwise.
"""
import collections
import sys

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def objects(path):
    """(kind, namespace, name) -> object, for every non-empty document of the stream."""
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.load_all(f, Loader=Loader) if d]
    out = {}
    for d in docs:
        meta = d.get("metadata") or {}
        key = (d.get("kind"), meta.get("namespace", ""), meta.get("name"))
        if key in out:
            sys.exit(f"{path}: {key} appears twice")
        out[key] = d
    return out


def differences(a, b, path=""):
    """Every (path, nbgen value, helm value) where a and b differ; a missing side is '<absent>'."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            yield from differences(a.get(k, ABSENT), b.get(k, ABSENT), f"{path}/{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, f"{path}/{i}")
    elif a != b:
        yield path, a, b


ABSENT = "<absent>"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    nbgen, helm = objects(sys.argv[1]), objects(sys.argv[2])
    kinds = collections.Counter(k[0] for k in nbgen)
    helm_kinds = collections.Counter(k[0] for k in helm)
    print(f"{'kind':24} {'nbgen':>7} {'helm':>7}")
    for kind in sorted(set(kinds) | set(helm_kinds), key=str):
        print(f"{kind:24} {kinds[kind]:7} {helm_kinds[kind]:7}")
    print(f"{'total':24} {len(nbgen):7} {len(helm):7}")

    problems = []
    only_nbgen = sorted(set(nbgen) - set(helm), key=str)
    only_helm = sorted(set(helm) - set(nbgen), key=str)
    for side, keys in (("nbgen", only_nbgen), ("helm", only_helm)):
        for key in keys[:10]:
            problems.append(f"only {side} renders {key}")
        if len(keys) > 10:
            problems.append(f"... and {len(keys) - 10} more only {side} renders")

    # (kind, path) -> [objects affected, first example]
    fields = {}
    for key in sorted(set(nbgen) & set(helm), key=str):
        for path, a, b in differences(nbgen[key], helm[key]):
            seen = fields.setdefault((key[0], path), [0, (key, a, b)])
            seen[0] += 1
    for (kind, path), (count, (key, a, b)) in sorted(fields.items(), key=str):
        problems.append(f"{kind} {path}: differs in {count} object(s), e.g. {key[1]}/{key[2]}: "
                        f"nbgen {a!r}, helm {b!r}")

    for p in problems:
        print(p)
    if problems:
        print(f"NOT the same objects: {len(only_nbgen)} only in nbgen, {len(only_helm)} only in "
              f"helm, {len(fields)} differing field(s)")
        return 1
    print(f"same objects: {len(nbgen)} identities (kind, namespace, name) and every object's "
          f"whole content")
    return 0


if __name__ == "__main__":
    sys.exit(main())
