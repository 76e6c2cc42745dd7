"""Expand access-cases.yaml into SubjectAccessReview cases for one environment (see that file)."""

import itertools
from dataclasses import dataclass

import yaml

from spec import teams as spec_teams

ALLOWED, DENIED = "allowed", "denied"
AUTHENTICATED = "system:authenticated"


@dataclass(frozen=True)
class Subject:
    user: str
    groups: tuple  # besides system:authenticated
    team: str  # the subject's team
    kind: str  # "member" | "group"

    def label(self):
        if self.kind == "group":
            return f"group {self.groups[0]} (as {self.user})"
        return self.user


@dataclass(frozen=True)
class Case:
    subject: Subject
    namespace: str  # "" = cluster scope
    verb: str
    group: str
    resource: str
    subresource: str
    name: str
    expect: str
    section: str  # which template section (and why) produced the case

    def key(self):
        # the request as the API server sees it (a person in two teams is one user)
        return (self.subject.user, self.subject.groups, self.namespace, self.verb, self.group, self.resource, self.subresource,
                self.name)

    def what(self):
        r = self.resource + (f"/{self.subresource}" if self.subresource else "")
        if self.group:
            r += f".{self.group}"
        where = f"ns={self.namespace}" if self.namespace else "cluster"
        return f"{self.verb} {r} name={self.name or '(any)'} {where}"


def as_list(v):
    return v if isinstance(v, list) else [v]


def expand(template, values):
    """Every combination of a template's list fields, with placeholders filled from `values`
    (a dict of placeholder -> list of strings). Returns [] if a placeholder has no values."""
    out = []
    names = as_list(template.get("name", ""))
    for verb, resource, name in itertools.product(as_list(template["verb"]),
                                                  as_list(template["resource"]), names):
        fills = [name]
        for ph, vals in values.items():
            token = "{" + ph + "}"
            if token in name:
                fills = [f.replace(token, v) for f in fills for v in vals]
        if any("{" in f for f in fills):
            raise ValueError(f"unknown placeholder in {template}")
        for n in fills:
            out.append(dict(verb=verb, group=template.get("group", ""), resource=resource,
                            subresource=template.get("subresource", ""), name=n))
    return out


def outsider(all_members):
    n = 0
    while True:
        u = "someone@example.com" if n == 0 else f"someone{n}@example.com"
        if u not in all_members:
            return u
        n += 1


def build_cases(spec, cases_path):
    with open(cases_path) as f:
        tpl = yaml.safe_load(f)
    teams = spec_teams(spec)
    all_members = {m for t in teams for m in t.members}
    user_for_groups = outsider(all_members)
    servers = [s for t in teams for s in t.servers]

    subjects = []
    for t in teams:
        for m in t.members:
            subjects.append(Subject(m, (), t.name, "member"))
        for g in t.groups:
            subjects.append(Subject(user_for_groups, (g,), t.name, "group"))

    by_team = {t.name: t for t in teams}
    cases = {}
    conflicts = []

    def add(subject, ns, attrs, expect, section):
        c = Case(subject, ns, attrs["verb"], attrs["group"], attrs["resource"], attrs["subresource"],
                 attrs["name"], expect, section)
        old = cases.get(c.key())
        if old is None or old.expect == expect:
            cases.setdefault(c.key(), c)
        elif "another team" in old.section:  # someone in two teams: their other team's rights win
            cases[c.key()] = c
        elif "another team" not in section:
            conflicts.append((old, c))

    def controls(subj, server):
        t = by_team[subj.team]
        if server.team != subj.team:
            return False
        if subj.kind == "member":
            return subj.user in server.owners
        return bool(set(subj.groups) & set(server.owner_groups))

    def team_values(team):
        return {"team_server": [s.name for s in team.servers], "team_pod": [s.pod for s in team.servers]}

    for subj in subjects:
        own = by_team[subj.team]
        per_member_group = subj.kind == "group" and own.per_member
        # server: every server of the environment
        for s in servers:
            vals = {"server": [s.name], "pod": [s.pod], "token": [s.token]}
            for t in tpl.get("server") or []:
                for a in expand(t, vals):
                    if controls(subj, s):
                        add(subj, s.namespace, a, ALLOWED, "server: controls it")
                    elif per_member_group and s.team == subj.team and t.get("team_group_read"):
                        add(subj, s.namespace, a, ALLOWED, "server: team-wide read kept by groups")
                    elif s.team == subj.team:
                        why = ("a group of a perMember team" if subj.kind == "group"
                               else "another member's server")
                        add(subj, s.namespace, a, DENIED, f"server: {why}")
                    else:
                        add(subj, s.namespace, a, DENIED, "server: another team's server")
        # own namespace
        vals = team_values(own)
        for t in tpl.get("team_read") or []:
            for a in expand(t, vals):
                add(subj, own.namespace, a, ALLOWED, "team_read")
        if per_member_group:
            for t in tpl.get("group_read") or []:
                for a in expand(t, vals):
                    add(subj, own.namespace, a, ALLOWED, "group_read")
        for t in tpl.get("forbidden") or []:
            for a in expand(t, vals):
                add(subj, own.namespace, a, DENIED, "forbidden")
        # other teams' namespaces: nothing
        for other in teams:
            if other.namespace == own.namespace:
                continue
            ovals = team_values(other)
            for section in ("team_read", "group_read", "forbidden"):
                for t in tpl.get(section) or []:
                    for a in expand(t, ovals):
                        add(subj, other.namespace, a, DENIED, f"{section} in another team's namespace")
        for t in tpl.get("cluster") or []:
            for a in expand(t, {}):
                add(subj, "", a, DENIED, "cluster")
    return list(cases.values()), conflicts, subjects


def review(cluster, case):
    ra = {"verb": case.verb, "group": case.group, "resource": case.resource}
    if case.namespace:
        ra["namespace"] = case.namespace
    if case.subresource:
        ra["subresource"] = case.subresource
    if case.name:
        ra["name"] = case.name
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": case.subject.user, "groups": list(case.subject.groups) + [AUTHENTICATED],
                 "resourceAttributes": ra},
    }
    code, data = cluster.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", body)
    if code != 201:
        raise RuntimeError(f"SubjectAccessReview refused ({code}): {data.get('message', data)}")
    st = data.get("status") or {}
    got = ALLOWED if st.get("allowed") else DENIED
    return got, st.get("reason", "") or st.get("evaluationError", "")
