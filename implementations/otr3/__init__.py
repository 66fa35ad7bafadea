"""coyim/otr3 (Go, Debian's 2016 snapshot), run as a Go shim speaking the peer protocol.

``shim/`` holds the program's sources, :mod:`.provision` fetches the Go
toolchain and otr3's sources (or uses the system's) and builds the shim into
a per-user cache on first use, and ``NOTES.md`` lists otr3's quirks met
while writing the shim.
"""
