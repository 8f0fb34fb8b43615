"""How a twin is set up: who may call it, how it drifts and fails, how fast tasks finish.

Everything is checked when the configuration is made, so a typo in a profile name or a region
stops `aliconform twin` before it listens, with the nearest valid name suggested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aliconform.contracts import ContractSet, load_contracts
from aliconform.errors import did_you_mean
from aliconform.twin.drift import drift_profile
from aliconform.twin.errors import TwinConfigError
from aliconform.twin.faults import FaultPlan
from aliconform.twin.operations import QUERIES

__all__ = ["DEFAULT_REGION", "TWIN_ACCESS_KEY_ID", "TWIN_ACCESS_KEY_SECRET", "TwinConfig"]

#: The twin's default credentials: fake, and meant to look fake (no real key starts with "twin").
TWIN_ACCESS_KEY_ID = "twin-access-key-id"
TWIN_ACCESS_KEY_SECRET = "twin-access-key-secret"
DEFAULT_REGION = "cn-shanghai"


def _default_credentials() -> Mapping[str, str]:
    return {TWIN_ACCESS_KEY_ID: TWIN_ACCESS_KEY_SECRET}


@dataclass(frozen=True)
class TwinConfig:
    """A twin's settings. contracts defaults to load_contracts()."""

    credentials: Mapping[str, str] = field(default_factory=_default_credentials)
    drift: str | None = None
    faults: FaultPlan | None = None
    polls_before_done: int = 2
    region: str = DEFAULT_REGION
    contracts: ContractSet = field(default_factory=load_contracts, repr=False)

    def __post_init__(self) -> None:
        if not self.credentials or not all(self.credentials.values()):
            raise TwinConfigError("the twin needs at least one access key ID with a secret")
        if self.drift is not None:
            drift_profile(self.drift)
        if self.polls_before_done < 0:
            raise TwinConfigError(
                f"polls_before_done must be 0 or more, not {self.polls_before_done}"
            )
        missing = [name for name in QUERIES if name not in self.contracts]
        if missing:
            raise TwinConfigError(
                f"the contracts in {self.contracts.root} lack {', '.join(missing)}, "
                f"which the twin answers"
            )
        regions = sorted(
            {region for name in QUERIES for region in self.contracts[name].endpoint.regions}
        )
        if self.region not in regions:
            raise TwinConfigError(
                f"unknown region {self.region!r}{did_you_mean(self.region, regions)}; "
                f"the contracts list: {', '.join(regions)}"
            )
