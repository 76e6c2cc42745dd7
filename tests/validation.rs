//! Validation, tested as a user meets it: a spec goes in, the diagnostics nbgen would print
//! (without colour) come out, compared in full — message, `file:line:col`, the source line, the
//! caret and the help. Each test is a small edit of one valid spec, through one `check` helper,
//! so the code underneath can change freely.

use nbgen::diagnostic;
use nbgen::source::SourceFile;
use std::collections::BTreeMap;

/// A small valid environment that touches every part of the spec and renders without warnings.
const BASE: &str = r#"apiVersion: nbgen.io/v1alpha1
kind: Environment
name: test
cluster:
  kubernetesVersion: "1.33"
  nodePortRange: 30000-30099
images:
  notebook: {image: registry.example.com/ml/notebook:1.0.0, start: docker-stacks}
  train: {image: registry.example.com/ml/train:2.0.0, start: docker-stacks}
gpuPools:
  a100:
    resource: nvidia.com/gpu
    capacity: 4
storage:
  datasets:
    size: 100Gi
    nfs: {server: nfs.example.com, path: /exports/datasets}
roles:
  prep:
    image: notebook
    cpu: "1"
    memory: 4Gi
    mounts: {datasets: readWrite}
  train:
    image: train
    cpu: "4"
    memory: 16Gi
    gpu: {pool: a100, count: 2}
    mounts: {datasets: readOnly}
teams:
  research:
    members: [alice@example.com, bob@example.com]
    roles: [prep]
    perMember: true
  training:
    groups: [ml]
    roles: [train]
    quota: {cpu: "4", memory: 16Gi, gpu: 2}
    # no nodePorts: BASE exposes no NodePorts; `exposed` adds them
"#;

/// `BASE` with NodePorts exposed (`cluster.network.nodePort`, one line after line 6) and a pin for
/// `training/train`, then `edits`.
fn exposed(edits: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = vec![
        (
            "  nodePortRange: 30000-30099\n",
            "  nodePortRange: 30000-30099\n  network: {nodePort: {clientCIDRs: [10.10.0.0/16]}}\n",
        ),
        (
            "    # no nodePorts: BASE exposes no NodePorts; `exposed` adds them\n",
            "    nodePorts: {train: 30080}\n",
        ),
    ];
    all.extend_from_slice(edits);
    edit(&all)
}

/// `BASE` with each `(old, new)` replacement applied; each `old` must occur exactly once, so an
/// edit can never silently miss.
fn edit(edits: &[(&str, &str)]) -> String {
    let mut spec = BASE.to_owned();
    for (old, new) in edits {
        assert_eq!(
            spec.matches(old).count(),
            1,
            "the edit target {old:?} must occur exactly once in the spec"
        );
        spec = spec.replacen(old, new, 1);
    }
    spec
}

/// Validate `spec` as `environments/test.yaml` and compare everything nbgen reports — errors
/// and warnings, sorted as the CLI prints them — with `expected` (a leading newline is ignored).
fn check(spec: &str, expected: &str) {
    let src = SourceFile::new("environments/test.yaml", spec);
    let (mut diags, failed) = match nbgen::render(&src, "test", &BTreeMap::new()) {
        Ok(render) => (render.warnings, false),
        Err(diags) => (diags, true),
    };
    assert_eq!(
        failed,
        diags.iter().any(|d| d.is_error()),
        "a spec fails validation exactly when an error is reported"
    );
    diagnostic::sort(&mut diags);
    let actual: Vec<String> = diags
        .iter()
        .map(|d| d.render(std::slice::from_ref(&src), false))
        .collect();
    let actual = actual.join("\n");
    let expected = expected.strip_prefix('\n').unwrap_or(expected);
    if actual != expected {
        let diff = similar::TextDiff::from_lines(expected, actual.as_str())
            .unified_diff()
            .header("expected", "actual")
            .to_string();
        panic!("diagnostics differ:\n{diff}\nactual, in full:\n<<<\n{actual}>>>");
    }
}

#[test]
fn base_spec_is_valid_and_quiet() {
    check(BASE, "");
}

// ---- YAML and schema ----

#[test]
fn malformed_yaml_unclosed_bracket_is_reported_where_the_parser_stops() {
    check(
        &edit(&[("groups: [ml]", "groups: [ml")]),
        r#"
error: invalid YAML: illegal placement of ':' indicator
  --> environments/test.yaml:37:10
   |
37 |     roles: [train]
   |          ^
   = help: fix the YAML syntax at this position (check indentation, quotes and brackets)
"#,
    );
}

#[test]
fn malformed_yaml_bad_indentation() {
    check(
        &edit(&[("    memory: 4Gi\n", "      memory: 4Gi\n")]),
        r#"
error: invalid YAML: while parsing a block mapping, did not find expected key
  --> environments/test.yaml:22:7
   |
22 |       memory: 4Gi
   |       ^
   = help: this line is not indented like the keys around it: keys of one map start in the same column, with spaces
"#,
    );
}

#[test]
fn an_over_indented_first_key_is_blamed_not_the_sibling_after_it() {
    // The parser takes `image`'s column for the map's and stops at `cpu`: the line to fix is
    // `image`, the one indented unlike its three siblings.
    check(
        &edit(&[("    image: notebook\n", "     image: notebook\n")]),
        r#"
error: invalid YAML: while parsing a block mapping, did not find expected key
  --> environments/test.yaml:20:6
   |
20 |      image: notebook
   |      ^
   = help: this line is not indented like the keys around it: keys of one map start in the same column, with spaces
"#,
    );
}

#[test]
fn a_tab_indenting_a_key_is_shown_with_a_caret_on_the_tab() {
    check(
        &edit(&[("    memory: 4Gi\n", "\tmemory: 4Gi\n")]),
        r#"
error: invalid YAML: tabs disallowed within this context (block indentation)
  --> environments/test.yaml:22:1
   |
22 |  memory: 4Gi
   | ^
   = help: YAML indents with spaces only; replace the tab with spaces
"#,
    );
}

#[test]
fn an_unquoted_at_daily_schedule_says_to_quote_it() {
    check(
        &format!(
            "{BASE}jobs:\n  nightly:\n    team: research\n    role: prep\n    notebook: /data/datasets/nb.ipynb\n    outputDir: /data/datasets/runs\n    schedule: @daily # every night\n"
        ),
        r#"
error: invalid YAML: unexpected character `@`
  --> environments/test.yaml:46:15
   |
46 |     schedule: @daily # every night
   |               ^
   = help: a value starting with `@` must be quoted: write "@daily"
"#,
    );
}

#[test]
fn duplicate_team_is_rejected_not_silently_overwritten() {
    check(
        &edit(&[(
            "  training:\n",
            "  research:\n    roles: [train]\n  training:\n",
        )]),
        r#"
error: invalid YAML: duplicate mapping key: research
  --> environments/test.yaml:35:3
   |
35 |   research:
   |   ^
   = help: `research` is already defined on line 31; each name may appear once in a map: merge the two entries or rename one
"#,
    );
}

#[test]
fn duplicate_key_inside_a_team_is_rejected() {
    check(
        &edit(&[(
            "    roles: [prep]\n",
            "    roles: [prep]\n    roles: [train]\n",
        )]),
        r#"
error: invalid YAML: duplicate mapping key: roles
  --> environments/test.yaml:34:5
   |
34 |     roles: [train]
   |     ^
   = help: `roles` is already defined on line 33; each name may appear once in a map: merge the two entries or rename one
"#,
    );
}

#[test]
fn unknown_key_suggests_the_close_known_key() {
    check(
        &edit(&[("perMember: true", "permember: true")]),
        r#"
error: unknown key `permember` in teams.research
  --> environments/test.yaml:34:5
   |
34 |     permember: true
   |     ^^^^^^^^^
   = help: did you mean `perMember`?
"#,
    );
}

#[test]
fn unknown_key_far_from_any_known_key_lists_the_allowed_keys() {
    check(
        &edit(&[("    memory: 16Gi\n", "    memory: 16Gi\n    replicas: 2\n")]),
        r#"
error: unknown key `replicas` in roles.train
  --> environments/test.yaml:28:5
   |
28 |     replicas: 2
   |     ^^^^^^^^
   = help: remove it; allowed keys here: image, cpu, memory, shmSize, homeSize, mounts, gpu
"#,
    );
}

#[test]
fn wrong_type_names_the_expected_type() {
    check(
        &edit(&[("capacity: 4", "capacity: four")]),
        r#"
error: gpuPools.a100.capacity must be a whole number, found "four"
  --> environments/test.yaml:13:15
   |
13 |     capacity: four
   |               ^^^^
   = help: Number of GPUs (of `resource`) in the pool. The servers drawing on the pool may request at most this many in total.
"#,
    );
}

#[test]
fn a_single_member_instead_of_a_list_is_a_wrong_type() {
    check(
        &edit(&[(
            "members: [alice@example.com, bob@example.com]",
            "members: alice@example.com",
        )]),
        r#"
error: teams.research.members must be a list, found "alice@example.com"
  --> environments/test.yaml:32:14
   |
32 |     members: alice@example.com
   |              ^^^^^^^^^^^^^^^^^
   = help: E-mail addresses of the team's members, bound as Kubernetes User subjects. With `perMember`, each member gets their own servers, named after the part of the address before '@'.
"#,
    );
}

#[test]
fn unquoted_kubernetes_version_is_not_a_string() {
    check(
        &edit(&[(r#""1.33""#, "1.33")]),
        r#"
error: cluster.kubernetesVersion must be a string, found 1.33
 --> environments/test.yaml:5:22
  |
5 |   kubernetesVersion: 1.33
  |                      ^^^^
  = help: The Kubernetes minor version the output must be valid for, as a quoted string (write "1.33", not 1.33: unquoted, YAML reads a number). Supported: 1.33 to 1.37.
"#,
    );
}

#[test]
fn all_schema_errors_are_reported_in_one_run() {
    check(
        &edit(&[
            ("perMember: true", "permember: true"),
            ("capacity: 4", "capacity: four"),
        ]),
        r#"
error: gpuPools.a100.capacity must be a whole number, found "four"
  --> environments/test.yaml:13:15
   |
13 |     capacity: four
   |               ^^^^
   = help: Number of GPUs (of `resource`) in the pool. The servers drawing on the pool may request at most this many in total.

error: unknown key `permember` in teams.research
  --> environments/test.yaml:34:5
   |
34 |     permember: true
   |     ^^^^^^^^^
   = help: did you mean `perMember`?
"#,
    );
}

#[test]
fn yaml_1_1_booleans_are_plain_strings() {
    check(
        &edit(&[
            ("  train:\n", "  n:\n"),
            ("roles: [train]", "roles: [n]"),
            ("groups: [ml]", "groups: [no, off]"),
        ]),
        "",
    );
}

#[test]
fn per_member_yes_is_not_a_boolean() {
    check(
        &edit(&[("perMember: true", "perMember: yes")]),
        r#"
error: teams.research.perMember must be true or false, found "yes"
  --> environments/test.yaml:34:16
   |
34 |     perMember: yes
   |                ^^^
   = help: true: every member gets their own server for each role (named `<role>-<member>`); false: the team shares one server per role (named `<role>`).
"#,
    );
}

// ---- references ----

#[test]
fn undefined_image_suggests_the_closest_name() {
    check(
        &edit(&[("image: train", "image: trian")]),
        r#"
error: role `train` uses undefined image `trian`
  --> environments/test.yaml:25:12
   |
25 |     image: trian
   |            ^^^^^
   = help: did you mean `train`?
"#,
    );
}

#[test]
fn undefined_image_lists_the_defined_ones_when_none_is_close() {
    check(
        &edit(&[("image: notebook", "image: jupyter")]),
        r#"
error: role `prep` uses undefined image `jupyter`
  --> environments/test.yaml:20:12
   |
20 |     image: jupyter
   |            ^^^^^^^
   = help: define it under `images:` (defined: notebook, train)
"#,
    );
}

#[test]
fn undefined_role_in_a_team_suggests_the_closest_name() {
    check(
        &edit(&[("roles: [prep]", "roles: [perp]")]),
        r#"
error: team `research` uses undefined role `perp`
  --> environments/test.yaml:33:13
   |
33 |     roles: [perp]
   |             ^^^^
   = help: did you mean `prep`?
"#,
    );
}

#[test]
fn undefined_gpu_pool_suggests_the_closest_name() {
    check(
        &edit(&[("pool: a100", "pool: a10")]),
        r#"
error: role `train` uses undefined GPU pool `a10`
  --> environments/test.yaml:28:17
   |
28 |     gpu: {pool: a10, count: 2}
   |                 ^^^
   = help: did you mean `a100`?
"#,
    );
}

#[test]
fn undefined_volume_suggests_the_closest_name() {
    check(
        &edit(&[(
            "mounts: {datasets: readWrite}",
            "mounts: {dataset: readWrite}",
        )]),
        r#"
error: role `prep` mounts undefined volume `dataset`
  --> environments/test.yaml:23:14
   |
23 |     mounts: {dataset: readWrite}
   |              ^^^^^^^
   = help: did you mean `datasets`? Shared volumes are defined under `storage:`
"#,
    );
}

// ---- names ----

#[test]
fn team_name_with_capitals_is_not_a_dns_label() {
    check(
        &edit(&[("  research:\n", "  Research:\n")]),
        r#"
error: `Research` in teams is not a valid DNS-1123 label
  --> environments/test.yaml:31:3
   |
31 |   Research:
   |   ^^^^^^^^
   = help: Use lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. "data-science").
"#,
    );
}

#[test]
fn role_name_starting_with_a_digit_is_not_a_dns_1035_label() {
    check(
        &edit(&[
            ("  prep:\n", "  1prep:\n"),
            ("roles: [prep]", "roles: [1prep]"),
        ]),
        r#"
error: `1prep` in roles is not a valid DNS-1035 label
  --> environments/test.yaml:19:3
   |
19 |   1prep:
   |   ^^^^^
   = help: Use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit (e.g. "train").

error: teams.research.roles.0: "1prep" is not a valid DNS-1035 label
  --> environments/test.yaml:33:13
   |
33 |     roles: [1prep]
   |             ^^^^^
   = help: Use lower-case letters, digits and '-', starting with a letter and ending with a letter or digit (e.g. "train").
"#,
    );
}

#[test]
fn team_name_over_63_characters_is_too_long() {
    let long = "t".repeat(64);
    check(
        &edit(&[("  training:\n", &format!("  {long}:\n"))]),
        r#"
error: `tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt` in teams is 64 characters long; a DNS-1123 label has at most 63
  --> environments/test.yaml:35:3
   |
35 |   tttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt:
   |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: shorten the name
"#,
    );
}

#[test]
fn namespace_too_long_only_after_the_prefix_is_added() {
    let team = "t".repeat(59); // a valid label; "team-" + 59 = 64 characters
    check(
        &edit(&[
            (
                "  nodePortRange: 30000-30099\n",
                "  nodePortRange: 30000-30099\n  namespacePrefix: team-\n",
            ),
            ("  training:\n", &format!("  {team}:\n")),
            ("    mounts: {datasets: readOnly}\n", ""), // no PersistentVolume to name
        ]),
        r#"
error: team `ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt` becomes namespace `team-ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt`, 64 characters; Kubernetes allows 63
  --> environments/test.yaml:35:3
   |
35 |   ttttttttttttttttttttttttttttttttttttttttttttttttttttttttttt:
   |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: shorten the team name or cluster.namespacePrefix
"#,
    );
}

#[test]
fn server_name_over_52_characters_is_refused() {
    let role = format!("t{}", "r".repeat(52)); // 53 characters: one more than a StatefulSet may have
    check(
        &edit(&[
            ("  train:\n", &format!("  {role}:\n")),
            ("roles: [train]", &format!("roles: [{role}]")),
        ]),
        r#"
error: server `trrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr` in team `training` is too long: 53 characters; a notebook server's StatefulSet name may have 52
  --> environments/test.yaml:37:13
   |
37 |     roles: [trrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr]
   |             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: the StatefulSet controller labels each revision `<name>-<10-character hash>`, and labels hold 63 characters: shorten the role name
"#,
    );
}

#[test]
fn pin_for_a_server_whose_name_is_too_long_reports_only_the_name() {
    let role = format!("t{}", "r".repeat(52));
    check(
        &exposed(&[
            ("  train:\n", &format!("  {role}:\n")),
            ("roles: [train]", &format!("roles: [{role}]")),
            (
                "nodePorts: {train: 30080}",
                &format!("nodePorts: {{{role}: 30080}}"),
            ),
        ]),
        r#"
error: server `trrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr` in team `training` is too long: 53 characters; a notebook server's StatefulSet name may have 52
  --> environments/test.yaml:38:13
   |
38 |     roles: [trrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr]
   |             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: the StatefulSet controller labels each revision `<name>-<10-character hash>`, and labels hold 63 characters: shorten the role name
"#,
    );
}

#[test]
fn server_name_of_52_characters_fits() {
    let role = format!("t{}", "r".repeat(51)); // the longest StatefulSet name whose revision label fits
    check(
        &edit(&[
            ("  train:\n", &format!("  {role}:\n")),
            ("roles: [train]", &format!("roles: [{role}]")),
        ]),
        "",
    );
}

#[test]
fn per_member_server_name_too_long_names_the_member() {
    let local = "b".repeat(48); // server `prep-bbb…` = 53
    check(
        &edit(&[("bob@example.com", &format!("{local}@example.com"))]),
        r#"
error: server `prep-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb` in team `research` is too long: 53 characters; a notebook server's StatefulSet name may have 52
  --> environments/test.yaml:33:13
   |
33 |     roles: [prep]
   |             ^^^^
   = help: the StatefulSet controller labels each revision `<name>-<10-character hash>`, and labels hold 63 characters: shorten the role name or the member's e-mail local part
"#,
    );
}

#[test]
fn a_persistent_volume_name_over_63_characters_is_fine() {
    // PersistentVolume names are DNS subdomains (253 characters), not labels (63):
    // `test-<50 t>-datasets` is 64 characters and valid.
    let team = "t".repeat(50);
    check(&edit(&[("  training:\n", &format!("  {team}:\n"))]), "");
}

// ---- quantities ----

#[test]
fn quantity_with_a_space_is_rejected() {
    check(
        &edit(&[("memory: 4Gi", r#"memory: "4 Gi""#)]),
        r#"
error: roles.prep.memory: "4 Gi" is not a valid Kubernetes quantity
  --> environments/test.yaml:22:13
   |
22 |     memory: "4 Gi"
   |             ^^^^^^
   = help: did you mean `4Gi`? Not a Kubernetes quantity: write a number and an optional suffix with no space, e.g. 500m, 2, 8Gi, 100Gi (kilo is "k", kibi is "Ki").
"#,
    );
}

#[test]
fn quantity_with_an_unknown_suffix_is_rejected() {
    check(
        &edit(&[("size: 100Gi", "size: 100GB")]),
        r#"
error: storage.datasets.size: "100GB" is not a valid Kubernetes quantity
  --> environments/test.yaml:16:11
   |
16 |     size: 100GB
   |           ^^^^^
   = help: did you mean `100Gi`? Not a Kubernetes quantity: write a number and an optional suffix with no space, e.g. 500m, 2, 8Gi, 100Gi (kilo is "k", kibi is "Ki").
"#,
    );
}

#[test]
fn zero_cpu_is_rejected() {
    check(
        &edit(&[(r#"cpu: "1""#, r#"cpu: "0""#)]),
        r#"
error: roles.prep.cpu must be more than zero, found `0`
  --> environments/test.yaml:21:10
   |
21 |     cpu: "0"
   |          ^^^
   = help: write CPU as cores ("2", "0.5") or millicores ("500m")
"#,
    );
}

// ---- capacity and quota ----

#[test]
fn gpu_pool_over_capacity_lists_the_servers_drawing_on_it() {
    check(
        &edit(&[("capacity: 4", "capacity: 1")]),
        r#"
error: GPU pool `a100` is over capacity: its servers ask for 2 GPUs, it has 1
  --> environments/test.yaml:13:15
   |
13 |     capacity: 1
   |               ^
   = help: raise the capacity if the pool really has more GPUs, or lower the roles' gpu.count; servers on this pool: training/train (2)
"#,
    );
}

#[test]
fn team_over_its_cpu_quota() {
    check(
        &edit(&[(r#"cpu: "4", memory"#, r#"cpu: 3500m, memory"#)]),
        r#"
error: team `training`'s servers request 4 CPU, over its quota of 3500m
  --> environments/test.yaml:38:18
   |
38 |     quota: {cpu: 3500m, memory: 16Gi, gpu: 2}
   |                  ^^^^^
   = help: raise quota.cpu to at least 4, or give the team fewer or smaller servers (train 4)
"#,
    );
}

#[test]
fn team_over_its_memory_quota() {
    check(
        &edit(&[("memory: 16Gi, gpu", "memory: 8Gi, gpu")]),
        r#"
error: team `training`'s servers request 16Gi of memory, over its quota of 8Gi
  --> environments/test.yaml:38:31
   |
38 |     quota: {cpu: "4", memory: 8Gi, gpu: 2}
   |                               ^^^
   = help: raise quota.memory to at least 16Gi, or give the team fewer or smaller servers (train 16Gi)
"#,
    );
}

#[test]
fn team_over_its_gpu_quota() {
    check(
        &edit(&[("gpu: 2}", "gpu: 1}")]),
        r#"
error: team `training`'s servers request 2 nvidia.com/gpu, over its quota of 1
  --> environments/test.yaml:38:42
   |
38 |     quota: {cpu: "4", memory: 16Gi, gpu: 1}
   |                                          ^
   = help: raise quota.gpu to at least 2, or give the team fewer GPU servers
"#,
    );
}

// ---- shared volumes ----

#[test]
fn volume_used_by_two_teams_needs_a_static_backend() {
    check(
        &edit(&[(
            "nfs: {server: nfs.example.com, path: /exports/datasets}",
            "storageClass: cephfs",
        )]),
        r#"
error: volume `datasets` is used by 2 teams (research, training) but has a dynamic backend
  --> environments/test.yaml:17:19
   |
17 |     storageClass: cephfs
   |                   ^^^^^^
   = help: a dynamically provisioned claim belongs to one namespace; give the volume a static backend (nfs: {server, path}) so each team gets its own PersistentVolume onto the same data
"#,
    );
}

#[test]
fn volume_used_by_one_team_may_be_dynamic() {
    check(
        &edit(&[
            (
                "nfs: {server: nfs.example.com, path: /exports/datasets}",
                "storageClass: cephfs",
            ),
            ("    mounts: {datasets: readOnly}\n", ""),
        ]),
        "",
    );
}

#[test]
fn volume_with_both_backends_is_rejected() {
    check(
        &edit(&[(
            "    nfs: {server: nfs.example.com, path: /exports/datasets}\n",
            "    nfs: {server: nfs.example.com, path: /exports/datasets}\n    storageClass: cephfs\n",
        )]),
        r#"
error: storage.datasets: set exactly one backend for the volume: `nfs` (a static NFS export) or `storageClass` (dynamically provisioned)
  --> environments/test.yaml:15:3
   |
15 |   datasets:
   |   ^^^^^^^^
   = help: A shared volume. Set `size` and exactly one backend: `nfs` (a static NFS export; required when more than one team uses the volume) or `storageClass` (dynamically provisioned; only when a single team uses it).
"#,
    );
}

// ---- members ----

#[test]
fn per_member_slug_collision_names_both_members() {
    check(
        &edit(&[("bob@example.com", "Alice@example.org")]),
        r#"
error: members `alice@example.com` and `Alice@example.org` both become server name suffix `alice`
  --> environments/test.yaml:32:34
   |
32 |     members: [alice@example.com, Alice@example.org]
   |                                  ^^^^^^^^^^^^^^^^^
   = help: perMember servers are named <role>-<part of the e-mail before @>; these two collide. Give one a distinct address, or use perMember: false

warning: member `Alice@example.org` of team `research` has capital letters: Kubernetes compares user names exactly
  --> environments/test.yaml:32:34
   |
32 |     members: [alice@example.com, Alice@example.org]
   |                                  ^^^^^^^^^^^^^^^^^
   = help: identity providers usually send e-mail addresses in lower case (OIDC `email` claims): write `alice@example.org`, unless yours sends exactly `Alice@example.org`
"#,
    );
}

#[test]
fn per_member_team_without_members() {
    check(
        &edit(&[(
            "    members: [alice@example.com, bob@example.com]\n",
            "    groups: [research]\n",
        )]),
        r#"
error: team `research` has perMember: true but no members
  --> environments/test.yaml:34:16
   |
34 |     perMember: true
   |                ^^^^
   = help: list the members who get a server each, or set perMember: false
"#,
    );
}

// ---- NodePorts ----

#[test]
fn pinned_node_port_outside_the_range() {
    check(
        &exposed(&[("{train: 30080}", "{train: 31080}")]),
        r#"
error: NodePort 31080 for training/train is outside cluster.nodePortRange 30000-30099
  --> environments/test.yaml:40:24
   |
40 |     nodePorts: {train: 31080}
   |                        ^^^^^
   = help: pick a port inside the range, or widen the range (it must match the API server's --service-node-port-range)
"#,
    );
}

#[test]
fn pinned_node_port_already_pinned_by_another_team() {
    check(
        &exposed(&[(
            "    perMember: true\n",
            "    perMember: true\n    nodePorts: {prep-alice: 30080}\n",
        )]),
        r#"
error: NodePort 30080 for training/train is already pinned by research/prep-alice
  --> environments/test.yaml:41:24
   |
41 |     nodePorts: {train: 30080}
   |                        ^^^^^
   = help: every server needs its own NodePort; pick another one
"#,
    );
}

#[test]
fn node_port_range_exhausted() {
    check(
        &exposed(&[("nodePortRange: 30000-30099", "nodePortRange: 30080-30081")]),
        r#"
error: the NodePort range is exhausted: 3 notebook servers need a port each, cluster.nodePortRange 30080-30081 has 2
 --> environments/test.yaml:6:18
  |
6 |   nodePortRange: 30080-30081
  |                  ^^^^^^^^^^^
  = help: widen cluster.nodePortRange (and the API server's --service-node-port-range to match), or render fewer servers
"#,
    );
}

#[test]
fn node_port_range_backwards() {
    check(
        &exposed(&[("nodePortRange: 30000-30099", "nodePortRange: 30099-30000")]),
        r#"
error: cluster.nodePortRange `30099-30000` is not a port range
 --> environments/test.yaml:6:18
  |
6 |   nodePortRange: 30099-30000
  |                  ^^^^^^^^^^^
  = help: write it as LOW-HIGH with 1 <= LOW <= HIGH <= 65535, matching the API server's --service-node-port-range (default 30000-32767)
"#,
    );
}

#[test]
fn node_port_for_an_unknown_server_suggests_the_closest() {
    check(
        &exposed(&[("{train: 30080}", "{trian: 30080}")]),
        r#"
error: team `training` pins a NodePort for unknown server `trian`
  --> environments/test.yaml:40:17
   |
40 |     nodePorts: {trian: 30080}
   |                 ^^^^^
   = help: did you mean `train`?
"#,
    );
}

#[test]
fn node_port_for_a_per_member_team_must_name_the_member_server() {
    check(
        &exposed(&[(
            "    perMember: true\n",
            "    perMember: true\n    nodePorts: {prep: 30081}\n",
        )]),
        r#"
error: team `research` pins a NodePort for unknown server `prep`
  --> environments/test.yaml:36:17
   |
36 |     nodePorts: {prep: 30081}
   |                 ^^^^
   = help: nodePorts are keyed by server name; team `research` has: prep-alice, prep-bob
"#,
    );
}

// ---- the environment ----

#[test]
fn environment_name_must_match_the_file_name() {
    check(
        &edit(&[("name: test", "name: staging")]),
        r#"
error: the environment is named `staging` but its file is `environments/test.yaml`
 --> environments/test.yaml:3:7
  |
3 | name: staging
  |       ^^^^^^^
  = help: set `name: test`, or rename the file to environments/staging.yaml
"#,
    );
}

// ---- warnings: reported, but the spec renders ----

#[test]
fn warns_about_an_unused_role() {
    check(
        &edit(&[(
            "teams:\n",
            "  spare:\n    image: notebook\n    cpu: \"1\"\n    memory: 1Gi\nteams:\n",
        )]),
        r#"
warning: role `spare` is not used by any team
  --> environments/test.yaml:30:3
   |
30 |   spare:
   |   ^^^^^
   = help: add it to a team's roles, or remove it
"#,
    );
}

#[test]
fn warns_about_an_unused_image() {
    check(
        &edit(&[(
            "gpuPools:\n",
            "  old: {image: registry.example.com/ml/old:0.9.0, start: docker-stacks}\ngpuPools:\n",
        )]),
        r#"
warning: image `old` is not used by any role
  --> environments/test.yaml:10:3
   |
10 |   old: {image: registry.example.com/ml/old:0.9.0, start: docker-stacks}
   |   ^^^
   = help: use it in a role, or remove it
"#,
    );
}

#[test]
fn warns_about_an_image_without_a_fixed_version() {
    check(
        &edit(&[(
            "registry.example.com/ml/notebook:1.0.0",
            "registry.example.com/ml/notebook:latest",
        )]),
        r#"
warning: image `notebook` (registry.example.com/ml/notebook:latest) has no fixed version
 --> environments/test.yaml:8:21
  |
8 |   notebook: {image: registry.example.com/ml/notebook:latest, start: docker-stacks}
  |                     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: pin a tag such as :1.4.2 or a digest (@sha256:...) so every render deploys the same image
"#,
    );
}

#[test]
fn warns_about_an_unused_gpu_pool() {
    check(
        &edit(&[(
            "storage:\n",
            "  h100:\n    resource: nvidia.com/gpu\n    capacity: 8\nstorage:\n",
        )]),
        r#"
warning: GPU pool `h100` is not used by any server
  --> environments/test.yaml:14:3
   |
14 |   h100:
   |   ^^^^
   = help: reference it from a role's gpu.pool, or remove it
"#,
    );
}

#[test]
fn warns_about_an_unused_volume() {
    check(
        &edit(&[(
            "roles:\n",
            "  models:\n    size: 10Gi\n    nfs: {server: nfs.example.com, path: /exports/models}\nroles:\n",
        )]),
        r#"
warning: volume `models` is not mounted by any server
  --> environments/test.yaml:18:3
   |
18 |   models:
   |   ^^^^^^
   = help: mount it from a role's mounts, or remove it
"#,
    );
}

#[test]
fn warns_about_a_volume_nobody_writes() {
    check(
        &edit(&[("{datasets: readWrite}", "{datasets: readOnly}")]),
        r#"
warning: shared volume `datasets` is mounted read-only everywhere: nobody writes it
  --> environments/test.yaml:15:3
   |
15 |   datasets:
   |   ^^^^^^^^
   = help: that is fine if something outside this environment fills it; otherwise give a role `readWrite`
"#,
    );
}

#[test]
fn warns_about_a_team_without_members_or_groups() {
    check(
        &edit(&[("    groups: [ml]\n", "")]),
        r#"
warning: team `training` has no members or groups: nobody may use its servers
  --> environments/test.yaml:35:3
   |
35 |   training:
   |   ^^^^^^^^
   = help: add members (Kubernetes users) or groups
"#,
    );
}

// ---- all at once ----

#[test]
fn five_distinct_errors_are_all_reported_in_one_run() {
    check(
        &edit(&[
            ("name: test", "name: staging"),
            ("image: notebook", "image: notbook"),
            ("roles: [train]", "roles: [train, infer]"),
            ("capacity: 4", "capacity: 1"),
            (r#"cpu: "4", memory"#, "cpu: 3500m, memory"),
        ]),
        r#"
error: the environment is named `staging` but its file is `environments/test.yaml`
 --> environments/test.yaml:3:7
  |
3 | name: staging
  |       ^^^^^^^
  = help: set `name: test`, or rename the file to environments/staging.yaml

error: GPU pool `a100` is over capacity: its servers ask for 2 GPUs, it has 1
  --> environments/test.yaml:13:15
   |
13 |     capacity: 1
   |               ^
   = help: raise the capacity if the pool really has more GPUs, or lower the roles' gpu.count; servers on this pool: training/train (2)

error: role `prep` uses undefined image `notbook`
  --> environments/test.yaml:20:12
   |
20 |     image: notbook
   |            ^^^^^^^
   = help: did you mean `notebook`?

error: team `training` uses undefined role `infer`
  --> environments/test.yaml:37:20
   |
37 |     roles: [train, infer]
   |                    ^^^^^
   = help: define it under `roles:` (defined: prep, train)

error: team `training`'s servers request 4 CPU, over its quota of 3500m
  --> environments/test.yaml:38:18
   |
38 |     quota: {cpu: 3500m, memory: 16Gi, gpu: 2}
   |                  ^^^^^
   = help: raise quota.cpu to at least 4, or give the team fewer or smaller servers (train 4)
"#,
    );
}

#[test]
fn schema_and_semantic_errors_are_reported_in_one_run() {
    // An unknown key (schema) and an undefined role (semantic) in one run; the bad quantity is
    // reported once, by the schema, not echoed by the quantity rule.
    check(
        &edit(&[
            ("perMember: true", "permember: true"),
            ("roles: [train]", "roles: [trian]"),
            ("memory: 4Gi", "memory: 4 Gi"),
        ]),
        r#"
error: roles.prep.memory: "4 Gi" is not a valid Kubernetes quantity
  --> environments/test.yaml:22:13
   |
22 |     memory: 4 Gi
   |             ^^^^
   = help: did you mean `4Gi`? Not a Kubernetes quantity: write a number and an optional suffix with no space, e.g. 500m, 2, 8Gi, 100Gi (kilo is "k", kibi is "Ki").

error: unknown key `permember` in teams.research
  --> environments/test.yaml:34:5
   |
34 |     permember: true
   |     ^^^^^^^^^
   = help: did you mean `perMember`?

error: team `training` uses undefined role `trian`
  --> environments/test.yaml:37:13
   |
37 |     roles: [trian]
   |             ^^^^^
   = help: did you mean `train`?
"#,
    );
}

#[test]
fn a_bad_environment_name_stops_before_the_semantic_rules() {
    // Every derived name depends on it: only the schema error is reported.
    check(
        &edit(&[
            ("name: test", "name: Test"),
            ("roles: [train]", "roles: [trian]"),
        ]),
        r#"
error: name: "Test" is not a valid DNS-1123 label
 --> environments/test.yaml:3:7
  |
3 | name: Test
  |       ^^^^
  = help: Use lower-case letters, digits and '-', starting and ending with a letter or digit (e.g. "data-science").
"#,
    );
}

// ---- images: how Jupyter starts (docs/images.md) -------------------------------------------

const NB: &str = "notebook: {image: registry.example.com/ml/notebook:1.0.0, start: docker-stacks}";

#[test]
fn a_known_family_needs_no_start() {
    for image in [
        "quay.io/jupyter/scipy-notebook:2025-03-17",
        "jupyter/base-notebook:2023-10-20",
        "docker.io/kubeflownotebookswg/jupyter-scipy:v1.9.2",
        "{image: kubeflownotebookswg/jupyter-scipy:v1.9.2}",
    ] {
        check(&edit(&[(NB, &format!("notebook: {image}"))]), "");
    }
}

#[test]
fn an_image_of_unknown_family_must_say_how_it_starts() {
    check(
        &edit(&[(NB, "notebook: registry.example.com/ml/notebook:1.0.0")]),
        r#"
error: nbgen does not know how Jupyter starts in image `notebook` (registry.example.com/ml/notebook:1.0.0)
 --> environments/test.yaml:8:13
  |
8 |   notebook: registry.example.com/ml/notebook:1.0.0
  |             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: nbgen knows Jupyter's docker-stacks (quay.io/jupyter/*, jupyter/*) and Kubeflow's images (kubeflownotebookswg/*); for an image built FROM one of them write `notebook: {image: ..., start: docker-stacks}` (or `start: kubeflow`); for any other give its command, e.g. `command: [jupyter, lab, "--ServerApp.base_url={{baseUrl}}", "--ServerApp.port={{port}}", --ServerApp.ip=0.0.0.0]` (docs/images.md)
"#,
    );
}

#[test]
fn start_and_command_together_are_refused() {
    check(
        &edit(&[(
            NB,
            r#"notebook: {image: registry.example.com/ml/notebook:1.0.0, start: kubeflow, command: [jupyter, lab, "--ServerApp.base_url={{baseUrl}}", "--ServerApp.port={{port}}"]}"#,
        )]),
        r#"
error: image `notebook` has both `start` and `command`
 --> environments/test.yaml:8:78
  |
8 |   notebook: {image: registry.example.com/ml/notebook:1.0.0, start: kubeflow, command: [jupyter, lab, "--ServerApp.base_url={{baseUrl}}", "--ServerApp.port={{por…
  |                                                                              ^^^^^^^
  = help: `start` picks nbgen's command line for a known kind of image; `command` replaces it with yours: keep one of them
"#,
    );
}

#[test]
fn args_without_command_are_refused() {
    check(
        &edit(&[(
            NB,
            "notebook: {image: registry.example.com/ml/notebook:1.0.0, start: docker-stacks, args: [--debug]}",
        )]),
        r#"
error: image `notebook` has `args` but no `command`
 --> environments/test.yaml:8:83
  |
8 |   notebook: {image: registry.example.com/ml/notebook:1.0.0, start: docker-stacks, args: [--debug]}
  |                                                                                   ^^^^
  = help: nbgen renders the whole command line of a known kind of image; to pass arguments of your own, write the `command` too (docs/images.md)
"#,
    );
}

#[test]
fn a_start_template_that_does_not_parse() {
    check(
        &edit(&[(
            NB,
            r#"notebook: {image: registry.example.com/ml/notebook:1.0.0, command: [jupyter, lab, "--ServerApp.base_url={{baseUrl}", "--ServerApp.port={{port}}"]}"#,
        )]),
        r#"
error: image `notebook`: command item 3 is not a valid template: invalid handlebars syntax: expected identifier, helper_parameter, or trailing_tilde_to_omit_whitespace
 --> environments/test.yaml:8:85
  |
8 |   notebook: {image: registry.example.com/ml/notebook:1.0.0, command: [jupyter, lab, "--ServerApp.base_url={{baseUrl}", "--ServerApp.port={{port}}"]}
  |                                                                                     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: write a value as {{baseUrl}}, {{port}} or {{home}}, and a literal `{{` as `\{{` (docs/images.md)
"#,
    );
}

#[test]
fn a_start_template_with_an_unknown_value_suggests_the_close_one() {
    check(
        &edit(&[(
            NB,
            r#"notebook: {image: registry.example.com/ml/notebook:1.0.0, command: [jupyter, lab, "--ServerApp.base_url={{baseURL}}", "--ServerApp.port={{port}}"]}"#,
        )]),
        r#"
error: image `notebook`: command uses `baseURL`, which nbgen does not provide
 --> environments/test.yaml:8:85
  |
8 |   notebook: {image: registry.example.com/ml/notebook:1.0.0, command: [jupyter, lab, "--ServerApp.base_url={{baseURL}}", "--ServerApp.port={{port}}"]}
  |                                                                                     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: did you mean `baseUrl`?
"#,
    );
}

#[test]
fn a_start_command_may_not_touch_the_token() {
    check(
        &edit(&[(
            NB,
            r#"notebook: {image: registry.example.com/ml/notebook:1.0.0, command: [jupyter, lab, "--ServerApp.base_url={{baseUrl}}", "--ServerApp.port={{port}}"], args: ["--ServerApp.token=''", --ServerApp.disable_check_xsrf=True]}"#,
        )]),
        r#"
error: image `notebook`: args item `--ServerApp.token=''` sets or reads a token on the command line
 --> environments/test.yaml:8:158
  |
8 | …, command: [jupyter, lab, "--ServerApp.base_url={{baseUrl}}", "--ServerApp.port={{port}}"], args: ["--ServerApp.token=''", --ServerApp.disable_check_xsrf=True]}
  |                                                                                                     ^^^^^^^^^^^^^^^^^^^^^^
  = help: remove it: nbgen gives Jupyter its token in the JUPYTER_TOKEN environment variable (from the Secret <server>-token), which Jupyter reads by default; anything about auth on the command line would win over it or show in the node's process list

error: image `notebook`: args item `--ServerApp.disable_check_xsrf=True` turns XSRF protection off on the command line
 --> environments/test.yaml:8:182
  |
8 | …, command: [jupyter, lab, "--ServerApp.base_url={{baseUrl}}", "--ServerApp.port={{port}}"], args: ["--ServerApp.token=''", --ServerApp.disable_check_xsrf=True]}
  |                                                                                                                             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  = help: remove it: nbgen gives Jupyter its token in the JUPYTER_TOKEN environment variable (from the Secret <server>-token), which Jupyter reads by default; anything about auth on the command line would win over it or show in the node's process list
"#,
    );
}

#[test]
fn a_start_command_must_serve_under_the_prefix_on_the_port() {
    check(
        &edit(&[(
            NB,
            "notebook: {image: registry.example.com/ml/notebook:1.0.0, command: [jupyter, lab, --ip=0.0.0.0]}",
        )]),
        r#"
error: image `notebook`: the command never uses {{baseUrl}}
 --> environments/test.yaml:8:61
  |
8 |   notebook: {image: registry.example.com/ml/notebook:1.0.0, command: [jupyter, lab, --ip=0.0.0.0]}
  |                                                             ^^^^^^^
  = help: Jupyter must serve under the server's URL prefix on nbgen's port, or the probes and users' bookmarks find nothing: add "--ServerApp.base_url={{baseUrl}}" to command or args

error: image `notebook`: the command never uses {{port}}
 --> environments/test.yaml:8:61
  |
8 |   notebook: {image: registry.example.com/ml/notebook:1.0.0, command: [jupyter, lab, --ip=0.0.0.0]}
  |                                                             ^^^^^^^
  = help: Jupyter must serve under the server's URL prefix on nbgen's port, or the probes and users' bookmarks find nothing: add "--ServerApp.port={{port}}" to command or args
"#,
    );
}

#[test]
fn an_unknown_start_convention_is_a_schema_error() {
    check(
        &edit(&[(
            NB,
            "notebook: {image: registry.example.com/ml/notebook:1.0.0, start: docker-stack}",
        )]),
        r#"
error: images.notebook.start: "docker-stack" is not one of "docker-stacks", "kubeflow"
 --> environments/test.yaml:8:68
  |
8 |   notebook: {image: registry.example.com/ml/notebook:1.0.0, start: docker-stack}
  |                                                                    ^^^^^^^^^^^^
  = help: did you mean `docker-stacks`? How the image starts Jupyter. `docker-stacks`: the image's entrypoint (tini, start.sh and its hooks) runs `start-notebook.py` with nbgen's flags. `kubeflow`: nbgen runs `jupyter lab` itself, skipping s6-overlay's /init and its hooks (which need root and disable the token). Not together with `command`.
"#,
    );
}

#[test]
fn an_unknown_key_in_an_image_is_named() {
    check(
        &edit(&[(
            NB,
            "notebook: {image: registry.example.com/ml/notebook:1.0.0, strat: docker-stacks}",
        )]),
        r#"
error: unknown key `strat` in images.notebook
 --> environments/test.yaml:8:61
  |
8 |   notebook: {image: registry.example.com/ml/notebook:1.0.0, strat: docker-stacks}
  |                                                             ^^^^^
  = help: did you mean `start`?
"#,
    );
}

#[test]
fn shm_over_half_the_memory_is_refused() {
    check(
        &edit(&[(
            "    memory: 16Gi\n",
            "    memory: 16Gi\n    shmSize: 10Gi\n",
        )]),
        r#"
error: role `train` asks for shmSize 10Gi, more than half of its memory 16Gi
  --> environments/test.yaml:28:14
   |
28 |     shmSize: 10Gi
   |              ^^^^
   = help: /dev/shm is memory: what processes write there counts against the container's 16Gi limit; set shmSize to at most 8Gi, or memory to at least 20Gi
"#,
    );
}

// ---- cluster.network ----

/// `BASE` with a `cluster.network` block (the given YAML lines, indented under it) after line 6.
fn network(lines: &str) -> String {
    let block: String = lines.lines().map(|l| format!("    {l}\n")).collect();
    edit(&[(
        "  nodePortRange: 30000-30099\n",
        &format!("  nodePortRange: 30000-30099\n  network:\n{block}"),
    )])
}

#[test]
fn an_address_range_with_host_bits_says_how_to_write_it() {
    check(
        &network("clusterCIDRs: [10.0.0.1/8]"),
        r#"
error: `10.0.0.1/8` is not an address range
 --> environments/test.yaml:8:20
  |
8 |     clusterCIDRs: [10.0.0.1/8]
  |                    ^^^^^^^^^^
  = help: the address has bits set beyond the /8 prefix: write the range's first address, or /32 (/128) for one host
"#,
    );
}

#[test]
fn internet_egress_needs_the_cluster_ranges() {
    check(
        &network("egress:\n  - {internet: true, ports: [443]}"),
        r#"
error: egress to the internet needs cluster.network.clusterCIDRs
 --> environments/test.yaml:9:20
  |
9 |       - {internet: true, ports: [443]}
  |                    ^^^^
  = help: list the cluster's pod, service and node ranges in clusterCIDRs, so that `internet` can leave them out (other teams' pods and the API server must stay out of reach)
"#,
    );
}

#[test]
fn the_metadata_address_is_never_a_destination() {
    check(
        &network("egress:\n  - {cidr: 169.254.169.254/32}"),
        r#"
error: egress to `169.254.169.254/32` is the cloud metadata service
 --> environments/test.yaml:9:16
  |
9 |       - {cidr: 169.254.169.254/32}
  |                ^^^^^^^^^^^^^^^^^^
  = help: notebook pods may never reach the metadata address: it hands out the node's credentials. Remove this entry
"#,
    );
}

#[test]
fn node_port_clients_may_not_overlap_the_cluster() {
    check(
        &network("clusterCIDRs: [10.0.0.0/8]\nnodePort: {clientCIDRs: [10.10.0.0/16]}"),
        r#"
error: client range `10.10.0.0/16` overlaps the cluster range `10.0.0.0/8`
 --> environments/test.yaml:9:30
  |
9 |     nodePort: {clientCIDRs: [10.10.0.0/16]}
  |                              ^^^^^^^^^^^^
  = help: NodePort clients come from outside the cluster; a range that overlaps the pod or node ranges would admit other namespaces' pods to the notebooks. Name only the ranges users connect from
"#,
    );
}

#[test]
fn an_egress_entry_names_one_destination() {
    check(
        &network("clusterCIDRs: [10.0.0.0/8]\negress:\n  - {cidr: 10.30.0.7/32, internet: true}"),
        r#"
error: an egress entry needs exactly one of `cidr` or `internet: true`
  --> environments/test.yaml:10:9
   |
10 |       - {cidr: 10.30.0.7/32, internet: true}
   |         ^
   = help: write `{cidr: 10.30.0.7/32, ports: [3128]}` for one destination, or `{internet: true, ports: [443]}` for everything outside the cluster
"#,
    );
}

// ---- one error per mistake, all of them in one run (issue 14) ----

#[test]
fn a_misspelt_required_key_is_one_error_and_the_rules_still_run() {
    // `memroy` is one mistake: no "missing `memory`" beside it; the role is checked with the
    // key read as meant, so the undefined image elsewhere is reported in the same run.
    check(
        &edit(&[
            ("memory: 4Gi", "memroy: 4Gi"),
            ("image: train", "image: trian"),
        ]),
        r#"
error: unknown key `memroy` in roles.prep
  --> environments/test.yaml:22:5
   |
22 |     memroy: 4Gi
   |     ^^^^^^
   = help: did you mean `memory`?

error: role `train` uses undefined image `trian`
  --> environments/test.yaml:25:12
   |
25 |     image: trian
   |            ^^^^^
   = help: did you mean `train`?
"#,
    );
}

#[test]
fn every_missing_key_of_a_map_is_reported_at_once() {
    check(
        &edit(&[("    cpu: \"1\"\n    memory: 4Gi\n", "")]),
        r#"
error: roles.prep is missing the required key `cpu`
  --> environments/test.yaml:19:3
   |
19 |   prep:
   |   ^^^^
   = help: add `cpu:` (CPU for each server, used as both request and limit, e.g. "2" or 500m.)

error: roles.prep is missing the required key `memory`
  --> environments/test.yaml:19:3
   |
19 |   prep:
   |   ^^^^
   = help: add `memory:` (memory for each server, used as both request and limit, e.g. 8Gi. At least 64Mi: a plain number is bytes and `m` is milli, so `8` and `8m` are refused.)
"#,
    );
}

#[test]
fn semantic_errors_are_reported_after_a_type_error() {
    check(
        &edit(&[
            ("perMember: true", "perMember: yes"),
            ("image: train", "image: trian"),
        ]),
        r#"
error: role `train` uses undefined image `trian`
  --> environments/test.yaml:25:12
   |
25 |     image: trian
   |            ^^^^^
   = help: did you mean `train`?

error: teams.research.perMember must be true or false, found "yes"
  --> environments/test.yaml:34:16
   |
34 |     perMember: yes
   |                ^^^
   = help: true: every member gets their own server for each role (named `<role>-<member>`); false: the team shares one server per role (named `<role>`).
"#,
    );
}

#[test]
fn an_empty_list_of_roles_is_said_in_words() {
    check(
        &edit(&[("roles: [prep]", "roles: []")]),
        r#"
error: teams.research.roles is empty: list at least one role
  --> environments/test.yaml:33:5
   |
33 |     roles: []
   |     ^^^^^
   = help: Names of entries in `roles`: the notebook servers this team runs.
"#,
    );
}

#[test]
fn an_abbreviated_access_mode_suggests_the_full_one() {
    check(
        &edit(&[("datasets: readWrite", "datasets: rw")]),
        r#"
error: roles.prep.mounts.datasets: "rw" is not one of "readOnly", "readWrite"
  --> environments/test.yaml:23:24
   |
23 |     mounts: {datasets: rw}
   |                        ^^
   = help: did you mean `readWrite`? `readOnly`: mounted read-only; `readWrite`: this role writes the volume.
"#,
    );
}

#[test]
fn memory_in_gigabytes_suggests_gibibytes() {
    for written in ["8GB", "8gb", "8GiB"] {
        check(
            &edit(&[("memory: 4Gi", &format!("memory: {written}"))]),
            &format!(
                r#"
error: roles.prep.memory: "{written}" is not a valid Kubernetes quantity
  --> environments/test.yaml:22:13
   |
22 |     memory: {written}
   |             {carets}
   = help: did you mean `8Gi`? Not a Kubernetes quantity: write a number and an optional suffix with no space, e.g. 500m, 2, 8Gi, 100Gi (kilo is "k", kibi is "Ki").
"#,
                carets = "^".repeat(written.len())
            ),
        );
    }
}

// ---- quantities a person would not mean ----

#[test]
fn memory_in_milli_bytes_is_refused_with_the_likely_fix() {
    check(
        &edit(&[("memory: 4Gi", "memory: 8m")]),
        r#"
error: roles.prep.memory is `8m`, that is 0.008 bytes: below the least of 64Mi
  --> environments/test.yaml:22:13
   |
22 |     memory: 8m
   |             ^^
   = help: did you mean `8Gi`? (`m` is milli; mebibytes are `Mi`, gibibytes `Gi`) a notebook server needs at least 64Mi
"#,
    );
}

#[test]
fn memory_in_bytes_is_refused_with_the_likely_fix() {
    check(
        &edit(&[("memory: 4Gi", "memory: 8")]),
        r#"
error: roles.prep.memory is `8`, that is 8 bytes: below the least of 64Mi
  --> environments/test.yaml:22:13
   |
22 |     memory: 8
   |             ^
   = help: did you mean `8Gi`? (a plain number is bytes) a notebook server needs at least 64Mi
"#,
    );
}

#[test]
fn memory_in_milli_bytes_that_meant_mebibytes_suggests_them() {
    check(
        &edit(&[("memory: 4Gi", "memory: 512m")]),
        r#"
error: roles.prep.memory is `512m`, that is 0.512 bytes: below the least of 64Mi
  --> environments/test.yaml:22:13
   |
22 |     memory: 512m
   |             ^^^^
   = help: did you mean `512Mi`? (`m` is milli; mebibytes are `Mi`, gibibytes `Gi`) a notebook server needs at least 64Mi
"#,
    );
}

#[test]
fn a_home_volume_in_bytes_is_refused() {
    check(
        &edit(&[("    memory: 4Gi\n", "    memory: 4Gi\n    homeSize: 10\n")]),
        r#"
error: roles.prep.homeSize is `10`, that is 10 bytes: below the least of 1Gi
  --> environments/test.yaml:23:15
   |
23 |     homeSize: 10
   |               ^^
   = help: did you mean `10Gi`? (a plain number is bytes) a home volume needs at least 1Gi
"#,
    );
}

#[test]
fn cpu_in_mega_cores_suggests_millicores() {
    check(
        &edit(&[("cpu: \"1\"", "cpu: 500M")]),
        r#"
error: roles.prep.cpu is `500M`, that is 500000000 cores
  --> environments/test.yaml:21:10
   |
21 |     cpu: 500M
   |          ^^^^
   = help: did you mean `500m`? CPU is counted in cores ("2") or millicores ("500m", lower-case m)
"#,
    );
}

// ---- members ----

#[test]
fn an_e_mail_member_with_capitals_is_a_warning() {
    check(
        &edit(&[("alice@example.com", "Alice@Example.COM")]),
        r#"
warning: member `Alice@Example.COM` of team `research` has capital letters: Kubernetes compares user names exactly
  --> environments/test.yaml:32:15
   |
32 |     members: [Alice@Example.COM, bob@example.com]
   |               ^^^^^^^^^^^^^^^^^
   = help: identity providers usually send e-mail addresses in lower case (OIDC `email` claims): write `alice@example.com`, unless yours sends exactly `Alice@Example.COM`
"#,
    );
}

#[test]
fn openshift_target_renders_the_base_spec() {
    check(
        &edit(&[(
            "  kubernetesVersion: \"1.33\"\n",
            "  kubernetesVersion: \"1.33\"\n  target: openshift\n",
        )]),
        "",
    );
}

#[test]
fn openshift_target_refuses_node_ports_and_their_pins() {
    check(
        &exposed(&[(
            "  kubernetesVersion: \"1.33\"\n",
            "  kubernetesVersion: \"1.33\"\n  target: openshift\n",
        )]),
        r#"
error: target `openshift` exposes servers through a Route per server (edge TLS), not NodePorts
 --> environments/test.yaml:8:13
  |
8 |   network: {nodePort: {clientCIDRs: [10.10.0.0/16]}}
  |             ^^^^^^^^
  = help: remove cluster.network.nodePort: a NodePort would reach Jupyter around the router's TLS

error: team `training` pins NodePorts, but target `openshift` exposes no NodePorts
  --> environments/test.yaml:41:5
   |
41 |     nodePorts: {train: 30080}
   |     ^^^^^^^^^
   = help: remove the pins: servers are reached through a Route per server (edge TLS)
"#,
    );
}

// ---- the kubeflow target (docs/kubeflow.md) ----

/// `BASE` rendered for Kubeflow, with `training` given a member to own its Profile, then `edits`.
fn kubeflow(edits: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = vec![
        (
            "  nodePortRange: 30000-30099\n",
            "  nodePortRange: 30000-30099\n  target: kubeflow\n",
        ),
        ("    groups: [ml]\n", "    members: [carol@example.com]\n"),
    ];
    all.extend_from_slice(edits);
    edit(&all)
}

#[test]
fn kubeflow_base_spec_is_valid_and_quiet() {
    check(&kubeflow(&[]), "");
}

#[test]
fn kubeflow_a_team_without_members_has_no_profile_owner() {
    check(
        &kubeflow(&[("    members: [carol@example.com]\n", "    groups: [ml]\n")]),
        r#"
error: team `training` has no member to own its Kubeflow Profile
  --> environments/test.yaml:36:3
   |
36 |   training:
   |   ^^^^^^^^
   = help: list the team's people under `members`: the first one listed owns the Profile (Kubeflow makes them its namespace's admin)
"#,
    );
}

#[test]
fn kubeflow_groups_are_warned_about_not_bound() {
    check(
        &kubeflow(&[(
            "    members: [carol@example.com]\n",
            "    members: [carol@example.com]\n    groups: [ml]\n",
        )]),
        r#"
warning: team `training`'s groups get no access on the kubeflow target: Kubeflow's web apps and the AuthorizationPolicies of its gateway know a user by the kubeflow-userid header alone
  --> environments/test.yaml:38:5
   |
38 |     groups: [ml]
   |     ^^^^^^
   = help: list the groups' people under `members`; nbgen binds no group in a Profile namespace
"#,
    );
}

#[test]
fn kubeflow_refuses_node_ports() {
    check(
        &kubeflow(&[(
            "  target: kubeflow\n",
            "  target: kubeflow\n  network: {nodePort: {clientCIDRs: [10.10.0.0/16]}}\n",
        )]),
        r#"
error: the kubeflow target exposes no NodePorts: Kubeflow routes every notebook through its Istio gateway, at /notebook/<namespace>/<server>/
 --> environments/test.yaml:8:13
  |
8 |   network: {nodePort: {clientCIDRs: [10.10.0.0/16]}}
  |             ^^^^^^^^
  = help: remove cluster.network.nodePort; users open their servers from the Kubeflow dashboard
"#,
    );
}

#[test]
fn kubeflow_refuses_a_job_of_a_per_member_team() {
    check(
        &format!(
            "{}jobs:\n  nightly:\n    team: research\n    role: prep\n    notebook: /data/datasets/nb.ipynb\n    outputDir: /data/datasets/runs\n",
            kubeflow(&[])
        ),
        r#"
error: job `nightly` belongs to perMember team `research`, which has no namespace of its own on the kubeflow target: each member has a Profile of their own
  --> environments/test.yaml:43:11
   |
43 |     team: research
   |           ^^^^^^^^
   = help: give the job to a team without perMember
"#,
    );
}

#[test]
fn kubeflow_refuses_a_custom_start_command() {
    check(
        &kubeflow(&[(
            "  train: {image: registry.example.com/ml/train:2.0.0, start: docker-stacks}\n",
            "  train:\n    image: registry.example.com/ml/train:2.0.0\n    command: [jupyter, lab, \"--port={{port}}\", \"--ServerApp.base_url={{baseUrl}}\", \"--ServerApp.root_dir={{home}}\"]\n",
        )]),
        r#"
error: image `train` starts with a command of its own, which the kubeflow target cannot run: behind Kubeflow's gateway Jupyter must run without a token, and only nbgen's own start conventions say so
  --> environments/test.yaml:12:5
   |
12 |     command: [jupyter, lab, "--port={{port}}", "--ServerApp.base_url={{baseUrl}}", "--ServerApp.root_dir={{home}}"]
   |     ^^^^^^^
   = help: use `start: kubeflow` (Kubeflow's notebook images) or `start: docker-stacks`, or the plain kubernetes target
"#,
    );
}

#[test]
fn kubeflow_a_member_namespace_may_not_be_another_teams() {
    check(
        &kubeflow(&[(
            "  training:\n",
            "  research-alice:\n    members: [dora@example.com]\n    roles: [prep]\n  training:\n",
        )]),
        r#"
error: member `alice@example.com` of team `research` and team `research-alice` would both be the Profile and namespace `research-alice`
  --> environments/test.yaml:33:15
   |
33 |     members: [alice@example.com, bob@example.com]
   |               ^^^^^^^^^^^^^^^^^
   = help: a perMember team's members get <namespace of the team>-<part of the e-mail before @>: rename a team

error: two uses of volume `datasets` would both be the PersistentVolume `test-research-alice-datasets`
  --> environments/test.yaml:36:3
   |
36 |   research-alice:
   |   ^^^^^^^^^^^^^^
   = help: PersistentVolumes are named <environment>-<team>[-<member>]-<volume>, and the '-' in these names makes two alike: rename a team or a volume
"#,
    );
}

const ODH: (&str, &str) = (
    "  kubernetesVersion: \"1.33\"\n",
    "  kubernetesVersion: \"1.33\"\n  target: opendatahub\n",
);

#[test]
fn opendatahub_target_renders_the_base_spec() {
    check(&edit(&[ODH]), "");
}

#[test]
fn opendatahub_target_refuses_node_ports_and_their_pins() {
    check(
        &exposed(&[ODH]),
        r#"
error: target `opendatahub` exposes servers through the ODH controller's route and auth proxy, not NodePorts
 --> environments/test.yaml:8:13
  |
8 |   network: {nodePort: {clientCIDRs: [10.10.0.0/16]}}
  |             ^^^^^^^^
  = help: remove cluster.network.nodePort: a NodePort would reach Jupyter around the router's TLS

error: team `training` pins NodePorts, but target `opendatahub` exposes no NodePorts
  --> environments/test.yaml:41:5
   |
41 |     nodePorts: {train: 30080}
   |     ^^^^^^^^^
   = help: remove the pins: servers are reached through the ODH controller's route and auth proxy
"#,
    );
}

#[test]
fn opendatahub_target_refuses_jobs() {
    check(
        &format!(
            "{}jobs:\n  nightly:\n    team: research\n    role: prep\n    notebook: /data/datasets/nb.ipynb\n    outputDir: /data/datasets/runs\n    schedule: \"@daily\"\n",
            edit(&[ODH])
        ),
        r#"
error: notebook jobs are not rendered for target `opendatahub`
  --> environments/test.yaml:42:3
   |
42 |   nightly:
   |   ^^^^^^^
   = help: run them in an environment with `target: openshift` (its jobs run on the same cluster), or remove them
"#,
    );
}

#[test]
fn opendatahub_target_refuses_groups_in_a_per_member_team() {
    check(
        &edit(&[
            ODH,
            (
                "    members: [alice@example.com, bob@example.com]\n",
                "    members: [alice@example.com, bob@example.com]\n    groups: [lab]\n",
            ),
        ]),
        r#"
error: perMember team `research` lists groups, which target `opendatahub` cannot place
  --> environments/test.yaml:34:5
   |
34 |     groups: [lab]
   |     ^^^^^^
   = help: every member of a perMember team gets a data science project of their own; a group has no project. List the people under `members`
"#,
    );
}

#[test]
fn opendatahub_target_refuses_a_member_project_over_63_characters() {
    // datascience-research-<slug>: 21 + 43 = 64 characters for a 43-character local part (its
    // server, prep-<slug>, has 48: within the 52 a server may have)
    let local = "a".repeat(43);
    check(
        &edit(&[
            ODH,
            (
                "  nodePortRange: 30000-30099\n",
                "  nodePortRange: 30000-30099\n  namespacePrefix: datascience-\n",
            ),
            ("alice@example.com", &format!("{local}@example.com")),
        ]),
        r#"
error: member `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com` of perMember team `research` gets data science project `datascience-research-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`, 64 characters; Kubernetes allows 63
  --> environments/test.yaml:34:15
   |
34 |     members: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com, bob@example.com]
   |               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
   = help: a member's project is `<namespacePrefix><team>-<e-mail local part>`: shorten the team name or cluster.namespacePrefix by 1 character, or set perMember: false (one project for the team)
"#,
    );
}

#[test]
fn opendatahub_target_refuses_a_member_project_that_is_another_team() {
    check(
        &edit(&[
            ODH,
            (
                "  training:\n",
                "  research-bob:\n    members: [carol@example.com]\n    roles: [prep]\n  training:\n",
            ),
        ]),
        r#"
error: member `bob@example.com` of perMember team `research` gets data science project `research-bob`, which is team `research-bob`'s namespace
  --> environments/test.yaml:33:34
   |
33 |     members: [alice@example.com, bob@example.com]
   |                                  ^^^^^^^^^^^^^^^
   = help: rename team `research` or team `research-bob`: one project cannot be both
"#,
    );
}

#[test]
fn member_projects_are_no_concern_of_the_plain_target() {
    let local = "a".repeat(43);
    check(
        &edit(&[
            (
                "  nodePortRange: 30000-30099\n",
                "  nodePortRange: 30000-30099\n  namespacePrefix: datascience-\n",
            ),
            ("alice@example.com", &format!("{local}@example.com")),
            (
                "  training:\n",
                "  research-bob:\n    members: [carol@example.com]\n    roles: [prep]\n  training:\n",
            ),
        ]),
        "",
    );
}

#[test]
fn opendatahub_target_refuses_two_members_with_one_project() {
    check(
        &edit(&[
            ODH,
            (
                "    members: [alice@example.com, bob@example.com]\n",
                "    members: [alice@example.com, bob@example.com, x-y@example.com]\n",
            ),
            (
                "  training:\n",
                "  research-x:\n    members: [y@example.com]\n    roles: [prep]\n    perMember: true\n  training:\n",
            ),
        ]),
        r#"
error: member `y@example.com` of perMember team `research-x` gets data science project `research-x-y`, which member `x-y@example.com` of perMember team `research` gets too
  --> environments/test.yaml:37:15
   |
37 |     members: [y@example.com]
   |               ^^^^^^^^^^^^^
   = help: a member's project is `<namespacePrefix><team>-<e-mail local part>`: rename one of the teams
"#,
    );
}
