//! Integration tests. Tests named `real_*` need the pinned models (`scripts/fetch-models.sh`): they
//! print `SKIP` and return when the files are absent, and fail instead when `MYCEL_REQUIRE_MODELS=1`
//! (as in CI; see [`models::pinned_models`]).

mod embed;
mod generate;
mod hf_reference;
mod lora;
mod models;
mod replay;
