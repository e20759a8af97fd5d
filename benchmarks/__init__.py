"""Kluis benchmarks: `make bench` (or `python -m benchmarks`) measures Kluis against bare aiohttp.

See benchmarks/README.md for the scenarios, the method and the latest figures.
"""
