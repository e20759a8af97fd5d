"""A module that takes a while to import, as rdflib does on a loaded machine (test_isolation)."""

import time

time.sleep(1.5)


def answer() -> int:
    return 42
