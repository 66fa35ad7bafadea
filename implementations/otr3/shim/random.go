// Injected randomness for otr3: the Conversation's Rand reader.
//
// Invariant: with a seed, the byte stream is SHA-256(seed || counter) for counter 0, 1, 2, ...
// (8-byte big-endian counter), consumed in order.  A read of exactly one byte is answered with
// 0x00 and consumes nothing: Go's crypto/dsa.Sign reads one byte or none at random
// (randutil.MaybeReadByte) so that callers cannot rely on deterministic signatures, and otr3
// itself never reads single bytes, so this keeps a seeded run reproducible without changing
// what any value is drawn from.
package main

import (
	"crypto/sha256"
	"encoding/binary"
)

type seededStream struct {
	seed    []byte
	counter uint64
	pool    []byte
}

func newSeededStream(seed []byte) *seededStream {
	return &seededStream{seed: append([]byte(nil), seed...)}
}

func (s *seededStream) Read(p []byte) (int, error) {
	if len(p) == 1 {
		p[0] = 0
		return 1, nil
	}
	for len(s.pool) < len(p) {
		var counter [8]byte
		binary.BigEndian.PutUint64(counter[:], s.counter)
		s.counter++
		block := sha256.Sum256(append(append([]byte(nil), s.seed...), counter[:]...))
		s.pool = append(s.pool, block[:]...)
	}
	n := copy(p, s.pool)
	s.pool = s.pool[n:]
	return n, nil
}
