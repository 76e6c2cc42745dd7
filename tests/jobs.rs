//! Notebook jobs (issue 6, docs/jobs.md): every validation rule fails with its exact message,
//! and a valid job expands to the objects the docs promise.

use nbgen::diagnostic::Diagnostic;
use nbgen::source::SourceFile;
use std::collections::BTreeMap;

/// Two teams: `ds` runs CPU `prep` servers (datasets read-write), `ml` one GPU `train` server
/// (datasets read-only, models read-write) under a quota the server alone fills to half.
const BASE: &str = r#"apiVersion: nbgen.io/v1alpha1
kind: Environment
name: t
cluster:
  kubernetesVersion: "1.33"
images:
  dataprep: {image: registry.example.com/ml/dataprep:1.4.2, start: docker-stacks}
  train: {image: registry.example.com/ml/train:2.3.0-gpu, start: docker-stacks}
gpuPools:
  a100:
    resource: nvidia.com/gpu
    capacity: 4
storage:
  datasets:
    size: 500Gi
    nfs: {server: nfs.example.com, path: /exports/datasets}
  models:
    size: 100Gi
    nfs: {server: nfs.example.com, path: /exports/models}
roles:
  prep:
    image: dataprep
    cpu: "2"
    memory: 8Gi
    mounts: {datasets: readWrite}
  train:
    image: train
    cpu: "8"
    memory: 64Gi
    gpu: {pool: a100, count: 2}
    mounts: {datasets: readOnly, models: readWrite}
teams:
  ds:
    members: [alice@example.com]
    roles: [prep]
  ml:
    members: [carol@example.com]
    roles: [train]
    quota: {cpu: "16", memory: 128Gi, gpu: 4}
"#;

fn spec(jobs: &str) -> String {
    format!("{BASE}jobs:\n{jobs}")
}

fn run(text: &str) -> Result<nbgen::Render, Vec<Diagnostic>> {
    let src = SourceFile::new("environments/t.yaml", text);
    nbgen::render(&src, "t", &BTreeMap::new())
}

/// The diagnostics of an invalid spec.
fn errors(text: &str) -> Vec<Diagnostic> {
    match run(text) {
        Ok(_) => panic!("the spec should be invalid:\n{text}"),
        Err(diags) => diags,
    }
}

/// The spec fails with exactly this error message (among others); returns that diagnostic.
#[track_caller]
fn check(text: &str, message: &str) -> Diagnostic {
    let diags = errors(text);
    diags
        .iter()
        .find(|d| d.is_error() && d.message == message)
        .cloned()
        .unwrap_or_else(|| {
            let got: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
            panic!(
                "expected the error\n  {message}\ngot\n  {}",
                got.join("\n  ")
            )
        })
}

/// The help of a diagnostic.
fn help(d: &Diagnostic) -> &str {
    d.help.as_deref().unwrap_or_default()
}

/// A prep job in team ds, with `extra` lines added to it.
fn prep_job(extra: &str) -> String {
    spec(&format!(
        "  j:\n    team: ds\n    role: prep\n    notebook: /data/datasets/nb/features.ipynb\n    outputDir: /data/datasets/runs\n{extra}"
    ))
}

fn file<'a>(render: &'a nbgen::Render, path: &str) -> &'a str {
    &render
        .tree
        .get(path)
        .unwrap_or_else(|| {
            panic!(
                "no file {path}; files: {:?}",
                render.tree.keys().collect::<Vec<_>>()
            )
        })
        .text
}

// ---------------------------------------------------------------------------------------------
// Expansion

#[test]
fn a_one_off_job_is_a_job_with_its_parameters_in_a_config_map() {
    let text = prep_job(
        "    parameters: {SAMPLE_RATE: 0.1, DEVELOP_MODE: false, START: \"2024-01-01\", WHEN: \"on\"}\n    activeDeadlineSeconds: 3600\n",
    );
    let render = run(&text).unwrap();
    let job = file(&render, "ds/job-j.yaml");
    for want in [
        "kind: Job\n",
        "  activeDeadlineSeconds: 3600\n",
        "  backoffLimit: 2\n",
        "  podReplacementPolicy: Failed\n",
        "        - papermill\n        - /data/datasets/nb/features.ipynb\n        - /data/datasets/runs/j-$(POD_NAME).ipynb\n        - -f\n        - /etc/nbgen/params/parameters.yaml\n        - --log-output\n",
        "        - name: POD_NAME\n          valueFrom:\n            fieldRef:\n              fieldPath: metadata.name\n",
        "      restartPolicy: Never\n",
        "      serviceAccountName: j\n",
        "      - emptyDir:\n          sizeLimit: 10Gi\n        name: home\n",
        "      - configMap:\n          name: j-params\n        name: params\n",
        "        - mountPath: /data/datasets\n          name: data-datasets\n",
        "          readOnlyRootFilesystem: true\n",
        "    nbgen.io/job: j\n",
        "    app.kubernetes.io/component: notebook-job\n",
    ] {
        assert!(job.contains(want), "job-j.yaml lacks\n{want}\nin\n{job}");
    }
    // One-off Jobs keep their record: Argo CD would re-create a deleted Job, i.e. run it again.
    assert!(!job.contains("ttlSecondsAfterFinished"), "{job}");
    // Sorted keys; strings PyYAML (YAML 1.1) would misread stay quoted.
    let params = file(&render, "ds/configmap-j-params.yaml");
    assert!(
        params.contains("  parameters.yaml: |\n    DEVELOP_MODE: false\n    SAMPLE_RATE: 0.1\n    START: \"2024-01-01\"\n    WHEN: \"on\"\n"),
        "{params}"
    );
    let sa = file(&render, "ds/serviceaccount-j.yaml");
    assert!(sa.contains("automountServiceAccountToken: false"), "{sa}");
    // Members may see jobs and delete (re-run) this one; they may not create Jobs.
    let role = file(&render, "ds/role-notebook-user.yaml");
    assert!(
        role.contains("- apiGroups:\n  - batch\n  resourceNames:\n  - j\n  resources:\n  - jobs\n  verbs:\n  - delete\n"),
        "{role}"
    );
    assert!(!role.contains("create\n  - delete"), "{role}");
}

#[test]
fn a_scheduled_job_is_a_cron_job_that_never_overlaps() {
    let text = spec(
        "  retrain:\n    team: ml\n    role: train\n    notebook: /data/models/nb/train.ipynb\n    outputDir: /data/models/runs\n    schedule: \"@daily\"\n    timeZone: Europe/Berlin\n    backoffLimit: 10\n",
    );
    let render = run(&text).unwrap();
    let cron = file(&render, "ml/cronjob-retrain.yaml");
    for want in [
        "kind: CronJob\n",
        "  concurrencyPolicy: Forbid\n",
        "  schedule: \"@daily\"\n",
        "  suspend: false\n",
        "  timeZone: Europe/Berlin\n",
        "      backoffLimit: 10\n",
        "      ttlSecondsAfterFinished: 86400\n",
        // the role's GPUs and the read-only dataset mount, as on the train server
        "                nvidia.com/gpu: \"2\"\n",
        "            - mountPath: /data/datasets\n              name: data-datasets\n              readOnly: true\n",
    ] {
        assert!(
            cron.contains(want),
            "cronjob-retrain.yaml lacks\n{want}\nin\n{cron}"
        );
    }
    let params = file(&render, "ml/configmap-retrain-params.yaml");
    assert!(
        params.contains("  parameters.yaml: |\n    {}\n"),
        "{params}"
    );
    // The scheduled job's retries and runs need no delete right: no one-off job, no rule.
    let role = file(&render, "ml/role-notebook-user.yaml");
    assert!(!role.contains("  - batch\n"), "{role}");
    let viewer = file(&render, "ml/role-notebook-viewer.yaml");
    assert!(viewer.contains("  - cronjobs\n  - jobs\n"), "{viewer}");
}

#[test]
fn dollar_signs_in_paths_are_not_expanded_by_the_kubelet() {
    let text = spec(
        "  j:\n    team: ds\n    role: prep\n    notebook: /data/datasets/$(HOME)/a.ipynb\n    outputDir: /data/datasets/runs\n",
    );
    let render = run(&text).unwrap();
    assert!(file(&render, "ds/job-j.yaml").contains("        - /data/datasets/$$(HOME)/a.ipynb\n"));
}

#[test]
fn output_may_be_the_root_of_a_volume() {
    run(&spec("  j:\n    team: ds\n    role: prep\n    notebook: /data/datasets/a.ipynb\n    outputDir: /data/datasets\n")).unwrap();
}

#[test]
fn environments_without_jobs_render_no_job_objects() {
    let render = run(BASE).unwrap();
    assert!(render.env.jobs.is_empty());
    assert!(!render.tree.keys().any(|k| k.contains("job")));
    assert!(!file(&render, "ds/role-notebook-user.yaml").contains("batch"));
}

// ---------------------------------------------------------------------------------------------
// References

#[test]
fn the_team_must_exist() {
    let d = check(
        &spec(
            "  j:\n    team: dss\n    role: prep\n    notebook: /data/datasets/a.ipynb\n    outputDir: /data/datasets\n",
        ),
        "job `j` uses undefined team `dss`",
    );
    assert_eq!(help(&d), "did you mean `ds`?");
    let span = d.span.unwrap();
    assert_eq!((span.line, span.col), (42, 11)); // `dss` in `    team: dss`
}

#[test]
fn the_role_must_exist() {
    let d = check(
        &spec(
            "  j:\n    team: ds\n    role: prepp\n    notebook: /data/datasets/a.ipynb\n    outputDir: /data/datasets\n",
        ),
        "job `j` uses undefined role `prepp`",
    );
    assert_eq!(help(&d), "did you mean `prep`?");
}

#[test]
fn the_team_must_have_the_role() {
    let d = check(
        &spec(
            "  j:\n    team: ds\n    role: train\n    notebook: /data/models/a.ipynb\n    outputDir: /data/models\n",
        ),
        "job `j` runs role `train`, which team `ds` does not have",
    );
    assert_eq!(
        help(&d),
        "add `train` to teams.ds.roles, or run the job as one of the team's roles (prep)"
    );
}

// ---------------------------------------------------------------------------------------------
// Paths

#[test]
fn the_notebook_is_an_absolute_path_under_data() {
    let d = check(
        &prep_job("").replace("/data/datasets/nb/features.ipynb", "nb/features.ipynb"),
        "jobs.j.notebook: \"nb/features.ipynb\" is not a valid notebook",
    );
    assert!(
        help(&d).starts_with("Write an absolute path on a shared volume"),
        "{}",
        help(&d)
    );
}

#[test]
fn paths_are_normalised() {
    let d = check(
        &prep_job("").replace(
            "/data/datasets/nb/features",
            "/data/datasets/nb/../x/./features",
        ),
        "jobs.j.notebook `/data/datasets/nb/../x/./features.ipynb` is not a normalised path",
    );
    assert_eq!(help(&d), "write it as `/data/datasets/x/features.ipynb`");
    let d = check(
        &prep_job("").replace("/data/datasets/runs", "/data/datasets/runs/"),
        "jobs.j.outputDir `/data/datasets/runs/` is not a normalised path",
    );
    assert_eq!(help(&d), "write it as `/data/datasets/runs`");
}

#[test]
fn the_notebook_lies_on_a_volume_the_role_mounts() {
    let d = check(
        &prep_job("").replace("/data/datasets/nb/features", "/data/models/nb/features"),
        "jobs.j.notebook `/data/models/nb/features.ipynb` is not on a volume that role `prep` mounts",
    );
    assert_eq!(
        help(&d),
        "role `prep` mounts /data/datasets (readWrite); the path must lie under one of them"
    );
}

#[test]
fn the_notebook_is_a_notebook_file() {
    check(
        &prep_job("").replace("/data/datasets/nb/features.ipynb", "/data/datasets/nb"),
        "jobs.j.notebook `/data/datasets/nb` is not a notebook file (.ipynb)",
    );
}

#[test]
fn the_output_lies_on_a_volume_the_role_mounts() {
    check(
        &prep_job("").replace("/data/datasets/runs", "/data/scratch/runs"),
        "jobs.j.outputDir `/data/scratch/runs` is not on a volume that role `prep` mounts",
    );
}

#[test]
fn the_output_lies_on_a_volume_the_role_writes() {
    let d = check(
        &spec(
            "  j:\n    team: ml\n    role: train\n    notebook: /data/datasets/nb/train.ipynb\n    outputDir: /data/datasets/runs\n",
        ),
        "jobs.j.outputDir `/data/datasets/runs` is on volume `datasets`, which role `train` mounts read-only",
    );
    assert_eq!(
        help(&d),
        "papermill writes the executed notebook there: choose a directory under /data/models, which the role mounts readWrite"
    );
}

// ---------------------------------------------------------------------------------------------
// Schedules

#[test]
fn the_schedule_is_a_valid_cron_expression() {
    let d = check(
        &prep_job("    schedule: \"0 25 * * *\"\n"),
        "jobs.j.schedule `0 25 * * *` is not a valid cron schedule: hour field `25`: 25 is above the maximum 23 for the hour",
    );
    assert!(help(&d).starts_with("write five fields"), "{}", help(&d));
    check(
        &prep_job("    schedule: \"0 2 * *\"\n"),
        "jobs.j.schedule `0 2 * *` is not a valid cron schedule: expected exactly 5 fields (minute hour day-of-month month day-of-week), found 4",
    );
    check(
        &prep_job("    schedule: \"@reboot\"\n"),
        "jobs.j.schedule `@reboot` is not a valid cron schedule: unrecognized descriptor `@reboot` (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>)",
    );
}

#[test]
fn the_schedule_carries_no_time_zone() {
    let d = check(
        &prep_job("    schedule: \"CRON_TZ=Europe/Berlin 0 2 * * *\"\n"),
        "jobs.j.schedule `CRON_TZ=Europe/Berlin 0 2 * * *` sets a time zone with TZ or CRON_TZ, which Kubernetes rejects since 1.27",
    );
    assert_eq!(
        help(&d),
        "write `schedule: \"0 2 * * *\"` and `timeZone: Europe/Berlin` on the job instead"
    );
}

#[test]
fn the_time_zone_is_an_iana_name() {
    check(
        &prep_job("    schedule: \"0 2 * * *\"\n    timeZone: europe/berlin\n"),
        "jobs.j.timeZone `europe/berlin` is not a time zone Kubernetes accepts: `europe` is not an IANA time-zone area (names are case-sensitive: `Europe`)",
    );
    check(
        &prep_job("    schedule: \"0 2 * * *\"\n    timeZone: Local\n"),
        "jobs.j.timeZone `Local` is not a time zone Kubernetes accepts: `Local` is the controller's own zone, not an explicit one",
    );
}

#[test]
fn time_zone_and_suspend_need_a_schedule() {
    check(
        &prep_job("    timeZone: Etc/UTC\n"),
        "jobs.j.timeZone applies only to scheduled jobs, and job `j` has no schedule",
    );
    check(
        &prep_job("    suspend: true\n"),
        "jobs.j.suspend applies only to scheduled jobs, and job `j` has no schedule",
    );
}

// ---------------------------------------------------------------------------------------------
// Names

#[test]
fn derived_names_fit_kubernetes_limits() {
    let long = "j".repeat(57);
    let text = spec(&format!(
        "  {long}:\n    team: ds\n    role: prep\n    notebook: /data/datasets/a.ipynb\n    outputDir: /data/datasets\n"
    ));
    let d = check(
        &text,
        &format!(
            "job `{long}` is too long: its ConfigMap `{long}-params` would be 64 characters; Kubernetes allows 63"
        ),
    );
    assert_eq!(help(&d), "keep job names to 56 characters");
}

#[test]
fn cron_job_names_leave_room_for_the_run_suffix() {
    let long = "c".repeat(53);
    let text = spec(&format!(
        "  {long}:\n    team: ds\n    role: prep\n    notebook: /data/datasets/a.ipynb\n    outputDir: /data/datasets\n    schedule: \"@daily\"\n"
    ));
    check(
        &text,
        &format!(
            "scheduled job `{long}` is 53 characters long; a CronJob name may have at most 52"
        ),
    );
}

#[test]
fn job_names_are_dns_labels() {
    check(
        &spec(
            "  Nightly:\n    team: ds\n    role: prep\n    notebook: /data/datasets/a.ipynb\n    outputDir: /data/datasets\n",
        ),
        "`Nightly` in jobs is not a valid DNS-1123 label",
    );
}

#[test]
fn a_job_is_not_named_like_a_server_of_its_team() {
    let d = check(
        &spec(
            "  train:\n    team: ml\n    role: train\n    notebook: /data/models/a.ipynb\n    outputDir: /data/models\n",
        ),
        "job `train` has the same name as a notebook server of team `ml`",
    );
    assert_eq!(
        help(&d),
        "a job's ServiceAccount is named after the job, as a server's is after the server: rename the job, e.g. `train-job`"
    );
}

// ---------------------------------------------------------------------------------------------
// Parameters and limits

#[test]
fn parameter_names_are_python_identifiers() {
    let d = check(
        &prep_job("    parameters: {sample-rate: 0.1}\n"),
        "parameter `sample-rate` of job `j` is not a Python identifier",
    );
    assert!(help(&d).ends_with("e.g. `sample_rate`"), "{}", help(&d));
    check(
        &prep_job("    parameters: {class: a}\n"),
        "parameter `class` of job `j` is a Python keyword",
    );
}

#[test]
fn parameters_are_a_map() {
    check(
        &prep_job("    parameters: [a, b]\n"),
        "jobs.j.parameters must be a map, found a list",
    );
}

#[test]
fn retries_are_bounded() {
    check(
        &prep_job("    backoffLimit: 11\n"),
        "jobs.j.backoffLimit is 11; it must be at most 10",
    );
}

#[test]
fn unknown_job_keys_are_errors() {
    let d = check(
        &prep_job("    schedul: \"@daily\"\n"),
        "unknown key `schedul` in jobs.j",
    );
    assert_eq!(help(&d), "did you mean `schedule`?");
}

#[test]
fn a_one_off_job_with_a_ttl_is_warned_about() {
    let render = run(&prep_job("    ttlSecondsAfterFinished: 3600\n")).unwrap();
    let w = render
        .warnings
        .iter()
        .find(|w| w.message.starts_with("one-off job"))
        .expect("a warning");
    assert_eq!(
        w.message,
        "one-off job `j` is deleted 3600s after it finishes, and Argo CD then creates it again: it will run again"
    );
    assert!(file(&render, "ds/job-j.yaml").contains("  ttlSecondsAfterFinished: 3600\n"));
}

// ---------------------------------------------------------------------------------------------
// GPU capacity and quota: a job counts as if always running.

fn train_job(name: &str) -> String {
    format!(
        "  {name}:\n    team: ml\n    role: train\n    notebook: /data/models/a.ipynb\n    outputDir: /data/models\n    schedule: \"@weekly\"\n"
    )
}

#[test]
fn gpu_jobs_fit_the_team_quota() {
    // server 2 + job 2 = 4 = the quota: fine.
    run(&spec(&train_job("retrain"))).unwrap();
    let text = spec(&train_job("retrain")).replace("gpu: 4}", "gpu: 3}");
    let d = check(
        &text,
        "team `ml`'s servers and jobs request 4 nvidia.com/gpu, over its quota of 3",
    );
    assert_eq!(
        help(&d),
        "raise quota.gpu to at least 4, or give the team fewer GPU servers or jobs (a job counts as if always running)"
    );
}

#[test]
fn jobs_fit_the_team_cpu_and_memory_quota() {
    let text = spec(&train_job("retrain"))
        .replace("cpu: \"16\"", "cpu: \"12\"")
        .replace("memory: 128Gi", "memory: 100Gi");
    let d = check(
        &text,
        "team `ml`'s servers and jobs request 16 CPU, over its quota of 12",
    );
    assert_eq!(
        help(&d),
        "raise quota.cpu to at least 16, or give the team fewer or smaller servers and jobs (train 8, job retrain 8)"
    );
    check(
        &text,
        "team `ml`'s servers and jobs request 128Gi of memory, over its quota of 100Gi",
    );
}

#[test]
fn gpu_jobs_fit_the_pool() {
    let text = spec(&format!("{}{}", train_job("a"), train_job("b"))).replace("gpu: 4}", "gpu: 8}");
    let d = check(
        &text,
        "GPU pool `a100` is over capacity: its servers and jobs ask for 6 GPUs, it has 4",
    );
    assert_eq!(
        help(&d),
        "raise the capacity if the pool really has more GPUs, or lower the roles' gpu.count; servers and jobs (a job counts as if always running) on this pool: ml/train (2), ml/a (job, 2), ml/b (job, 2)"
    );
}

#[test]
fn the_model_exposes_jobs_for_graph_and_review() {
    let render = run(&spec(&train_job("retrain"))).unwrap();
    let j = &render.env.jobs[0];
    assert_eq!(
        (
            j.name.as_str(),
            j.team.as_str(),
            j.namespace.as_str(),
            j.role.as_str()
        ),
        ("retrain", "ml", "ml", "train")
    );
    assert_eq!(
        j.gpu.as_ref().map(|g| (g.pool.as_str(), g.count)),
        Some(("a100", 2))
    );
    assert_eq!(
        j.mounts,
        vec![("datasets".to_owned(), true), ("models".to_owned(), false)]
    );
    assert_eq!(
        j.schedule.as_ref().map(|s| s.cron.as_str()),
        Some("@weekly")
    );
}

/// papermill reads the parameters file with PyYAML, a YAML 1.1 reader: every value must come
/// back as written. This text was checked by loading it with PyYAML 6.0.3.
#[test]
fn parameters_survive_a_yaml_1_1_reader() {
    let text = prep_job(
        "    parameters: {A: 1e-10, B: 1e21, D: \"1e3\", E: \"0x10\", F: \"1_000\", I: \"yes\", K: \"12:30:00\", L: \".5\", M: null, N: [1, \"2\", {x: \"no\"}], Q: \"a # b\", Y: \"*a\"}\n",
    );
    let render = run(&text).unwrap();
    let want = r#"  parameters.yaml: |
    A: 1.0e-10
    B: 1.0e+21
    D: "1e3"
    E: "0x10"
    F: "1_000"
    I: "yes"
    K: "12:30:00"
    L: ".5"
    M: null
    "N":
    - 1
    - "2"
    - x: "no"
    Q: "a # b"
    "Y": "*a"
"#;
    let params = file(&render, "ds/configmap-j-params.yaml");
    assert!(params.contains(want), "{params}");
}
