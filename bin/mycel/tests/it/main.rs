//! End-to-end tests of the real `mycel` binary on 127.0.0.1, one module per concern. Tests named
//! `real_*` need the pinned models (`scripts/fetch-models.sh`): they print `SKIP` and return when
//! the files are absent, and fail instead when `MYCEL_REQUIRE_MODELS=1` (as in CI).
//! The `netns_*` tests run over Linux network namespaces and need root and `ip netns`; they fail
//! without them.

mod api;
mod chain;
mod common;
mod data;
mod data_stages;
#[cfg(target_os = "linux")]
mod edge;
mod gateway;
mod lineage;
mod market;
#[cfg(target_os = "linux")]
mod netns;
mod real_models;
mod tools;
mod verify;
