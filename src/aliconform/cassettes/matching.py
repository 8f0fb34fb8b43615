"""Request matching for Alibaba Cloud RPC calls, as vcrpy matchers.

Two requests are the same call when they name the same action and API version and carry the
same business parameters. Signatures, nonces, timestamps, credentials (V3 headers and V2 query
parameters alike), the host and the HTTP method are ignored: they change on every call, or with
the region, without changing what is asked. A request that names no action (an OSS download
beside the SDK's calls) is matched as vcrpy matches by default: method, scheme, host, port, path
and query. Each matcher raises AssertionError with what
differed, so vcrpy's "no match" message lists the nearest recorded requests and the part of
each that did not match.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import vcr
from vcr import matchers as vcr_matchers
from vcr.cassette import Cassette, CassetteContextDecorator
from vcr.record_mode import RecordMode
from vcr.request import Request

from aliconform.cassettes.rpc import RpcCall, read_rpc_call
from aliconform.cassettes.scrub import recordable, scrub_request, scrub_response
from aliconform.cassettes.store import AtomicPersister

__all__ = ["RPC_MATCH_ON", "rpc_call_of", "rpc_vcr"]

RPC_MATCH_ON = ("rpc_action", "rpc_version", "rpc_params")


def rpc_call_of(request: Request) -> RpcCall:
    body = request.body if isinstance(request.body, bytes | str) else None
    return read_rpc_call(request.uri, dict(request.headers), body)


def rpc_action(sent: Request, recorded: Request) -> None:
    a, b = rpc_call_of(sent).action, rpc_call_of(recorded).action
    if a is None and b is None:
        _same_plain_request(sent, recorded)
    elif a != b:
        raise AssertionError(f"action {a!r} sent, {b!r} recorded")


# vcrpy's own default matching: what tells two requests apart that name no action.
_PLAIN_MATCHERS = (
    vcr_matchers.method,
    vcr_matchers.scheme,
    vcr_matchers.host,
    vcr_matchers.port,
    vcr_matchers.path,
    vcr_matchers.query,
)


def _same_plain_request(sent: Request, recorded: Request) -> None:
    """Neither request is an RPC call (an OSS download beside the SDK's calls, say): without
    an action to go by, the same request is the same method and URL, as vcrpy matches."""
    for matcher in _PLAIN_MATCHERS:
        try:
            matcher(sent, recorded)
        except AssertionError as differs:
            raise AssertionError(
                f"not an RPC call, so compared by method and URL: {matcher.__name__} {differs}"
            ) from None


def rpc_version(sent: Request, recorded: Request) -> None:
    a, b = rpc_call_of(sent).version, rpc_call_of(recorded).version
    if a != b:
        raise AssertionError(f"version {a!r} sent, {b!r} recorded")


def rpc_params(sent: Request, recorded: Request) -> None:
    difference = params_difference(rpc_call_of(sent).params, rpc_call_of(recorded).params)
    if difference:
        raise AssertionError(difference)


def params_difference(sent: Any, recorded: Any) -> str:
    """'' when equal, else each differing parameter: 'TaskId: sent 'a', recorded 'b''."""
    parts = []
    for name in sorted(set(sent) | set(recorded)):
        if name not in recorded:
            parts.append(f"{name} sent but not recorded")
        elif name not in sent:
            parts.append(f"{name} recorded but not sent")
        elif sent[name] != recorded[name]:
            parts.append(f"{name}: sent {sent[name]!r}, recorded {recorded[name]!r}")
    return "; ".join(parts)


_MATCHERS: dict[str, Callable[[Request, Request], None]] = {
    "rpc_action": rpc_action,
    "rpc_version": rpc_version,
    "rpc_params": rpc_params,
}


class _UnpatchingContext(CassetteContextDecorator):  # type: ignore[misc]
    """vcrpy's cassette context, which also undoes its patching when saving the cassette raises.

    vcrpy unpatches the HTTP libraries only after a save that succeeds; after one that raises
    (a full disk) they stay patched until the collector closes the context's generator, which
    then restores them in the middle of whatever cassette is open at that moment, leaving that
    one half-patched (kevin1024/vcrpy#1051).
    """

    def __exit__(self, *exc_info: object) -> None:
        try:
            super().__exit__(*exc_info)
        finally:
            # Name-mangled in vcrpy; None once vcrpy has unpatched (every exit but a failed save).
            finish = getattr(self, "_CassetteContextDecorator__finish", None)
            if finish is not None:
                self._CassetteContextDecorator__finish = None
                finish.close()  # unwinds the patches, as vcrpy's own exit would have


class _RpcVCR(vcr.VCR):  # type: ignore[misc]
    """A VCR whose cassette contexts are _UnpatchingContext (use_cassette as vcrpy 8 and 9
    write it, with that class)."""

    def use_cassette(self, path: Any = None, **kwargs: Any) -> Any:
        if path is not None and not isinstance(path, str | os.PathLike):
            return self.use_cassette(**kwargs)(path)  # decorating a function
        getter = functools.partial(self.get_merged_config, path=path, **kwargs)
        return _UnpatchingContext(Cassette, getter)


def rpc_vcr(**options: Any) -> vcr.VCR:
    """A vcrpy VCR set up for RPC calls: our matchers, scrubbing hooks, replay-only by default.

    Recording must be asked for: pass record_mode="once", "new_episodes" or "all". The
    credential chain's own exchanges (instance metadata, STS) are never recorded (in record
    mode none, never sent either: they are refused as misses; in a recording mode they go to
    the network, which the SDK needs, even where an existing cassette is only played back), and
    a cassette is saved atomically: a failed save leaves the previous file as it was.
    """
    replaying = RecordMode(options.setdefault("record_mode", "none")) is RecordMode.NONE
    options.setdefault("match_on", RPC_MATCH_ON)
    # vcrpy sends a request its hook drops to the network, in record mode none too. Recording,
    # that is what the credential chain's exchanges need (unrecorded); replaying, nothing may
    # reach out, so the hook only scrubs and such a request is a miss like any other.
    options.setdefault("before_record_request", scrub_request if replaying else recordable)
    options.setdefault("before_record_response", scrub_response)
    options.setdefault("decode_compressed_response", True)
    recorder = _RpcVCR(**options)
    for name, matcher in _MATCHERS.items():
        recorder.register_matcher(name, matcher)
    recorder.register_persister(AtomicPersister)
    return recorder
