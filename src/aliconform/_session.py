"""What a running pytest session chose, for code that runs before any fixture can be asked.

Strategies are built when a test module is imported (`@given(responses("QuerySmarttagJob"))`),
so they cannot take the `aliconform_contracts` fixture. The plugin puts here how to find the
contracts it uses, and the strategies read the same ones. Nothing else is kept here, and this
module imports nothing: the plugin sets it on every pytest run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

#: The pytest session's contracts directory (the plugin's --aliconform-contracts, ini option or
#: default as seen from the rootdir), or None outside a pytest session.
contracts_dir: Callable[[], Path] | None = None
