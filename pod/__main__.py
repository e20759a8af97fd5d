"""`python -m pod` is the `kluis` command."""

import sys

from pod.cli import main

sys.exit(main())
