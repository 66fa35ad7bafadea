"""libotr 4.1.1 through ctypes.

:mod:`.provision` finds or fetches the library, :mod:`._lib` declares its
structs and functions, :mod:`.keys` writes its private-key and
instance-tag files.

Nothing here needs root: a libotr that is not installed system-wide is
fetched once with ``apt-get download`` into a per-user cache.
"""
