//! Two `nbgen render` of one environment never interleave: `output` takes an exclusive lock
//! (flock) on `out/<env>/` before it plans or writes anything, and a second run waits for it,
//! saying so on stderr.

mod common;

use common::{Snapshot, large_spec, nbgen};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ENV: &str = "big";

fn write_spec(root: &Path, teams: usize, variant: u32) {
    fs::create_dir_all(root.join("environments")).unwrap();
    fs::write(
        root.join(format!("environments/{ENV}.yaml")),
        large_spec(teams, variant),
    )
    .unwrap();
}

fn out_tree(root: &Path) -> Snapshot {
    Snapshot::take(&root.join("out").join(ENV))
}

fn render(root: &Path) -> String {
    let out = nbgen(root).args(["render", ENV]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The tree a fresh render of `variant` writes.
fn fresh(teams: usize, variant: u32) -> Snapshot {
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), teams, variant);
    render(dir.path());
    out_tree(dir.path())
}

/// Start a render whose stderr lines arrive on a channel.
fn spawn_render(root: &Path) -> (Child, mpsc::Receiver<String>) {
    let mut child = nbgen(root)
        .args(["render", ENV])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("nbgen did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_render_waits_while_another_holds_the_lock_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_spec(root, 10, 0);
    render(root);
    write_spec(root, 10, 1);
    let before = out_tree(root);

    // Hold the lock nbgen takes: flock(LOCK_EX) on the directory itself.
    let lock = fs::File::open(root.join("out").join(ENV)).unwrap();
    lock.lock().unwrap();
    let (mut child, stderr) = spawn_render(root);
    let line = stderr
        .recv_timeout(Duration::from_secs(60))
        .expect("the second render says it waits");
    assert!(
        line.contains("waiting for another nbgen writing out/big to finish"),
        "{line}"
    );
    // It keeps waiting, and touches nothing, while the lock is held.
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "finished while locked out"
    );
    assert_eq!(out_tree(root), before, "wrote while another held the lock");

    lock.unlock().unwrap();
    let status = wait_with_timeout(&mut child, Duration::from_secs(60));
    assert!(status.success(), "{status}");
    assert_eq!(out_tree(root), fresh(10, 1));
}

#[test]
fn two_renders_at_once_never_interleave() {
    const TEAMS: usize = 60;
    let new = fresh(TEAMS, 1);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut waited = 0;
    for round in 0..4 {
        write_spec(root, TEAMS, 0);
        render(root);
        write_spec(root, TEAMS, 1);
        let (mut a, a_err) = spawn_render(root);
        let (mut b, b_err) = spawn_render(root);
        for child in [&mut a, &mut b] {
            let status = wait_with_timeout(child, Duration::from_secs(120));
            assert!(status.success(), "round {round}: {status}");
        }
        let summaries: Vec<String> = [a, b]
            .into_iter()
            .map(|c| c.wait_with_output().unwrap().stdout)
            .map(|o| String::from_utf8(o).unwrap())
            .collect();
        // One run did all the work; the other, after it, found everything up to date. Had they
        // interleaved, each would have written part of the tree.
        let idle: Vec<&String> = summaries
            .iter()
            .filter(|s| s.contains(": +0 ~0 -0 ="))
            .collect();
        assert_eq!(idle.len(), 1, "round {round}: {summaries:?}");
        let messages: Vec<String> = a_err.try_iter().chain(b_err.try_iter()).collect();
        waited += messages
            .iter()
            .filter(|l| l.contains("waiting for another nbgen"))
            .count();
        assert_eq!(out_tree(root), new, "round {round}");
    }
    println!("the second render waited for the first in {waited} of 4 rounds");
}
