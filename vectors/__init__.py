"""Recorded test vectors (issue 6).

JSON files by kind, their schemas and the loader.  Each file says what
generated it and what independent computation checked it.  Vectors import
nothing of the harness; the harness and the tests read them.
"""
