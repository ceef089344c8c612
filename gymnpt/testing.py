"""Public conformance checks for env authors: ``from gymnpt.testing import check_env``.

The checks live in :mod:`gymnpt.core.testing`; this module is their stable public name.
"""

from __future__ import annotations

from gymnpt.core.testing import *  # noqa: F403
from gymnpt.core.testing import __all__  # noqa: F401
