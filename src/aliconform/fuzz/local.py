"""A property-based run against the local twin: no account, no network beyond loopback.

This is what the default test run does (suites/test_fuzz.py), and what a user runs to see the
suite find problems before pointing it at a live account: start a twin (drifting or
misbehaving on request), create a task per operation through the scenarios' setup calls,
then generate, send and judge requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Literal

from aliconform.contracts import ContractSet
from aliconform.fuzz.known import KnownParameters, known_parameters
from aliconform.fuzz.runner import FuzzOptions, FuzzRun, run_fuzz
from aliconform.fuzz.transport import Credentials, WireTarget
from aliconform.record.scenarios import load_scenarios
from aliconform.record.target import RecordTarget
from aliconform.twin import TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET, TwinConfig, TwinServer

__all__ = ["TWIN_SCENARIO_VARIABLES", "fuzz_twin"]

#: Values for the scenarios' account variables that the twin accepts.
TWIN_SCENARIO_VARIABLES: Mapping[str, str] = {
    "ALICONFORM_IMM_PROJECT": "aliconform-twin",
    "ALICONFORM_IMM_VIDEO_URI": "oss://aliconform-media/video.mp4",
    "ALICONFORM_IMM_IMAGE_URI": "oss://aliconform-media/image.jpg",
    "ALICONFORM_ICE_VIDEO_URI": "oss://aliconform-media/video.mp4",
    "ALICONFORM_ICE_OUTPUT_URI": "oss://aliconform-media/out/",
}


def fuzz_twin(
    contracts: ContractSet,
    options: FuzzOptions,
    scenarios: Path,
    *,
    config: TwinConfig | None = None,
    signature: Literal["v3", "v2"] = "v3",
    progress: Callable[[str], None] | None = None,
) -> FuzzRun:
    """Start a twin (config: its drift, faults, lifecycle), find tasks, fuzz it, stop it."""
    config = config or TwinConfig(contracts=contracts)
    credentials = Credentials(TWIN_ACCESS_KEY_ID, TWIN_ACCESS_KEY_SECRET)
    if TWIN_ACCESS_KEY_ID not in config.credentials:
        twin_key = {TWIN_ACCESS_KEY_ID: TWIN_ACCESS_KEY_SECRET}
        config = replace(config, credentials={**config.credentials, **twin_key})
    with TwinServer(config) as twin:
        endpoint = f"http://{twin.endpoint}"
        record_target = RecordTarget(region=config.region, endpoint=endpoint, signature=signature)
        known: KnownParameters = known_parameters(
            load_scenarios(scenarios, contracts),
            contracts,
            record_target,
            environ=TWIN_SCENARIO_VARIABLES,
            allow_setup=True,
            credentials=credentials,
            sleep=lambda _seconds: None,  # the twin's tasks finish after polls, not after time
            wait=config.polls_before_done > 0,  # else they are done at once: no query spent
            operations=options.operations,
        )
        hosts: dict[str, str] = {c.product: twin.endpoint for c in contracts.values()}
        target = WireTarget(hosts=hosts, scheme="http", signature=signature)
        return run_fuzz(contracts, target, credentials, options, known, progress=progress)
