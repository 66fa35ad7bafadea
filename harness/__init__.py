"""The conformance and interop harness.

Scenarios, the network simulator, the matrix runner, reports and the
``otrcheck`` command line.  It drives every implementation through
:mod:`implementations.api` and reads recorded vectors from :mod:`vectors`;
nothing else in the project imports it.
"""
