//! The dashboard page and Prometheus metrics.

use super::ApiState;
use axum::{extract::State, http::header, response::IntoResponse};

/// The dashboard: one static page that reads this API.
const DASHBOARD: &str = include_str!("../../assets/dashboard.html");

pub(crate) async fn dashboard() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DASHBOARD,
    )
}

pub(crate) async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        (s.metrics)(),
    )
}
