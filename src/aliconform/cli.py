"""The aliconform command line.

Exit codes: 0 success; 1 the check ran and found a problem (new breaking drift, invalid
contracts, out-of-date schema); 2 usage error or unreadable input; 3 an internal error (a bug). Errors are one line each, never a traceback.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from aliconform import __version__
from aliconform.contracts import Contract, ContractSet, iter_fields, load_contracts
from aliconform.contracts.jsonschema import (
    catalog_format_schema,
    contract_format_schema,
    response_schema,
)
from aliconform.contracts.listing import field_rows
from aliconform.contracts.loader import (
    contracts_directory_problem,
    default_contracts_dir,
    documentation_page,
)
from aliconform.contracts.yamlsource import display_path
from aliconform.drift.doclint import lint_docs
from aliconform.drift.engine import check_response
from aliconform.drift.findings import Finding, Severity, escape_unprintable
from aliconform.drift.policy import SEVERITY_RATIONALE
from aliconform.drift.waivers import Verdict, judge, load_policy
from aliconform.errors import AliconformError, ContractError, did_you_mean
from aliconform.scan import DEFAULT_UNREADABLE_LIMIT, UnreadableLimit

if TYPE_CHECKING:
    from aliconform.cassettes.store import CassetteRef, MisplacedFile

__all__ = ["app", "main"]

app = typer.Typer(
    name="aliconform",
    help="Contract tests and drift reports for Alibaba Cloud IMM and ICE media-analysis APIs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rich panels cut long option names short at 80 columns and print
    # "<bool>" beside every flag.
    rich_markup_mode=None,
)
contracts_app = typer.Typer(
    help="Inspect and validate the operation contracts.", no_args_is_help=True
)
app.add_typer(contracts_app, name="contracts")
cassettes_app = typer.Typer(help="List and derive cassettes.", no_args_is_help=True)
app.add_typer(cassettes_app, name="cassettes")
report_app = typer.Typer(
    help="Compare drift reports; print the report schema.", no_args_is_help=True
)
app.add_typer(report_app, name="report")
scenarios_app = typer.Typer(
    help="Copy the recording scenarios into a project, check them, write their JSON Schema.",
    no_args_is_help=True,
)
app.add_typer(scenarios_app, name="scenarios")


class _Output(Console):
    """Standard output: closed under the run (`| head -1`), it ends it as a broken pipe ends a
    shell's commands, 128 + SIGPIPE, not rich's exit 1 (a finding, to aliconform)."""

    def on_broken_pipe(self) -> None:
        try:
            super().on_broken_pipe()  # points standard output at /dev/null, then exits
        except SystemExit:
            raise SystemExit(128 + signal.SIGPIPE) from None


# Piped output (CI logs, tox) has no terminal width; give tables room instead of 80 columns.
_WIDTH = None if sys.stdout.isatty() else 200
out = _Output(soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, soft_wrap=True, width=_WIDTH)

ContractsDir = Annotated[
    Path | None,
    typer.Option(
        "--contracts",
        "-c",
        envvar="ALICONFORM_CONTRACTS",
        help="Contracts directory (default: ./contracts, else the packaged contracts).",
        show_default=False,
    ),
]
Operation = Annotated[str, typer.Argument(help="Operation name, e.g. GetImageModerationResult.")]
Operations = Annotated[list[str] | None, typer.Option("--operation", help="Only these operations.")]


def _version(value: bool) -> None:
    if value:
        out.print(f"aliconform {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """aliconform: is the API still what its documentation promises?"""


def _load(directory: Path | None) -> ContractSet:
    return load_contracts(directory)


def _contract(directory: Path | None, operation: str) -> Contract:
    return _load(directory)[operation]


@contracts_app.command("validate")
def validate(directory: ContractsDir = None) -> None:
    """Load every contract and check it; print each problem as file:line:column: key: message."""
    root = directory or default_contracts_dir()
    problem = contracts_directory_problem(root)
    if problem is not None:  # a wrong directory is a usage error, not 1 problem
        raise AliconformError(f"{root}: {problem}")
    try:
        contracts = load_contracts(root)
    except ContractError as exc:
        for issue in exc.issues:
            err.print(str(issue), markup=False, highlight=False)
        err.print(f"[red]{len(exc.issues)} problem(s) in {escape(str(root))}[/red]")
        raise typer.Exit(1) from None
    out.print(f"[green]{len(contracts)} contracts valid[/green] in {escape(str(contracts.root))}")


@contracts_app.command("list")
def list_contracts(
    directory: ContractsDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the operations with their product, version, size and sources."""
    contracts = _load(directory)
    rows = [_summary(contract) for contract in contracts.values()]
    if as_json:
        out.print_json(data=rows)
        return
    table = Table(title=escape(f"Contracts in {contracts.root}"))
    for column in (
        "operation",
        "product",
        "api",
        "fields",
        "invariants",
        "errors",
        "examples",
        "page",
        "updated",
    ):
        table.add_column(
            column,
            justify="right" if column in ("fields", "invariants", "errors", "examples") else "left",
        )
    for row in rows:
        table.add_row(
            *(
                str(row[key])
                for key in (
                    "operation",
                    "product",
                    "api_version",
                    "fields",
                    "invariants",
                    "error_codes",
                    "examples",
                    "document",
                    "last_updated",
                )
            )
        )
    out.print(table)


def _summary(contract: Contract) -> dict[str, Any]:
    doc = contract.sources.documentation
    return {
        "operation": contract.operation,
        "product": contract.product,
        "api_version": contract.api_version,
        "fields": sum(1 for _ in iter_fields(contract)),
        "invariants": len(contract.invariants),
        "error_codes": len(contract.error_codes()),
        "examples": len(contract.examples),
        "document": doc.file,
        "last_updated": doc.last_updated.isoformat() if doc.last_updated else "not shown",
        "contract": contract.path,
    }


@contracts_app.command("show")
def show(operation: Operation, directory: ContractsDir = None) -> None:
    """Show one contract: request, response tree, invariants and errors."""
    contract = _contract(directory, operation)
    doc = contract.sources.documentation
    sdk = contract.sources.sdk
    out.print(
        f"[bold]{contract.operation}[/bold] ({contract.product_name} {contract.api_version}, {contract.style} {'/'.join(contract.methods)})"
    )
    out.print(contract.summary)
    out.print(f"endpoint: {contract.endpoint.pattern} ({len(contract.endpoint.regions)} regions)")
    page = documentation_page(contract)
    out.print(
        f"documentation: {doc.file} '{doc.title}', last updated {doc.last_updated or 'not shown'}"
        + (f" ({display_path(page)})" if page is not None else ""),
        markup=False,
        highlight=False,
    )
    out.print(f"sdk: {sdk.package} {sdk.version} {sdk.response_model}")
    out.print(f"contract: {contract.path}\n", markup=False)

    params = Table(title="Request parameters")
    for column in ("name", "in", "type", "required", "enum", "example"):
        params.add_column(column)
    for name, param in contract.request.parameters.items():
        params.add_row(
            name,
            param.location,
            param.type or f"ref {param.ref}",
            "yes" if param.required else "",
            ", ".join(param.enum or ()),
            _short(param.example),
        )
    out.print(params)

    tree = Tree("[bold]Response[/bold]")
    nodes: dict[str, Tree] = {}
    for entry in iter_fields(contract):
        parent_path = _parent(entry.path)
        parent = nodes.get(parent_path, tree) if parent_path else tree
        label = f"{_leaf(entry.path)} [cyan]{entry.spec.type}[/cyan]"
        if entry.spec.required:
            label += " [bold]required[/bold]"
        if entry.spec.enum:
            label += f" enum({', '.join(entry.spec.enum)})"
        if entry.spec.format:
            label += f" format={entry.spec.format}"
        label += f" [dim]{'+'.join(s.value for s in entry.sources)}[/dim]"
        if entry.recursive:
            label += " [dim](recursive)[/dim]"
        nodes[entry.path] = parent.add(label)
    out.print(tree)

    if contract.invariants:
        out.print("\n[bold]Invariants[/bold]")
        for inv in contract.invariants:
            out.print(f"  {inv.id} ({inv.kind}): {inv.description}", markup=False)
    codes = contract.error_codes()
    out.print(
        f"\n[bold]Errors[/bold] (envelope {contract.errors.envelope}; groups {', '.join(contract.errors.include) or 'none'}): {len(codes)} codes"
    )
    for code, spec in contract.errors.codes.items():
        out.print(f"  {spec.http_status} {code}: {spec.message or ''}", markup=False)


def _parent(path: str) -> str:
    """The enclosing field's path: strip the last `.name`, `[]` or `(Variant)`."""
    if path.endswith("[]"):
        return path[:-2]
    depth = 0
    for index in range(len(path) - 1, -1, -1):
        char = path[index]
        if char == ")":
            depth += 1
        elif char == "(":
            depth -= 1
            if depth == 0 and path.endswith(")") and index > 0:
                return path[:index]
        elif char == "." and depth == 0:
            return path[:index]
    return ""


def _leaf(path: str) -> str:
    parent = _parent(path)
    return path[len(parent) :].lstrip(".") if parent else path


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


@contracts_app.command("fields")
def fields(
    operation: Operation,
    directory: ContractsDir = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array, one object per field.")
    ] = False,
) -> None:
    """List every response field with its path, type, constraints and source."""
    contract = _contract(directory, operation)
    rows = field_rows(contract)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{operation}: {len(rows)} fields")
    for column in ("path", "type", "required", "enum", "format", "source"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["path"],
            row["type"],
            "yes" if row["required"] else "",
            ", ".join(row["enum"] or ()),
            row["format"] or "",
            row["source"],
        )
    out.print(table)


@contracts_app.command("jsonschema")
def jsonschema(
    operation: Operation,
    directory: ContractsDir = None,
    closed: Annotated[bool, typer.Option("--closed", help="Forbid undocumented keys.")] = False,
) -> None:
    """Print the JSON Schema (Draft 2020-12) of the operation's success response."""
    contract = _contract(directory, operation)
    sys.stdout.write(
        json.dumps(response_schema(contract, closed=closed), indent=2, ensure_ascii=False) + "\n"
    )


@contracts_app.command("schema")
def schema(
    directory: ContractsDir = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only report whether the files are current.")
    ] = False,
) -> None:
    """Write the contract format's JSON Schema (schema.json, errors.schema.json) for editors."""
    root = directory or default_contracts_dir()
    problem = contracts_directory_problem(root)
    if problem is not None:  # not a contracts directory: nothing to write beside, or compare
        raise AliconformError(f"{root}: {problem}")
    stale = []
    for name, document in (
        ("schema.json", contract_format_schema()),
        ("errors.schema.json", catalog_format_schema()),
    ):
        target = root / name
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            continue
        stale.append((target, "is out of date" if current is not None else "is missing"))
        if not check:
            _write_file(target, text)
            out.print(f"wrote {target}", markup=False)
    if check and stale:
        for target, state in stale:
            err.print(
                f"{target} {state}: run 'aliconform contracts schema'",
                markup=False,
                highlight=False,
            )
        raise typer.Exit(1)
    if not stale:
        out.print("schema files are current")


ScenariosFile = Annotated[
    Path | None,
    typer.Option(
        "--scenarios",
        help="The recording scenarios (default: ./scenarios.yaml, else the shipped ones).",
        show_default=False,
    ),
]


def _scenarios_path(given: Path | None) -> Path:
    from aliconform.record import default_scenarios_file

    return given if given is not None else default_scenarios_file()


@scenarios_app.command("check")
def scenarios_check(scenarios_file: ScenariosFile = None, directory: ContractsDir = None) -> None:
    """Check the scenarios file against the contracts, calling nothing: every problem with its
    line (exit 1, as `contracts validate`), else how many scenarios of which operations (exit
    0). A file that is not there to check is a usage error (exit 2)."""
    from aliconform.record import ScenarioError, load_scenarios

    scenarios_file = _scenarios_path(scenarios_file)
    if scenarios_file.is_dir():
        raise AliconformError(f"{scenarios_file}: a directory; name the scenarios file")
    if not scenarios_file.exists():
        raise AliconformError(f"{scenarios_file}: no such scenarios file")
    try:
        loaded = load_scenarios(scenarios_file, _load(directory))
    except ScenarioError as exc:
        for issue in exc.issues:
            err.print(str(issue), markup=False, highlight=False)
        err.print(f"{len(exc.issues)} problem(s) in {scenarios_file}", style="red", markup=False)
        raise typer.Exit(1) from None
    operations = sorted({item.operation for item in loaded})
    out.print(
        f"{scenarios_file}: {len(loaded)} scenarios valid, for {', '.join(operations)}",
        markup=False,
        highlight=False,
    )


@scenarios_app.command("init")
def scenarios_init(
    into: Annotated[
        Path, typer.Option("--dir", help="Where to write scenarios.yaml and its schema.")
    ] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
) -> None:
    """Copy the shipped scenarios (and their schema) into your project, to edit: the same
    calls, reading every account detail from environment variables."""
    from aliconform.record import ScenarioFile, default_scenarios_file

    source = default_scenarios_file()
    if not source.is_file():
        raise AliconformError("no scenarios ship with this installation")
    files = {
        into / "scenarios.yaml": source.read_text("utf-8"),
        into / "scenarios.schema.json": _schema_text(ScenarioFile.model_json_schema()),
    }
    there = [str(path) for path in files if path.exists()]
    if there and not force:
        raise AliconformError(f"{', '.join(there)} already there; --force overwrites")
    for path, text in files.items():
        _write_file(path, text)
        out.print(f"wrote {path}", markup=False, highlight=False)


def _schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


@scenarios_app.command("schema")
def scenarios_schema(
    out_file: Annotated[
        Path, typer.Option("--out", "-o", help="Where the schema is written.")
    ] = Path("scenarios.schema.json"),
    check: Annotated[
        bool, typer.Option("--check", help="Only report whether the file is current.")
    ] = False,
) -> None:
    """Write the JSON Schema of the scenarios file, which scenarios.yaml names for editors."""
    from aliconform.record import ScenarioFile

    text = _schema_text(ScenarioFile.model_json_schema())
    current = out_file.read_text(encoding="utf-8") if out_file.is_file() else None
    if current == text:
        out.print(f"{out_file} is current", markup=False, highlight=False)
    elif check:
        state = "is out of date" if current is not None else "is missing"
        err.print(
            f"{out_file} {state}: run 'aliconform scenarios schema'", markup=False, highlight=False
        )
        raise typer.Exit(1)
    else:
        _write_file(out_file, text)
        out.print(f"wrote {out_file}", markup=False, highlight=False)


Format = Annotated[
    str, typer.Option("--format", "-f", help="Output: text or json.", case_sensitive=False)
]
PolicyFile = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="Drift policy file (default: ./drift-policy.yaml, else the one beside the contracts "
        "directory, else the one shipped with the packaged contracts; the run prints which).",
    ),
]
# The JSON `check` and `lint-docs` print, named and versioned as drift.json is
# (`format`, `format_version`): the version changes only when a field is removed or changes meaning.
FINDINGS_FORMAT = "aliconform-findings"
FINDINGS_FORMAT_VERSION = 1


def _output_format(value: str) -> str:
    value = value.lower()
    if value not in ("text", "json"):
        raise typer.BadParameter(f"'{value}' is not one of text, json", param_hint="--format")
    return value


@app.command("check")
def check(
    operation: Operation,
    file: Annotated[Path, typer.Argument(help="Response body file; - reads standard input.")],
    status: Annotated[
        int, typer.Option("--status", help="HTTP status of the response.", min=100, max=599)
    ] = 200,
    output: Format = "text",
    directory: ContractsDir = None,
    policy_file: PolicyFile = None,
) -> None:
    """Check one response body against the operation's contract. Exit 1 on new breaking drift."""
    output = _output_format(output)
    contracts = _load(directory)
    contract = contracts[operation]
    if str(file) == "-":
        body, source = sys.stdin.buffer.read(), "<stdin>"
    else:
        try:
            body, source = file.read_bytes(), str(file)
        except OSError as exc:
            raise AliconformError(f"{file}: cannot read file: {exc.strerror or exc}") from None
    findings = check_response(contract.operation, body, status, contracts=contracts, source=source)
    policy = load_policy(policy_file, operations=contracts)
    verdict = judge(findings, policy, operations=[])
    _emit(verdict, output, f"{operation} {source}", policy.origin)
    if _is_capture(body):
        # check reads one body; a capture is scan's, and every line of it would be one finding
        shown = "standard input" if source == "<stdin>" else source
        err.print(
            f"{shown} holds JSON documents with operation and body, one per line: a capture. "
            f"`aliconform scan {'-' if source == '<stdin>' else shlex.quote(source)}` checks it.",
            markup=False,
        )
    raise typer.Exit(verdict.exit_code)


def _is_capture(body: bytes) -> bool:
    """Whether a body given to check is a capture's first lines (what scan reads), one line
    included: no response of these operations has operation and body at its top."""
    first = body.lstrip().partition(b"\n")[0]
    try:
        line = json.loads(first)
    except ValueError:
        return False
    return isinstance(line, dict) and "operation" in line and "body" in line


@app.command("lint-docs")
def lint_docs_command(
    output: Format = "text",
    directory: ContractsDir = None,
    policy_file: PolicyFile = None,
) -> None:
    """Check the documentation's own examples against its tables; list its contradictions."""
    output = _output_format(output)
    contracts = _load(directory)
    policy = load_policy(policy_file, operations=contracts)
    verdict = judge(lint_docs(contracts), policy, operations=list(contracts))
    _emit(verdict, output, "documentation lint", policy.origin)
    raise typer.Exit(verdict.exit_code)


def _emit(verdict: Verdict, output: str, title: str, policy: str) -> None:
    """The verdict on the console (as text or JSON), its findings scrubbed: it lands in logs;
    policy: where the drift policy that judged it came from."""
    from aliconform.cassettes.scrub import scrub_finding
    from aliconform.report.grouping import group_findings
    from aliconform.secrets import secret_redactor

    with secret_redactor() as redact:  # any vendor's secret a response carries, as reports do

        def withheld(finding: Finding) -> Finding:
            finding = scrub_finding(finding)
            observed = finding.observed
            return replace(
                finding,
                message=redact(finding.message),
                observed=redact(observed) if isinstance(observed, str) else observed,
            )

        verdict = verdict.map(withheld)
    if output == "json":
        data = _verdict_json(verdict) | {"policy": policy}
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    rows: list[tuple[Finding, str | None]] = [(f, None) for f in verdict.new]
    rows += [(f, w.id) for f, w in verdict.waived]
    if rows:
        table = Table(
            title=escape(f"{title}: {len(verdict.new)} new, {len(verdict.waived)} waived")
        )
        for column in ("severity", "kind", "operation", "path", "message", "contract", "waiver"):
            table.add_column(column, overflow="fold")
        # One row per drift: the same one in every element of an array is one row, counted.
        for group in group_findings(rows, lambda row: row[0], lambda row: row[1]):
            finding, waiver_id = group.first
            # Text, not markup: paths and messages quote the response ("[/x]" is no closing tag).
            table.add_row(
                *map(
                    Text,
                    (
                        finding.severity.value,
                        finding.kind.value,
                        finding.operation,
                        group.where(),
                        finding.message,
                        finding.contract_location or "",
                        waiver_id or "",
                    ),
                )
            )
        out.print(table)
    else:
        out.print(f"{escape(title)}: [green]conforms[/green], no findings", highlight=False)
    for waiver in verdict.expired:
        out.print(
            f"[yellow]expired waiver[/yellow] {escape(waiver.id)} (expired {waiver.expires}): "
            f"{escape(waiver.reason)}"
        )
    for waiver in verdict.unused:
        out.print(
            f"[yellow]unused waiver[/yellow] {escape(waiver.id)}: it matched nothing in this run"
        )
    out.print(f"drift policy: {policy}", markup=False, highlight=False)
    breaking = len(verdict.new_breaking)
    out.print(f"[{'red' if breaking else 'green'}]{breaking} new breaking finding(s)[/]")


def _verdict_json(verdict: Verdict) -> dict[str, Any]:
    def row(finding: Finding, waiver: str | None) -> dict[str, Any]:
        return {**finding.to_dict(), "waived_by": waiver}

    return {
        "format": FINDINGS_FORMAT,
        "format_version": FINDINGS_FORMAT_VERSION,
        "schema_version": FINDINGS_FORMAT_VERSION,  # its earlier name, kept for its readers
        "passed": verdict.passed,
        "findings": [row(f, None) for f in verdict.new] + [row(f, w.id) for f, w in verdict.waived],
        "expired_waivers": [w.id for w in verdict.expired],
        "unused_waivers": [w.id for w in verdict.unused],
        "severity_rationale": {
            k.value: {"severity": s.value, "why": why} for k, (s, why) in SEVERITY_RATIONALE.items()
        },
    }


CassettesDir = Annotated[
    Path,
    typer.Option("--cassettes", envvar="ALICONFORM_CASSETTES", help="Cassettes directory."),
]


def _out_dir(path: Path) -> Path:
    """The reports' directory, refused before any work when a file stands where it would be.
    (Whether it can be written is tried by each command, once it knows it will write.)"""
    for place in (path, *path.parents):
        try:
            if not place.exists():
                continue
        except OSError:  # a parent that may not be looked into: the command's try says so
            break
        if not place.is_dir():
            raise typer.BadParameter(f"{place} is a file, not a directory")
        break
    return path


OutDir = Annotated[
    Path,
    typer.Option("--out", "-o", help="Directory the reports are written to.", callback=_out_dir),
]


@app.command("replay")
def replay(
    cassettes: CassettesDir = Path("cassettes"),
    directory: ContractsDir = None,
    out_dir: OutDir = Path("reports"),
    policy_file: PolicyFile = None,
) -> None:
    """Replay every cassette offline, check it and lint the docs; write the reports.

    Exit 0: no new breaking drift; 1: new breaking drift; 2: usage error, unreadable input, or
    no cassette to replay.
    """
    from aliconform.cassettes.replay import replay_all
    from aliconform.report import check_report_directory, replay_report, write_reports

    contracts = _load(directory)
    policy = load_policy(policy_file, operations=contracts)
    check_report_directory(out_dir)
    with err.status("replaying") as status:
        run = replay_all(
            cassettes,
            contracts,
            progress=lambda ref: status.update(escape(f"replaying {ref.shown}")),
        )
    if not run.interactions and not run.problems:  # a run that checks nothing must not pass
        raise AliconformError(_no_cassettes(cassettes))
    report = replay_report(
        run,
        lint_docs(contracts),
        contracts,
        policy,
        inputs={
            "cassettes": str(cassettes),
            "contracts": str(directory or default_contracts_dir()),
        },
    )
    files = write_reports(report, out_dir)
    _print_summary(report)
    out.print(
        f"reports: {files.html}, {files.json}, {files.junit}, {files.markdown}",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(report.verdict.exit_code)


def _print_summary(report: Any) -> None:
    from aliconform.report.model import OPERATION_COUNTS

    table = Table(title=escape(report.title), caption=OPERATION_COUNTS)
    for column in ("operation", "checked", "breaking", "warning", "info", "waived"):
        table.add_column(column, justify="left" if column == "operation" else "right")
    for op in report.operations:
        table.add_row(
            op.operation,
            *(str(getattr(op, c)) for c in ("checked", "breaking", "warning", "info", "waived")),
        )
    out.print(table)
    out.print(f"drift policy: {report.inputs['policy']}", markup=False, highlight=False)
    from aliconform.report.grouping import group_findings

    breaking = [f for f in report.findings if f.status == "new" and f.severity.value == "breaking"]
    for group in group_findings(breaking, lambda finding: finding):
        finding = group.first
        text = f"{finding.operation} {finding.kind} at {group.where()}: {finding.message}"
        if finding.observed_values:  # a scan saw several: the new enum values, say
            text += f" (observed {finding.observed_summary()})"
        shown = escape(text)
        repeat = " (as in the documentation lint, counted once)" if finding.repeats else ""
        if finding.lapsed_waiver:  # known drift, not drift never seen before
            repeat += escape(f" (waiver {finding.lapsed_waiver} expired)")
        out.print(
            f"[red]breaking[/red] {shown} [dim]({escape(str(finding.source))}){repeat}[/dim]",
            highlight=False,
        )
    for index, problem in enumerate(report.problems[:20]):
        if index == 0 and report.verdict.headline in (
            problem.message,
            f"{problem.where}: {problem.message}",
        ):
            continue  # the verdict line below says it
        err.print(f"cannot check {problem.where}: {problem.message}", markup=False, highlight=False)
    _print_provenance_problems(report)
    for note in report.waivers:  # a waiver past its date, or one that matched nothing
        if note.problem == "expired":
            out.print(
                f"[yellow]expired waiver[/yellow] {escape(note.id)} (expired {note.expires}): "
                f"{escape(note.reason)}",
                highlight=False,
            )
        else:
            out.print(
                f"[yellow]unused waiver[/yellow] {escape(note.id)}: it matched nothing in this run",
                highlight=False,
            )
    colour = "green" if report.verdict.passed else "red"
    out.print(f"[{colour}]{escape(report.verdict.headline)}[/{colour}]", highlight=False)


def _print_provenance_problems(report: Any) -> None:
    """A cassette edited after it was recorded (or without a sidecar) still replays, and may
    still conform; but it no longer shows what the service answered, which a reader must know."""
    problems = dict.fromkeys(
        (source.cassette, source.provenance_problem)
        for source in report.sources
        if source.provenance_problem
    )
    for cassette, problem in list(problems)[:20]:
        out.print(
            f"[yellow]provenance[/yellow] {escape(cassette or '')}: {escape(problem)}",
            highlight=False,
        )
    if len(problems) > 20:
        out.print(f"[yellow]provenance[/yellow] …and {len(problems) - 20} more in the reports")
    if problems:
        out.print(
            "[dim]Re-record those cassettes (`aliconform record`, or `aliconform cassettes "
            "derive` for doc-* ones) so that they show what the service answered.[/dim]",
            highlight=False,
        )


def _unreadable_limit(text: str | UnreadableLimit) -> UnreadableLimit:
    if isinstance(text, UnreadableLimit):  # the default, already parsed
        return text
    try:
        return UnreadableLimit.parse(text)
    except AliconformError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command("scan")
def scan(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines: one captured interaction per line; - reads standard input."
        ),
    ],
    directory: ContractsDir = None,
    out_dir: OutDir = Path("reports"),
    policy_file: PolicyFile = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-j", help="Worker processes (default: all cores).", min=1),
    ] = None,
    max_unreadable: Annotated[
        UnreadableLimit,
        typer.Option(
            "--max-unreadable",
            parser=_unreadable_limit,
            metavar="<lines or %>",
            help="Unreadable lines tolerated: a number of lines (10) or a share of the non-blank "
            "lines (0.5%).",
        ),
    ] = DEFAULT_UNREADABLE_LIMIT,
) -> None:
    """Check captured traffic line by line on every core; write an aggregated report.

    Each line: {"operation": ..., "status": 200, "headers": {...}, "body": ...}. Exit 0: no new
    breaking drift; 1: new breaking drift; 2: usage error, nothing could be checked, or more
    unreadable lines than --max-unreadable allows. Unreadable lines are listed in the report.
    """
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from aliconform.report import check_report_directory, scan_report, write_reports
    from aliconform.scan import STDIN, compression_of, displayed, scan_file

    contracts = _load(directory)
    policy = load_policy(policy_file, operations=contracts)
    check_report_directory(out_dir)
    # A pipe's size is not known, nor a compressed file's once uncompressed (progress counts that).
    size = file.stat().st_size if file.is_file() and compression_of(file) is None else None
    columns = (
        "{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(
            escape(f"scanning {'stdin' if file == STDIN else displayed(file.name)}"), total=size
        )
        result = scan_file(
            file,
            contracts_dir=directory,
            workers=workers,
            progress=lambda done: progress.advance(task, done),
        )
    inputs = {"file": displayed(file), "max_unreadable": str(max_unreadable)}
    report = scan_report(result, contracts, policy, inputs=inputs, max_unreadable=max_unreadable)
    files = write_reports(report, out_dir)
    _print_summary(report)
    rate = result.interactions / result.seconds if result.seconds else 0.0
    out.print(
        f"{result.lines} lines, {result.interactions} interactions in {result.seconds:.1f} s "
        f"({rate:,.0f}/s on {result.workers} worker(s)); {len(result.aggregates)} distinct finding(s); "
        f"{result.skipped_count} unreadable line(s)",
        highlight=False,
    )
    out.print(
        f"reports: {files.html}, {files.json}, {files.junit}, {files.markdown}",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(report.verdict.exit_code)


@report_app.command("diff")
def report_diff(
    old: Annotated[Path, typer.Argument(help="The earlier drift.json.")],
    new: Annotated[Path, typer.Argument(help="The later drift.json.")],
    output: Annotated[str, typer.Option("--format", "-f", help="text, json or markdown.")] = "text",
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            metavar="breaking|warning|info|never",
            help="Exit 1 if the later report has an unwaived finding of this severity or worse "
            "that the earlier one did not (new, or waived or less severe before).",
        ),
    ] = "never",
) -> None:
    """What is new, fixed, changed and unchanged between two drift.json reports.

    Exit 0, unless --fail-on finds something that got worse: then 1. 2: a usage error or a
    file that is not a drift report.
    """
    from aliconform.report import diff_reports, load_report
    from aliconform.report.markdown import render_diff_markdown

    if output not in ("text", "json", "markdown"):
        raise typer.BadParameter(
            f"'{output}' is not one of text, json, markdown", param_hint="--format"
        )
    threshold = _fail_on(fail_on)
    result = diff_reports(load_report(old), load_report(new))
    worse = result.worse(threshold) if threshold is not None else []
    if output == "json":
        data = result.to_dict() | {"fail_on": fail_on, "worse": [f.id for f in worse]}
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    elif output == "markdown":
        markdown = render_diff_markdown(result, str(old), str(new))
        sys.stdout.write("\n".join(escape_unprintable(line) for line in markdown.split("\n")))
    else:
        _print_diff(result, old, new)
    if worse:
        err.print(
            f"--fail-on {fail_on}: {len(worse)} finding(s) new or worse since {old}",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)


def _fail_on(value: str) -> Severity | None:
    if value == "never":
        return None
    try:
        return Severity(value)
    except ValueError:
        choices = [*(s.value for s in Severity), "never"]
        raise typer.BadParameter(
            f"'{value}' is not one of {', '.join(choices)}{did_you_mean(value, choices)}",
            param_hint="--fail-on",
        ) from None


def _print_diff(result: Any, old: Path, new: Path) -> None:
    from aliconform.report.grouping import group_findings

    lines = [f"{old} -> {new}: {result.counts()}"]
    lines += [f"note: {caveat}" for caveat in result.caveats]
    # One drift across an array is one line, as the console shows findings elsewhere.
    for label, findings in (("new", result.new), ("fixed", result.fixed)):
        lines += [
            f"- {label}: {g.first.severity.value} {g.first.operation} {g.first.kind} at "
            f"{g.where()} ({g.first.source})"
            for g in group_findings(findings, lambda f: f)
        ]
    for group in group_findings(result.changed, lambda change: change[1]):
        _before, after, what = group.first
        lines.append(
            f"- changed: {after.operation} {after.kind} at {group.where()} ({after.source}): "
            + "; ".join(what)
            + (" (the first of them)" if group.count > 1 else "")
        )
    for line in lines:  # a report of an older version may hold unprintable characters raw
        out.print(escape_unprintable(line), markup=False, highlight=False)


@report_app.command("schema")
def report_schema() -> None:
    """Print the JSON Schema of drift.json."""
    from aliconform.report import DriftReport

    sys.stdout.write(json.dumps(DriftReport.model_json_schema(), indent=2) + "\n")


@cassettes_app.command("list")
def cassettes_list(
    cassettes: CassettesDir = Path("cassettes"),
    directory: ContractsDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every cassette with its origin, age, interaction count and whether it was edited since
    it was recorded. Exit 2 if a cassette cannot be read or replayed where it is filed (an
    operation without a contract, another product's directory, requests to another operation,
    a YAML file outside <product>/<Operation>/): it is listed with the reason, as replay
    reports it."""
    from aliconform.cassettes.store import survey_cassettes

    contracts = _load(directory)
    refs, misplaced = survey_cassettes(cassettes)
    rows = [_cassette_row(ref, contracts) for ref in refs]
    rows += [_misplaced_row(item) for item in misplaced]
    if as_json:
        out.print_json(data=rows)
    elif not rows:
        out.print(escape(_no_cassettes(cassettes)))
    else:
        table = Table(title=escape(f"cassettes in {cassettes}"))
        for column in ("cassette", "operation", "interactions", "origin", "recorded", "from"):
            table.add_column(column, overflow="fold")
        for row in rows:
            origin = row["origin"]
            if row["problem"]:
                known = "" if row["problem"] == "misplaced" else f"{origin} "
                origin = f"{known}[red]({row['problem']})[/red]"
            elif row["provenance"] == "digest differs":
                origin += " [yellow](edited since: digest differs)[/yellow]"
            table.add_row(
                escape(row["path"]),
                row["operation"],
                "" if row["interactions"] is None else str(row["interactions"]),
                origin,
                (row["recorded_at"] or "")[:10],
                escape(row["error"] or row["from"]),
            )
        out.print(table)
    if any(row["error"] for row in rows):
        raise typer.Exit(2)


def _no_cassettes(cassettes: Path) -> str:
    return (
        f"{cassettes}: no cassettes found (expected <product>/<Operation>/<scenario>.yaml); "
        "derive them from the documentation with 'aliconform cassettes derive', or record "
        "them with 'aliconform record'"
    )


def _cassette_row(ref: CassetteRef, contracts: ContractSet) -> dict[str, Any]:
    """One cassette as `cassettes list` shows it; an unreadable or misfiled one with its
    error, not a stop. The provenance is read on its own: a cassette that cannot be read still
    shows where it came from."""
    from aliconform.cassettes.replay import filing_problem
    from aliconform.cassettes.store import load_cassette, load_provenance, provenance_is_current

    row = _row(ref.display, ref.shown, ref.operation)
    errors = []
    try:
        provenance = load_provenance(ref)
    except AliconformError as exc:
        errors.append(str(exc))
        provenance, row["provenance"], row["origin"] = None, "unreadable", "unknown"
    if provenance is not None:
        row["origin"] = provenance.origin
        row["recorded_at"] = provenance.recorded_at.isoformat()
        if provenance.documentation:
            documentation = provenance.documentation
            row["from"] = f"{documentation.file} > {documentation.location}"
        else:
            row["from"] = provenance.endpoint or ""
        row["provenance"] = "not checked (the cassette cannot be read)"
    try:
        cassette = load_cassette(ref.path)
    except AliconformError as exc:
        row["error"], row["problem"] = "\n".join([str(exc), *errors]), "unreadable"
        return row
    row["interactions"] = len(cassette.interactions)
    misfiled = filing_problem(ref, cassette, contracts)
    if misfiled:
        errors.append(f"{ref.shown}: {misfiled}")
        row["problem"] = "misfiled"
    elif errors:
        row["problem"] = "unreadable provenance"
    row["error"] = "\n".join(errors) or None
    if provenance is not None:
        current = provenance_is_current(provenance, cassette)
        row["provenance"] = "current" if current else "digest differs"
    return row


def _misplaced_row(item: MisplacedFile) -> dict[str, Any]:
    issue = item.issue()
    row = _row(item.display, issue.file, "")
    row["error"], row["problem"] = str(issue), "misplaced"
    return row


def _row(cassette: str, path: str, operation: str) -> dict[str, Any]:
    return {
        "cassette": cassette,
        "path": path,
        "operation": operation,
        "interactions": None,
        "origin": "unknown (no provenance)",
        "recorded_at": None,
        "from": "",
        "provenance": "missing",
        # unreadable, unreadable provenance, misfiled (replay refuses it where it is), misplaced
        "problem": None,
        "error": None,
    }


@cassettes_app.command("derive")
def cassettes_derive(
    cassettes: CassettesDir = Path("cassettes"),
    directory: ContractsDir = None,
    operation: Operations = None,
    region: Annotated[
        str, typer.Option("--region", help="Region the requests are addressed to.")
    ] = "cn-shanghai",
) -> None:
    """(Re)write the cassettes derived from the documentation's examples and error tables.

    Requests are made by the official SDK against a loopback server; nothing leaves the machine.
    """
    from aliconform.cassettes.derive import derive_documentation_cassettes
    from aliconform.record import RecordTarget
    from aliconform.report import check_report_directory

    contracts = _load(directory)
    check_report_directory(cassettes, "the cassettes")
    chosen = [contracts[name] for name in operation or sorted(contracts)]  # unknown: suggested
    # The requests are addressed to the region's documented endpoint: a region the product
    # does not document (a typo, most likely) would put a host that does not exist in them.
    served = _check_target(RecordTarget(region), chosen, endpoint_option=False)
    derived = derive_documentation_cassettes(
        contracts, cassettes, region=region, operations=[c.operation for c in served]
    )
    for ref in derived.written:
        out.print(f"wrote {ref.shown}", markup=False, highlight=False)
    for ref in derived.removed:
        out.print(
            f"removed {ref.shown} (and its provenance): the contract no longer has its example",
            markup=False,
            highlight=False,
        )
    out.print(
        f"{len(derived.written)} written, {len(derived.unchanged)} unchanged "
        "(the same but for the request's clock: left as they were)"
        + (f", {len(derived.removed)} removed" if derived.removed else ""),
        highlight=False,
    )


Signature = Annotated[
    str,
    typer.Option("--signature", help="Request signature: v3 (ACS3-HMAC-SHA256) or v2 (HMAC-SHA1)."),
]
Region = Annotated[
    str,
    typer.Option(
        "--region", envvar="ALIBABA_CLOUD_REGION_ID", help="Region whose endpoints are called."
    ),
]
Endpoint = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        envvar="ALICONFORM_ENDPOINT",
        help="Call this endpoint instead of the region's: http(s)://host:port, or host[:port] "
        "(https; plain http for this machine, such as the twin).",
        show_default=False,
    ),
]


Timeout = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Read timeout per call, in seconds.")
]
SkipWithoutCredentials = Annotated[
    bool,
    typer.Option(
        "--skip-without-credentials",
        help="Exit 0 with a message, instead of 2, when no credentials are found (CI).",
    ),
]


@app.command("record")
def record(
    scenarios_file: ScenariosFile = None,
    cassettes: CassettesDir = Path("cassettes"),
    directory: ContractsDir = None,
    out_dir: OutDir = Path("reports/record"),
    policy_file: PolicyFile = None,
    region: Region = "cn-shanghai",
    endpoint: Endpoint = None,
    signature: Signature = "v3",
    operation: Operations = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", help="Only scenarios with these names.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be called; call nothing.")
    ] = False,
    check_only: Annotated[
        bool,
        typer.Option("--check", help="Call and report drift, but overwrite no cassette."),
    ] = False,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", min=1, max=20, help="Attempts per call.")
    ] = 5,
    backoff: Annotated[
        float, typer.Option("--backoff", min=0.0, help="First retry wait in seconds (doubles).")
    ] = 1.0,
    timeout: Timeout = 30.0,
    skip_without_credentials: SkipWithoutCredentials = False,
) -> None:
    """Re-record cassettes through the official SDK, against a live account or the twin.

    Writes each cassette only when its scenario completed, and the drift report with the
    behaviour diff against the previous recording. Exit 0: recorded, no new breaking drift;
    1: new breaking drift; 2: a scenario failed, every scenario was skipped, or usage error.
    """
    from aliconform.cassettes.scrub import scrubbing_known_secrets
    from aliconform.record import RecordTarget, RetryPolicy, load_scenarios
    from aliconform.report import check_report_directory, record_report, write_reports
    from aliconform.sdk import NoCredentialsError, credentials_source, resolve_credentials

    contracts = _load(directory)
    scenarios_file = _scenarios_path(scenarios_file)
    selected = _select_scenarios(load_scenarios(scenarios_file, contracts), operation, scenario)
    target = RecordTarget(
        region=region,
        endpoint=endpoint,
        signature=_signature(signature),
        read_timeout_ms=int(timeout * 1000),
    )
    _check_target(target, [contracts[name] for name in sorted({s.operation for s in selected})])
    if dry_run:
        _print_plan(selected, contracts, target, None if check_only else cassettes)
        raise typer.Exit(0)
    try:
        credentials = resolve_credentials()
    except NoCredentialsError as exc:
        if not skip_without_credentials:
            raise
        out.print(f"skipped: {exc}", markup=False, highlight=False)
        raise typer.Exit(0) from None
    err.print(f"credentials: {credentials_source(credentials)}", highlight=False)
    policy = load_policy(policy_file, operations=contracts)  # before anything is recorded
    check_report_directory(out_dir)
    if not check_only:  # before a setup call creates (and bills) a task, not after
        check_report_directory(cassettes, "the cassettes")
        for name in sorted({s.operation for s in selected}):
            contract = contracts[name]
            where = cassettes / contract.product / contract.operation
            check_report_directory(where, f"the {contract.operation} cassettes")
    known = (
        getattr(credentials, name, None)
        for name in ("access_key_id", "access_key_secret", "security_token", "bearer_token")
    )
    written: dict[str, Any] = {}

    def report_on(run: Any) -> None:
        # Written as the cassettes are put in place, in one step: a stop cannot come between
        # a replaced cassette and the report of what changed in it.
        written["report"] = record_report(
            run,
            contracts,
            policy,
            inputs={"scenarios": str(scenarios_file), "cassettes": str(cassettes)},
        )
        written["files"] = write_reports(written["report"], out_dir)

    with scrubbing_known_secrets(*known):  # cassettes, reports and console alike
        run = _run_recording(
            selected,
            contracts,
            target,
            cassettes,
            check_only,
            RetryPolicy(max_attempts, backoff),
            then=report_on,
        )
        report, files = written["report"], written["files"]
        _print_recording(run)
        _print_summary(report)
    out.print(
        f"reports: {files.html}, {files.json}, {files.junit}, {files.markdown}",
        markup=False,
        highlight=False,
    )
    failed = bool(run.with_outcome("failed"))
    raise typer.Exit(2 if failed else report.verdict.exit_code)


def _signature(value: str) -> Literal["v3", "v2"]:
    if value not in ("v3", "v2"):
        raise typer.BadParameter(f"'{value}': expected v3 or v2", param_hint="--signature")
    return "v3" if value == "v3" else "v2"


def _check_target(
    target: Any, chosen: list[Contract], *, endpoint_option: bool = True
) -> list[Contract]:
    """The chosen operations whose product documents the region (all, with --endpoint). An
    unusable endpoint, or a region no chosen product documents (most likely a typo), is one
    usage error before anything is called; a region only some document leaves the others out,
    which is said here first. endpoint_option: whether the command has --endpoint to offer."""
    from aliconform.record import TargetError

    served = [contract for contract in chosen if target.serves(contract)]
    if not served:
        try:
            target.host_and_protocol(chosen[0])  # raises, with a suggestion
        except TargetError as exc:
            hint = " (or give --endpoint)" if endpoint_option else ""
            raise TargetError(f"{exc}{hint}") from None
    for contract in served:
        target.host_and_protocol(contract)  # an --endpoint that cannot be used raises
    alternatives = "choose others with --operation" + (
        ", or give --endpoint" if endpoint_option else ""
    )
    for product in sorted({c.product for c in chosen} - {c.product for c in served}):
        names = ", ".join(c.operation for c in chosen if c.product == product)
        err.print(
            f"note: {product} has no documented endpoint in region '{target.region}': "
            f"{names} skipped ({alternatives})",
            markup=False,
            highlight=False,
        )
    return served


def _select_scenarios(
    scenarios: list[Any], operations: list[str] | None, names: list[str] | None
) -> list[Any]:
    known_ops = {s.operation for s in scenarios}
    known_names = {s.name for s in scenarios}
    for name in operations or []:
        if name not in known_ops:
            raise AliconformError(
                f"no scenario for operation '{name}'{did_you_mean(name, known_ops)}; "
                f"operations with scenarios: {', '.join(sorted(known_ops))}"
            )
    for name in names or []:
        if name not in known_names:
            raise AliconformError(
                f"no scenario named '{name}'{did_you_mean(name, known_names)}; "
                f"scenarios: {', '.join(sorted(known_names))}"
            )
    chosen = [
        s
        for s in scenarios
        if (not operations or s.operation in operations) and (not names or s.name in names)
    ]
    if not chosen:  # each filter names something, but nothing has both
        among = sorted({s.name for s in scenarios if s.operation in (operations or [])})
        raise AliconformError(
            f"no scenario named {', '.join(names or [])} for {', '.join(operations or [])}; "
            f"its scenarios: {', '.join(among)}"
        )
    return chosen


def _print_plan(
    scenarios: list[Any], contracts: ContractSet, target: Any, cassettes: Path | None
) -> None:
    """What a run would call; with cassettes (a run that writes), where each would be written."""
    from aliconform.cassettes.scrub import scrub_text
    from aliconform.record.scenarios import resolve

    for item in scenarios:
        contract = contracts[item.operation]
        line = f"[bold]{item.operation}[/bold] {escape(item.name)}"
        if cassettes is not None:
            where = cassettes / contract.product / item.operation / f"{item.name}.yaml"
            line += f" -> {escape(str(where))}"
        out.print(line, highlight=False)
        if not target.serves(contract):
            out.print(
                f"  skipped: no {contract.product} endpoint in region '{target.region}'",
                markup=False,
            )
            continue
        host, protocol = target.host_and_protocol(contract)
        steps = []
        captures = item.setup.capture if item.setup is not None else {}
        if item.setup is not None:
            steps.append((item.setup.action, resolve(item.setup.params)))
        steps.append(
            (
                item.operation,
                resolve(item.params, dict.fromkeys(captures, "<from setup>")),
            )
        )
        for action, resolved in steps:
            # As a recording writes it: a variable may hold a signed URL or a token.
            shown = scrub_text(json.dumps(resolved.sent, ensure_ascii=False))
            out.print(
                f"  {action} {protocol}://{host}/ ({target.signature}) {shown}",
                markup=False,
                highlight=False,
            )
            if resolved.missing:
                out.print(
                    f"  skipped unless set: {', '.join(resolved.missing)}",
                    markup=False,
                    highlight=False,
                )
        if item.poll is not None:
            out.print(
                f"  poll until {item.poll.field} is {' or '.join(item.poll.terminal)}",
                markup=False,
                highlight=False,
            )
        if item.expect_error:
            out.print(f"  expects error {item.expect_error}", markup=False, highlight=False)


def _run_recording(
    scenarios: list[Any],
    contracts: ContractSet,
    target: Any,
    cassettes: Path,
    check_only: bool,
    policy: Any,
    *,
    then: Callable[[Any], None],
) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from aliconform.record import record_scenarios

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    # In CI or a pipe there is no live bar to redraw: each call, poll and retry is a line.
    plain = not err.is_terminal
    with Progress(*columns, console=err, transient=True, disable=plain) as progress:
        task = progress.add_task("recording", total=len(scenarios))
        current: dict[str, Any] = {"count": 0}

        def observe(item: Any, message: str) -> None:
            key = f"{item.operation}/{item.name}"
            if current.get("key") != key:
                current["key"] = key
                current["count"] += 1
                progress.advance(task)
            if plain:
                line = f"[{current['count']}/{len(scenarios)}] {key}: {message}"
                err.print(escape_unprintable(line), markup=False, highlight=False)
            else:
                progress.update(task, description=escape(f"{key}: {message}"))

        run = record_scenarios(
            scenarios,
            contracts,
            target,
            cassettes,
            check_only=check_only,
            policy=policy,
            observe=observe,
            then=then,
        )
        progress.update(task, completed=len(scenarios))
    return run


def _print_recording(run: Any) -> None:
    table = Table(title="Check (no cassette written)" if run.check_only else "Recording")
    for column in ("operation", "scenario", "outcome", "states", "retries", "note"):
        table.add_column(column)
    colours = {"recorded": "green", "checked": "green", "skipped": "yellow", "failed": "red"}
    for result in run.results:
        colour = colours[result.outcome]
        table.add_row(
            result.scenario.operation,
            result.scenario.name,
            f"[{colour}]{result.outcome}[/{colour}]",
            # What the service answered (its states, its error messages) is text, not markup.
            Text(escape_unprintable(" > ".join(result.states))),
            str(result.retries),
            Text(escape_unprintable(result.message)),
        )
    out.print(table)
    from aliconform.record.behaviour import iter_changes

    for line in list(iter_changes(run.behaviour))[:30]:
        out.print(f"changed since last recording: {line}", markup=False, highlight=False)


@app.command("openapi")
def openapi(
    directory: ContractsDir = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the document here (default: standard output)."),
    ] = None,
) -> None:
    """Print (or write) the OpenAPI 3.1 document of the contracts.

    Each RPC action gets its own path, `/<product>/<version>/<Action>`; the wire form it really
    travels in (POST / with the action named) is in each operation's x-aliconform-rpc.
    """
    from aliconform.contracts.openapi import openapi_json

    text = openapi_json(_load(directory).values())
    if out_file is None or str(out_file) == "-":
        sys.stdout.write(text)
        return
    _write_file(out_file, text)
    err.print(f"wrote {out_file}", markup=False, highlight=False)


def _write_file(out_file: Path, text: str) -> None:
    """An --out file written whole, or a usage error naming it."""
    from aliconform.cassettes.store import atomic_write_text

    if out_file.is_dir():
        raise AliconformError(f"--out {out_file} is a directory; name the file to write")
    try:
        atomic_write_text(out_file, text)
    except OSError as exc:
        raise AliconformError(f"cannot write {out_file}: {exc.strerror or exc}") from exc


FuzzMode = Annotated[str, typer.Option("--mode", help="positive, negative or all (both).")]


@app.command("fuzz")
def fuzz(
    directory: ContractsDir = None,
    out_dir: OutDir = Path("reports/fuzz"),
    policy_file: PolicyFile = None,
    region: Region = "cn-shanghai",
    endpoint: Endpoint = None,
    signature: Signature = "v3",
    operation: Operations = None,
    mode: FuzzMode = "all",
    max_examples: Annotated[
        int,
        typer.Option("--max-examples", min=1, max=10_000, help="Requests per operation and mode."),
    ] = 25,
    seed: Annotated[
        int, typer.Option("--seed", help="Hypothesis seed: same seed, same requests.")
    ] = 20201109,
    scenarios_file: ScenariosFile = None,
    setup: Annotated[
        bool | None,
        typer.Option(
            "--setup/--no-setup",
            help="Create tasks with the scenarios' setup calls (default: only against a "
            "loopback endpoint such as the twin; a live setup starts billed tasks).",
            show_default=False,
        ),
    ] = None,
    timeout: Timeout = 30.0,
    skip_without_credentials: SkipWithoutCredentials = False,
) -> None:
    """Send schemathesis-generated requests, signed, and report how the service answers.

    Positive requests (allowed by the documentation) and negative ones (forbidden by it) are
    drawn from the OpenAPI export with a fixed seed, sent in the RPC wire form and judged by
    schemathesis's checks and the drift engine. Exit 0: no new breaking finding; 1: new
    breaking finding; 2: usage error, refused credentials, no request answered at all, or an
    operation whose success response was never seen.
    """
    from aliconform.fuzz import Credentials, FuzzOptions, FuzzTransportError, run_fuzz
    from aliconform.record import RecordTarget
    from aliconform.record.target import is_loopback
    from aliconform.report import check_report_directory, fuzz_report, write_reports

    if importlib.util.find_spec("schemathesis") is None:  # one hint for all it needs
        raise AliconformError(
            "aliconform fuzz needs schemathesis and the official SDK: pip install 'aliconform[fuzz]'"
        )
    modes = _fuzz_modes(mode)
    contracts = _load(directory)
    policy = load_policy(policy_file, operations=contracts)  # before any request is sent
    operation = list(dict.fromkeys(operation)) if operation else None  # named twice: run once
    for name in operation or []:
        _ = contracts[name]  # an unknown name raises, with a did-you-mean
    target = RecordTarget(region=region, endpoint=endpoint, signature=_signature(signature))
    chosen = [contracts[name] for name in operation] if operation else list(contracts.values())
    served = _check_target(target, chosen)
    if len(served) < len(chosen):
        operation = [contract.operation for contract in served]
    wire = _wire_target(served, target, timeout)
    try:
        credentials = Credentials.from_default_chain()
    except FuzzTransportError as exc:
        if not skip_without_credentials:
            raise
        out.print(f"skipped: {exc}", markup=False, highlight=False)
        raise typer.Exit(0) from None
    local = all(is_loopback(host) for host in wire.hosts.values())
    allow_setup = local if setup is None else setup
    check_report_directory(out_dir)  # before the setup calls, which create (billed) tasks
    known = _known_for_fuzz(
        scenarios_file, contracts, target, allow_setup, credentials, operation or None
    )
    for note in known.notes:  # why some positive requests name generated ids, not real tasks
        err.print(f"note: {note}", markup=False, highlight=False)
    options = FuzzOptions(
        max_examples=max_examples,
        seed=seed,
        modes=modes,
        operations=tuple(operation) if operation else None,
    )
    with err.status("fuzzing") as status:
        run = run_fuzz(
            contracts, wire, credentials, options, known, progress=lambda text: status.update(text)
        )
    report = fuzz_report(
        run,
        contracts,
        policy,
        origin="local" if local else "live",
        inputs={"endpoint": run.endpoint, "seed": str(seed), "max_examples": str(max_examples)},
    )
    files = write_reports(report, out_dir)
    _print_summary(report)
    out.print(
        f"reports: {files.html}, {files.json}, {files.junit}, {files.markdown}",
        markup=False,
        highlight=False,
    )
    raise typer.Exit(report.verdict.exit_code)


def _fuzz_modes(value: str) -> tuple[Literal["positive", "negative"], ...]:
    if value == "all":
        return ("positive", "negative")
    if value == "positive":
        return ("positive",)
    if value == "negative":
        return ("negative",)
    raise typer.BadParameter(
        f"'{value}': expected positive, negative or all{did_you_mean(value, ['positive', 'negative', 'all'])}",
        param_hint="--mode",
    )


def _wire_target(contracts: list[Contract], target: Any, timeout: float) -> Any:
    from aliconform.fuzz import WireTarget

    hosts: dict[str, str] = {}
    schemes = set()
    for contract in contracts:
        host, protocol = target.host_and_protocol(contract)
        hosts[contract.product] = host
        schemes.add(protocol)
    scheme: Literal["https", "http"] = "http" if schemes == {"http"} else "https"
    return WireTarget(hosts=hosts, scheme=scheme, signature=target.signature, timeout=timeout)


def _known_for_fuzz(
    scenarios_file: Path | None,
    contracts: ContractSet,
    target: Any,
    allow_setup: bool,
    credentials: Any,
    operations: list[str] | None,
) -> Any:
    """The known tasks of the operations fuzzed (all, or those named): no setup call, and no
    polling, for an operation that is not."""
    from aliconform.fuzz import KnownParameters, known_parameters
    from aliconform.record import load_scenarios

    path = _scenarios_path(scenarios_file)
    if scenarios_file is None and not path.exists():
        return KnownParameters(
            notes=["no scenarios.yaml: every positive request uses generated ids"]
        )
    return known_parameters(
        load_scenarios(path, contracts),
        contracts,
        target,
        allow_setup=allow_setup,
        credentials=credentials,
        operations=operations,
    )


@app.command("twin")
def twin(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1.")
    ] = 8765,
    drift: Annotated[
        str | None,
        typer.Option(
            "--drift",
            help="Answer with a drift: added-field, type-change, new-enum-value, "
            "broken-json-payload, dropped-required-field, all.",
            show_default=False,
        ),
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            help="Misbehave, e.g. throttle=2,server-error=1,latency=200ms,malformed=1,"
            "truncated=1,drop=1 (kind[=count|=*][@Action]).",
            show_default=False,
        ),
    ] = None,
    polls: Annotated[
        int, typer.Option("--polls", min=0, help="Queries answered 'running' before the end.")
    ] = 2,
    access_key_id: Annotated[
        str | None,
        typer.Option(
            "--access-key-id",
            envvar="ALICONFORM_TWIN_ACCESS_KEY_ID",
            help="The test key the twin accepts (default: its built-in test key).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the local twin of the IMM and ICE endpoints until interrupted.

    Its secret comes from ALICONFORM_TWIN_ACCESS_KEY_SECRET (default: the built-in test secret);
    sign with the same pair, e.g. ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET for `aliconform record`.
    """
    import os

    from aliconform.twin import (
        TWIN_ACCESS_KEY_ID,
        TWIN_ACCESS_KEY_SECRET,
        TwinConfig,
        parse_faults,
        run_twin,
    )

    key_id = access_key_id or TWIN_ACCESS_KEY_ID
    given = os.environ.get("ALICONFORM_TWIN_ACCESS_KEY_SECRET")
    if given == "":  # set, but to nothing: not silently the published test secret
        raise AliconformError(
            "ALICONFORM_TWIN_ACCESS_KEY_SECRET is set but empty: give the secret the twin is to "
            "accept, or unset it for the built-in test secret"
        )
    secret = given or TWIN_ACCESS_KEY_SECRET
    config = TwinConfig(
        credentials={key_id: secret},
        drift=drift,
        faults=parse_faults(faults) if faults else None,
        polls_before_done=polls,
    )
    # The built-in pair is a published test key, so naming its secret gives nothing away.
    secret_note = (
        "secret from ALICONFORM_TWIN_ACCESS_KEY_SECRET"
        if secret != TWIN_ACCESS_KEY_SECRET
        else f"secret {TWIN_ACCESS_KEY_SECRET}"
    )

    # A key id of your own is shown as the secret scan shows one: its first characters.
    shown_id = key_id if key_id == TWIN_ACCESS_KEY_ID else f"{key_id[:4]}…"

    def announce(endpoint: str) -> None:
        err.print(
            f"twin on {endpoint} (access key id {shown_id}, {secret_note}); "
            f"drift: {drift or 'none'}; faults: {faults or 'none'}",
            markup=False,
            highlight=False,
        )

    run_twin(port=port, config=config, announce=announce)


@app.command("secrets")
def secrets_scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or directories (default: cassettes/ and reports/)."),
    ] = None,
) -> None:
    """Scan files for credentials: detect-secrets plus Alibaba Cloud key, token and signature
    rules. Exit 0: nothing found; 1: something found (each hit redacted); 2: nothing to scan."""
    from aliconform.secrets import format_hit, iter_texts, scan_texts

    defaults = (Path("cassettes"), Path("reports"))
    targets = paths or [p for p in defaults if p.exists()]
    if not targets:
        # Run from the wrong directory, a scan of nothing would pass.
        raise AliconformError(
            f"nothing to scan: neither {defaults[0]}/ nor {defaults[1]}/ is in {Path.cwd()};"
            " name the files or directories to scan"
        )
    shown = ", ".join(str(p) for p in targets)
    read: list[Path] = []

    def texts() -> Iterator[tuple[Path, bytes]]:  # each read once: a pipe can be read only once
        for path, data in iter_texts(targets):
            read.append(path)
            yield path, data

    hits = scan_texts(texts())
    if not read:  # empty directories, an empty pipe: a scan of nothing must not pass either
        raise AliconformError(f"nothing to scan: no text in {shown}")
    for hit in hits:
        out.print(format_hit(hit), markup=False, highlight=False)
    if hits:
        out.print(
            f"{len(hits)} possible secret(s) in {shown}", style="red", markup=False, highlight=False
        )
        raise typer.Exit(1)
    out.print(f"no secrets found in {shown}", style="green", markup=False, highlight=False)


@app.command("bench")
def bench(
    count: Annotated[
        int, typer.Option("--count", "-n", help="Conformant responses.", min=100)
    ] = 100_000,
    jsonschema_sample: Annotated[
        int,
        typer.Option(
            "--jsonschema-sample", help="Responses timed with jsonschema (it is slow).", min=10
        ),
    ] = 2_000,
    directory: ContractsDir = None,
) -> None:
    """Measure checking speed against orjson.loads and jsonschema, and peak memory. Prints figures."""
    from aliconform.bench import ROUNDS, run_bench

    contracts = _load(directory)
    with err.status("benchmark") as status:
        result = run_bench(
            contracts, count, jsonschema_sample, progress=lambda text: status.update(text)
        )
    table = Table(
        title=f"aliconform check benchmark (one run, side by side, best of {ROUNDS} timings)"
    )
    table.add_column("measure")
    table.add_column("figure", justify="right")
    for name, figure in result.rows:
        table.add_row(name, figure)
    out.print(table)


@app.command("bench-scan")
def bench_scan(
    lines: Annotated[
        int, typer.Option("--lines", "-n", help="Lines of the larger capture.", min=10)
    ] = 1_000_000,
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", help="Worker processes.", min=1)
    ] = None,
    scratch: Annotated[
        Path, typer.Option("--scratch", help="Where the capture files are written.")
    ] = Path(),
) -> None:
    """Measure `scan` on generated captures of N/10 and N lines: throughput and peak memory."""
    from aliconform.bench import run_scan_bench
    from aliconform.report import check_report_directory

    check_report_directory(scratch, "the capture files")
    with err.status("scan benchmark") as status:
        result = run_scan_bench(lines, workers, scratch, progress=lambda text: status.update(text))
    table = Table(title="aliconform scan benchmark (one run)")
    table.add_column("capture")
    table.add_column("figure")
    for name, figure in result.rows:
        table.add_row(name, figure)
    out.print(table)


class _Terminated(BaseException):
    """SIGTERM or SIGHUP arrived. A BaseException, as KeyboardInterrupt is, so that no library's
    `except Exception` swallows it on its way out through every `with` block."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: object) -> None:
    raise _Terminated(signum)


@contextlib.contextmanager
def _terminating_cleanly() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception for the duration of a command.

    By default they end the process at once: `record` then leaves its scratch directory in
    $TMPDIR, and that can hold a recording withheld for a suspected secret. Unwinding instead
    runs every cleanup, as Ctrl-C does. Only the main thread may set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {signum: signal.signal(signum, _raise_terminated) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn every expected error into a message and an exit code."""
    try:
        with _terminating_cleanly():
            app(args=argv, standalone_mode=True)
    except _Terminated as stop:
        name = signal.Signals(stop.signum).name
        err.print(f"stopped by {name} (cleaned up)", highlight=False)
        return 128 + stop.signum
    except SystemExit as exc:  # click ends every run, successful or not, with SystemExit
        if _stdout_closed():  # as _Output's, for what is written past rich
            return 128 + signal.SIGPIPE
        if exc.code == 128 + signal.SIGINT:  # typer's answer to Ctrl-C; aliconform never exits so
            err.print("stopped by SIGINT (cleaned up)", highlight=False)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except ContractError as exc:
        for issue in exc.issues:
            err.print(str(issue), markup=False, highlight=False)
        return 2
    except AliconformError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        return 2
    except Exception:  # a bug: say so, keep the traceback for the report, never look like drift
        import traceback

        err.print(
            "internal error (a bug in aliconform; please report it with this trace):", markup=False
        )
        err.print(traceback.format_exc(), markup=False, highlight=False)
        return 3
    return 0


def _stdout_closed() -> bool:
    """Whether standard output was closed under the run: click (typer's own copy of it, in
    recent typer), on EPIPE, exits 1 and puts a wrapper that swallows the final flush's error in
    place of sys.stdout. Told by the wrapper's name, which both copies share."""
    return type(sys.stdout).__name__ == "PacifyFlushWrapper"


if __name__ == "__main__":
    sys.exit(main())
