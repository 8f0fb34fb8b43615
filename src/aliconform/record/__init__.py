"""Re-recording cassettes against a live account (or the local twin), safely.

`load_scenarios` reads what to call, `record_scenarios` calls it through the official SDK with
retries and polling, stages complete cassettes and renames them into place, and
`behaviour_diff` says what changed since the previous recording.
"""

from aliconform.record.behaviour import BehaviourChange, behaviour_diff
from aliconform.record.recorder import RecordRun, ScenarioResult, record_scenarios
from aliconform.record.retry import RetryPolicy
from aliconform.record.scenarios import (
    Scenario,
    ScenarioError,
    ScenarioFile,
    default_scenarios_file,
    load_scenarios,
)
from aliconform.record.target import RecordTarget, TargetError

__all__ = [
    "BehaviourChange",
    "RecordRun",
    "RecordTarget",
    "RetryPolicy",
    "Scenario",
    "ScenarioError",
    "ScenarioFile",
    "ScenarioResult",
    "TargetError",
    "behaviour_diff",
    "default_scenarios_file",
    "load_scenarios",
    "record_scenarios",
]
