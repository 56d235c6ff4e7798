"""Embedded public facts the generator draws from: population, places, names, clinical tables.

Plain Python constants, so the package works without any data files; every table names its source
(the sources are listed with citations in docs/synth.md).
"""
