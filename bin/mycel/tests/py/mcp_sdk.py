#!/usr/bin/env python3
"""The node's MCP endpoint, driven by the official `mcp` Python SDK's client, unmodified.

Usage: python mcp_sdk.py URL API_KEY < PLAN
  URL      the MCP endpoint (Streamable HTTP), e.g. http://127.0.0.1:7700/mcp
  API_KEY  sent as `Authorization: Bearer API_KEY` on every HTTP request the client makes
  PLAN     a JSON object on stdin: {"calls": [{"tool": NAME, "arguments": {...}}, ...]}

Connects with `mcp.Client` over `streamable_http_client` (the SDK's default connect policy,
mode "auto": a `server/discover` probe, then the `initialize` handshake when the server answers
the probe with any JSON-RPC or HTTP error; MCP_SDK_MODE=legacy skips the probe), lists the tools
(following `nextCursor`), then makes each call of the plan in order, and prints one JSON object
on stdout:

  {"protocol_version": str,
   "server": {"name": str, "version": str} | null,
   "tools": [{"name", "description", "input_schema", "output_schema", "meta"}, ...],
   "calls": [{"tool": str, "ok": bool, "is_error": bool | null,
              "text": str | null,       # the call's text content blocks, concatenated
              "structured": any | null, # structuredContent
              "meta": object | null,    # the result's _meta
              "error": {"code": int, "message": str} | null}, ...]}

A call the SDK answers with `MCPError` (a JSON-RPC error response, or one the SDK synthesizes from
an HTTP error status or a timeout) is recorded in that call's `error` with `ok` false, and the
run goes on. Any other failure (connecting, listing tools, a result the SDK rejects, such as
structuredContent that does not match the tool's outputSchema) prints its traceback and
`FAIL: ...` to stderr and exits 1; a malformed plan exits 2. Run by the node's MCP end-to-end test
in the venv that scripts/setup-py-sdk.sh makes.
"""

import asyncio
import json
import os
import sys
import traceback
from importlib.metadata import version

from mcp import Client, MCPError
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mcp.types import TextContent

# Seconds the SDK waits for each request's response (by default it has no limit of its own, only
# the HTTP client's 300 s read timeout); past it the call fails with MCPError -32001.
READ_TIMEOUT_S = 120
# A server whose tools/list never stops paginating fails the run instead of hanging it.
MAX_TOOL_PAGES = 1000


class PlanError(Exception):
    pass


def read_plan(text):
    try:
        plan = json.loads(text)
    except json.JSONDecodeError as e:
        raise PlanError(f"the plan on stdin is not JSON: {e}") from e
    if not isinstance(plan, dict) or not isinstance(plan.get("calls", []), list):
        raise PlanError(f'the plan must be an object {{"calls": [...]}}, got {plan!r}')
    calls = []
    for i, call in enumerate(plan.get("calls", [])):
        if not isinstance(call, dict) or not isinstance(call.get("tool"), str):
            raise PlanError(f'calls[{i}] must be an object with a string "tool": {call!r}')
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict):
            raise PlanError(f"calls[{i}].arguments must be an object: {arguments!r}")
        calls.append((call["tool"], arguments))
    return calls


def tool_json(tool):
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.input_schema,
        "output_schema": tool.output_schema,
        "meta": tool.meta,
    }


def result_json(name, result):
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    return {
        "tool": name,
        "ok": True,
        "is_error": result.is_error,
        "text": "".join(texts) if texts else None,
        "structured": result.structured_content,
        "meta": result.meta,
        "error": None,
    }


def error_json(name, e):
    return {
        "tool": name,
        "ok": False,
        "is_error": None,
        "text": None,
        "structured": None,
        "meta": None,
        "error": {"code": e.code, "message": e.message},
    }


async def run(url, api_key, calls, mode):
    # The SDK's own HTTP client (its default timeouts), with the key on every request.
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {api_key}"}) as http:
        transport = streamable_http_client(url, http_client=http)
        # No response cache: every list is a request to the server.
        async with Client(
            transport, mode=mode, cache=None, read_timeout_seconds=READ_TIMEOUT_S
        ) as client:
            server = client.server_info
            out = {
                "protocol_version": client.protocol_version,
                "server": None if server is None else {"name": server.name, "version": server.version},
                "tools": [],
                "calls": [],
            }

            cursor, seen = None, set()
            for _ in range(MAX_TOOL_PAGES):
                page = await client.list_tools(cursor=cursor)
                out["tools"].extend(tool_json(t) for t in page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    break
                if cursor in seen:
                    raise RuntimeError(f"tools/list returned the nextCursor {cursor!r} twice")
                seen.add(cursor)
            else:
                raise RuntimeError(f"tools/list still had a nextCursor after {MAX_TOOL_PAGES} pages")

            for name, arguments in calls:
                try:
                    result = await client.call_tool(name, arguments)
                except MCPError as e:
                    out["calls"].append(error_json(name, e))
                    continue
                out["calls"].append(result_json(name, result))
            return out


def leaf(e):
    """The first exception inside the task-group wrappers (ExceptionGroup) the SDK raises through."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e


def main():
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} URL API_KEY < PLAN", file=sys.stderr)
        return 2
    try:
        calls = read_plan(sys.stdin.read())
    except PlanError as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        return 2
    mode = os.environ.get("MCP_SDK_MODE", "auto")
    print(f"mcp {version('mcp')} against {sys.argv[1]} (mode {mode})", file=sys.stderr, flush=True)
    try:
        out = asyncio.run(run(sys.argv[1], sys.argv[2], calls, mode))
    except BaseException as e:  # noqa: BLE001 - any failure is a failed run, with its trace
        if isinstance(e, (SystemExit, KeyboardInterrupt)):
            raise
        traceback.print_exc()
        cause = leaf(e)
        print(f"FAIL: {type(cause).__name__}: {cause}", file=sys.stderr, flush=True)
        return 1
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
