"""Fuzz targets for atheris (issue 8).

Plain target functions with their invariants (``targets.py``) and thin
atheris wrappers around them (``fuzz_<name>.py``).  The test suite replays
every corpus seed and minimized crash, so a crash once found stays a
regression test.
"""
