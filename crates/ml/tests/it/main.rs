//! Integration tests. Tests named `real_*` need the pinned models (`scripts/fetch-models.sh`); they print a
//! message and return when the files are absent.

mod embed;
mod generate;
mod lora;

use mycel_ml::registry::{ModelSpec, ModelStore};

/// The default store if it holds the model, else `None` after saying why the test is skipped.
pub fn store_with(spec: &ModelSpec) -> Option<ModelStore> {
    let store = ModelStore::from_env();
    if store.is_present(spec) {
        Some(store)
    } else {
        eprintln!(
            "SKIP: model {} not found under {} (run scripts/fetch-models.sh)",
            spec.name,
            store.root().display()
        );
        None
    }
}
