"""The Kubeflow and OpenShift (Open Data Hub workbench) targets: detection, platform stand-ins,
and the access model (README.md, "The Kubeflow and ODH targets").

Detection (`mode`): the spec's `cluster.target` when it says so (`kubeflow`; `opendatahub`, the
Open Data Hub workbench mode), else the rendered kinds: a kubeflow.org Profile -> "kubeflow"; kubeflow.org Notebooks and a
Namespace labelled opendatahub.io/dashboard: "true" -> "odh"; else None (the plain model).

Model (from the spec alone, never from the rendered RBAC): one namespace ("space") per team,
<namespacePrefix><team>, or for a perMember team one per member,
<namespacePrefix><team>-<slug>, slug = the e-mail's local part lower-cased, every run of
characters outside [a-z0-9] one `-`, trimmed of `-`. A team space belongs to every member and
group of the team; a member space to that member only.
"""

import collections
import re
import time
from dataclasses import dataclass, field

import yaml

import fixtures
from spec import slug, teams

KF_GROUP = "kubeflow.org"
ODH_DASHBOARD_LABEL = "opendatahub.io/dashboard"
# kubeflow/dashboard components/access-management/kfam/bindings.go
KFAM_ROLES = {"edit": "kubeflow-edit", "view": "kubeflow-view"}
KFAM_USERID_HEADER = "kubeflow-userid"
ISTIO_IGW_PRINCIPAL = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"

# The platform's ClusterRoles, by mode: (source, file). Only ClusterRoles are taken from them.
PLATFORM_ROLES = {
    "kubeflow": [("kubeflow-manifests", f) for f in (
        "kubeflow-roles.yaml", "istio-roles.yaml", "notebook-controller-roles.yaml",
        "admission-webhook-roles.yaml", "pipelines-roles.yaml")],
    "odh": [("odh-kubeflow", "odh-notebook-controller-roles.yaml")],
}
# The CRDs a mode installs from its platform's own release instead of crds.TARGET_CRDS' source:
# Open Data Hub ships its own Notebook CRD (opendatahub-io/kubeflow), whose pod template has
# `hostUsers` (restricted-v3 needs `hostUsers: false`); kubeflow/notebooks' has not, and 1.20
# would drop the field silently.
CRD_SOURCES = {
    "odh": {("kubeflow-notebooks", "kubeflow.org_notebooks.yaml"): "odh-kubeflow"},
}
# admission-webhook-roles.yaml also holds the webhook's own ClusterRole `cluster-role` (its
# kustomization prefixes it); it is no user role and is left out.
SKIP_ROLES = {"cluster-role"}


def kfam_binding_name(user, role):
    """KFAM's getBindingName for a User bound to a ClusterRole (role = edit|view)."""
    reg = re.compile(r"[^a-zA-Z0-9]+")
    raw = "-".join(["User", reg.sub("-", user), "ClusterRole", role]).lower()
    return reg.sub("-", raw)


def group_of(api_version):
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def mode(spec, objects):
    t = (spec.get("cluster") or {}).get("target")   # cluster.target, as nbgen's schema has it
    if t == "kubeflow":
        return "kubeflow"
    if t == "opendatahub":
        return "odh"
    if t in ("kubernetes", "openshift"):
        return None
    kinds = {(group_of(str(o.get("apiVersion", ""))), o.get("kind")) for _, o in objects}
    if (KF_GROUP, "Profile") in kinds:
        return "kubeflow"
    if (KF_GROUP, "Notebook") in kinds and any(
            o.get("kind") == "Namespace"
            and ((o.get("metadata") or {}).get("labels") or {}).get(ODH_DASHBOARD_LABEL) == "true"
            for _, o in objects):
        return "odh"
    return None


@dataclass
class Space:
    namespace: str
    team: str
    members: list          # User subjects who own it
    groups: list           # Group subjects who own it
    per_member: bool
    roles: list            # the spec's roles (server kinds) of the team
    notebooks: list = field(default_factory=list)   # Notebook names rendered there


def spaces(spec):
    """The namespaces of the model, from spec.teams (one rule for a team's namespace)."""
    raw = spec.get("teams") or {}
    out = []
    for team in teams(spec):
        roles = list((raw.get(team.name) or {}).get("roles") or [])
        if team.per_member:
            for m in team.members:
                out.append(Space(f"{team.namespace}-{slug(m)}", team.name, [m], [], True, roles))
        else:
            out.append(Space(team.namespace, team.name, team.members, team.groups, False, roles))
    return out


# --- setting up the platform on the bare API server ----------------------------------------------
def platform_roles(m):
    """[(label, ClusterRole)] of the platform of mode m, from the upstream fixtures."""
    out = []
    for source, fname in PLATFORM_ROLES.get(m, []):
        with open(fixtures.path(source, fname)) as fh:
            for d in yaml.safe_load_all(fh):
                if d and d.get("kind") == "ClusterRole" and d["metadata"]["name"] not in SKIP_ROLES:
                    out.append((f"{source}/{fname}", d))
    return out


def _matches(selector, labels):
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def aggregate(cluster):
    """What kube-controller-manager's clusterrole-aggregation controller does, done by hand: every
    ClusterRole with an aggregationRule gets the union of the rules of the ClusterRoles its
    selectors pick, transitively (an aggregated role's own aggregated rules count). Written with
    PUT before any question is asked. Returns {role: number of rules}."""
    code, data = cluster.get("/apis/rbac.authorization.k8s.io/v1/clusterroles")
    if code != 200:
        raise RuntimeError(f"list clusterroles: {code} {data.get('message')}")
    roles = {r["metadata"]["name"]: r for r in data["items"]}
    agg = {n: r for n, r in roles.items() if r.get("aggregationRule")}

    def own_rules(name, seen):
        r = roles[name]
        if name not in agg:
            return list(r.get("rules") or [])
        if name in seen:
            return []
        rules = []
        for sel in r["aggregationRule"].get("clusterRoleSelectors") or []:
            for other, o in sorted(roles.items()):
                if other != name and _matches(sel, (o["metadata"].get("labels") or {})):
                    for rule in own_rules(other, seen | {name}):
                        if rule not in rules:
                            rules.append(rule)
        return rules

    result = {}
    for name in sorted(agg):
        rules = own_rules(name, frozenset())
        body = dict(roles[name], rules=rules)
        code, got = cluster.request("PUT", f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}", body)
        if code != 200:
            raise RuntimeError(f"PUT clusterrole {name}: {code} {got.get('message')}")
        result[name] = len(rules)
    return result


def profile_controller(cluster, profile, existing_namespaces):
    """What kubeflow/dashboard's profile-controller does for one Profile (profile_controller.go):
    Namespace <profile name> (annotation owner, label istio-injection: enabled), ServiceAccounts
    default-editor/default-viewer bound to kubeflow-edit/kubeflow-view, and RoleBinding
    `namespaceAdmin` to ClusterRole kubeflow-admin for spec.owner (annotations user, role: admin).
    Not done: the ns-owner AuthorizationPolicy, the ResourceQuota, plugins. Returns [messages] of
    what it could not do (the controller would report them on the Profile)."""
    name = profile["metadata"]["name"]
    owner = (profile.get("spec") or {}).get("owner") or {}
    problems = []
    if name in existing_namespaces:
        ns = existing_namespaces[name]
        if ((ns.get("metadata") or {}).get("annotations") or {}).get("owner") != owner.get("name"):
            problems.append(f"Profile {name}: namespace {name} is rendered without annotation owner: "
                            f"{owner.get('name')}; the profile-controller refuses it (\"namespace already "
                            f"exist, but not owned by profile creator\")")
    else:
        body = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "annotations": {"owner": owner.get("name", "")},
                             "labels": {"istio-injection": "enabled"}}}
        code, got = cluster.post("/api/v1/namespaces", body)
        if code != 201:
            problems.append(f"Profile {name}: cannot create its namespace: {got.get('message')}")
            return problems
    rb = "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings" % name
    for sa, role in (("default-editor", "kubeflow-edit"), ("default-viewer", "kubeflow-view")):
        cluster.post(f"/api/v1/namespaces/{name}/serviceaccounts",
                     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}})
        cluster.post(rb, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                          "metadata": {"name": sa},
                          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                          "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": name}]})
    if owner.get("kind") and owner.get("name"):
        code, got = cluster.post(rb, {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "namespaceAdmin", "annotations": {"user": owner["name"], "role": "admin"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubeflow-admin"},
            "subjects": [owner]})
        if code != 201:
            problems.append(f"Profile {name}: owner RoleBinding refused: {got.get('message')}")
    else:
        problems.append(f"Profile {name}: spec.owner has no kind/name")
    return problems


# --- model check -------------------------------------------------------------------------------
def check_model(m, spec, objects, rep):
    """The spaces the spec gives against what out/ has; fills Space.notebooks."""
    sp = spaces(spec)
    by_ns = {s.namespace: s for s in sp}
    notebooks = collections.defaultdict(list)
    for _, o in objects:
        md = o.get("metadata") or {}
        if o.get("kind") == "Notebook" and group_of(str(o.get("apiVersion", ""))) == KF_GROUP:
            notebooks[md.get("namespace")].append(md.get("name"))
    for ns, names in notebooks.items():
        if ns not in by_ns:
            rep.fail("model", f"Notebook(s) {names} in {ns}, which is no namespace of the spec "
                              f"(spaces: {sorted(by_ns)})")
    for s in sp:
        s.notebooks = sorted(notebooks.get(s.namespace, []))
        want = sorted(s.roles)
        # a server is a Notebook named after its role, or <role>-<slug> as the plain target names it
        for role in want:
            cands = [role] + ([f"{role}-{slug(s.members[0])}"] if s.per_member and s.members else [])
            if any(c in s.notebooks for c in cands):
                rep.ok("model")
            else:
                rep.fail("model", f"the spec gives a {role} server in {s.namespace}, but out/ has no "
                                  f"Notebook {' or '.join(cands)} there (has: {s.notebooks})")
    if m == "kubeflow":
        profiles = {(o.get("metadata") or {}).get("name"): o for _, o in objects
                    if o.get("kind") == "Profile" and group_of(str(o.get("apiVersion", ""))) == KF_GROUP}
        for s in sp:
            p = profiles.get(s.namespace)
            if p is None:
                rep.fail("model", f"no Profile {s.namespace} (the spec gives that namespace)")
                continue
            owner = (p.get("spec") or {}).get("owner") or {}
            ok = ((owner.get("kind") == "User" and owner.get("name") in s.members)
                  or (not s.members and owner.get("kind") == "Group" and owner.get("name") in s.groups))
            if ok:
                rep.ok("model")
            else:
                rep.fail("model", f"Profile {s.namespace}: owner {owner} is not one of its members {s.members}")
        for n in sorted(set(profiles) - set(by_ns)):
            rep.fail("model", f"Profile {n} is no namespace of the spec (spaces: {sorted(by_ns)})")
    else:
        nss = {(o.get("metadata") or {}).get("name"): o for _, o in objects if o.get("kind") == "Namespace"}
        for s in sp:
            ns = nss.get(s.namespace)
            lab = (((ns or {}).get("metadata") or {}).get("labels") or {}).get(ODH_DASHBOARD_LABEL)
            if lab == "true":
                rep.ok("model")
            else:
                rep.fail("model", f"namespace {s.namespace}: not rendered as a data science project "
                                  f"(label {ODH_DASHBOARD_LABEL}: \"true\"): {'absent' if ns is None else lab!r}")
    return sp


# --- the bindings, read back from the server -----------------------------------------------------
def check_bindings(m, cluster, spec, sp, rep):
    """No member or group has any RoleBinding outside its own spaces, nor any ClusterRoleBinding;
    in Kubeflow mode each contributor's binding is written as KFAM writes it."""
    members = {x for s in sp for x in s.members}
    groups = {g for s in sp for g in s.groups}
    # perMember teams' groups have no space of their own: any binding of theirs is outside
    for t in (spec.get("teams") or {}).values():
        groups |= set((t or {}).get("groups") or [])
    own_ns = collections.defaultdict(set)
    for s in sp:
        for x in s.members:
            own_ns[("User", x)].add(s.namespace)
        for g in s.groups:
            own_ns[("Group", g)].add(s.namespace)
    code, data = cluster.get("/apis/rbac.authorization.k8s.io/v1/rolebindings")
    if code != 200:
        raise RuntimeError(f"list rolebindings: {code}")
    by_ns = collections.defaultdict(list)
    for rb in data["items"]:
        ns, name = rb["metadata"]["namespace"], rb["metadata"]["name"]
        by_ns[ns].append(rb)
        for subj in rb.get("subjects") or []:
            key = (subj.get("kind"), subj.get("name"))
            if (key[0] == "User" and key[1] in members) or (key[0] == "Group" and key[1] in groups):
                if ns in own_ns[key]:
                    rep.ok("bindings")
                else:
                    rep.fail("bindings", f"{key[0]} {key[1]} has RoleBinding {ns}/{name} (to {rb['roleRef']['kind']} "
                                         f"{rb['roleRef']['name']}) in a namespace that is not theirs "
                                         f"(theirs: {sorted(own_ns[key]) or 'none'})")
    code, data = cluster.get("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")
    for crb in data.get("items", []):
        for subj in crb.get("subjects") or []:
            if (subj.get("kind") == "User" and subj.get("name") in members) or (
                    subj.get("kind") == "Group" and subj.get("name") in groups):
                rep.fail("bindings", f"{subj['kind']} {subj['name']} has ClusterRoleBinding {crb['metadata']['name']} "
                                     f"(cluster-wide {crb['roleRef']['name']})")
    if m != "kubeflow":
        return
    code, data = cluster.get("/apis/security.istio.io/v1beta1/authorizationpolicies")
    aps = {(a["metadata"]["namespace"], a["metadata"]["name"]): a for a in data.get("items", [])} if code == 200 else {}
    for s in sp:
        code, prof = cluster.get(f"/apis/kubeflow.org/v1/profiles/{s.namespace}")
        owner = ((prof.get("spec") or {}).get("owner") or {}).get("name") if code == 200 else None
        for user in s.members:
            if user == owner:
                continue
            mine = [rb for rb in by_ns[s.namespace]
                    if any(x.get("kind") == "User" and x.get("name") == user for x in rb.get("subjects") or [])]
            ok_rb = [rb for rb in mine if (rb["metadata"].get("annotations") or {}).get("user") == user
                     and KFAM_ROLES.get((rb["metadata"].get("annotations") or {}).get("role")) == rb["roleRef"]["name"]
                     and rb["roleRef"]["kind"] == "ClusterRole" and len(rb.get("subjects") or []) == 1]
            if not ok_rb:
                rep.fail("kfam", f"{s.namespace}: contributor {user} has no RoleBinding as Kubeflow's access "
                                 f"management writes it (one User subject, ClusterRole kubeflow-edit|kubeflow-view, "
                                 f"annotations user: {user}, role: edit|view); has: "
                                 f"{[(rb['metadata']['name'], rb['roleRef']['name']) for rb in mine] or 'none'}")
                continue
            rb = ok_rb[0]
            role = rb["metadata"]["annotations"]["role"]
            want = kfam_binding_name(user, role)
            if rb["metadata"]["name"] != want:
                rep.fail("kfam", f"{s.namespace}: contributor binding {rb['metadata']['name']} should be named {want} "
                                 f"(KFAM finds it by that name to remove the contributor)")
            else:
                rep.ok("kfam")
            ap = aps.get((s.namespace, want))
            rules = ((ap or {}).get("spec") or {}).get("rules") or []
            allowed = any(any(w.get("key") == f"request.headers[{KFAM_USERID_HEADER}]" and user in (w.get("values") or [])
                              for w in r.get("when") or [])
                          and any(ISTIO_IGW_PRINCIPAL in ((f.get("source") or {}).get("principals") or [])
                                  for f in r.get("from") or [])
                          for r in rules)
            if allowed:
                rep.ok("kfam")
            else:
                rep.fail("kfam", f"{s.namespace}: no AuthorizationPolicy {want} letting {user} in through the gateway "
                                 f"(when request.headers[{KFAM_USERID_HEADER}] = {user}, from {ISTIO_IGW_PRINCIPAL})")


# --- access cases ---------------------------------------------------------------------------------
def build_cases(spec, sp, cases_path, Subject, Case, expand, ALLOWED, DENIED, outsider):
    """Cases of access-cases-targets.yaml, expanded per subject and space (see that file)."""
    with open(cases_path) as f:
        tpl = yaml.safe_load(f)
    members = sorted({x for s in sp for x in s.members})
    subjects = [Subject(x, (), "", "member") for x in members]
    team_groups = {}
    for tname, t in (spec.get("teams") or {}).items():
        for g in (t or {}).get("groups") or []:
            team_groups.setdefault(g, set()).add(tname)
    user_for_groups = outsider(set(members))
    subjects += [Subject(user_for_groups, (g,), ",".join(sorted(ts)), "group") for g, ts in sorted(team_groups.items())]
    cases = {}

    def add(subj, ns, a, expect, section):
        c = Case(subj, ns, a["verb"], a["group"], a["resource"], a["subresource"], a["name"], expect, section)
        cases.setdefault(c.key(), c)

    for subj in subjects:
        for s in sp:
            vals = {"notebook": s.notebooks, "pod": [n + "-0" for n in s.notebooks]}
            if subj.kind == "member":
                mine = subj.user in s.members
            else:
                mine = s.team in subj.team.split(",")
            if mine and subj.kind == "member":
                for t in tpl.get("own") or []:
                    for a in expand(t, vals):
                        add(subj, s.namespace, a, ALLOWED, "own: a member's own namespace")
            elif not mine:
                for sec in ("own", "elsewhere"):
                    for t in tpl.get(sec) or []:
                        for a in expand(t, vals):
                            why = ("another member's namespace" if s.team in subj.team.split(",") or
                                   (subj.kind == "member" and s.per_member and s.team in
                                    [x.team for x in sp if subj.user in x.members])
                                   else "another team's namespace")
                            add(subj, s.namespace, a, DENIED, f"{sec}: {why}")
        for t in tpl.get("cluster") or []:
            for a in expand(t, {}):
                add(subj, "", a, DENIED, "cluster")
    return list(cases.values()), subjects

