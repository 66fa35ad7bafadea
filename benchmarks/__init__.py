"""Benchmarks: every implementation measured side by side in one run (``tox -e bench``).

``python -m benchmarks`` measures, in one process and one run, each
implementation of the registry (:mod:`harness.impls`) against itself and
the engine against each: the AKE, SMP with a question, data messages per
second one way and round trip, fragment reassembly; then the engine's
memory under a fragment flood and over a long session, the wall time of the
interop matrix and of the default test run, and the exec/s of every fuzz
target.  It prints a table, writes JSON (schema ``otrcheck-bench/1``,
``benchmarks/schema.json``) and holds the figures against the project's
goals (:mod:`benchmarks.goals`).

Invariants:

* Every figure is the median of repeated samples taken in this run, and
  the samples are kept beside it; a ratio compares two figures of the same
  run, never a figure with a remembered one.
* A measurement checks that the work it timed really happened (both sides
  encrypted, SMP succeeded on both sides, every message arrived intact);
  otherwise the figure is an error with the reason, never a number.
* Nothing here asserts on time: goals are reported met or NOT MET, and the
  tests in ``tests/benchmarks`` check only the shape of what is produced.
"""
