"""Assembling a DriftReport from what a run checked and the verdict on what it found."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from aliconform import __version__
from aliconform.cassettes.replay import ReplayRun
from aliconform.cassettes.scrub import scrub_body, scrub_finding, scrub_text
from aliconform.contracts import ContractSet
from aliconform.drift.doclint import documentation_source
from aliconform.drift.excerpt import ExcerptLine, response_excerpt
from aliconform.drift.findings import Finding, Kind, Severity, generalise, path_order
from aliconform.drift.policy import SEVERITY_RATIONALE
from aliconform.drift.waivers import DriftPolicy, Verdict, Waiver, judge
from aliconform.fuzz.runner import FuzzCase, FuzzRun
from aliconform.record import RecordRun, ScenarioResult
from aliconform.report.model import (
    BehaviourChangeModel,
    CheckedSource,
    DriftReport,
    ExcerptLineModel,
    FuzzOperationStats,
    FuzzStats,
    OperationSummary,
    RecordedScenario,
    ReportFinding,
    ReportProblem,
    ReportVerdict,
    ScanStats,
    Section,
    WaiverNote,
    finding_key,
)
from aliconform.scan import DEFAULT_UNREADABLE_LIMIT, ScanResult, UnreadableLimit
from aliconform.secrets import secret_redactor

__all__ = [
    "ReportInput",
    "build_report",
    "fuzz_report",
    "record_report",
    "replay_report",
    "scan_report",
]


@dataclass(frozen=True)
class Occurrences:
    """How often an aggregated finding was seen, and where: lines of a scanned file, and the
    distinct values observed (at most a few, the earliest first)."""

    count: int = 1
    first: int | None = None
    last: int | None = None
    examples: Sequence[int] = ()
    observed: Sequence[str] = ()
    more_observed: bool = False
    excerpt: Sequence[ExcerptLine] | None = None  # laid out already (from a body too long to keep)


@dataclass
class ReportInput:
    """What a run checked: the sources, their bodies (for excerpts) and its findings."""

    sources: list[CheckedSource]
    bodies: Mapping[str, bytes | str]
    findings: list[Finding]
    section_of: Callable[[Finding], Section]


def build_report(
    *,
    run: Literal["replay", "scan", "check", "record", "fuzz"],
    title: str,
    data: ReportInput,
    policy: DriftPolicy,
    operations: Sequence[str],
    problems: Sequence[ReportProblem] = (),
    problems_fail: bool = True,
    inputs: Mapping[str, str] | None = None,
    scan: ScanStats | None = None,
    fuzz: FuzzStats | None = None,
    counts: Mapping[str, Occurrences] | None = None,
    checked: Mapping[str, int] | None = None,
    waiver_scope: Sequence[str] | None = None,
    now: dt.datetime | None = None,
) -> DriftReport:
    """waiver_scope: operations whose unused waivers are reported (default: operations).
    problems_fail: whether the problems decide the verdict (exit 2), or are only listed.

    counts: for aggregated runs (a scan, a property-based run), finding id -> how often and
    where each distinct finding was seen."""
    scope = operations if waiver_scope is None else waiver_scope
    verdict = judge(data.findings, policy, operations=scope, today=(now or _now()).date())
    # (finding, the waiver accepting it, the expired one that would have)
    rows: list[tuple[Finding, Waiver | None, Waiver | None]]
    rows = [(f, None, verdict.lapsed(f)) for f in verdict.new]
    rows += [(f, w, None) for f, w in verdict.waived]
    excerpted = _first_at_each_place()
    with secret_redactor() as redact:
        findings = [
            _finding(f, waiver, lapsed, data, counts, excerpted(f), redact)
            for f, waiver, lapsed in rows
        ]
    _make_ids_unique(findings)  # before repeats point at ids
    findings = _mark_repeats(findings, data)
    # New before waived, then by severity: a new warning is read before an accepted breaking
    # contradiction of the documentation.
    findings.sort(
        key=lambda f: (f.status != "new", -f.severity.rank, f.operation, path_order(f.path))
    )
    sources = [_with_counts(source, findings) for source in data.sources]
    return DriftReport(
        tool_version=__version__,
        generated_at=now or _now(),
        run=run,
        title=title,
        inputs={**(inputs or {}), "policy": policy.origin},
        verdict=_verdict(findings, problems if problems_fail else (), scan),
        operations=_summaries(operations, sources, findings, checked),
        findings=findings,
        sources=sources,
        waivers=_waiver_notes(verdict),
        problems=list(problems),
        severity_rationale={
            k.value: f"{s.value}: {why}" for k, (s, why) in SEVERITY_RATIONALE.items()
        },
        scan=scan,
        fuzz=fuzz,
    )


def _make_ids_unique(findings: Sequence[ReportFinding]) -> None:
    """Two findings can share every part of an id: two divergences of one aspect on one field,
    or two keys that differ only in characters a pointer shows as their escapes. The second
    and later get their ordinal in the id (the run's order is the same each time), so that an
    id is one finding: `report diff` refuses a report where it is not."""
    seen: Counter[str] = Counter()
    for finding in findings:
        seen[finding.id] += 1
        if seen[finding.id] > 1:
            ordinal = f"{finding.id}\x1f{seen[finding.id]}"
            finding.id = hashlib.sha256(ordinal.encode("utf-8")).hexdigest()[:16]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@functools.lru_cache(maxsize=8)  # a response with many findings is scrubbed once
def _scrubbed(body: bytes | str) -> bytes | str:
    if isinstance(body, bytes):
        return scrub_body(body)
    return scrub_body(body.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")


#: How many findings of one kind at one place (array indices as '*') in one source carry a
#: response excerpt: a drift in every element of a 10,000-element array is 10,000 findings
#: whose excerpts differ only in the index, and would make the reports tens of megabytes.
#: The place of an undocumented key is its object: the only kind whose places the response
#: rather than the contract decides (an object of 20,000 keys), and whose excerpts all show
#: the same object.
EXCERPTS_PER_PLACE = 3


def _first_at_each_place() -> Callable[[Finding], bool]:
    seen: Counter[tuple[str | None, str, Kind]] = Counter()

    def first(finding: Finding) -> bool:
        path = finding.path
        if finding.kind is Kind.UNDOCUMENTED_FIELD:
            path = path.rpartition("/")[0]
        place = (finding.source, generalise(path), finding.kind)
        seen[place] += 1
        return seen[place] <= EXCERPTS_PER_PLACE

    return first


def _finding(
    finding: Finding,
    waiver: Waiver | None,
    lapsed: Waiver | None,
    data: ReportInput,
    counts: Mapping[str, Occurrences] | None,
    with_excerpt: bool,
    redact: Callable[[str], str],
) -> ReportFinding:
    finding = scrub_finding(finding)  # a hand-edited cassette or a capture may quote secrets
    section = data.section_of(finding)
    key = finding_key(finding, section)
    seen = (counts or {}).get(key, Occurrences())
    body = data.bodies.get(finding.source or "")
    lines: Sequence[ExcerptLine] = ()
    if with_excerpt and seen.excerpt is not None:
        lines = seen.excerpt
    elif with_excerpt and body is not None:
        lines = response_excerpt(_scrubbed(body), finding.path, finding.decoded_at)
    # What a report quotes of a response passes the secret scan the reports are held to.
    excerpt = [
        ExcerptLineModel(number=line.number, text=redact(scrub_text(line.text)), hit=line.hit)
        for line in lines
    ]
    return ReportFinding(
        id=key,
        section=section,
        status="waived" if waiver else "new",
        waiver=waiver.id if waiver else None,
        lapsed_waiver=lapsed.id if lapsed else None,
        operation=finding.operation,
        kind=finding.kind.value,
        severity=finding.severity,
        severity_reason=finding.severity_reason,
        path=finding.path,
        decoded_at=list(finding.decoded_at),
        message=redact(finding.message),
        expected=redact(finding.expected)
        if isinstance(finding.expected, str)
        else finding.expected,
        observed=redact(finding.observed)
        if isinstance(finding.observed, str)
        else finding.observed,
        field=finding.field,
        contract_location=finding.contract_location,
        rule=finding.rule,
        source=finding.source,
        excerpt=excerpt,
        count=seen.count,
        first_seen=seen.first,
        last_seen=seen.last,
        example_lines=list(seen.examples),
        observed_values=[redact(value) for value in seen.observed]
        if len(seen.observed) > 1
        else [],
        more_observed_values=seen.more_observed,
    )


def _mark_repeats(findings: list[ReportFinding], data: ReportInput) -> list[ReportFinding]:
    """A cassette derived from a documentation example replays that example: each finding it
    shares with the documentation lint of the same example (same kind, place and observed
    value) points at the lint's finding, and the counts count it once, there."""
    derived_from = {
        source.id: f"documentation {source.documentation}"
        for source in data.sources
        if source.section != "documentation" and source.documentation
    }
    if not derived_from:
        return findings

    def identity(finding: ReportFinding, source: str | None) -> tuple[object, ...]:
        # Judged alike too: a repeat that a waiver does not cover, or that a severity override
        # for its source judges otherwise, is counted on its own.
        where = (finding.path, tuple(finding.decoded_at))
        judged = (finding.status, finding.severity)
        return (source, finding.operation, finding.kind, where, finding.observed, judged)

    linted = {
        identity(f, f.source): f.id for f in findings if f.section == "documentation" and f.source
    }
    marked = []
    for finding in findings:
        example = derived_from.get(finding.source or "")
        lint_id = linted.get(identity(finding, example)) if example else None
        marked.append(finding.model_copy(update={"repeats": lint_id}) if lint_id else finding)
    return marked


def _with_counts(source: CheckedSource, findings: list[ReportFinding]) -> CheckedSource:
    mine = [f for f in findings if f.source == source.id]
    new = [f for f in mine if f.status == "new"]
    worst = max((f.severity for f in new), key=lambda s: s.rank, default=None)
    return source.model_copy(
        update={"new": len(new), "waived": len(mine) - len(new), "worst": worst}
    )


def _summaries(
    operations: Sequence[str],
    sources: list[CheckedSource],
    findings: list[ReportFinding],
    checked: Mapping[str, int] | None,
) -> list[OperationSummary]:
    summaries = {name: OperationSummary(operation=name) for name in operations}
    for source in sources:
        if source.section == "documentation":
            # The pages' own examples are the lint's: an operation whose run checked no
            # response of its own says 0, not 1 for its page's example.
            continue
        summaries.setdefault(
            source.operation, OperationSummary(operation=source.operation)
        ).checked += 1
    for name, count in (checked or {}).items():
        summaries.setdefault(name, OperationSummary(operation=name)).checked = count
    for finding in findings:
        if finding.repeats:
            continue  # counted once, as the finding it repeats
        summary = summaries.setdefault(
            finding.operation, OperationSummary(operation=finding.operation)
        )
        if finding.status == "waived":
            summary.waived += finding.count
        else:
            field = finding.severity.value
            setattr(summary, field, getattr(summary, field) + finding.count)
    return sorted(summaries.values(), key=lambda s: s.operation)


def _waiver_notes(verdict: Verdict) -> list[WaiverNote]:
    problems: list[tuple[Literal["expired", "unused"], list[Waiver]]] = [
        ("expired", verdict.expired),
        ("unused", verdict.unused),
    ]
    return [
        WaiverNote(
            id=w.id,
            operation=w.operation,
            kind=w.kind.value,
            reason=w.reason,
            expires=w.expires,
            problem=problem,
        )
        for problem, waivers in problems
        for w in waivers
    ]


def _verdict(
    findings: list[ReportFinding], problems: Sequence[ReportProblem], scan: ScanStats | None
) -> ReportVerdict:
    counted = [f for f in findings if not f.repeats]  # a repeat is counted as what it repeats
    new = [f for f in counted if f.status == "new"]
    breaking = sum(1 for f in new if f.severity is Severity.BREAKING)
    if problems:
        first = problems[0]
        if scan is None and len(problems) > 1:
            headline = f"{len(problems)} input(s) could not be checked"
        elif scan is None and first.where:  # the one input it names: a cassette, an endpoint
            headline = f"{first.where}: {first.message}"
        else:  # a scan fails on its lines as a whole, which its first problem states
            headline = first.message
        exit_code = 2
    elif breaking:
        seen = _seen(new, Severity.BREAKING)
        headline = (
            f"{breaking} new breaking finding(s){f' ({seen})' if seen else ''}: responses "
            "differ from the documentation in ways that break parsing code"
        )
        exit_code = 1
    else:
        warnings = sum(1 for f in new if f.severity is Severity.WARNING)
        seen = _seen(new, Severity.WARNING)
        headline = "No new breaking drift" + (
            f" ({warnings} new warning(s){f', {seen}' if seen else ''})" if warnings else ""
        )
        exit_code = 0
    return ReportVerdict(
        passed=exit_code == 0,
        exit_code=exit_code,
        new_breaking=breaking,
        new=len(new),
        waived=len(counted) - len(new),
        headline=headline,
    )


def _seen(findings: list[ReportFinding], severity: Severity) -> str:
    """How often aggregated findings (a scan, a property-based run) were seen, which is what
    the per-operation counts add up; empty when each was seen once."""
    occurrences = sum(f.count for f in findings if f.severity is severity)
    distinct = sum(1 for f in findings if f.severity is severity)
    return "" if occurrences == distinct else f"seen {occurrences} times"


def replay_report(
    run: ReplayRun,
    lint: list[Finding],
    contracts: ContractSet,
    policy: DriftPolicy,
    *,
    inputs: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> DriftReport:
    """The report of a replay run, with the documentation lint as its own section."""
    now = now or _now()
    sources, bodies = _replay_sources(run, now)
    replay_sources = {source.id for source in sources}
    for contract in contracts.values():
        for example in contract.examples:
            source = documentation_source(contract, example.location)
            bodies[source] = example.body
            sources.append(
                CheckedSource(
                    id=source,
                    section="documentation",
                    operation=contract.operation,
                    status=example.status,
                    origin="documentation",
                    documentation=f"{contract.sources.documentation.file} > {example.location}",
                )
            )

    def section_of(finding: Finding) -> Section:
        return "replay" if finding.source in replay_sources else "documentation"

    problems = [ReportProblem(where=p.path, message=p.message) for p in run.problems]
    data = ReportInput(sources, bodies, run.findings + lint, section_of)
    return build_report(
        run="replay",
        title="Replay of recorded interactions and documentation lint",
        data=data,
        policy=policy,
        operations=sorted(contracts),
        problems=problems,
        inputs=inputs,
        now=now,
    )


def record_report(
    recorded: RecordRun,
    contracts: ContractSet,
    policy: DriftPolicy,
    *,
    inputs: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> DriftReport:
    """The report of a recording: the new interactions checked against the contracts, what
    became of every scenario, and what changed since the previous recordings."""
    now = now or _now()
    run = recorded.replay
    sources, bodies = _replay_sources(run, now)
    written = {r.cassette.display for r in recorded.with_outcome("recorded")}
    sources = [
        source if source.cassette in written else source.model_copy(update={"written": False})
        for source in sources
    ]
    problems = [ReportProblem(where=p.path, message=p.message) for p in run.problems]
    problems += [
        ReportProblem(where=r.cassette.display, message=f"{r.scenario.name}: {r.message}")
        for r in recorded.with_outcome("failed")
    ]
    problems += _nothing_ran(recorded)
    operations = sorted({r.scenario.operation for r in recorded.results})
    verb = "Check" if recorded.check_only else "Recording"
    report = build_report(
        run="record",
        title=f"{verb} against {_endpoints(run) or recorded.target or 'the service'}",
        data=ReportInput(sources, bodies, run.findings, lambda _: "replay"),
        policy=policy,
        operations=operations,
        problems=problems,
        inputs=inputs,
        # A recording covers the scenarios run, not the cassette library the waivers are written
        # for (the documentation's, the other scenarios'): replay is where a waiver goes stale.
        waiver_scope=(),
        now=now,
    )
    return report.model_copy(
        update={
            "recording": [_recorded_scenario(r) for r in recorded.results],
            "behaviour": [BehaviourChangeModel(**asdict(c)) for c in recorded.behaviour],
        }
    )


def _nothing_ran(recorded: RecordRun) -> list[ReportProblem]:
    """A recording in which every scenario was skipped tested nothing, and must not pass: most
    often the variables naming the account's resources are not set where it runs."""
    skipped = recorded.with_outcome("skipped")
    if not skipped or len(skipped) < len(recorded.results):
        return []
    unset = sorted({name for result in skipped for name in result.unset})
    return [
        ReportProblem(
            where="scenarios",
            message=f"nothing was recorded or checked: all {len(skipped)} scenario(s) were "
            "skipped" + (f"; set {', '.join(unset)}" if unset else " (each says why)"),
        )
    ]


def _endpoints(run: ReplayRun) -> str:
    hosts = {i.provenance.endpoint for i in run.interactions if i.provenance}
    return ", ".join(sorted(h for h in hosts if h))


def _recorded_scenario(result: ScenarioResult) -> RecordedScenario:
    return RecordedScenario(
        operation=result.scenario.operation,
        scenario=result.scenario.name,
        cassette=result.cassette.display,
        outcome=result.outcome,
        message=result.message,
        attempts=result.attempts,
        retries=result.retries,
        states=result.states,
    )


def _replay_sources(
    run: ReplayRun, now: dt.datetime
) -> tuple[list[CheckedSource], dict[str, bytes | str]]:
    """One checked source per replayed interaction, with its provenance, and its body."""
    sources: list[CheckedSource] = []
    bodies: dict[str, bytes | str] = {}
    for item in run.interactions:
        provenance = item.provenance
        documentation = (
            f"{provenance.documentation.file} > {provenance.documentation.location}"
            if provenance and provenance.documentation
            else None
        )
        problem = None
        if provenance is None:
            problem = "no provenance sidecar: where this cassette came from is unknown"
        elif item.ref.display in run.stale_provenance:
            problem = "the cassette changed after its provenance was written (digest differs)"
        sources.append(
            CheckedSource(
                id=item.source,
                section="replay",
                operation=item.operation,
                status=item.status,
                cassette=item.ref.display,
                interaction=item.index,
                origin=provenance.origin if provenance else "unknown",
                recorded_at=provenance.recorded_at if provenance else None,
                age_days=provenance.age_days(now) if provenance else None,
                region=provenance.region if provenance else None,
                endpoint=provenance.endpoint if provenance else None,
                sdk=provenance.sdk if provenance else {},
                documentation=documentation,
                synthesized=provenance.synthesized if provenance else [],
                provenance_problem=problem,
            )
        )
        bodies[item.source] = item.body
    return sources, bodies


def scan_report(
    result: ScanResult,
    contracts: ContractSet,
    policy: DriftPolicy,
    *,
    inputs: Mapping[str, str] | None = None,
    max_unreadable: UnreadableLimit = DEFAULT_UNREADABLE_LIMIT,
    now: dt.datetime | None = None,
) -> DriftReport:
    """The aggregated report of a scan: each distinct finding once, with how often and where.

    Unreadable lines are listed; they fail the scan (exit 2) only when nothing could be checked
    or when there are more of them than max_unreadable allows."""
    findings = [aggregate.finding for aggregate in result.aggregates.values()]
    bodies = {
        a.finding.source or "": a.body for a in result.aggregates.values() if a.excerpt is None
    }
    counts = {
        finding_key(a.finding, "scan"): Occurrences(
            a.count, a.first, a.last, a.examples, list(a.observed), a.more_observed, a.excerpt
        )
        for a in result.aggregates.values()
    }
    problems = [
        ReportProblem(where=f"{result.file} line {s.line}", message=s.reason)
        for s in result.skipped
    ]
    # A share of the records, the lines that are not blank: blank lines between records
    # (common enough) must not let a scan that read half its records pass.
    records = result.interactions + result.skipped_count
    too_many = not max_unreadable.allows(result.skipped_count, records)
    if result.interactions == 0:
        message = "no interaction in the file could be checked"
        problems.insert(0, ReportProblem(where=result.file, message=message))
    elif too_many:
        share = 100 * result.skipped_count / records
        message = (
            f"{result.skipped_count} of {records} non-blank lines ({share:.3g}%) could not be "
            f"read, more than the {max_unreadable} allowed (--max-unreadable)"
        )
        problems.insert(0, ReportProblem(where=result.file, message=message))
    if result.skipped_count > len(result.skipped):
        problems.append(
            ReportProblem(
                where=result.file,
                message=f"{result.skipped_count - len(result.skipped)} more unreadable line(s)",
            )
        )
    stats = ScanStats(
        file=result.file,
        lines=result.lines,
        interactions=result.interactions,
        skipped_lines=result.skipped_count,
        distinct_findings=len(result.aggregates),
        seconds=round(result.seconds, 3),
        workers=result.workers,
    )
    data = ReportInput([], bodies, findings, lambda _finding: "scan")
    return build_report(
        run="scan",
        title=f"Scan of {Path(result.file).name}",
        data=data,
        policy=policy,
        operations=sorted(contracts),
        problems=problems,
        problems_fail=result.interactions == 0 or too_many,
        inputs=inputs,
        scan=stats,
        counts=counts,
        waiver_scope=(),  # a capture is a sample of traffic: a waiver unmatched here is not stale
        checked=result.operations,
        now=now,
    )


def fuzz_report(
    run: FuzzRun,
    contracts: ContractSet,
    policy: DriftPolicy,
    *,
    origin: Literal["live", "local"],
    inputs: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> DriftReport:
    """The aggregated report of a property-based run: each distinct finding once, with how many
    generated requests showed it and the first of them (its request and answer) as the example."""
    now = now or _now()
    first: dict[str, tuple[Finding, FuzzCase]] = {}
    counts: dict[str, Occurrences] = {}
    unanswered = _unanswered(run)
    for case in run.cases:
        if unanswered and case.error is not None:
            continue  # nothing answered at all: the problem says so, once, not a finding each
        for finding in case.findings:
            key = finding_key(finding, "fuzz")
            first.setdefault(key, (finding, case))
            counts[key] = Occurrences(counts.get(key, Occurrences(0)).count + 1)
    examples = {case.id: case for _, case in first.values()}
    sources = [
        CheckedSource(
            id=case.id,
            section="fuzz",
            operation=case.operation,
            status=case.status,
            origin=origin,
            endpoint=run.endpoint,
            request=case.params,
        )
        for case in examples.values()
    ]
    bodies: dict[str, bytes | str] = {case.id: case.body for case in examples.values()}
    operations = sorted({case.operation for case in run.cases} | set(run.options.operations or ()))
    checked = dict.fromkeys(operations, 0)
    for case in run.cases:  # what was judged: answered, and not refused for who sent it
        if case.error is None and case.refused is None:
            checked[case.operation] += 1
    data = ReportInput(sources, bodies, [f for f, _ in first.values()], lambda _f: "fuzz")
    return build_report(
        run="fuzz",
        title=f"Property-based run against {run.endpoint}",
        data=data,
        policy=policy,
        problems=_refusals(run) + unanswered + ([] if unanswered else _never_succeeded(run)),
        operations=operations or sorted(contracts),
        inputs=inputs,
        fuzz=_fuzz_stats(run),
        counts=counts,
        waiver_scope=(),  # generated requests are a sample: an unmatched waiver is not stale
        checked=checked,
        now=now,
    )


def _refusals(run: FuzzRun) -> list[ReportProblem]:
    """Requests the service refused for who sent them: those cases tested nothing, so the run
    cannot pass (wrong credentials must never look like a clean run)."""
    return [
        ReportProblem(
            where=run.endpoint,
            message=f"{len(cases)} of {len(run.cases)} requests were refused with {code} "
            f"(first: {cases[0].id}): check the credentials "
            "(ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, or the default chain), the clock and the "
            "endpoint; those requests tested nothing",
        )
        for code, cases in sorted(run.refused.items())
    ]


def _unanswered(run: FuzzRun) -> list[ReportProblem]:
    """A run in which no request got an answer tested nothing either: most often nothing
    listens at the endpoint. (Some unanswered requests among answered ones are findings.)"""
    if not run.cases:
        return [ReportProblem(where=run.endpoint, message="no request was sent")]
    if any(case.error is None for case in run.cases):
        return []
    return [
        ReportProblem(
            where=run.endpoint,
            message=f"none of the {len(run.cases)} requests got an answer (first: "
            f"{run.cases[0].error}): check that the endpoint is right and that something "
            "listens there; the run tested nothing",
        )
    ]


def _never_succeeded(run: FuzzRun) -> list[ReportProblem]:
    """An operation whose positive requests all got errors had its success response checked by
    nothing: every request named a task that does not exist (no scenario variable, no setup),
    or the service refused each for another reason. That run must not pass as if the responses
    conformed."""
    problems = []
    for operation in sorted({case.operation for case in run.cases if case.mode == "positive"}):
        positive = [
            c
            for c in run.cases
            if c.operation == operation and c.mode == "positive" and c.refused is None
        ]
        # All refused for who sent them: the refusal is the problem, already said.
        if not positive or any(c.status is not None and 200 <= c.status < 300 for c in positive):
            continue
        named = [c for c in positive if c.known_ids]
        if named:  # they named a real task, and still: what the service did is the cause
            advice = (
                f"the {len(named)} that named a task that exists were answered: "
                f"{_answers(named)}; see the findings"
            )
        else:
            advice = (
                "none named a task that exists: give the scenario variables of an existing "
                "task, or allow a setup call (--setup); see the notes"
            )
        problems.append(
            ReportProblem(
                where=f"{run.endpoint} {operation}",
                message=f"none of the {len(positive)} positive requests got a success answer "
                f"({_answers(positive)}), so no success response was checked; {advice}",
            )
        )
    return problems


def _answers(cases: list[FuzzCase]) -> str:
    """How cases were answered: `3 with 404, 1 with no answer`."""
    statuses = Counter(str(c.status) if c.status is not None else "no answer" for c in cases)
    return ", ".join(f"{n} with {status}" for status, n in sorted(statuses.items()))


def _fuzz_stats(run: FuzzRun) -> FuzzStats:
    per_operation: dict[str, FuzzOperationStats] = {}
    for case in run.cases:
        stats = per_operation.setdefault(
            case.operation, FuzzOperationStats(operation=case.operation)
        )
        if case.mode == "positive":
            stats.positive += 1
            stats.existing_ids += case.known_ids
        else:
            stats.negative += 1
    for name, stats in per_operation.items():
        stats.statuses = run.statuses(name)
    return FuzzStats(
        endpoint=run.endpoint,
        seed=run.options.seed,
        max_examples=run.options.max_examples,
        modes=list(run.options.modes),
        cases=len(run.cases),
        seconds=round(run.seconds, 3),
        operations=sorted(per_operation.values(), key=lambda s: s.operation),
        notes=list(run.known.notes),
    )
