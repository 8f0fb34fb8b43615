"""The fast path: a contract compiled to msgspec types that parse and check in one pass.

Most responses conform. For those, decoding the bytes with msgspec into typed structs costs
about as much as parsing them with orjson: the parser checks every type, enum, bound, pattern,
required key and unknown key in C, and builds structs, which are cheaper than dicts. What C
cannot check runs in the structs' __post_init__, once per object that needs it: JSON inside
strings is decoded (with the type of the variant its sibling chooses), formats are checked, and
invariants between keys of one object are evaluated.

Anything it rejects goes to the precise classifier (checker.Walker), which names every
divergence; so the fast path only ever answers "conforms", never a finding. It may be stricter
than the precise path (that costs only time), never more lenient; the property tests hold the
two to that. Where msgspec reads differently from json.loads, the fast path leans strict: it
refuses NaN and lone surrogates, keeps JSON integers exact (never rounded to floats), and sends
a text that could hide an integer longer than CPython reads to the precise path.

One difference is by design: a conformant body nested deeper than Python's recursion limit
allows the precise walk (a recursive definition a few hundred levels down) is accepted here,
where the precise path could only report that it nests too deeply to check. The same holds for
such a value inside a body the precise path walks, since the walk asks these checks first.

The precise walk uses the same structs on single values (holds, holds_payload): an object or
array it parsed is read with msgspec.convert (strict: no string for a number, no float for an
integer), a payload text with the payload's decoder. What they accept, the walk skips. convert
sees what json.loads made, so it accepts what that accepts and decoding would refuse (lone
surrogates); the walk finds nothing in those either, so skipping is still exact there. NaN and
the infinities, which json.loads reads too, are refused by the bounds every float carries, so
the walk reports them.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import operator
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, ForwardRef, Literal, Union, get_args, get_origin

import msgspec
from msgspec import UNSET, Meta, UnsetType

from aliconform.contracts.formats import FORMAT_CHECKS, FORMAT_PATTERNS
from aliconform.contracts.model import (
    ConditionalInvariant,
    Contract,
    CountInvariant,
    EchoInvariant,
    FieldSpec,
    Invariant,
    OrderInvariant,
    Payload,
    PrefixInvariant,
    enum_key,
)
from aliconform.contracts.paths import index_fields
from aliconform.drift.invariants import order_key

__all__ = ["FastPath", "Rejected", "compile_fast_path"]

Transform = Callable[[Any], Any]  # checks a decoded value, returns it (or what it decodes to)
Check = Callable[[Any], None]  # checks one struct, raises ValueError when it does not hold

#: What the fast path raises for a body it does not accept (the precise path then looks).
Rejected = (msgspec.MsgspecError, ValueError, TypeError, RecursionError)


class _Unsupported(Exception):
    """A contract construct the fast path does not compile; such contracts use the precise path."""


@dataclass(frozen=True)
class FastPath:
    root: type[msgspec.Struct]
    invariants: frozenset[str]  # ids of the invariants the structs themselves enforce
    # Root keys (and their attributes) that the invariants left to Python read, when they are
    # plain values read straight off the root struct; None when those invariants need the data.
    view: dict[str, str] | None
    # Whether a conforming body still has invariants to evaluate in Python (echo invariants,
    # which need a request, not counted).
    python_invariants: bool
    guarded: bool  # whether the body itself can hold an open object (see refuse_long_integers)
    # Checks of one value, by the identity of its spec (objects, arrays, strings carrying a
    # payload), and of sibling-chosen payloads, by the identity of the payload and the variant.
    # The precise walk asks them first (see holds).
    values: Mapping[int, Check] = field(default_factory=dict)
    variants: Mapping[tuple[int, str], Check] = field(default_factory=dict)

    def decode(self, body: bytes | str) -> msgspec.Struct:
        """The body decoded into the contract's structs; raises one of Rejected otherwise."""
        if self.guarded:
            refuse_long_integers(body)
        return msgspec.json.decode(body, type=self.root)

    def invariant_data(self, decoded: msgspec.Struct, body: bytes | str) -> Any:
        """What the invariants left to Python are evaluated on, as the precise path sees it:
        the root's plain values when they suffice, else the parsed body."""
        if self.view is None:
            return json.loads(body)
        return {
            name: value
            for name, attr in self.view.items()
            if (value := getattr(decoded, attr)) is not UNSET
        }

    def holds(self, spec: FieldSpec, value: Any) -> bool:
        """Whether a value the precise path parsed (with json.loads, so dicts, lists and
        scalars only) conforms to its spec, invariants of its objects included; checked in C,
        as the whole body is. False also when there is no compiled check for the spec: the
        checks are keyed by the identity of the spec objects of the contract compiled, so an
        equal spec from another copy of the contract is never taken for it."""
        return _passes(self.values.get(id(spec)), value)

    def holds_payload(self, payload: Payload, variant: str, text: str) -> bool:
        """Whether a JSON-string payload conforms to the variant its sibling chose."""
        return _passes(self.variants.get((id(payload), variant)), text)


def _passes(check: Check | None, value: Any) -> bool:
    if check is None:
        return False
    try:
        check(value)
    except Rejected:
        return False
    return True


def compile_fast_path(contract: Contract) -> FastPath | None:
    """Structs for the contract's success response, or None if it cannot be compiled."""
    try:
        compiler = _Compiler(contract)
        fields = contract.response.fields
        root = compiler.struct("response", fields, open_object=False, checks=compiler.root_checks)
        compiler.resolve_recursion()
        compiler.payloads.finish()
        left = [inv for inv in contract.invariants if inv.id not in compiler.enforced]
        guarded = any(_open_within(spec, contract) for spec in fields.values())
        python = any(not isinstance(invariant, EchoInvariant) for invariant in left)
        view = _root_view(left, fields)
        values, variants = compiler.value_checks()
        return FastPath(root, compiler.enforced, view, python, guarded, values, variants)
    except _Unsupported:
        return None


def _attrs(fields: dict[str, FieldSpec]) -> dict[str, str]:
    """Struct attribute names for JSON keys (which need not be identifiers: "from", "MOS(0-5)")."""
    return {name: f"f{index}" for index, name in enumerate(fields)}


def _root_view(invariants: list[Invariant], fields: dict[str, FieldSpec]) -> dict[str, str] | None:
    """The root keys the invariants read, if each is a plain (not JSON-string) scalar at the
    root, which the root struct holds exactly as the body has it."""
    names: list[str] = []
    for invariant in invariants:
        read = [invariant.field] if isinstance(invariant, EchoInvariant) else _names(invariant)
        if invariant.scope or not read:
            return None
        names += read
    attr = _attrs(fields)
    for name in names:
        spec = fields.get(name)
        if (
            spec is None
            or spec.ref is not None
            or spec.json_payload is not None
            or spec.type not in ("string", "integer", "number", "boolean")
        ):
            return None
    return {name: attr[name] for name in dict.fromkeys(names)}


# -- invariants between keys of one object ------------------------------------------------------


def _names(invariant: Invariant) -> list[str]:
    """The keys of the scope object an invariant reads (its paths relative to the scope)."""
    match invariant:
        case OrderInvariant():
            return list(invariant.fields)
        case PrefixInvariant():
            return [invariant.field, invariant.prefix_field]
        case ConditionalInvariant():
            return [invariant.when.field, *invariant.present, *invariant.absent]
        case CountInvariant():
            return [invariant.array, invariant.at_most]
        case _:
            return []


def _invariant_scopes(contract: Contract) -> tuple[list[Invariant], dict[int, list[Invariant]]]:
    """Invariants between keys of one object: those of the root, and the others keyed by the
    identity of their scope object's spec.

    Checked while decoding, once per object, they cost a few attribute reads instead of a walk.
    Echo invariants need the request and stay in Python. An object spec shared by other paths
    gets the check there too: a rejection only sends the response to the precise path, which
    judges it exactly.
    """
    fields = index_fields(contract)
    root: list[Invariant] = []
    scoped: dict[int, list[Invariant]] = {}
    for invariant in contract.invariants:
        names = _names(invariant)
        if not names:
            continue
        scope = fields[invariant.scope].spec if invariant.scope else None
        keys = contract.response.fields if scope is None else scope.fields
        if (scope is None or scope.type == "object") and all(
            name in (keys or {}) for name in names
        ):
            if scope is None:
                root.append(invariant)
            else:
                scoped.setdefault(id(scope), []).append(invariant)
    return root, scoped


_NUMBERS = (int, float)
_SCALARS = (int, float, bool)  # what a conditional's `when` value can be besides text


def _absent(value: Any) -> bool:
    return value is UNSET or value is None or value == ""


def _utc_key(text: str) -> tuple[str, str]:
    """An order key for a valid RFC 3339 time in UTC ("...Z"): fixed-width fields compare as
    text, and the fraction padded to nanoseconds compares as digits."""
    return text[:19], text[20:-1].ljust(9, "0")


def _order_keys(
    invariant: OrderInvariant, fields: dict[str, FieldSpec]
) -> Callable[[list[Any]], list[Any]]:
    """Comparable keys of the values an order invariant reads; a value that cannot be compared
    is left out, as invariants.order_key does."""
    compare = invariant.compare
    checked = all(fields[name].format == compare for name in invariant.fields)
    if compare == "date-time" and checked:
        # Times the parser has already checked: when all are in UTC, as the services write
        # them, they compare without parsing.
        def times(values: list[Any]) -> list[Any]:
            texts = [value for value in values if type(value) is str]
            if all(text[-1] == "Z" for text in texts):
                return [_utc_key(text) for text in texts]
            return [order_key(compare, text) for text in texts]

        return times
    if compare == "decimal-string" and checked:
        # The parser has checked the digits, so Decimal reads them without a second look.
        return lambda values: [Decimal(value) for value in values if type(value) is str]
    return lambda values: [
        key for value in values if (key := order_key(compare, value)) is not None
    ]


def _pair_of_numbers(invariant: Invariant) -> bool:
    """An order invariant of the common kind: start <= end, between two numbers."""
    return (
        isinstance(invariant, OrderInvariant)
        and invariant.compare == "number"
        and not invariant.strict
        and len(invariant.fields) == 2
    )


def _numbers_in_order(invariant: OrderInvariant, attr: dict[str, str]) -> Transform:
    """A start <= end invariant checked for every element of an array in one pass, the values
    read and compared in C: thousands of tag occurrences and speech segments per response make
    a Python call per element the largest cost of a check. An array where a value is left out
    or null (which compare with nothing) is looked at element by element, as the struct would."""
    first, second = attr[invariant.fields[0]], attr[invariant.fields[1]]
    lows, highs = operator.attrgetter(first), operator.attrgetter(second)
    one = _invariant_check(invariant, attr, {})

    def ordered(items: list[Any]) -> list[Any]:
        try:
            broken = any(map(operator.lt, map(highs, items), map(lows, items)))
        except TypeError:
            for item in items:
                one(item)
            return items
        if broken:
            raise ValueError(invariant.id)
        return items

    return ordered


def _invariant_check(
    invariant: Invariant, attr: dict[str, str], fields: dict[str, FieldSpec]
) -> Check:
    """One invariant as a check on a struct: the same judgement as invariants.evaluate_invariants."""
    match invariant:
        case OrderInvariant() if _pair_of_numbers(invariant):
            # The common case, start <= end between two numbers, once per element of large
            # arrays (every occurrence of every tag): two reads and a comparison.
            first, second = attr[invariant.fields[0]], attr[invariant.fields[1]]

            def number_order(value: Any) -> None:
                low, high = getattr(value, first), getattr(value, second)
                if type(low) in _NUMBERS and type(high) in _NUMBERS and high < low:
                    raise ValueError(invariant.id)

            return number_order
        case OrderInvariant():
            names = [attr[name] for name in invariant.fields]
            keys_of = _order_keys(invariant, fields)
            strict, rule = invariant.strict, invariant.id

            def order(value: Any) -> None:
                keys = keys_of([getattr(value, name) for name in names])
                for low, high in itertools.pairwise(keys):
                    if high < low or (strict and high == low):
                        raise ValueError(rule)

            return order
        case PrefixInvariant():
            field, prefix = attr[invariant.field], attr[invariant.prefix_field]
            separator = invariant.separator

            def prefixed(value: Any) -> None:
                text, head = getattr(value, field), getattr(value, prefix)
                if (
                    type(text) is str
                    and type(head) is str
                    and not text.startswith(head + separator)
                ):
                    raise ValueError(invariant.id)

            return prefixed
        case ConditionalInvariant():
            when, values = attr[invariant.when.field], frozenset(invariant.when.values)
            present = [attr[name] for name in invariant.present]
            absent = [attr[name] for name in invariant.absent]

            def conditional(value: Any) -> None:
                chosen = getattr(value, when)
                if type(chosen) is not str:  # a number or boolean by its JSON text, as enums
                    if type(chosen) not in _SCALARS:
                        return
                    chosen = enum_key(chosen)
                if chosen not in values:
                    return
                for name in present:
                    if _absent(getattr(value, name)):
                        raise ValueError(invariant.id)
                for name in absent:
                    if not _absent(getattr(value, name)):
                        raise ValueError(invariant.id)

            return conditional
        case CountInvariant():
            array, bound = attr[invariant.array], attr[invariant.at_most]

            def count(value: Any) -> None:
                items, most = getattr(value, array), getattr(value, bound)
                if type(items) is list and type(most) is int and len(items) > most:
                    raise ValueError(invariant.id)

            return count
    raise _Unsupported(f"invariant {invariant.id}")


# -- transforms: what C cannot check, run per value in the owning struct's __post_init__ --------


def _json_text(value: str) -> str:
    """The "json" format: msgspec reads RFC 8259 strictly, never more leniently than the
    precise path (both refuse NaN and Infinity; msgspec also refuses lone surrogates)."""
    _ANY_JSON.decode(value)
    return value


def _must(check: Callable[[str], bool], message: str) -> Transform:
    def checked(value: str) -> str:
        if not check(value):
            raise ValueError(message)
        return value

    return checked


def _format_check(name: str) -> Transform:
    if name == "json":
        return _json_text
    return _must(FORMAT_CHECKS[name], f"not a valid {name}")


def _pattern_check(pattern: str) -> Transform:
    compiled = re.compile(pattern)
    return _must(lambda text: compiled.search(text) is not None, f"does not match {pattern}")


_FEWEST_DIGITS_LIMIT = 640  # the lowest limit CPython lets sys.set_int_max_str_digits set


@functools.lru_cache(maxsize=8)
def _digit_run(limit: int, binary: bool) -> re.Pattern[Any]:
    run = f"[0-9]{{{limit + 1}}}"
    return re.compile(run.encode() if binary else run)


def refuse_long_integers(text: str | bytes) -> None:
    """Raise for a text holding an integer longer than Python reads.

    msgspec skips the values of unknown keys in an open object without reading them as numbers;
    json.loads refuses integers longer than sys.get_int_max_str_digits() (CPython's guard), and
    the precise path reports that. So a text that may skip such an integer is looked at first.
    Only texts longer than the limit can hold one, and the texts holding open objects are small.
    """
    limit = sys.get_int_max_str_digits()
    if limit and len(text) > limit and _digit_run(limit, isinstance(text, bytes)).search(text):
        raise ValueError(f"an integer of more than {limit} digits")


def _open_within(spec: FieldSpec, contract: Contract, seen: frozenset[str] = frozenset()) -> bool:
    """Whether decoding a value of this spec can meet an open object (payloads inside are
    decoded on their own, so they do not count)."""
    if spec.ref is not None:
        if spec.ref in seen:
            return False
        return _open_within(contract.definitions[spec.ref], contract, seen | {spec.ref})
    if spec.type == "object":
        return spec.open or any(
            _open_within(child, contract, seen) for child in (spec.fields or {}).values()
        )
    if spec.type == "array" and spec.items is not None:
        return _open_within(spec.items, contract, seen)
    return False


class _Payloads:
    """The decoders of JSON-string payloads. They are made once the whole contract is compiled,
    because a recursive definition is complete only then."""

    def __init__(self) -> None:
        self.pending: list[tuple[Any, list[Callable[[str], Any]]]] = []

    def transform(self, annotation: Any, inner: Transform | None, *, guarded: bool) -> Transform:
        cell: list[Callable[[str], Any]] = []
        self.pending.append((annotation, cell))

        def decode(value: str) -> Any:
            decoded = cell[0](value)
            return decoded if inner is None else inner(decoded)

        def guarded_decode(value: str) -> Any:
            if len(value) > _FEWEST_DIGITS_LIMIT:
                refuse_long_integers(value)
            return decode(value)

        return guarded_decode if guarded else decode

    def finish(self) -> None:
        for annotation, cell in self.pending:
            cell.append(msgspec.json.Decoder(annotation).decode)


def _each(transform: Transform) -> Transform:
    def every(items: list[Any]) -> list[Any]:
        return [transform(item) for item in items]

    return every


def _then(first: Transform, second: Transform) -> Transform:
    return lambda value: second(first(value))


def _then_maybe(first: Transform | None, second: Transform) -> Transform:
    return second if first is None else _then(first, second)


def _checking(check: Check) -> Transform:
    def checked(value: Any) -> Any:
        check(value)
        return value

    return checked


def _unless_null(transform: Transform) -> Transform:
    return lambda value: value if value is None else transform(value)


def _refuse(value: Any) -> Any:
    raise ValueError("no documented payload for this discriminator value")


_ANY_JSON = msgspec.json.Decoder()


@dataclass(frozen=True)
class _Chosen:
    """A JSON-string payload whose shape a sibling field chooses."""

    attr: str
    chooser: str
    variants: dict[str, Transform]
    other: Transform  # for a value the contract lists no variant for (or none)


def _post_init(
    transforms: list[tuple[str, Transform]], chosen: _Chosen | None, checks: list[Check]
) -> Callable[[Any], None]:
    # The common shapes get a function of their own: these run once per element of large
    # arrays, where every Python call counts.
    if not transforms and chosen is None and len(checks) == 1:
        return checks[0]  # called as the method itself
    if len(transforms) == 1 and chosen is None and not checks:
        ((attr, transform),) = transforms

        def transform_one(self: Any) -> None:
            value = getattr(self, attr)
            if value is not UNSET:
                setattr(self, attr, transform(value))

        return transform_one

    def post_init(self: Any) -> None:
        # Invariants first: they read a JSON-string field as the string it is, as the precise
        # path does, not as what it decodes to.
        for check in checks:
            check(self)
        for attr, transform in transforms:
            value = getattr(self, attr)
            if value is not UNSET:
                setattr(self, attr, transform(value))
        if chosen is not None:
            value = getattr(self, chosen.attr)
            if value is not UNSET and value is not None:
                tag = getattr(self, chosen.chooser)
                if tag is UNSET:  # nothing chooses the shape: the precise path says so
                    raise ValueError(f"{chosen.chooser} is absent")
                choose = chosen.variants.get(tag) if type(tag) is str else None
                setattr(self, chosen.attr, (choose or chosen.other)(value))

    return post_init


class _Compiler:
    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.root_checks, self.scoped = _invariant_scopes(contract)
        self.enforced = frozenset(
            inv.id for invs in [self.root_checks, *self.scoped.values()] for inv in invs
        )
        self.definitions: dict[str, tuple[Any, Transform | None]] = {}
        self.classes: dict[str, type[msgspec.Struct]] = {}  # compiled definitions, by name
        self.structs: list[type[msgspec.Struct]] = []  # every struct made
        self.count = itertools.count()
        self.payloads = _Payloads()
        # What value_checks makes checks of: each value's compiled form, by its spec's
        # identity, and each sibling-chosen payload's decoder, by (payload identity, variant).
        self.compiled_values: dict[int, tuple[Any, Transform | None]] = {}
        self.compiled_variants: dict[tuple[int, str], Transform] = {}
        self.element_depth = 0  # how many array elements the value being compiled is inside

    # A field compiles to (annotation, transform): the type msgspec checks in C, and what is
    # left for Python (None when nothing is).

    def field(
        self, spec: FieldSpec, where: str, *, batched: tuple[OrderInvariant, ...] = ()
    ) -> tuple[Any, Transform | None]:
        """batched: invariants of this object that the enclosing array checks for all its
        elements at once (see _typed), left out of the struct."""
        original = spec
        if spec.ref is not None:
            annotation, transform = self._define(spec.ref)
            spec = self.contract.definitions[spec.ref]  # whose nullable counts, as in the checker
        else:
            annotation, transform = self._typed(spec, where, batched=batched)
        if spec.nullable:
            annotation = Union[annotation, None]  # noqa: UP007 (a recursive ref is a string)
            transform = None if transform is None else _unless_null(transform)
        if spec.type in ("object", "array") or transform is not None:
            # A value checked on its own (by the precise walk) needs its batched checks too.
            alone = transform
            for invariant in batched:
                check = _invariant_check(invariant, _attrs(spec.fields or {}), spec.fields or {})
                alone = _then_maybe(alone, _checking(check))
            self.compiled_values[id(original)] = (annotation, alone)
        return annotation, transform

    def _define(self, name: str) -> tuple[Any, Transform | None]:
        if name in self.definitions:
            return self.definitions[name]
        spec = self.contract.definitions[name]
        if spec.type != "object":
            raise _Unsupported(f"definition {name} is not an object")
        # While the definition is being compiled, a reference to itself names it by string;
        # resolve_recursion puts the class in once it exists.
        self.definitions[name] = (name, None)
        compiled = self._typed(spec, name)
        self.definitions[name] = compiled
        self.classes[name] = compiled[0]
        return compiled

    def value_checks(self) -> tuple[dict[int, Check], dict[tuple[int, str], Check]]:
        """Checks of single parsed values and of sibling-chosen payloads, for the precise walk;
        made once the contract is compiled (the recursive names resolved, the decoders made)."""
        values = {
            key: _converting(_substitute(annotation, self.classes), transform)
            for key, (annotation, transform) in self.compiled_values.items()
        }
        return values, dict(self.compiled_variants)

    def resolve_recursion(self) -> None:
        """Put each definition's class where it named itself (msgspec reads the annotations
        on first use, so patching them now is seen)."""
        for cls in self.structs:
            hints = cls.__annotations__
            for attr, annotation in list(hints.items()):
                hints[attr] = _substitute(annotation, self.classes)

    def _typed(
        self, spec: FieldSpec, where: str, *, batched: tuple[OrderInvariant, ...] = ()
    ) -> tuple[Any, Transform | None]:
        kind = spec.type
        if spec.enum is not None and kind not in ("string", "integer"):
            raise _Unsupported(f"{where}: an enum of {kind} values")
        if kind == "string":
            return self._string(spec, where)
        if kind in ("integer", "number"):
            return self._number(spec), None
        if kind == "boolean":
            return bool, None
        if kind == "array":
            if spec.items is None:
                raise _Unsupported(f"{where}: array without items")
            items = spec.items
            orders = self._batched_orders(items)
            self.element_depth += 1
            try:
                item, transform = self.field(items, f"{where}[]", batched=orders)
            finally:
                self.element_depth -= 1
            every = None if transform is None else _each(transform)
            for order in orders:
                every = _then_maybe(every, _numbers_in_order(order, _attrs(items.fields or {})))
            return list[item], every  # type: ignore[valid-type]
        if kind == "object":
            checks = [inv for inv in self.scoped.get(id(spec), []) if inv not in batched]
            return self.struct(where, spec.fields or {}, open_object=spec.open, checks=checks), None
        raise _Unsupported(f"{where}: no type")

    def _payload_shape(self, shape: FieldSpec, where: str) -> tuple[Any, Transform | None]:
        """A JSON-string payload's shape: decoded on its own, so not inside an array element
        of the text that carries it."""
        outer, self.element_depth = self.element_depth, 0
        try:
            return self.field(shape, where)
        finally:
            self.element_depth = outer

    def _batched_orders(self, items: FieldSpec) -> tuple[OrderInvariant, ...]:
        """The "start <= end" invariants of an array's objects, which the array checks for all
        its elements at once: objects described in place (a definition is compiled once, for
        every place it is used), never null.

        Only an array that is not itself inside an array element: checking in one pass costs
        a Python call for the object that holds the array, which pays off against one call
        per element when that object occurs once per response or payload (speech segments,
        chapters), not when it occurs once per element of another array, where the inner
        arrays are short (the occurrences of each tag)."""
        if self.element_depth or items.ref is not None or items.type != "object" or items.nullable:
            return ()
        return tuple(
            invariant
            for invariant in self.scoped.get(id(items), [])
            if isinstance(invariant, OrderInvariant) and _pair_of_numbers(invariant)
        )

    def _number(self, spec: FieldSpec) -> Any:
        low, high = spec.minimum, spec.maximum
        if spec.enum is not None:
            # The precise path compares str(value) with the enum's keys, so a key only compiles
            # to an integer literal when it is that integer's text.
            if spec.type != "integer" or low is not None or high is not None:
                raise _Unsupported("number enum or bounded enum")
            if any(not re.fullmatch(r"-?(0|[1-9][0-9]*)", key) for key in spec.enum):
                raise _Unsupported("integer enum with keys that are not plain integers")
            return Literal[tuple(int(key) for key in spec.enum)]
        # A JSON integer stays an int (a float would round it, and compare unlike the precise
        # path); between integers, >= 0.5 is >= 1.
        whole = (
            Annotated[
                int,
                Meta(
                    ge=None if low is None else math.ceil(low),
                    le=None if high is None else math.floor(high),
                ),
            ]
            if low is not None or high is not None
            else int
        )
        if spec.type == "integer":
            return whole
        # msgspec refuses NaN and infinities while parsing; the bounds refuse them in values
        # json.loads made (which reads NaN and Infinity), as the precise walk does (NaN fails
        # every comparison).
        bounds = Meta(
            ge=-sys.float_info.max if low is None else low,
            le=sys.float_info.max if high is None else high,
        )
        return Union[whole, Annotated[float, bounds]]  # noqa: UP007

    def _string(self, spec: FieldSpec, where: str) -> tuple[Any, Transform | None]:
        payload = spec.json_payload
        if payload is not None and payload.discriminator is not None:
            if spec.enum is not None or spec.format is not None or spec.pattern is not None:
                raise _Unsupported(f"{where}: a sibling-chosen payload with its own checks")
            return str, None  # decoded by the enclosing struct, which sees the sibling
        # msgspec checks one pattern per string while parsing; a format a pattern decides
        # exactly takes that place, and anything left runs in Python.
        transforms: list[Transform] = []
        patterns = [spec.pattern] if spec.pattern is not None else []
        if spec.format is not None:
            if spec.format in FORMAT_PATTERNS:
                patterns.insert(0, FORMAT_PATTERNS[spec.format])
            else:
                transforms.append(_format_check(spec.format))
        if spec.enum is not None:
            annotation: Any = Literal[tuple(spec.enum)]
        elif patterns:
            annotation = Annotated[str, Meta(pattern=patterns.pop(0))]
        else:
            annotation = str
        transforms[:0] = [_pattern_check(pattern) for pattern in patterns]
        if payload is not None and payload.shape is not None:
            inner, inner_transform = self._payload_shape(payload.shape, f"{where}()")
            guarded = _open_within(payload.shape, self.contract)
            transforms.append(self.payloads.transform(inner, inner_transform, guarded=guarded))
        transform = None
        for step in transforms:
            transform = _then_maybe(transform, step)
        return annotation, transform

    def struct(
        self,
        where: str,
        fields: dict[str, FieldSpec],
        *,
        open_object: bool,
        checks: list[Invariant],
    ) -> type[msgspec.Struct]:
        attr = _attrs(fields)
        members: list[tuple[str, Any, Any] | tuple[str, Any]] = []
        transforms: list[tuple[str, Transform]] = []
        chosen: _Chosen | None = None
        for name, spec in fields.items():
            annotation, transform = self.field(spec, f"{where}.{name}")
            if spec.required:
                members.append((attr[name], annotation))
            else:
                members.append((attr[name], Union[annotation, UnsetType], UNSET))  # noqa: UP007
            if transform is not None:
                transforms.append((attr[name], transform))
            payload = spec.json_payload
            if payload is not None and payload.discriminator is not None:
                if chosen is not None:
                    raise _Unsupported(f"{where}: several payloads chosen by siblings")
                chosen = self._chosen(spec, attr, name, where)
        namespace: dict[str, Any] = {}
        compiled_checks = [_invariant_check(invariant, attr, fields) for invariant in checks]
        if transforms or chosen is not None or compiled_checks:
            namespace["__post_init__"] = _post_init(transforms, chosen, compiled_checks)
        struct = msgspec.defstruct(
            f"{self.contract.operation}_{next(self.count)}",
            members,
            rename={a: name for name, a in attr.items()},
            forbid_unknown_fields=not open_object,
            kw_only=True,
            # Decoded JSON cannot form reference cycles, so the collector need not track these.
            gc=False,
            namespace=namespace,
            module=__name__,
        )
        self.structs.append(struct)
        return struct

    def _chosen(self, spec: FieldSpec, attr: dict[str, str], name: str, where: str) -> _Chosen:
        payload = spec.json_payload
        assert payload is not None
        assert payload.discriminator is not None
        if payload.discriminator not in attr:
            raise _Unsupported(f"{where}: the discriminator is not a sibling")
        variants = {}
        for variant, shape in (payload.variants or {}).items():
            inner, transform = self._payload_shape(shape, f"{where}.{name}({variant})")
            guarded = _open_within(shape, self.contract)
            variants[variant] = self.payloads.transform(inner, transform, guarded=guarded)
            self.compiled_variants[(id(payload), variant)] = variants[variant]
        # Any other discriminator value (or null): the payload must still be JSON, and is
        # accepted or refused as a whole according to the contract's unlisted_variants. An
        # absent discriminator is refused (post_init), whatever unlisted_variants says.
        other = _ANY_JSON.decode if payload.unlisted_variants == "accept" else _refuse
        return _Chosen(attr[name], attr[payload.discriminator], variants, other)


def _converting(annotation: Any, transform: Transform | None) -> Check:
    """A check of one parsed value: msgspec.convert reads it as the parser reads JSON (strict:
    no str for a number, no float for an integer), and transform does the rest."""

    def check(value: Any) -> None:
        converted = msgspec.convert(value, annotation)
        if transform is not None:
            transform(converted)

    return check


def _substitute(annotation: Any, names: dict[str, type[msgspec.Struct]]) -> Any:
    """The annotation with the names of recursive definitions replaced by their class."""
    if isinstance(annotation, str):
        return names[annotation]
    if isinstance(annotation, ForwardRef):
        return names[annotation.__forward_arg__]
    origin = get_origin(annotation)
    if origin is list:
        return list[_substitute(get_args(annotation)[0], names)]  # type: ignore[misc]
    if origin is Union:
        return Union[tuple(_substitute(arg, names) for arg in get_args(annotation))]  # noqa: UP007
    return annotation  # a scalar, a Literal, an Annotated string or number, a struct
