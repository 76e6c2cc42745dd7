"""Who owns which notebook server, computed from the environment spec alone.

This is deliberately independent of nbgen: it reads environments/<env>.yaml (following
`extends:`) with PyYAML and applies the access model written in README.md. It never looks at the
rendered RBAC, so the access cases it yields can prove that RBAC right or wrong.

Model (spec -> servers):
  namespace = cluster.namespacePrefix + team name
  a team with perMember: true has one server per (role, member), named <role>-<slug>, where slug is
    the e-mail's part before `@`, lower-cased, characters outside [a-z0-9-] turned to `-`;
    it is controlled by that member only;
  otherwise one server per role named <role>, controlled by every member and group of the team.
  Server S is StatefulSet S, its pod S-0, its Jupyter token Secret S-token.
"""

import os
import re
from dataclasses import dataclass, field

import yaml


class SpecError(Exception):
    pass


def merge(base, over):
    """Spec inheritance: maps merge key by key, scalars and lists are replaced, null removes."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return over
    out = dict(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif k in out:
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def load_env(env_dir, name, _seen=()):
    if name in _seen:
        raise SpecError(f"extends cycle: {' -> '.join(_seen + (name,))}")
    path = os.path.join(env_dir, f"{name}.yaml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict):
        raise SpecError(f"{path}: not a map")
    base = doc.pop("extends", None)
    if base is None:
        return doc
    return merge(load_env(env_dir, base, _seen + (name,)), doc)


def slug(email):
    """nbgen's documented member slug (README, teams.perMember): the e-mail's part before `@`,
    lower-cased, each run of characters outside [a-z0-9] one `-`, trimmed."""
    return re.sub(r"[^a-z0-9]+", "-", email.split("@", 1)[0].lower()).strip("-")


@dataclass
class Server:
    name: str
    namespace: str
    team: str
    role: str
    owners: list  # member e-mails that control it (User subjects)
    owner_groups: list  # groups that control it

    @property
    def pod(self):
        return f"{self.name}-0"

    @property
    def token(self):
        return f"{self.name}-token"


@dataclass
class Team:
    name: str
    namespace: str
    members: list
    groups: list
    per_member: bool
    servers: list = field(default_factory=list)


def node_port_range(spec):
    r = str((spec.get("cluster") or {}).get("nodePortRange") or "30000-32767")
    lo, hi = (int(x) for x in r.split("-", 1))
    return lo, hi


def teams(spec):
    prefix = (spec.get("cluster") or {}).get("namespacePrefix") or ""
    out = []
    for tname, t in (spec.get("teams") or {}).items():
        t = t or {}
        members = list(t.get("members") or [])
        groups = list(t.get("groups") or [])
        per_member = bool(t.get("perMember", False))
        team = Team(tname, prefix + tname, members, groups, per_member)
        for role in t.get("roles") or []:
            if per_member:
                for m in members:
                    team.servers.append(Server(f"{role}-{slug(m)}", team.namespace, tname, role, [m], []))
            else:
                team.servers.append(Server(role, team.namespace, tname, role, members, groups))
        out.append(team)
    return out
