'use strict'
/*
 * Injected randomness for otr.js.
 *
 * otr.js draws every random value (DH exponents, the AKE's r, SMP exponents, DSA nonces, instance
 * tags) through its vendored bigint.js, which calls `require('crypto').randomBytes(n)` at each
 * draw.  Replacing that one property, before otr.js is loaded, lets a seed fix every value.
 *
 * Invariant: with a seed, the byte stream is SHA-256(seed || counter) for counter 0, 1, 2, ...
 * (8-byte big-endian counter), consumed in order; without one, the system's generator is used.
 */

const crypto = require('crypto')

const systemRandomBytes = crypto.randomBytes

class SeededStream {
  constructor (seed) {
    this.seed = Buffer.from(seed)
    this.counter = 0n
    this.pool = Buffer.alloc(0)
  }

  take (n) {
    const blocks = [this.pool]
    let have = this.pool.length
    while (have < n) {
      const counter = Buffer.alloc(8)
      counter.writeBigUInt64BE(this.counter++)
      const block = crypto.createHash('sha256').update(this.seed).update(counter).digest()
      blocks.push(block)
      have += block.length
    }
    const all = Buffer.concat(blocks)
    this.pool = all.subarray(n)
    return Buffer.from(all.subarray(0, n))
  }
}

let current = null

/** Route crypto.randomBytes through the current stream; call once, before otr.js is required. */
function install () {
  crypto.randomBytes = function randomBytes (n, callback) {
    if (current === null || typeof callback === 'function') return systemRandomBytes(n, callback)
    return current.take(n)
  }
}

/** Use `seed` (a Buffer) from now on, or the system's randomness when it is null. */
function reseed (seed) {
  current = seed === null ? null : new SeededStream(seed)
}

module.exports = { install, reseed }
