"""Solid and LDP semantics over a storage Backend."""
