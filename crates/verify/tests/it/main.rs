//! Integration tests. Tests named `real_*` need the pinned models (`scripts/fetch-models.sh`) and
//! follow the rule of `mycel-ml`'s tests: skip when the files are absent, fail when
//! `MYCEL_REQUIRE_MODELS=1`.

#[path = "../../../ml/tests/it/models.rs"]
mod models;
mod replay;
