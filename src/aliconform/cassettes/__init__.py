"""Cassettes: vcrpy recordings of RPC calls, their provenance, matching, scrubbing and replay."""

from aliconform.cassettes.matching import RPC_MATCH_ON, rpc_vcr
from aliconform.cassettes.network import NetworkBlockedError, block_network
from aliconform.cassettes.replay import (
    ReplayedInteraction,
    ReplayRun,
    iter_replay,
    replay_all,
    replay_cassette,
)
from aliconform.cassettes.scrub import scrub_request, scrub_response
from aliconform.cassettes.store import (
    CassetteFile,
    CassetteRef,
    Provenance,
    discover_cassettes,
    load_cassette,
    load_provenance,
    survey_cassettes,
)

__all__ = [
    "RPC_MATCH_ON",
    "CassetteFile",
    "CassetteRef",
    "NetworkBlockedError",
    "Provenance",
    "ReplayRun",
    "ReplayedInteraction",
    "block_network",
    "discover_cassettes",
    "iter_replay",
    "load_cassette",
    "load_provenance",
    "replay_all",
    "replay_cassette",
    "rpc_vcr",
    "scrub_request",
    "scrub_response",
    "survey_cassettes",
]
