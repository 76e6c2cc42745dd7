//! nbgen: one environment spec → validated, secure Kubernetes manifests for a Jupyter notebook
//! platform, written for GitOps.
//!
//! One folder per stage, in the order `pipeline` runs them (see ARCHITECTURE.md):
//! `input → spec → validate → model → expand (per target) → object → emit → output`, all pure up
//! to `output`, which writes the tree; `review` reads it back and `report` presents the result.
//! `project` is the repository edge that reads the files and runs the pipeline.

pub mod diagnostic;
pub mod emit;
pub(crate) mod expand;
pub(crate) mod input;
pub mod model;
pub(crate) mod object;
pub mod output;
pub(crate) mod parallel;
pub(crate) mod pipeline;
pub mod project;
pub mod report;
pub(crate) mod review;
pub mod source;
pub(crate) mod spec;
pub(crate) mod template;
pub(crate) mod terminal;
pub(crate) mod validate;

pub use pipeline::{Render, render, render_merged};
