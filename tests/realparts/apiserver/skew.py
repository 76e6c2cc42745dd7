"""Version skew between nbgen's target (Kubernetes 1.33+) and the API server we can run (1.20.2).

THE ONE PLACE for every allowance the creation check makes. Anything the server refuses, and
every field it drops or changes that is not listed here, is a failure. Each entry says why it is
here; remove an entry as soon as it is no longer needed (the harness prints which entries were
used, so an unused one is visible).
"""

SERVER_VERSION = "1.20.2"

# Feature gates turned on in the test server instead of tolerating a drop: the field exists in
# 1.20, but an alpha gate (default off) strips it. Turning the gate on keeps it checked.
FEATURE_GATES = {
    # Job.spec.ttlSecondsAfterFinished (also in a CronJob's jobTemplate): alpha in 1.20, beta
    # (on by default) in 1.21, GA in 1.23. nbgen sets it on every Job and CronJob.
    "TTLAfterFinished": True,
}

# Kinds 1.20 does not serve at all: not sent, with a printed note. They stay covered by the
# schema validator for the target version (.ci/oracles.sh, kubernetes-validate).
SKIP_KINDS = {
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"):
        "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy is GA in 1.30 (alpha 1.26); 1.20 has no such kind",
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"):
        "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding is GA in 1.30 (alpha 1.26); 1.20 has no such kind",
}

# apiVersion rewrites: (apiVersion as rendered, kind) -> (apiVersion sent, why). The returned
# object is compared with the rendered one apart from apiVersion.
API_VERSIONS = {
    ("batch/v1", "CronJob"): (
        "batch/v1beta1",
        "CronJob batch/v1 is GA in 1.21; 1.20 serves batch/v1beta1 only (same schema for what nbgen sets)",
    ),
}

# Fields 1.20 does not know and drops silently (no strict field validation before 1.25). They are
# sent as rendered; their absence from the returned object is tolerated. Keyed by (kind, path);
# `[]` in a path matches every list index.
DROPPED_FIELDS = {
    ("CronJob", "spec.timeZone"):
        "CronJob.spec.timeZone: alpha 1.24, GA 1.27",
    ("Job", "spec.podReplacementPolicy"):
        "Job.spec.podReplacementPolicy: alpha 1.28, beta 1.29, GA 1.34",
    ("CronJob", "spec.jobTemplate.spec.podReplacementPolicy"):
        "Job.spec.podReplacementPolicy in a CronJob's job template: alpha 1.28, beta 1.29, GA 1.34",
    # The openshift and opendatahub targets' pods run in a user namespace (docs/openshift.md).
    ("StatefulSet", "spec.template.spec.hostUsers"):
        "PodSpec.hostUsers: alpha 1.25, beta 1.30, on by default 1.33",
    ("CronJob", "spec.jobTemplate.spec.template.spec.hostUsers"):
        "PodSpec.hostUsers in a CronJob's job template: alpha 1.25, beta 1.30, on by default 1.33",
    ("Job", "spec.template.spec.hostUsers"):
        "PodSpec.hostUsers in a Job: alpha 1.25, beta 1.30, on by default 1.33",
    # Not in today's output: for the servers as StatefulSets (what the home claim does when the
    # server is deleted or scaled down). Unused until then; the harness prints what it used.
    ("StatefulSet", "spec.persistentVolumeClaimRetentionPolicy"):
        "StatefulSet.spec.persistentVolumeClaimRetentionPolicy: alpha 1.23, beta 1.27, GA 1.32",
}


def tolerated_drop(kind, path):
    """The DROPPED_FIELDS key that allows a difference at `path` (at or under it), or None."""
    import re

    norm = re.sub(r"\[\d+\]", "[]", path)
    for (k, p), _why in DROPPED_FIELDS.items():
        if k == kind and (norm == p or norm.startswith(p + ".") or norm.startswith(p + "[")):
            return (k, p)
    return None
