"""Hostile bodies against real local deployments: never a 5xx, every 4xx a JSON message, still serving.

A seeded generator (``random.Random(SEED)``, no Hypothesis database, so every run sends the same bytes) builds
cases of every kind below for each wire generation and POSTs them, one after another over one kept-alive
connection, to the shared deployments of ``conftest.py`` (127.0.0.1 only, behind the pass-through gateway
where nginx is installed). Each answer must be below 500; a 4xx must be ``application/json`` holding a
non-empty, shortened ``{"message": ...}`` that contains the words the case names (the field a record-level
case broke, "nest" for a body nested past what the server reads, ...); a 200 must be JSON. Afterwards every
deployment still scores a good request exactly as the model does. The counts by kind are printed (run with
``-s``) and recorded as the test's ``case_counts`` property (junit XML).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bankscore.features import FEATURES, FeatureKind

pytestmark = pytest.mark.slow

SEED = 14
GENERATIONS = ("A", "B", "C")
MAX_MESSAGE = 2_000  # a message quotes values shortened: far below this even for five problems
ORJSON_DEPTH = 1024  # orjson reads up to this many levels; past it the body is refused by its depth
JSON = "application/json"
NUMERIC = [f.wire_name for f in FEATURES if f.kind is not FeatureKind.CATEGORY]
CATEGORY = [f.wire_name for f in FEATURES if f.kind is FeatureKind.CATEGORY]


@dataclass(frozen=True)
class Case:
    kind: str
    body: bytes
    content_type: str | None = JSON
    # Words a 4xx message must hold (a 200 is fine when the body turns out to be valid).
    words: tuple[str, ...] = ()


def envelope(generation: str, data: bytes, method: bytes | None = None) -> bytes:
    """A body of ``generation`` around ``data`` (and ``method``) given as raw JSON text."""
    if generation == "C":
        params = b', "GlobalParameters": {"method": %s}' % method if method is not None else b""
        return b'{"Inputs": {"data": %s}%s}' % (data, params)
    extra = b', "method": %s' % method if method is not None else b""
    return b'{"data": %s%s}' % (data, extra)


def with_value(record: dict[str, Any], field: str, raw: bytes) -> bytes:
    """``record`` as JSON with ``field``'s value replaced by raw JSON text (which json.dumps could not write)."""
    marker = "\x00bankscore-value\x00"
    return json.dumps({**record, field: marker}).encode().replace(json.dumps(marker).encode(), raw)


def nested(rng: random.Random, depth: int) -> bytes:
    """``depth`` levels of arrays or single-key objects (chosen per run of levels), empty at the bottom."""
    opens, closes = [], []
    for _ in range(depth):
        if rng.random() < 0.5:
            opens.append(b"[")
            closes.append(b"]")
        else:
            opens.append(b'{"k": ')
            closes.append(b"}")
    return b"".join(opens) + b"0" + b"".join(reversed(closes))


class Cases:
    """Every kind of hostile body for one generation, drawn from one seeded generator."""

    def __init__(self, rng: random.Random, generation: str, record: dict[str, Any]) -> None:
        self.rng = rng
        self.gen = generation
        self.record = record
        self.good = envelope(generation, json.dumps([record]).encode())
        self.wrapper_depth = 3 if generation != "C" else 4  # levels down to a record's value

    def body(self, records: bytes, method: bytes | None = None) -> bytes:
        return envelope(self.gen, records, method)

    def one(self, record: bytes) -> bytes:
        return self.body(b"[" + record + b"]")

    def all(self) -> Iterator[Case]:
        for make in (
            self.depth,
            self.numbers,
            self.encodings,
            self.content_types,
            self.shapes,
            self.field_types,
            self.sizes,
            self.duplicate_keys,
            self.nulls,
            self.methods,
            self.mutations,
        ):
            yield from make()

    def depth(self) -> Iterator[Case]:
        depths = [64, 512, 900, 990, 1000, 1019, 1020, 1021, 1023, 1024, 1025, 1100, 2_000, 50_000, 400_000]
        for depth in depths:
            for place in ("top", "data", "record", "field", "method", "nan-field"):
                deep = nested(self.rng, depth)
                field = self.rng.choice([*NUMERIC, *CATEGORY])
                if place == "top":
                    body, total = deep, depth
                elif place == "data":
                    body, total = self.body(deep), depth + self.wrapper_depth - 2
                elif place == "record":
                    body, total = self.body(b"[" + deep + b"]"), depth + self.wrapper_depth - 1
                elif place == "method":
                    body, total = self.body(json.dumps([self.record]).encode(), deep), depth + self.wrapper_depth - 2
                else:
                    record = dict(self.record)
                    if place == "nan-field":  # NaN sends the body to Python's json, which recurses per level
                        record[NUMERIC[0] if field != NUMERIC[0] else NUMERIC[1]] = float("nan")
                    body, total = self.one(with_value(record, field, deep)), depth + self.wrapper_depth
                words: tuple[str, ...] = ()
                if total > ORJSON_DEPTH:
                    words = ("nest", "levels deep")
                elif place == "field":
                    words = ("record 0", field)
                yield Case(f"depth/{place}", body, words=words)
        # Brackets that never close, or close more than they open.
        for count in (1_100, 100_000):
            yield Case("depth/unbalanced", b"[" * count)
            yield Case("depth/unbalanced", b"]" * count)
            yield Case("depth/unbalanced", b'{"data": ' + b"[" * count + b"]" * (count // 2) + b"}")

    def numbers(self) -> Iterator[Case]:
        readable = [
            b"1e999",
            b"-1e999",
            b"1E+309",
            b"1e400",
            b"-1.5e308",
            b"1e308",
            b"1e-999",
            b"0.1e-400",
            b"1" + b"0" * 5_000,
            b"-" + b"9" * 4_301,
            b"1" + b"0" * 4_299,
            b"1" + b"0" * 400 + b".5",
            b"9223372036854775807",
            b"9223372036854775808",
            b"18446744073709551616",
            b"-9223372036854775809",
            b"-0",
            b"-0.0",
            b"0",
            b"0.0",
            b"NaN",
            b"Infinity",
            b"-Infinity",
            b"1.5",
            b"123456789.123456789",
            b"4.9e-324",
            b"2.2250738585072014e-308",
            b"1" + b"0" * 200_000,
        ]
        unreadable = [
            b"NaNx",
            b"+1",
            b"01",
            b".5",
            b"1.",
            b"0x10",
            b"1e",
            b"--1",
            b"Infinity1",
            b"-",
            b"1_000",
            b"nan",
            b"inf",
            b"\xef\xbc\x91",
        ]
        for raw in readable:
            for field in self.rng.sample(NUMERIC, 3) + self.rng.sample(CATEGORY, 1):
                yield Case("number/readable", self.one(with_value(self.record, field, raw)), words=("record 0", field))
        for raw in unreadable:
            field = self.rng.choice(NUMERIC)
            yield Case("number/unreadable", self.one(with_value(self.record, field, raw)), words=("JSON",))
        for raw in (b"1e999", b"1" + b"0" * 5_000, b"NaN", b"-0"):
            yield Case("number/as-data", self.body(raw))
            yield Case("number/as-record", self.body(b"[" + raw + b"]"), words=("record 0",))
            yield Case("number/as-body", raw)

    def encodings(self) -> Iterator[Case]:
        text = self.good.decode()
        for codec in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-8-sig", "latin-1", "cp1252"):
            yield Case("encoding/codec", text.encode(codec))
            accented = text.replace(self.record[CATEGORY[0]], "é" + self.record[CATEGORY[0]])
            yield Case("encoding/codec", accented.encode(codec))
        bad_bytes = [
            b"\xff",
            b"\xfe\xff",
            b"\xc3\x28",
            b"\xa0\xa1",
            b"\xe2\x28\xa1",
            b"\xf0\x28\x8c\xbc",
            b"\xc0\xaf",
            b"\xed\xa0\x80",
            b"\xf8\x88\x80\x80\x80",
            b"\x00",
            b"\x80",
        ]
        for bad in bad_bytes:
            field = self.rng.choice(CATEGORY)
            value = self.record[field].encode()
            yield Case("encoding/invalid-utf8", self.good.replace(b'"%s"' % value, b'"%s%s"' % (value, bad), 1))
            yield Case("encoding/invalid-utf8", bad + self.good)
        for escape in (rb"\ud800", rb"\udfff", rb"\ud83d", rb"\u0000", rb"\uffff", rb"\ud800\u0041", rb"\x41"):
            field = self.rng.choice(CATEGORY)
            yield Case("encoding/escape", self.one(with_value(self.record, field, b'"%s"' % escape)))
            yield Case("encoding/escape-key", self.one(with_value(self.record, f'"{escape.decode()}"', b"1")))
        for control in (b"\n", b"\t", b"\x01", b"\x1f", b"\x7f"):
            field = self.rng.choice(CATEGORY)
            yield Case("encoding/control", self.one(with_value(self.record, field, b'"a%sb"' % control)))

    def content_types(self) -> Iterator[Case]:
        for content_type in (
            None,
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/xml",
            "application/jsonx",
            "json",
            "*/*",
            "",
            "application/json-patch+json",
            "text/json",
            "application/problem+json",
        ):
            yield Case("content-type/refused", self.good, content_type, words=("Content-Type",))
        for content_type in (
            "Application/JSON",
            "application/json; charset=utf-16",
            "application/json;charset=x",
            'application/json; charset="utf-8"',
            "application/json ; q=0.1",
        ):
            yield Case("content-type/json-variant", self.good, content_type)

    def shapes(self) -> Iterator[Case]:
        records = json.dumps([self.record]).encode()
        for other in GENERATIONS:  # every generation's body, proba or not, at this generation's endpoint
            for method in (None, b'"predict"', b'"predict_proba"'):
                yield Case("shape/generation", envelope(other, records, method))
        for raw in (
            b"",
            b" ",
            b"\n\t ",
            b"null",
            b"true",
            b"0",
            b'"text"',
            b"[]",
            b"{}",
            b"[{}]",
            b"[" + records + b"]",
            self.good[:-1],
            self.good + b"}",
            self.good + b" x",
            self.good + self.good,
            self.good[: len(self.good) // 2],
            b'{"Inputs": 1}',
            b'{"Inputs": []}',
            b'{"Inputs": {"data": {}}}',
            b'{"Inputs": {"data": "x"}}',
            b'{"data": "x"}',
            b'{"data": {}}',
            b'{"data": []}',
            b'{"data": [[]]}',
            b'{"data": [[1, 2]]}',
            b'{"Inputs": {"data": [1]}, "GlobalParameters": []}',
            b'{"GlobalParameters": {"method": "predict"}}',
            b'{"inputs": {"data": []}}',
            b'{"DATA": []}',
            b'{"data": [' + b"{}, " * 20 + b"{}]}",
            b'{"data": [' + b"1, " * 10_000 + b"1]}",
            b'{"Inputs": {"data": [' + b"[], " * 10_001 + b"[]]}}",
        ):
            yield Case("shape/structure", raw)
        missing = {k: v for k, v in self.record.items() if k != CATEGORY[1]}
        yield Case("shape/missing-field", self.one(json.dumps(missing).encode()), words=(CATEGORY[1], "missing"))
        renamed = {("Age" if k == "age" else k): v for k, v in self.record.items()}
        yield Case("shape/renamed-field", self.one(json.dumps(renamed).encode()), words=("Age", "age is missing"))
        extra = {**self.record, "id": 7}
        yield Case("shape/extra-field", self.one(json.dumps(extra).encode()), words=("id", "not an input feature"))
        yield Case("shape/no-fields", self.one(b"{}"), words=("record 0",))
        several = [self.record, {**self.record, "age": "x"}, self.record, {**self.record, "job": 3}]
        yield Case(
            "shape/bad-record-among-good", self.body(json.dumps(several).encode()), words=("record 1", "record 3")
        )

    def field_types(self) -> Iterator[Case]:
        values = [
            b"null",
            b"true",
            b"false",
            b'""',
            b'"x"',
            b'" 57"',
            b'"57"',
            b'"NaN"',
            b"1",
            b"-1",
            b"1.5",
            b"[]",
            b"{}",
            b"[1]",
            b'{"a": 1}',
            b'["admin."]',
            b'"ADMIN."',
            b'"admin. "',
            b"0",
            b"1e3",
        ]
        for field in self.record:
            for raw in self.rng.sample(values, 8):
                yield Case("field-type", self.one(with_value(self.record, field, raw)), words=("record 0", field))

    def sizes(self) -> Iterator[Case]:
        field = self.rng.choice(CATEGORY)
        for size in (100_000, 1_000_000, 4_000_000):
            value = json.dumps("x" * size).encode()
            yield Case("size/long-string", self.one(with_value(self.record, field, value)), words=(field,))
        long_key = self.one(with_value(self.record, "k" * 1_000_000, b"1"))
        yield Case("size/long-key", long_key, words=("k" * 60 + "...", "not an input feature"))
        many_keys = {**self.record, **{f"extra{i}": i for i in range(60_000)}}
        yield Case("size/many-keys", self.one(json.dumps(many_keys).encode()), words=("extra0", "extra4"))
        yield Case("size/padded", b" " * 8_000_000 + self.good)
        yield Case("size/over-limit", b" " * (8 * 1024 * 1024) + self.good, words=("8388608",))
        too_many = json.dumps([self.record] * 10_001).encode()
        yield Case("size/too-many-records", self.body(too_many), words=("10001 records", "10000"))

    def duplicate_keys(self) -> Iterator[Case]:
        record = json.dumps(self.record).encode()
        for field in self.rng.sample(list(self.record), 6):
            first_bad = b'{"%s": null, ' % field.encode() + record[1:]
            yield Case("duplicate-keys/field", self.one(first_bad))  # the last one wins: valid
            last_bad = record[:-1] + b', "%s": "bad"}' % field.encode()
            yield Case("duplicate-keys/field", self.one(last_bad), words=(field,))
        records = json.dumps([self.record]).encode()
        yield Case(
            "duplicate-keys/data", b'{"data": %s, "data": 1, "Inputs": {"data": %s, "data": null}}' % (records, records)
        )
        yield Case(
            "duplicate-keys/data", b'{"data": 1, "data": %s, "Inputs": {"data": null, "data": %s}}' % (records, records)
        )
        yield Case("duplicate-keys/method", self.body(records, b'"predict", "method": "nope"'))

    def nulls(self) -> Iterator[Case]:
        records = json.dumps([self.record]).encode()
        for raw in (
            b"null",
            self.body(b"null"),
            self.body(b"[null]"),
            self.body(b"[null, null]"),
            self.body(records, b"null"),
            b'{"Inputs": null}',
            b'{"data": null}',
            b'{"Inputs": {"data": %s}, "GlobalParameters": null}' % records,
            b'{"data": %s, "method": null}' % records,
            b'{"Inputs": {"data": [null]}}',
        ):
            yield Case("null/structure", raw)
        for field in self.record:
            yield Case("null/field", self.one(with_value(self.record, field, b"null")), words=("record 0", field))

    def methods(self) -> Iterator[Case]:
        records = json.dumps([self.record]).encode()
        for raw in (
            b'"PREDICT"',
            b'" predict"',
            b'"predict\\u0000"',
            b'"predict_probability"',
            b'""',
            b"1",
            b"true",
            b'["predict"]',
            b'{"predict": 1}',
            json.dumps("p" * 1_000_000).encode(),
            b'"\\ud800"',
            b"1e999",
            b"1" + b"0" * 5_000,
            b"NaN",
        ):
            yield Case("method", self.body(records, raw), words=("method",) if self.gen != "A" else ())

    def mutations(self) -> Iterator[Case]:
        """Random byte-level damage to a valid body: flips, inserts, deletions, repeats and truncation."""
        proba = envelope(self.gen, json.dumps([self.record, self.record]).encode(), b'"predict_proba"')
        for _ in range(260):
            body = bytearray(self.rng.choice([self.good, proba]))
            for _ in range(self.rng.randint(1, 4)):
                at = self.rng.randrange(len(body))
                action = self.rng.randrange(5)
                if action == 0:
                    body[at] = self.rng.randrange(256)
                elif action == 1:
                    body[at:at] = bytes(self.rng.choice(b'[]{}",:0123456789-+.eE\\ntfu\x00\xff') for _ in range(3))
                elif action == 2:
                    del body[at : at + self.rng.randint(1, 20)]
                elif action == 3:
                    body[at:at] = body[at : at + self.rng.randint(1, 30)] * self.rng.randint(2, 50)
                else:
                    del body[at:]
                if not body:
                    body = bytearray(b"{")
            yield Case("mutation", bytes(body))


def problems_with(case: Case, response: httpx.Response, generation: str) -> str | None:
    """What is wrong with the answer to ``case``, or None."""
    status = response.status_code
    if status >= 500:
        return f"{status}: {response.text[:300]}"
    content_type = response.headers.get("content-type", "")
    if status >= 400:
        if not content_type.startswith(JSON):
            return f"{status} with Content-Type {content_type!r}: {response.text[:200]}"
        try:
            answer = response.json()
        except ValueError:
            return f"{status} with a body that is not JSON: {response.text[:200]}"
        message = answer.get("message") if isinstance(answer, dict) else None
        if not isinstance(message, str) or not message.strip():
            return f"{status} without a message: {response.text[:200]}"
        if len(message) > MAX_MESSAGE:
            return f"{status} with a message of {len(message)} characters: {message[:200]}"
        missing = [w for w in case.words if w not in message]
        if missing:
            return f"{status} message lacks {missing}: {message[:300]}"
        return None
    if status != 200:
        return f"unexpected status {status}"
    try:
        answer = response.json()
        if generation != "C":
            answer = json.loads(answer)
    except (ValueError, TypeError):
        return f"200 that is not the generation's JSON: {response.text[:200]}"
    return None if isinstance(answer, dict) and ("Results" in answer or "result" in answer) else "200 without results"


def send_all(url: str, cases: list[Case], check: Callable[[Case, httpx.Response], str | None]) -> list[str]:
    failures = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for number, case in enumerate(cases):
            headers = {} if case.content_type is None else {"Content-Type": case.content_type}
            try:
                response = client.post("/score", content=case.body, headers=headers)
            except httpx.TransportError as exc:
                failures.append(f"#{number} {case.kind}: {type(exc).__name__} {exc}")
                continue
            problem = check(case, response)
            if problem:
                failures.append(f"#{number} {case.kind} ({len(case.body)} bytes {case.body[:80]!r}): {problem}")
    return failures


def test_hostile_bodies_never_get_a_server_error(
    deployments: dict[str, Any], trained: Any, record_property: Callable[[str, object], None]
) -> None:
    rng = random.Random(SEED)
    plan = {gen: list(Cases(rng, gen, trained.yes_record).all()) for gen in GENERATIONS}
    counts = Counter(case.kind for cases in plan.values() for case in cases)
    total = sum(counts.values())
    assert total >= 2_000

    started = time.monotonic()
    failures: list[str] = []
    statuses: Counter[str] = Counter()
    for gen, cases in plan.items():

        def check(case: Case, response: httpx.Response, gen: str = gen) -> str | None:
            statuses[f"{gen} {response.status_code}"] += 1
            return problems_with(case, response, gen)

        failures += [f"{gen} {f}" for f in send_all(deployments[f"gen-{gen.lower()}"].url, cases, check)]
    elapsed = time.monotonic() - started

    summary = {"seed": SEED, "cases": total, "seconds": round(elapsed, 1), "by_kind": dict(sorted(counts.items()))}
    summary["answers"] = dict(sorted(statuses.items()))
    record_property("case_counts", json.dumps(summary))
    print(f"\nhostile bodies: {json.dumps(summary, indent=1)}")
    assert not failures, f"{len(failures)} of {total} answers were wrong:\n" + "\n".join(failures[:20])

    # Still serving: the same good records score exactly as the registered model does.
    for gen in GENERATIONS:
        url = deployments[f"gen-{gen.lower()}"].url
        body = envelope(gen, json.dumps(trained.records).encode())
        response = httpx.post(url + "/score", content=body, headers={"Content-Type": JSON}, timeout=30)
        assert response.status_code == 200, response.text
        answer = response.json() if gen == "C" else json.loads(response.json())
        assert answer.get("Results", answer.get("result")) == trained.labels


@pytest.mark.parametrize("generation", GENERATIONS)
def test_health_and_spec_answer_the_media_types_their_spec_names(generation: str, deployments: dict[str, Any]) -> None:
    url = deployments[f"gen-{generation.lower()}"].url
    spec = httpx.get(url + "/swagger.json", params={"version": "3"}, timeout=10)
    paths = spec.json()["paths"]
    health = httpx.get(url + "/", timeout=10)
    assert health.headers["content-type"].split(";")[0] in paths["/"]["get"]["responses"]["200"]["content"]
    assert spec.headers["content-type"].split(";")[0] in paths["/swagger.json"]["get"]["responses"]["200"]["content"]
    data = paths["/score"]["post"]["requestBody"]["content"][JSON]["schema"]
    assert data == {"$ref": "#/components/schemas/ServiceInput"}
