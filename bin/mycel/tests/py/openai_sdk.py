#!/usr/bin/env python3
"""The node's OpenAI-compatible gateway, driven by the official `openai` Python SDK, unmodified.

Usage: python openai_sdk.py BASE_URL API_KEY
  BASE_URL  the gateway's base, e.g. http://127.0.0.1:7700/v1
  API_KEY   a key the gateway accepts (the devnet writes one to <home>/gateway/devnet-api-key)

Prints one `ok: ...` line per check and `ok: all checks passed` at the end; on the first failed
check prints `FAIL: <check>: <why>` to stderr and exits 1. Run by the `real_openai_sdk_against_devnet`
test (bin/mycel/tests/it/gateway.rs) in the venv that scripts/setup-py-sdk.sh makes.
"""

import math
import sys
import traceback

import openai
from openai import OpenAI

PROMPT = [{"role": "user", "content": "Say hello."}]


class CheckFailed(Exception):
    pass


def check(cond, why):
    if not cond:
        raise CheckFailed(why)


def ok(what):
    print(f"ok: {what}", flush=True)


def extra(obj, name):
    """A field the SDK's types do not declare (kept by its models as an extra)."""
    fields = obj.model_extra or {}
    if name in fields:
        return fields[name]
    return obj.to_dict().get(name)


def check_usage(usage, what):
    check(usage is not None, f"{what}: no usage")
    check(usage.prompt_tokens > 0, f"{what}: usage.prompt_tokens = {usage.prompt_tokens}")
    check(
        usage.completion_tokens > 0,
        f"{what}: usage.completion_tokens = {usage.completion_tokens}",
    )
    check(
        usage.total_tokens == usage.prompt_tokens + usage.completion_tokens,
        f"{what}: usage.total_tokens {usage.total_tokens} != prompt {usage.prompt_tokens} "
        f"+ completion {usage.completion_tokens}",
    )


def expect_error(cls, call, what):
    """`call()` must raise `cls`; its body must be an OpenAI-style error object."""
    try:
        got = call()
    except cls as e:
        body = e.body
        check(isinstance(body, dict), f"{what}: error body is not a JSON object: {body!r}")
        for key in ("message", "type", "code", "param"):
            check(key in body, f"{what}: error body has no {key!r}: {body!r}")
        check(
            isinstance(body["message"], str) and body["message"],
            f"{what}: error message is empty: {body!r}",
        )
        check(
            isinstance(body["type"], str) and body["type"],
            f"{what}: error type is empty: {body!r}",
        )
        ok(f"{what} -> {cls.__name__} {e.status_code} ({body['type']}: {body['message']})")
        return
    except openai.APIStatusError as e:
        raise CheckFailed(
            f"{what}: expected {cls.__name__}, got {type(e).__name__} {e.status_code}: {e.body!r}"
        ) from e
    raise CheckFailed(f"{what}: expected {cls.__name__}, the call succeeded: {got!r}")


def run(base_url, api_key):
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)

    # --- models -------------------------------------------------------------------------------
    models = list(client.models.list())
    check(len(models) >= 1, "models.list() returned no model")
    ids = [m.id for m in models]
    for m in models:
        check(isinstance(m.id, str) and m.id, f"a model without an id: {m!r}")
    ok(f"models.list() -> {ids}")
    gen = next((i for i in ids if "SmolLM2" in i), None)
    check(gen is not None, f"no generation model (an id containing 'SmolLM2') in {ids}")
    emb = next((i for i in ids if "MiniLM" in i), None)
    check(emb is not None, f"no embedding model (an id containing 'MiniLM') in {ids}")
    ok(f"generation model {gen}, embedding model {emb}")

    # --- chat, not streamed -------------------------------------------------------------------
    resp = client.chat.completions.create(model=gen, messages=PROMPT, max_tokens=8, seed=1)
    check(len(resp.choices) >= 1, f"chat: no choices: {resp!r}")
    content = resp.choices[0].message.content
    check(isinstance(content, str) and content, f"chat: empty content: {resp!r}")
    check(
        resp.choices[0].finish_reason in ("stop", "length"),
        f"chat: finish_reason {resp.choices[0].finish_reason!r}",
    )
    check_usage(resp.usage, "chat")
    receipt = extra(resp, "mycel_receipt")
    check(isinstance(receipt, dict), f"chat: no mycel_receipt object: {resp.to_dict()!r}")
    inner = receipt.get("receipt")
    check(isinstance(inner, dict), f"chat: mycel_receipt has no receipt object: {receipt!r}")
    for key in ("session", "seq"):
        check(inner.get(key) is not None, f"chat: mycel_receipt.receipt has no {key!r}: {receipt!r}")
    for key in ("worker_key", "signature"):
        check(receipt.get(key), f"chat: mycel_receipt has no {key!r}: {receipt!r}")
    ok(
        f"chat.completions.create -> {content!r} (usage {resp.usage.prompt_tokens}+"
        f"{resp.usage.completion_tokens}, receipt session {inner['session']} seq {inner['seq']})"
    )

    # --- the raw response carries the receipt as a header -------------------------------------
    raw = client.chat.completions.with_raw_response.create(
        model=gen, messages=PROMPT, max_tokens=8, seed=1
    )
    header = raw.headers.get("x-mycel-receipt")
    check(header, f"raw chat: no x-mycel-receipt header in {dict(raw.headers)!r}")
    parsed = raw.parse()
    check(parsed.choices and parsed.choices[0].message.content, f"raw chat: empty: {parsed!r}")
    ok(f"with_raw_response: x-mycel-receipt header ({len(header)} bytes)")

    # --- same seed, same prompt: same reply ---------------------------------------------------
    again = client.chat.completions.create(model=gen, messages=PROMPT, max_tokens=8, seed=1)
    check(
        again.choices[0].message.content == content,
        f"seeded chat is not deterministic: {content!r} then {again.choices[0].message.content!r}",
    )
    ok("same seed and prompt -> the same content")

    # --- chat, streamed -----------------------------------------------------------------------
    chunks = list(
        client.chat.completions.create(
            model=gen, messages=PROMPT, max_tokens=8, seed=1, stream=True
        )
    )
    check(chunks, "stream: no chunk")
    text = "".join(
        c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].delta
    )
    check(text, f"stream: no content in {len(chunks)} chunks")
    with_choices = [c for c in chunks if c.choices]
    check(with_choices, "stream: no chunk with choices")
    last = with_choices[-1].choices[0].finish_reason
    check(last in ("stop", "length"), f"stream: the last chunk's finish_reason is {last!r}")
    check(
        text == content,
        f"stream and non-stream differ for the same seed: {text!r} vs {content!r}",
    )
    ok(f"stream -> {len(chunks)} chunks, {text!r}, finish_reason {last}")

    chunks = list(
        client.chat.completions.create(
            model=gen,
            messages=PROMPT,
            max_tokens=8,
            seed=1,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    check(chunks, "stream with usage: no chunk")
    check_usage(chunks[-1].usage, "stream with include_usage (last chunk)")
    text = "".join(
        c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].delta
    )
    check(text, "stream with usage: no content")
    ok(f"stream with include_usage -> usage {chunks[-1].usage.to_dict()}")

    # --- legacy completions -------------------------------------------------------------------
    comp = client.completions.create(model=gen, prompt="The capital of France is", max_tokens=5)
    check(len(comp.choices) >= 1, f"completions: no choices: {comp!r}")
    check(comp.choices[0].text, f"completions: empty text: {comp!r}")
    check_usage(comp.usage, "completions")
    ok(f"completions.create -> {comp.choices[0].text!r}")

    # --- embeddings ---------------------------------------------------------------------------
    def check_vectors(e, n, what):
        check(len(e.data) == n, f"{what}: {len(e.data)} embeddings, want {n}")
        for i, d in enumerate(e.data):
            check(d.index == i, f"{what}: data[{i}].index = {d.index}")
            check(len(d.embedding) == 384, f"{what}: data[{i}] has {len(d.embedding)} dims")
            check(
                all(isinstance(x, float) and math.isfinite(x) for x in d.embedding),
                f"{what}: data[{i}] is not finite floats",
            )
        check(e.usage is not None and e.usage.prompt_tokens > 0, f"{what}: usage {e.usage!r}")

    # The SDK asks for base64 unless told otherwise (and decodes either answer).
    e = client.embeddings.create(model=emb, input=["hello world", "another"])
    check_vectors(e, 2, "embeddings (SDK default encoding)")
    check(e.data[0].embedding != e.data[1].embedding, "embeddings: two texts, one vector")
    ok(f"embeddings.create -> 2 x 384 (usage {e.usage.prompt_tokens} tokens)")
    f = client.embeddings.create(
        model=emb, input=["hello world", "another"], encoding_format="float"
    )
    check_vectors(f, 2, "embeddings (float)")
    for a, b in zip(e.data, f.data):
        worst = max(abs(x - y) for x, y in zip(a.embedding, b.embedding))
        check(worst < 1e-5, f"embeddings: base64 and float encodings differ by {worst}")
    ok("embeddings.create(encoding_format='float') -> the same vectors")
    one = client.embeddings.create(model=emb, input="hello world")
    check_vectors(one, 1, "embeddings (one string)")
    ok("embeddings.create(input=str) -> 1 x 384")

    # --- errors -------------------------------------------------------------------------------
    def chat(**kw):
        args = {"model": gen, "messages": PROMPT, "max_tokens": 8}
        args.update(kw)
        return lambda: client.chat.completions.create(**args)

    expect_error(openai.BadRequestError, chat(messages=[]), "empty messages")
    expect_error(openai.BadRequestError, chat(max_tokens=0), "max_tokens=0")
    expect_error(openai.BadRequestError, chat(max_tokens=2**64 - 1), "max_tokens=2**64-1")
    expect_error(openai.BadRequestError, chat(temperature=-1), "temperature=-1")
    expect_error(openai.NotFoundError, chat(model="no-such-model"), "unknown model")
    wrong = OpenAI(base_url=base_url, api_key="myc-sk-wrong", max_retries=0, timeout=120)
    expect_error(
        openai.AuthenticationError,
        lambda: wrong.chat.completions.create(model=gen, messages=PROMPT, max_tokens=8),
        "wrong API key",
    )

    ok("all checks passed")


def main():
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} BASE_URL API_KEY", file=sys.stderr)
        return 2
    print(f"openai {openai.__version__} against {sys.argv[1]}", flush=True)
    try:
        run(sys.argv[1], sys.argv[2])
    except CheckFailed as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        return 1
    except openai.APIStatusError as e:
        traceback.print_exc()
        print(
            f"FAIL: unexpected {type(e).__name__} {e.status_code} from "
            f"{e.request.method} {e.request.url}: {e.body!r}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    except Exception as e:  # noqa: BLE001 - any other failure is a failed run, with its trace
        traceback.print_exc()
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
