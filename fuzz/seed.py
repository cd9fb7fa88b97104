#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ with the golden vectors of the ledger and consensus tests, so the
fuzzers start from valid encodings of every type and variant instead of from nothing."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "crates/ledger/tests/it/golden.rs",
    ROOT / "crates/consensus/tests/it/golden.rs",
]
# Golden name prefix -> [(target, bytes to strip: the module and market tags)].
MODULE = {"bank": "bank_msg", "staking": "staking_msg", "data": "data_msg", "model": "model_msg"}
EXACT = {
    "primitive_hash": "hash",
    "primitive_address": "address",
    "primitive_amount": "amount",
    "data_registration": "registration",
    "data_dataset": "dataset",
    "model_version": "model_version",
    "market_offer": "offer",
    "market_session": "session",
    "market_session_receipt": "session_receipt",
    "rewards_epoch_summary": "epoch_summary",
    "event_with_attrs": "event",
    "tx_body_golden": "tx_body",
    "tx_signed": "tx",
    "block_events": "block_events",
    "empty_block": "block",
    "block_with_txs": "block",
}


def targets(name):
    if name in EXACT:
        return [(EXACT[name], 0)]
    if name.startswith("market_job_"):
        return [("job", 0)]
    if name.startswith("receipt_"):
        return [("receipt", 0)]
    if name.startswith("session_"):
        return [("message", 0), ("market_msg", 1), ("session_msg", 2)]
    if name.startswith("market_"):
        return [("message", 0), ("market_msg", 1)]
    module = name.split("_")[0]
    if module in MODULE:
        return [("message", 0), (MODULE[module], 1)]
    return []


# A golden is the first hex literal after its name: `golden!(name`, `check("name"` or `fn name()`.
names = re.compile(r'golden(?:_msg)?!\(\s*(\w+)|check(?:_session)?\(\s*"(\w+)"|fn (\w+)\(\)')
literal = re.compile(r'"([0-9a-f]{2,})"')
count = 0
for source in SOURCES:
    text = source.read_text()
    found = {}
    for m in names.finditer(text):
        lit = literal.search(text, m.end())
        if lit:
            found.setdefault(lit.start(), (m.start(), "".join(m.groups(""))))
            if found[lit.start()][0] < m.start():
                found[lit.start()] = (m.start(), "".join(m.groups("")))
    for start, (_, name) in found.items():
        hexs = literal.match(text, start).group(1)
        for target, strip in targets(name):
            d = ROOT / "fuzz/corpus" / target
            d.mkdir(parents=True, exist_ok=True)
            (d / f"golden-{name}").write_bytes(bytes.fromhex(hexs)[strip:])
            count += 1
print(f"seeded {count} corpus files from golden vectors")
