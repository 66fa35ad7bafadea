"""Implementations under test, each behind the adapter contract in :mod:`implementations.api`."""
