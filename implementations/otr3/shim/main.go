// otrcheck's otr3 shim: serves one account of coyim/otr3 over the peer protocol
// (docs/peer-protocol.md) on standard input and output; logs go to standard error.
//
// Built by implementations/otr3/provision.py with GO111MODULE=off against Debian's
// golang-github-twstrike-otr3-dev (GOPATH /usr/share/gocode, or its unpacked copy in the cache).
package main

import (
	"os"
)

// otr3Version is the Debian package version of the otr3 sources built in (the first argument).
var otr3Version = "unknown"

func main() {
	if len(os.Args) > 1 {
		otr3Version = os.Args[1]
	}
	// Only serve writes to the protocol stream; anything else that prints goes to stderr.
	protocolOut := os.Stdout
	os.Stdout = os.Stderr
	os.Exit(serve(newAdapter(), os.Stdin, protocolOut))
}
