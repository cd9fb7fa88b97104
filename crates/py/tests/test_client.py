"""Client: URLs, JSON answers and the node's error shape, against a tiny local HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mycel_data import Client, MycelError


class Handler(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        Handler.seen.append((self.path, self.headers.get("Authorization")))
        if self.path == "/api/v1/status":
            self.reply(200, {"chain_id": "mycel-test", "height": 7})
        elif self.path.startswith("/api/v1/datasets?") or self.path == "/api/v1/datasets":
            self.reply(200, [{"root": "ab"}])
        elif self.path == "/api/v1/datasets/a%2Fb":
            self.reply(200, {"root": "a/b"})
        elif self.path == "/api/v1/jobs/404":
            self.reply(404, {"error": {"code": "not_found", "message": "no job 404", "type": "not_found_error", "param": None}})
        elif self.path.startswith("/api/v1/jobs"):
            self.reply(200, {"path": self.path})
        elif self.path == "/v1/receipts/3/1":
            self.reply(200, {"receipt": {"seq": 1}})
        elif self.path == "/plain":
            self.reply(502, b"bad gateway", "text/plain")
        elif self.path == "/notjson":
            self.reply(200, b"<html>", "text/html")
        else:
            self.reply(404, {"error": {"code": "not_found", "message": f"no route {self.path}"}})


@pytest.fixture
def node():
    Handler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_routes_and_answers(node):
    c = Client(node)
    assert c.base_url == node.rstrip("/")
    assert c.status()["height"] == 7
    assert c.datasets(limit=5) == [{"root": "ab"}]
    assert c.dataset("a/b") == {"root": "a/b"}
    assert c.jobs(limit=3) == {"path": "/api/v1/jobs?limit=3"}
    assert c.job(12) == {"path": "/api/v1/jobs/12"}
    assert c.job_verification(12) == {"path": "/api/v1/jobs/12/verification"}
    assert c.receipt(3, 1, api_key="myc-sk-test") == {"receipt": {"seq": 1}}
    paths = [p for p, _ in Handler.seen]
    assert "/api/v1/datasets?limit=5" in paths
    assert ("/v1/receipts/3/1", "Bearer myc-sk-test") in Handler.seen
    assert c.url("/api/v1/jobs", limit=None) == node.rstrip("/") + "/api/v1/jobs"


def test_error_shape(node):
    c = Client(node)
    with pytest.raises(MycelError) as e:
        c.job(404)
    assert (e.value.code, e.value.message, e.value.status, e.value.kind) == ("not_found", "no job 404", 404, "not_found_error")
    with pytest.raises(MycelError) as e:
        c.get("/plain")
    assert e.value.code == "http_502" and e.value.message == "bad gateway"
    with pytest.raises(MycelError) as e:
        c.get("/notjson")
    assert e.value.code == "bad_response"
    with pytest.raises(ValueError, match="api_key"):
        c.receipt(3, 1)


def test_unreachable_and_bad_url():
    with pytest.raises(ValueError):
        Client("127.0.0.1:7700")
    # Port 9 (discard) on loopback: nothing listens there in a test sandbox.
    with pytest.raises(MycelError) as e:
        Client("http://127.0.0.1:9", timeout=2).status()
    assert e.value.code == "unreachable"
