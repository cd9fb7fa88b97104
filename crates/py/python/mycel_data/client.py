"""A client of a mycel node's HTTP API, in the standard library only (``urllib.request``).

Every node answers errors in one JSON shape, ``{"error": {"code", "message", "type", "param"}}``;
the client raises them as :class:`MycelError` with that code and message. A node that cannot be
reached raises ``MycelError`` with code ``"unreachable"``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["Client", "MycelError", "DEFAULT_BASE_URL"]

#: The node's default API address (``mycel node`` / ``mycel devnet``).
DEFAULT_BASE_URL = "http://127.0.0.1:7700"


class MycelError(Exception):
    """An error answered by a node (or its absence): a stable ``code`` and a ``message``."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        param: str | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        #: Stable error code (``not_found``, ``bad_request``, a ledger code, ``unreachable``, ...).
        self.code = code
        #: Human message.
        self.message = message
        #: HTTP status, when there was an answer.
        self.status = status
        #: The request parameter at fault, if the node named one.
        self.param = param
        #: OpenAI-style error type (``not_found_error``, ``invalid_request_error``, ...).
        self.kind = kind


def _error_from(status: int, body: bytes) -> MycelError:
    """The error of a failed answer: the node's JSON shape, or the raw text of any other."""
    text = body.decode("utf-8", "replace")
    try:
        detail = json.loads(text)["error"]
        return MycelError(
            str(detail["code"]),
            str(detail.get("message", "")),
            status=status,
            param=detail.get("param"),
            kind=detail.get("type"),
        )
    except (ValueError, KeyError, TypeError):
        return MycelError(f"http_{status}", text.strip() or f"HTTP {status}", status=status)


def _segment(value: Any) -> str:
    """One path segment, percent-encoded (a ``/`` in it stays inside the segment)."""
    return urllib.parse.quote(str(value), safe="")


class Client:
    """The node API at ``base_url`` (routes as in the node's API table, ``/api/v1/...``)."""

    def __init__(self, base_url: str = DEFAULT_BASE_URL, timeout: float = 30.0, api_key: str | None = None) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        #: Sent as ``Authorization: Bearer ...`` where a route needs an API key (receipts).
        self.api_key = api_key

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    def url(self, path: str, **params: Any) -> str:
        """The full URL of ``path`` with the query ``params`` whose value is not None."""
        if not path.startswith("/"):
            path = "/" + path
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self.base_url + path + ("?" + query if query else "")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str | None = None,
        api_key: str | None = None,
        **params: Any,
    ) -> bytes:
        """One request; the answer's body, or :class:`MycelError`."""
        url = self.url(path, **params)
        req = urllib.request.Request(url, data=body, method=method)
        req.add_header("Accept", "application/json")
        if content_type:
            req.add_header("Content-Type", content_type)
        key = api_key or self.api_key
        if key:
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise _error_from(e.code, e.read()) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise MycelError("unreachable", f"{url}: {reason}") from None

    def get(self, path: str, api_key: str | None = None, **params: Any) -> Any:
        """``GET path`` decoded as JSON."""
        body = self.request("GET", path, api_key=api_key, **params)
        try:
            return json.loads(body)
        except ValueError:
            raise MycelError("bad_response", f"{path}: the answer is not JSON") from None

    # Chain.
    def status(self) -> dict:
        """Chain id, height, state root, epoch, mempool size, fees, supply."""
        return self.get("/api/v1/status")

    # Datasets.
    def datasets(self, limit: int | None = None) -> list:
        """The latest registered datasets (newest first; the node's default 20, at most 200)."""
        return self.get("/api/v1/datasets", limit=limit)

    def dataset(self, root: str) -> dict:
        """One registered dataset by its root."""
        return self.get(f"/api/v1/datasets/{_segment(root)}")

    def contributor_datasets(self, address: str) -> Any:
        """Datasets a contributor is attributed in."""
        return self.get(f"/api/v1/contributors/{_segment(address)}/datasets")

    # Batch jobs.
    def jobs(self, limit: int | None = None) -> list:
        """The latest batch jobs (newest first)."""
        return self.get("/api/v1/jobs", limit=limit)

    def job(self, job_id: int | str) -> dict:
        """A batch job: status, worker, due height, output, units, trace root, fee."""
        return self.get(f"/api/v1/jobs/{_segment(job_id)}")

    def job_verification(self, job_id: int | str) -> dict:
        """A job's audits, disputes and verification state."""
        return self.get(f"/api/v1/jobs/{_segment(job_id)}/verification")

    # Sessions and receipts.
    def receipt(self, session: int, seq: int, api_key: str | None = None) -> dict:
        """The receipt bundle of request ``seq`` of ``session`` (the gateway's
        ``/v1/receipts/{session}/{seq}``; needs the API key of the session's account), what
        ``mycel receipt verify`` checks offline."""
        if not (api_key or self.api_key):
            raise ValueError("receipt() needs an api_key (of the session's account)")
        return self.get(f"/v1/receipts/{_segment(session)}/{_segment(seq)}", api_key=api_key)

    # Blobs.
    def blob(self, hash_hex: str) -> bytes:
        """A content-addressed blob's bytes."""
        return self.request("GET", f"/api/v1/blobs/{_segment(hash_hex)}")
