"""The checking benchmark: how close check_response comes to the cost of parsing.

It builds a corpus of realistic conformant responses for the five operations (QuerySmarttagJob
and QueryIProductionJob with real-sized JSON-string payloads) and a drifted copy, then measures,
in one run and side by side (each figure the best of three timings taken in turn with the
figures it is compared with): responses per second, the ratio to a bare orjson.loads of the same
bytes, the ratio to validating the same bytes with the jsonschema package against
`aliconform contracts jsonschema`, and peak memory. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import gc
import json
import random
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aliconform.contracts import ContractSet
from aliconform.contracts.jsonschema import response_schema
from aliconform.drift.engine import CompiledContract, check_body, compiled
from aliconform.errors import AliconformError

__all__ = ["ROUNDS", "BenchResult", "build_corpus", "drift", "drift_inside", "run_bench"]

Body = dict[str, Any]

_WORDS = [
    "piano",
    "cup",
    "table",
    "car",
    "beach",
    "desert",
    "dancing",
    "singing",
    "doctor",
    "teacher",
    "subway",
    "bedroom",
    "landmark",
    "waterfall",
    "keyword",
    "travel",
    "scenery",
    "news",
    "sports",
]


def _word(rng: random.Random, n: int = 2) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def _span(rng: random.Random, end: float = 600.0) -> tuple[float, float]:
    start = round(rng.uniform(0, end), 3)
    return start, round(start + rng.uniform(0.04, 30), 3)


def _stamp(rng: random.Random, base: float) -> str:
    moment = time.gmtime(base)
    fraction = (
        "" if rng.random() < 0.3 else f".{rng.randrange(10**9):09d}"[: rng.choice([4, 7, 10])]
    )
    return time.strftime("%Y-%m-%dT%H:%M:%S", moment) + fraction + "Z"


def _imm_task(rng: random.Random, task_type: str) -> Body:
    started = rng.uniform(1.6e9, 1.75e9)
    status = rng.choices(["Succeeded", "Failed", "Running"], [8, 1, 1])[0]
    body: Body = {
        "RequestId": f"{rng.getrandbits(32):08X}-5AC0-49F9-914D-F02678E3{rng.getrandbits(16):04X}",
        "ProjectName": "immtest",
        "EventId": f"2F6-1Bz99Xi93EnRpNEyLud{rng.getrandbits(24):06x}",
        "Status": status,
        "StartTime": _stamp(rng, started),
        "UserData": json.dumps({"ID": f"user{rng.randrange(1000)}", "Name": "test-user"}),
        "TaskType": task_type,
        "TaskId": f"{task_type}-2f157087-91df-4fda-8c3e-{rng.getrandbits(48):012x}",
    }
    if status != "Running":
        body["EndTime"] = _stamp(rng, started + rng.uniform(1, 300))
    if status == "Failed":
        body["Code"], body["Message"] = (
            "ResourceNotFound",
            "The specified resource TaskId is not found.",
        )
    return body


def _label_classification(rng: random.Random) -> Body:
    body = _imm_task(rng, "VideoLabelClassification")
    body["Labels"] = [
        {
            "Language": "zh-Hans",
            "LabelName": _word(rng, 1),
            "LabelLevel": rng.randint(1, 3),
            "LabelConfidence": rng.random(),
            "ParentLabelName": _word(rng, 1),
            "CentricScore": rng.random(),
            **(
                {
                    "Clips": [
                        {"TimeRange": sorted(rng.sample(range(0, 600_000), 2))}
                        for _ in range(rng.randint(1, 4))
                    ]
                }
                if rng.random() < 0.5
                else {}
            ),
        }
        for _ in range(rng.randint(5, 40))
    ]
    return body


def _moderation(rng: random.Random, task_type: str, most: int) -> Body:
    body = _imm_task(rng, task_type)
    frames = [
        {
            "Rate": round(rng.uniform(50, 100), 2),
            "Offset": offset,
            "Label": json.dumps({"label": "porn", "score": rng.random()}),
        }
        for offset in sorted(rng.sample(range(10_000), rng.randint(0, most)))
    ]
    body["ModerationResult"] = {
        "URI": f"oss://test-bucket/media/{rng.getrandbits(32):x}.mp4",
        "Suggestion": rng.choice(["pass", "review", "block"]),
        "Categories": rng.sample(["porn", "terrorism", "ad", "live", "logo"], rng.randint(0, 3)),
        "Frames": {"TotalCount": len(frames) + rng.randint(0, 500), "BlockFrames": frames},
    }
    return body


def _occurrences(rng: random.Random, count: int) -> list[Body]:
    result = []
    for _ in range(count):
        start, end = _span(rng)
        result.append({"score": rng.random(), "from": start, "to": end})
    return result


def _smarttag_data(rng: random.Random, kind: str) -> Any:
    if kind == "VideoLabel":
        return {
            "persons": [
                {
                    "name": _word(rng),
                    "category": "celebrity",
                    "ratio": rng.random(),
                    "occurrences": [
                        {
                            **occ,
                            "position": {
                                "leftTop": [rng.randrange(800), rng.randrange(600)],
                                "rightBottom": [rng.randrange(800, 1920), rng.randrange(600, 1080)],
                            },
                            "timestamp": occ["from"],
                            "scene": rng.choice(["closeUp", "medium", "medium-long"]),
                        }
                        for occ in _occurrences(rng, rng.randint(3, 15))
                    ],
                }
                for _ in range(rng.randint(2, 8))
            ],
            "tags": [
                {
                    "mainTagName": rng.choice(["object", "scene", "action"]),
                    "subTagName": _word(rng, 1),
                    "ratio": rng.random(),
                    "occurrences": _occurrences(rng, rng.randint(1, 10)),
                }
                for _ in range(rng.randint(10, 30))
            ],
            "classifications": [
                {"score": rng.random(), "category1": "Lifestyle", "category2": "Home"}
            ],
        }
    if kind == "CPVLabel":

        def labels(detail: Callable[[], Body]) -> list[Body]:
            return [
                {
                    "labelLevel1": _word(rng, 1),
                    "labelLevel2": _word(rng, 1),
                    "label": _word(rng),
                    "appearanceProbability": rng.random(),
                    "detailInfo": [detail() for _ in range(rng.randint(1, 6))],
                }
                for _ in range(rng.randint(3, 12))
            ]

        def detail() -> Body:
            start, end = _span(rng)
            return {"score": rng.random(), "startTime": start, "endTime": end}

        def tracked() -> Body:
            info = detail()
            info["trackData"] = [
                {
                    "score": rng.random(),
                    "bbox": [rng.randrange(500) for _ in range(4)],
                    "timestamp": info["startTime"],
                }
                for _ in range(rng.randint(1, 5))
            ]
            return info

        return {
            "type": "auto",
            "cates": labels(detail),
            "entities": [
                {
                    **item,
                    "knowledgeInfo": json.dumps(
                        {
                            "name": item["label"],
                            "nameEn": item["label"],
                            "description": _word(rng, 6),
                        }
                    ),
                }
                for item in labels(tracked)
            ],
            "hotwords": labels(detail),
            "freeTags": labels(detail),
        }
    if kind == "ASR":
        details = []
        for _ in range(rng.randint(50, 200)):
            start, end = _span(rng)
            details.append({"from": start, "to": end, "content": _word(rng, 8)})
        return {"details": details}
    if kind == "OCR":
        return {
            "details": [
                {
                    "timestamp": rng.uniform(0, 600),
                    "info": [
                        {
                            "score": rng.random(),
                            "position": {"leftTop": [1, 2], "rightBottom": [300, 40]},
                            "content": _word(rng, 4),
                        }
                        for _ in range(rng.randint(1, 5))
                    ],
                }
                for _ in range(rng.randint(20, 80))
            ]
        }
    return {"title": f"example-title-{rng.getrandbits(16):04x}"}


def _smarttag(rng: random.Random) -> Body:
    status = rng.choices(["Success", "Processing", "Submitted", "Fail"], [8, 1, 1, 1])[0]
    body: Body = {
        "JobStatus": status,
        "RequestId": f"{rng.getrandbits(32):08X}-DB8D-4A9A-875B-275798{rng.getrandbits(24):06X}",
        "UserData": json.dumps({"userId": str(rng.getrandbits(40))}),
    }
    if status == "Success":
        kinds = rng.sample(["VideoLabel", "CPVLabel", "ASR", "OCR", "Meta"], rng.randint(1, 3))
        body["Results"] = {
            "Result": [
                {"Type": kind, "Data": json.dumps(_smarttag_data(rng, kind), ensure_ascii=False)}
                for kind in kinds
            ]
        }
        body["Usages"] = {"Usage": [{"Type": "VideoLabel", "Quota": rng.randint(1, 600)}]}
    return body


def _iproduction_result(rng: random.Random, function: str) -> Any:
    if function == "Cover":
        return [
            {
                "Score": rng.uniform(0, 10),
                "Time": f"{rng.uniform(0, 60000):.3f}",
                "Url": f"cover/test-{i:05d}.jpg",
            }
            for i in range(rng.randint(5, 20))
        ]
    if function == "VideoClip":
        spans = sorted(_span(rng) for _ in range(rng.randint(2, 12)))
        return {
            "VideoSummaryList": [{"StartTime": f"{a:.2f}", "EndTime": f"{b:.2f}"} for a, b in spans]
        }
    if function == "MusicSegmentDetect":
        return [
            {"start": a, "end": b, "title": "chorus"}
            for a, b in (_span(rng, 200) for _ in range(rng.randint(1, 6)))
        ]
    if function == "AudioQualityAssessment":
        keys = [
            "MOS(0-5)",
            "Worst MOS(0-5)",
            "Discontinuity(0-5)",
            "Loudness(0-5)",
            "Noisiness(0-5)",
            "Coloration(0-5)",
        ]
        return [
            {
                "Channel": str(channel),
                "Input": "/home/admin/algo/example.wav",
                "Time": "2022-12-02 16:14:06",
                "Tag": "Valid",
                "MOS": "Poor",
                **{k: f"{rng.uniform(0, 5):.2f}" for k in keys},
            }
            for channel in (1, 2)
        ]
    return {}


def _iproduction(rng: random.Random) -> Body:
    function = rng.choice(
        [
            "Cover",
            "VideoClip",
            "MusicSegmentDetect",
            "AudioQualityAssessment",
            "VideoDelogo",
            "SpeechDenoise",
        ]
    )
    created = rng.uniform(1.6e9, 1.75e9)
    status = rng.choices(["Success", "Queuing", "Analyzing", "Fail"], [8, 1, 1, 1])[0]
    body: Body = {
        "RequestId": f"{rng.getrandbits(32):08X}-1111-2222-3333-444455556666",
        "JobId": f"{rng.getrandbits(128):032x}",
        "Name": "job",
        "FunctionName": function,
        "Input": {"Type": "OSS", "Media": "oss://bucket/input.mp4"},
        "Output": {"Type": "OSS", "Media": "oss://bucket/output.mp4"},
        "JobParams": json.dumps({"Model": "gif"}),
        "ScheduleConfig": {
            "PipelineId": f"{rng.getrandbits(128):032x}",
            "Priority": rng.randint(1, 10),
        },
        "CreateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        "Status": status,
    }
    if status in ("Success", "Fail"):
        body["FinishTime"] = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(created + rng.uniform(10, 3000))
        )
    if status == "Success":
        body["Result"] = json.dumps(_iproduction_result(rng, function))
        body["OutputFiles"] = ["output/result.mp4"]
        body["OutputUrls"] = [
            f"https://bucket.oss-cn-shanghai.aliyuncs.com/output/{rng.getrandbits(32):x}.mp4"
        ]
    return body


GENERATORS: dict[str, Callable[[random.Random], Body]] = {
    "GetVideoLabelClassificationResult": _label_classification,
    "GetImageModerationResult": lambda rng: _moderation(rng, "ImageModeration", 3),
    "GetVideoModerationResult": lambda rng: _moderation(rng, "VideoModeration", 60),
    "QuerySmarttagJob": _smarttag,
    "QueryIProductionJob": _iproduction,
}


def build_corpus(count: int, seed: int = 20261121) -> list[tuple[str, bytes]]:
    """count (operation, body bytes) pairs, the operations in turn."""
    rng = random.Random(seed)
    operations = list(GENERATORS)
    return [
        (op, json.dumps(GENERATORS[op](rng), ensure_ascii=False).encode())
        for op in (operations[i % len(operations)] for i in range(count))
    ]


def drift(corpus: list[tuple[str, bytes]], seed: int = 7) -> list[tuple[str, bytes]]:
    """The same responses, each with one divergence at the root: a new field, a retyped or an
    unknown value."""
    rng = random.Random(seed)
    drifted = []
    for operation, raw in corpus:
        body = json.loads(raw)
        choice = rng.randrange(3)
        if choice == 0:
            body["NewField"] = {"added": True}
        elif choice == 1:
            body["RequestId"] = rng.randrange(10**6)
        else:
            key = "JobStatus" if "JobStatus" in body else "Status"
            body[key] = "Paused"
        drifted.append((operation, json.dumps(body).encode()))
    return drifted


def drift_inside(corpus: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The responses that carry a result (a Smarttag Data, an IProduction Result), each with a
    new field deep inside its largest one."""
    drifted = []
    for operation, raw in corpus:
        body = json.loads(raw)
        if _drift_inside(body):
            drifted.append((operation, json.dumps(body, ensure_ascii=False).encode()))
    return drifted


def _drift_inside(body: dict[str, Any]) -> bool:
    """Add a field to the deepest first object inside the body's largest JSON-string payload
    (the results: a Smarttag Data, an IProduction Result); False when it has no result."""
    texts = sorted(_json_strings(body), key=lambda found: len(found[0][found[1]]))
    if not texts or len(texts[-1][0][texts[-1][1]]) < _RESULT_SIZE:
        return False
    container, key = texts[-1]
    inner = json.loads(container[key])
    target = _deepest_first_object(inner)
    if target is None:
        return False
    target["newKey"] = 1
    container[key] = json.dumps(inner, ensure_ascii=False)
    return True


_RESULT_SIZE = 100  # smaller JSON strings are parameters or user data, not results


def _json_strings(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every string that starts as a JSON object or array does, outside
    payloads (in this corpus, the payloads and small user data)."""
    found: list[tuple[Any, Any]] = []
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        if isinstance(item, str) and item[:1] in ("{", "["):
            found.append((value, key))
        elif isinstance(item, dict | list):
            found += _json_strings(item)
    return found


def _deepest_first_object(value: Any) -> dict[str, Any] | None:
    """The last object met by always going into the first non-empty object or array inside;
    None if there is no object at all."""
    found = None
    while isinstance(value, dict | list):
        if isinstance(value, dict):
            found = value
            value = next((v for v in value.values() if isinstance(v, dict | list) and v), None)
        else:
            value = value[0] if value else None
    return found


@dataclass
class BenchResult:
    rows: list[tuple[str, str]]


ROUNDS = 3  # each figure is the best of this many timings


def _timed(work: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _best(*works: Callable[[], object]) -> list[float]:
    """The fastest of ROUNDS timings of each work. The works take turns within a round, so a
    slow moment of a shared machine slows all of a comparison's sides, not one of them."""
    best = [float("inf")] * len(works)
    for _ in range(ROUNDS):
        for index, work in enumerate(works):
            best[index] = min(best[index], _timed(work))
    return best


def _each(
    function: Callable[[str, bytes], object], items: list[tuple[str, bytes]]
) -> Callable[[], None]:
    """A loop that calls function on every item and keeps nothing (as a consumer would)."""

    def loop() -> None:
        for operation, raw in items:
            function(operation, raw)

    return loop


def run_bench(
    contracts: ContractSet,
    count: int = 100_000,
    jsonschema_sample: int = 2_000,
    progress: Callable[[str], None] = lambda _: None,
) -> BenchResult:
    try:
        import jsonschema
        import orjson
    except ImportError as exc:
        raise AliconformError(
            f"the benchmark needs orjson and jsonschema ({exc}); run it with: tox -e bench"
        ) from None

    progress(f"building {count:,} conformant responses")
    corpus = build_corpus(count)
    entries = {op: compiled(contracts[op]) for op in GENERATORS}
    progress("checking the corpus is conformant")
    for operation, raw in corpus[: min(len(corpus), 2_000)]:
        found = check_body(entries[operation], raw)
        if found:
            raise AliconformError(f"benchmark corpus is not conformant: {found[0]}")
    drifted = drift(corpus[: max(count // 5, 1)])
    deep = drift_inside(corpus[: max(count // 5, 1)])
    size = sum(len(raw) for _, raw in corpus)

    def parse(_: str, raw: bytes) -> object:
        return orjson.loads(raw)

    def check(operation: str, raw: bytes) -> object:
        return check_body(entries[operation], raw)

    # The same check with every invariant left out: what the types alone cost, the floor of
    # any speed-up to the invariants.
    types_only = {
        op: CompiledContract.build(contracts[op].model_copy(update={"invariants": []}))
        for op in GENERATORS
    }

    def check_types(operation: str, raw: bytes) -> object:
        return check_body(types_only[operation], raw)

    def json_texts(value: Any, found: list[str]) -> list[str]:
        """Every string that carries JSON, at any depth (inside decoded ones too)."""
        if isinstance(value, dict):
            for item in value.values():
                json_texts(item, found)
        elif isinstance(value, list):
            for item in value:
                json_texts(item, found)
        elif isinstance(value, str) and value[:1] in ("{", "["):
            try:
                inner = orjson.loads(value)
            except orjson.JSONDecodeError:
                return found
            found.append(value)
            json_texts(inner, found)
        return found

    progress("finding the JSON inside strings")
    inside = [json_texts(orjson.loads(raw), []) for _, raw in corpus]

    def parse_all(items: list[tuple[str, bytes]], texts: list[list[str]]) -> Callable[[], None]:
        """orjson.loads of the bytes and of every JSON text inside them: the parsing a check
        cannot avoid, found beforehand so that no Python walk is timed."""

        def loop() -> None:
            for (_, raw), inner in zip(items, texts, strict=True):
                orjson.loads(raw)
                for text in inner:
                    orjson.loads(text)

        return loop

    progress("timing check (conformant) against orjson.loads")
    t_parse, t_deep, t_check, t_types = _best(
        _each(parse, corpus),
        parse_all(corpus, inside),
        _each(check, corpus),
        _each(check_types, corpus),
    )
    progress("timing check (drifted)")
    findings = {"root": 0, "deep": 0}

    def check_drifted(items: list[tuple[str, bytes]], where: str) -> Callable[[], None]:
        def loop() -> None:
            for op, raw in items:
                findings[where] += len(check_body(entries[op], raw))

        return loop

    t_drift, t_drift_parse = _best(check_drifted(drifted, "root"), _each(parse, drifted))
    t_drift_deep, t_drift_deep_parse = _best(check_drifted(deep, "deep"), _each(parse, deep))
    findings = {where: count // ROUNDS for where, count in findings.items()}

    progress(f"timing jsonschema on {jsonschema_sample:,} responses")
    validators = {
        op: jsonschema.Draft202012Validator(response_schema(contracts[op])) for op in GENERATORS
    }
    sample = corpus[:jsonschema_sample]
    t_js, t_check_sample = _best(
        _each(lambda op, raw: validators[op].is_valid(orjson.loads(raw)), sample),
        _each(check, sample),
    )

    progress("measuring memory")
    measured = corpus[:10_000]
    tracemalloc.start()
    for op, raw in measured:
        check_body(entries[op], raw)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    per = {
        op: [(item, texts) for item, texts in zip(corpus, inside, strict=True) if item[0] == op]
        for op in GENERATORS
    }
    rows = [
        ("responses (conformant)", f"{count:,}"),
        ("corpus size", f"{size / 1e6:.1f} MB, {size / count / 1e3:.1f} kB per response"),
        ("check, conformant", f"{count / t_check:,.0f} responses/s"),
        ("orjson.loads, same bytes", f"{count / t_parse:,.0f} responses/s"),
        ("check ÷ orjson.loads (cost ratio)", f"{t_check / t_parse:.2f}x"),
        (
            "orjson.loads of the bytes and of every JSON string inside",
            f"{count / t_deep:,.0f} responses/s",
        ),
        ("check ÷ that full parse", f"{t_check / t_deep:.2f}x"),
        # Checking must read the JSON inside strings; this is what reading it alone costs.
        ("that full parse ÷ orjson.loads", f"{t_deep / t_parse:.2f}x"),
        ("check without the invariants (types alone) ÷ orjson.loads", f"{t_types / t_parse:.2f}x"),
        (
            f"check, drifted at the root ({len(drifted):,})",
            f"{len(drifted) / t_drift:,.0f} responses/s ({findings['root']:,} findings); "
            f"{t_drift / t_drift_parse:.1f}x orjson",
        ),
        (
            f"check, drifted deep inside a result ({len(deep):,})",
            f"{len(deep) / t_drift_deep:,.0f} responses/s ({findings['deep']:,} findings); "
            f"{t_drift_deep / t_drift_deep_parse:.1f}x orjson",
        ),
        (
            # The yardstick as it is: `contracts jsonschema` as exported, validated
            # as the package validates by default. It does less than the check (objects open,
            # the JSON inside strings not decoded: contentSchema is an annotation), so the
            # ratio understates the check's lead.
            f"jsonschema Draft 2020-12 ({len(sample):,} responses; open objects, JSON strings "
            "not decoded: less than the check does)",
            f"{len(sample) / t_js:,.0f} responses/s",
        ),
        ("jsonschema ÷ check (same sample)", f"{t_js / t_check_sample:.1f}x slower than check"),
        (f"peak traced allocation, checking {len(measured):,}", f"{traced_peak / 1e6:.1f} MB"),
        ("peak RSS of the process (corpus included)", f"{peak_rss / 1024:.0f} MiB"),
    ]
    for op, pairs in per.items():
        bodies = [item for item, _ in pairs]
        t_op, t_op_parse, t_op_deep = _best(
            _each(check, bodies),
            _each(parse, bodies),
            parse_all(bodies, [texts for _, texts in pairs]),
        )
        avg = sum(len(raw) for _, raw in bodies) / max(len(bodies), 1) / 1e3
        rows.append(
            (
                f"  {op} ({avg:.1f} kB avg)",
                f"{len(bodies) / t_op:,.0f}/s, {t_op / t_op_parse:.2f}x orjson, "
                f"{t_op / t_op_deep:.2f}x full parse "
                f"(full parse {t_op_deep / t_op_parse:.2f}x orjson)",
            )
        )
    return BenchResult(rows)


def write_capture(path: Path, lines: int, *, drift_every: int = 100, seed: int = 20261121) -> int:
    """A JSONL capture of `lines` interactions (a pool of 2,000 realistic responses in turn,
    every `drift_every`-th one drifted), streamed to disk. Returns its size in bytes."""
    pool = build_corpus(2_000, seed)
    drifted = drift(pool[:200])
    size = 0
    with path.open("w", encoding="utf-8") as stream:
        for index in range(lines):
            operation, body = (
                drifted[index % 200] if index % drift_every == 7 else pool[index % 2_000]
            )
            line = json.dumps(
                {
                    "operation": operation,
                    "status": 200,
                    "headers": {"Content-Type": "application/json"},
                    "body": body.decode(),
                }
            )
            size += stream.write(line + "\n")
    return size


def run_scan_bench(
    lines: int, workers: int | None, directory: Path, progress: Callable[[str], None] | None = None
) -> BenchResult:
    """Scan captures of lines/10 and lines lines; report throughput and peak memory of each."""
    rows: list[tuple[str, str]] = []
    directory.mkdir(parents=True, exist_ok=True)
    for count in (max(1, lines // 10), lines):
        capture = directory / f"capture-{count}.jsonl"
        try:  # a capture is hundreds of megabytes: removed however the run ends
            interactions, seconds, used, parent_kib, worker_kib, distinct, size = _scan_capture(
                capture, count, workers, progress
            )
        finally:
            capture.unlink(missing_ok=True)
        rows += [
            (
                f"{count:,} lines ({size / 2**20:,.0f} MiB)",
                # The whole command, as a user times it: starting the workers (each imports
                # aliconform and loads the contracts) weighs on the smaller capture.
                f"{interactions / seconds:,.0f} interactions/s on {used} workers, {size / 2**20 / seconds:,.1f} MiB/s, {seconds:,.1f} s (worker start-up included)",
            ),
            (
                f"  peak RSS, {count:,} lines",
                f"reader {parent_kib / 1024:,.0f} MiB, largest worker {worker_kib / 1024:,.0f} MiB; {distinct} distinct findings",
            ),
        ]
    return BenchResult(rows)


def _scan_capture(
    capture: Path, count: int, workers: int | None, progress: Callable[[str], None] | None
) -> tuple[int, float, int, int, int, int, int]:
    """Write a capture of count lines and scan it in a fresh process, so that each
    peak-memory figure is its own: (interactions, seconds, workers, reader KiB, largest worker
    KiB, distinct findings, capture bytes)."""
    import subprocess
    import sys

    if progress:
        progress(f"writing a {count:,}-line capture")
    size = write_capture(capture, count)
    if progress:
        progress(f"scanning {count:,} lines")
    script = (
        "import json, resource, sys, time\n"
        "from pathlib import Path\n"
        "from aliconform.scan import scan_file\n"
        f"r = scan_file(Path({str(capture)!r}), workers={workers!r})\n"
        "me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([r.interactions, r.seconds, r.workers, me, kids, len(r.aggregates)]))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    interactions, seconds, used, parent_kib, worker_kib, distinct = json.loads(
        output.splitlines()[-1]
    )
    return interactions, seconds, used, parent_kib, worker_kib, distinct, size
