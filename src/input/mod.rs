//! Spec texts → one merged JSON value with the position of every node, schema-checked.

pub mod layer;
pub mod schema;
pub mod yaml;
