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

/// `/metrics`: the runtime's metrics, then the chain's gauges computed now from the finalized
/// state ([`super::validators::gauges`]).
pub(crate) async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    let gauges = super::validators::gauges(&s).unwrap_or_else(|e| {
        tracing::warn!(target: "mycel::http", error = %e.message(), "chain gauges unavailable");
        String::new()
    });
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        with_gauges((s.metrics)(), &gauges),
    )
}

/// `text` with `gauges` added. The runtime's exposition ends with OpenMetrics' `# EOF`, after
/// which an OpenMetrics parser reads nothing: the marker moves to the very end.
fn with_gauges(text: String, gauges: &str) -> String {
    let mut had_eof = false;
    let mut out = String::with_capacity(text.len() + gauges.len() + 8);
    for line in text.lines() {
        if line.trim_end() == "# EOF" {
            had_eof = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(gauges);
    if had_eof {
        out.push_str("# EOF\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{DASHBOARD, with_gauges};

    /// The gauges go before `# EOF`, which ends the text once.
    #[test]
    fn gauges_are_added_before_the_end_marker() {
        let g = "# TYPE mycel_epoch gauge\nmycel_epoch 3\n";
        let out = with_gauges("a 1\n# EOF\nb_total 2\n".into(), g);
        assert_eq!(out, format!("a 1\nb_total 2\n{g}# EOF\n"));
        assert_eq!(with_gauges("a 1\n".into(), g), format!("a 1\n{g}"));
    }

    /// The page has a validators panel, fed by the per-epoch endpoint.
    #[test]
    fn dashboard_has_validators_panel() {
        for want in [
            "<h2>Validators</h2>",
            "id=\"validators\"",
            "'/api/v1/validators/epochs?limit='",
            "await validators(s);",
        ] {
            assert!(
                DASHBOARD.contains(want),
                "{want} missing from the dashboard"
            );
        }
    }

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
