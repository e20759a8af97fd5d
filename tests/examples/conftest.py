"""The examples' own classes, put in a real server and tested over HTTP like the rest of the suite.

examples/ is no package: each script runs as `python examples/NAME.py`, which puts examples/ on
the module path (read_write_turtle.py imports dpop_client that way), and these tests import them
the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = str(Path(__file__).parents[2] / "examples")
if EXAMPLES not in sys.path:
    sys.path.insert(0, EXAMPLES)
