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

#[cfg(test)]
mod tests {
    use super::DASHBOARD;

    /// The page lists devices and edge jobs, routes `#/device/ADDR` and `#/edgejob/ID` to their
    /// views, and reads them from the paths `http::device` serves.
    #[test]
    fn dashboard_has_device_and_edge_job_views() {
        for want in [
            "<h2>Devices</h2>",
            "<h2>Edge jobs</h2>",
            "device: devicePage,",
            "edgejob: edgeJobPage,",
            "'#/device/'",
            "link('edgejob', ",
            "'/api/v1/devices'",
            "'/api/v1/devices/'",
            "'/api/v1/edge/jobs'",
            "'/api/v1/edge/jobs/'",
        ] {
            assert!(
                DASHBOARD.contains(want),
                "{want} missing from the dashboard"
            );
        }
    }
}
