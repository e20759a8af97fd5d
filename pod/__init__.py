"""Kluis, a Solid pod server: the personal data vault you run yourself."""

__version__ = "0.1.0"
