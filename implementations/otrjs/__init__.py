"""otr.js (npm ``otr`` 0.2.16), run as a Node.js shim speaking the peer protocol.

``shim/`` holds the program (``node shim/main.js OTR_PACKAGE_DIR``),
:mod:`.provision` installs the package into a per-user cache on first use,
and ``NOTES.md`` lists otr.js's quirks met while writing the shim.
"""
