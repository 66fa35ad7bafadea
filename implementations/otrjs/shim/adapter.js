'use strict'
/*
 * otr.js 0.2.16 behind the peer protocol: one account, one OTR object per correspondent.
 *
 * This only translates, the way otr.js's clients use it: `sendMsg`, `receiveMsg`,
 * `sendQueryMsg`, `endOtr`, `smpSecret`, `sendFile`, and the emitter's `io`, `ui`, `error`,
 * `status`, `smp` and `file` events.  Where otr.js hides what the protocol reports, the shim
 * reads the OTR object's own fields (msgstate, ssid, their_priv_pk, sm.smpstate, storedMgs) and
 * wraps `error()` to learn the reason otr.js replaces with "An OTR error has occurred." (the
 * wrapper calls the original unchanged).  NOTES.md beside this file lists otr.js's quirks.
 *
 * Invariants:
 * - every handler returns undefined: otr.js's emitter removes a listener that returns true;
 * - a request is answered only once otr.js has flushed its outgoing queue (`io` runs from
 *   setTimeout, one message per tick), so every message it sent is in that response's `out`;
 * - an exception escaping otr.js is reported as an `error` event with code `x-crash`, never
 *   as a benign event, and the account stays usable.
 */

const { badRequest, unsupported } = require('./protocol.js')
const random = require('./random.js')
const parse = require('./parse.js')

const FEATURES = [
  'v2', 'v3', 'instance_tags', 'fragmentation', 'smp', 'smp_question', 'symkey',
  'require_encryption', 'whitespace_tag', 'error_start_ake', 'deterministic', 'x-parse'
]

const FILE_TRANSFER_USE = 1 // the only TLV 8 use otr.js knows: sendFile(filename)

// Reasons otr.js passes to error() or notify(), and the protocol's error code for each.
const AKE_FAILURE = 'ignored'
const NOTIFY_CODES = {
  'Received a message intended for a different session.': 'ignored',
  'Received an unencrypted message.': 'unencrypted',
  'OTR conversation requested, but no compatible protocol version found.': 'ignored',
  'Message cannot be sent at this time.': 'not_private',
  'Not ready to encrypt.': 'not_private',
  'Protocol v3 required.': 'not_private',
  'Must be encrypted for SMP.': 'smp',
  'Secret is required.': 'smp',
  'Message is too long.': 'unsendable',
  'Should have rekeyed by now.': 'unsendable',
  'Too many fragments': 'unsendable',
  'Please specify a filename.': 'unsendable',
  'Filename is too long.': 'unsendable'
}

const hex = (latin1) => Buffer.from(latin1, 'latin1').toString('hex')
const versionOf = (packed) => (packed ? packed.charCodeAt(1) : null)
const tagOf = (packed) => Buffer.from(packed, 'latin1').readUInt32BE(0)

/**
 * The libotr private-key file otr.js reads (`DSA.parsePrivate(sexp, true)`), laid out as libotr
 * writes it: one item per line.  otr.js's tokenizer skips the character after each closing
 * parenthesis, so siblings separated by a single space lose every other one (NOTES.md).
 */
function libotrKeyFile (account, protocol, key) {
  const mpi = (n) => '#' + n.toString(16).toUpperCase() + '#'
  const quoted = (s) => '"' + s.replace(/["\\]/g, '\\$&') + '"'
  const numbers = ['p', 'q', 'g', 'y', 'x'].map((k) => `    (${k} ${mpi(key[k])})\n`).join('')
  return `(privkeys\n (account\n  (name ${quoted(account)})\n  (protocol ${quoted(protocol)})\n` +
    `  (private-key\n   (dsa\n${numbers}   )\n  )\n )\n)\n`
}

class OtrjsAdapter {
  constructor (otr, version) {
    this.OTR = otr.OTR
    this.DSA = otr.DSA
    this.CONST = otr.OTR.CONST
    this.version = version
    this.config = null
    this.convs = new Map()
    this.collect = null
  }

  hello () {
    return {
      fields: {
        impl: 'otrjs',
        version: this.version,
        protocol_versions: [2, 3],
        features: FEATURES,
        deterministic: true,
        'x-runtime': `node ${process.version}`
      }
    }
  }

  init (account, protocol, key, instanceTag, policy, maxMessageSize, seed) {
    random.reseed(seed)
    // parsePrivate(..., true) returns the parsed numbers, not a DSA object: wrap them.
    const parsed = this.DSA.parsePrivate(libotrKeyFile(account, protocol, key), true)
    const lost = ['p', 'q', 'g', 'y', 'x'].filter((k) => !parsed[k])
    if (lost.length) throw badRequest(`otr.js did not read ${lost.join(', ')} from the key file`)
    this.priv = new this.DSA(parsed)
    this.config = { account, protocol, instanceTag, policy, maxMessageSize }
    this.convs = new Map()
    return {}
  }

  // ---------------------------------------------------------------- operations

  send (peer, text) {
    return this.run(peer, (ctx) => {
      const stored = ctx.otr.storedMgs.length
      ctx.otr.sendMsg(text)
      if (ctx.otr.msgstate === this.CONST.MSGSTATE_PLAINTEXT && ctx.otr.storedMgs.length > stored) {
        this.event({ type: 'error', peer, code: 'held', detail: 'stored until the conversation is private' })
      }
    })
  }

  receive (peer, wire) {
    return this.run(peer, (ctx) => { ctx.otr.receiveMsg(wire) }, wire)
  }

  query (peer) {
    return this.run(peer, (ctx) => { ctx.otr.sendQueryMsg() })
  }

  end (peer) {
    return this.run(peer, (ctx) => { ctx.otr.endOtr() })
  }

  smp_start (peer, secret, question) {
    return this.run(peer, (ctx) => { ctx.otr.smpSecret(secret, question === null ? undefined : question) })
  }

  smp_respond (peer, secret) {
    return this.run(peer, (ctx) => {
      const sm = ctx.otr.sm
      if (ctx.otr.msgstate === this.CONST.MSGSTATE_ENCRYPTED &&
          (!sm || sm.smpstate !== this.CONST.SMPSTATE_EXPECT0)) {
        // Given a secret with no question pending, smpSecret starts a new SMP: not an answer.
        this.event({ type: 'smp', peer, result: 'error', question: null, 'x-detail': 'no SMP question to answer' })
        return
      }
      ctx.otr.smpSecret(secret)
    })
  }

  smp_abort (peer) {
    return this.run(peer, (ctx) => {
      const otr = ctx.otr
      if (otr.msgstate !== this.CONST.MSGSTATE_ENCRYPTED) {
        this.event({ type: 'error', peer, code: 'smp', detail: 'SMP needs an encrypted session' })
        return
      }
      // otr.js has no abort call on the OTR object; its clients call the SMP object's abort().
      if (!otr.sm) otr._smInit()
      otr.sm.abort()
    })
  }

  symkey (peer, use, usedata) {
    const filename = usedata.toString('utf8')
    if (use !== FILE_TRANSFER_USE || !usedata.length || !Buffer.from(filename, 'utf8').equals(usedata)) {
      throw unsupported('otr.js sends TLV 8 only through sendFile(filename): use 1 and a non-empty UTF-8 file name')
    }
    const fields = { key: null }
    return this.run(peer, (ctx) => {
      ctx.sentKey = null
      ctx.otr.sendFile(filename)
      fields.key = ctx.sentKey
    }).then((result) => ({ ...result, fields }))
  }

  status (peer) {
    if (this.config === null) throw badRequest('init has not been called')
    const otr = this.convs.has(peer) ? this.convs.get(peer).otr : null
    const C = this.CONST
    const encrypted = otr !== null && otr.msgstate === C.MSGSTATE_ENCRYPTED
    const names = { [C.MSGSTATE_PLAINTEXT]: 'plaintext', [C.MSGSTATE_ENCRYPTED]: 'encrypted', [C.MSGSTATE_FINISHED]: 'finished' }
    // SMPSTATE_EXPECT0 is "SMP message 1 received, the user's secret awaited": still EXPECT1.
    const smp = otr && otr.sm ? ['expect1', 'expect1', 'expect2', 'expect3', 'expect4'][otr.sm.smpstate] : 'expect1'
    const theirTag = otr ? tagOf(otr.their_instance_tag) : 0
    return {
      fields: {
        status: {
          msgstate: otr ? names[otr.msgstate] : 'plaintext',
          version: encrypted ? versionOf(otr.ake.otr_version) : null,
          ssid: encrypted && otr.ssid ? hex(otr.ssid) : null,
          fingerprint: this.priv.fingerprint(),
          peer_fingerprint: otr && otr.their_priv_pk ? otr.their_priv_pk.fingerprint() : null,
          instance_tag: this.config.instanceTag,
          peer_instance_tag: theirTag || null,
          smp,
          'x-authstate': otr ? ['none', 'awaiting_dhkey', 'awaiting_revealsig', 'awaiting_sig'][otr.authstate] : 'none'
        }
      }
    }
  }

  quit () {
    this.convs = new Map()
    return {}
  }

  extension (op, fields) {
    if (op !== 'x-parse') throw unsupported(`otr.js has no extension op ${op}`)
    const { entry, input } = fields
    if (typeof entry !== 'string' || !parse.ENTRIES.includes(entry) || typeof input !== 'string') {
      throw badRequest(`x-parse needs entry (one of ${parse.ENTRIES.join(', ')}) and input (string)`)
    }
    return { fields: { result: parse.parse(this.OTR, entry, input) } }
  }

  // ------------------------------------------------------------------- helpers

  event (obj) {
    this.collect.events.push(obj)
  }

  /** One call into otr.js for `peer`; resolves once otr.js has sent everything it queued. */
  async run (peer, call, wire = null) {
    const ctx = this.conversation(peer)
    this.collect = { out: [], events: [], ctx, wire }
    try {
      call(ctx)
    } catch (exc) {
      this.event({
        type: 'error',
        peer,
        code: 'x-crash',
        detail: String(exc),
        'x-exception': exc && exc.name ? exc.name : typeof exc,
        'x-raised-in': exc && exc.stack ? exc.stack.split('\n').slice(1, 3).map((s) => s.trim()).join(' < ') : ''
      })
    }
    await this.flushed()
    const { out, events } = this.collect
    this.collect = null
    return { out, events }
  }

  flushed () {
    return new Promise((resolve) => {
      const check = () => {
        for (const ctx of this.convs.values()) {
          if (ctx.otr.outgoing.length) return setTimeout(check, 0)
        }
        setTimeout(resolve, 0) // the io chain's last tick finds the queue empty and stops
      }
      check()
    })
  }

  conversation (peer) {
    if (this.config === null) throw badRequest('init has not been called')
    let ctx = this.convs.get(peer)
    if (ctx) return ctx
    const C = this.CONST
    const policy = this.config.policy
    const otr = new this.OTR({
      priv: this.priv,
      instance_tag: this.packTag(this.config.instanceTag),
      fragment_size: this.config.maxMessageSize,
      send_interval: 0,
      debug: false
    })
    otr.ALLOW_V2 = policy.allow_v2
    otr.ALLOW_V3 = policy.allow_v3
    otr.REQUIRE_ENCRYPTION = policy.require_encryption
    otr.SEND_WHITESPACE_TAG = policy.send_whitespace_tag
    otr.WHITESPACE_START_AKE = policy.whitespace_start_ake
    otr.ERROR_START_AKE = policy.error_start_ake
    ctx = { peer, otr, secure: false, reason: null, inData: false, sentKey: null }

    const error = otr.error
    otr.error = function (reason) {
      ctx.reason = reason
      return error.call(this, reason)
    }
    const handleDataMsg = otr.handleDataMsg
    otr.handleDataMsg = function (msg) {
      ctx.inData = true
      try {
        return handleDataMsg.call(this, msg)
      } finally {
        ctx.inData = false
      }
    }

    otr.on('io', (msg) => { this.collect.out.push({ to: peer, wire: msg }) })
    otr.on('ui', (msg, encrypted) => {
      this.event({ type: 'message', from: peer, text: msg, encrypted: !!encrypted })
    })
    otr.on('error', (err, severity) => { this.onError(ctx, err, severity) })
    otr.on('status', (state) => { this.onStatus(ctx, state) })
    otr.on('smp', (type, data) => { this.onSmp(ctx, type, data) })
    otr.on('file', (type, key, filename) => {
      if (type === 'send') {
        ctx.sentKey = hex(key)
      } else {
        const usedata = Buffer.from(filename, 'utf8').toString('hex')
        this.event({ type: 'symkey', peer, use: FILE_TRANSFER_USE, usedata, key: hex(key), 'x-otrjs-file': filename })
      }
    })
    this.convs.set(peer, ctx)
    if (C.MSGSTATE_PLAINTEXT !== otr.msgstate) throw new Error('a new OTR object is not in plaintext')
    return ctx
  }

  packTag (tag) {
    const buf = Buffer.alloc(4)
    buf.writeUInt32BE(tag)
    return tag === 0 ? undefined : buf.toString('latin1')
  }

  onStatus (ctx, state) {
    const C = this.CONST
    const otr = ctx.otr
    if (state === C.STATUS_AKE_SUCCESS) {
      this.event({
        type: 'secure',
        peer: ctx.peer,
        version: versionOf(otr.ake.otr_version),
        ssid: hex(otr.ssid),
        peer_fingerprint: otr.their_priv_pk.fingerprint(),
        refreshed: ctx.secure
      })
      ctx.secure = true
    } else if (state === C.STATUS_END_OTR) {
      if (otr.msgstate === C.MSGSTATE_FINISHED) {
        this.event({ type: 'finished', peer: ctx.peer })
      } else if (ctx.secure) {
        this.event({ type: 'insecure', peer: ctx.peer })
      }
      ctx.secure = false
    }
  }

  onSmp (ctx, type, data) {
    const peer = ctx.peer
    if (type === 'question') {
      this.event({ type: 'smp', peer, result: 'ask', question: data === undefined ? null : data })
    } else if (type === 'trust') {
      this.event({ type: 'smp', peer, result: data ? 'success' : 'failure', question: null })
    } else if (type === 'abort') {
      this.event({ type: 'smp', peer, result: 'abort', question: null })
    }
  }

  onError (ctx, err, severity) {
    const peer = ctx.peer
    const wire = this.collect ? this.collect.wire : null
    const marker = wire === null ? -1 : wire.indexOf('?OTR Error:')
    if (marker >= 0 && err === wire.slice(marker + '?OTR Error:'.length)) {
      this.event({ type: 'remote_error', peer, text: err })
      return
    }
    const reason = ctx.reason
    ctx.reason = null
    if (reason !== null) {
      // error(): otr.js sent "?OTR Error:" and reports a generic text; the reason says which.
      const code = ctx.inData ? 'unreadable' : AKE_FAILURE
      this.event({ type: 'error', peer, code, detail: reason, 'x-otrjs-severity': severity })
      return
    }
    const code = NOTIFY_CODES[err] || 'x-otrjs-notify'
    this.event({ type: 'error', peer, code, detail: String(err), 'x-otrjs-severity': severity })
  }
}

module.exports = { OtrjsAdapter, FEATURES, libotrKeyFile }
