//! Reading a rendered environment back and comparing: the files of `out/<env>/` (on disk or at a
//! git revision) → objects (`snapshot`), and the pure comparisons `diff`, `risk`, `check` and
//! `graph`. Only `git` runs a process (read-only); the commands that gather the files are
//! `project::review`'s, and `report` presents the results.

pub mod block;
pub mod check;
pub mod diff;
pub mod git;
pub mod graph;
pub mod risk;
pub mod snapshot;
