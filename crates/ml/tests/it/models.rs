//! The one rule for tests that need the pinned models (the `real_*` tests; the `mycel` binary's
//! tests include this file by path): when a model is missing the test says why and returns, unless
//! `MYCEL_REQUIRE_MODELS=1` (set by `.ci/run`) turns the skip into a failure, so that a broken
//! model fetch cannot pass as a green run.

use mycel_ml::registry::{ModelSpec, ModelStore};

/// The variable that turns a skip into a failure when set to `1`.
const REQUIRE_MODELS: &str = "MYCEL_REQUIRE_MODELS";

/// The default store ([`ModelStore::from_env`]) if it holds every file of every model in `specs`.
/// Otherwise `None` after printing why the test is skipped, or a panic naming the missing file
/// when `MYCEL_REQUIRE_MODELS=1`.
pub fn pinned_models(specs: &[&ModelSpec]) -> Option<ModelStore> {
    let store = ModelStore::from_env();
    let missing = specs.iter().find_map(|spec| {
        spec.files
            .iter()
            .map(|f| store.path_of(spec, f))
            .find(|p| !p.is_file())
            .map(|p| (spec.name, p))
    });
    let Some((name, path)) = missing else {
        return Some(store);
    };
    let why = format!(
        "model {name}: {} not found (run scripts/fetch-models.sh; the store is $MYCEL_MODELS, \
         else $MYCEL_HOME/models, else ~/.mycel/models)",
        path.display()
    );
    assert!(
        std::env::var(REQUIRE_MODELS).as_deref() != Ok("1"),
        "{REQUIRE_MODELS}=1 and {why}"
    );
    eprintln!("SKIP: {why}");
    None
}
