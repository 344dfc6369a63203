"""Benchmarks for chatflow-server: `python -m bench` runs them all and writes RESULTS.md.

Modules: `engine` (in-process engine speed vs graphon), `http` (the HTTP API against a
real server on loopback), `embedded` (the embedded model through our API vs direct).
This package must stay importable without `chatflow` by graphon's Python 3.12 venv only
through `graphon_driver.py`, which imports nothing from here.
"""
