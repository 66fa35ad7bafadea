'use strict'
/*
 * x-parse (docs/peer-protocol.md, "Extension ops"): otr.js's own message parser,
 * `Parse.parseMsg(otr, msg)` from lib/parse.js, on one string with no session state.
 *
 * parseMsg reads only a few fields of the OTR object (the ALLOW_V* and ERROR_START_AKE flags,
 * the instance tags, the fragment buffer), so each call gets a fresh scratch object holding just
 * those: building a real OTR object without a key would generate a DSA key first (seconds).
 * ERROR_START_AKE is off so that parsing an Error Message sends nothing.  An exception escaping
 * parseMsg is answered {"x-crash": "..."}.
 */

const path = require('path')

const ENTRIES = ['message_type', 'message_version', 'query_version', 'whitespace_version']
const AKE_TYPES = { '\x02': 'dh_commit', '\x0a': 'dh_key', '\x11': 'reveal_signature', '\x12': 'signature' }

let Parse = null

function load (otrDir) {
  Parse = require(path.join(otrDir, 'lib', 'parse.js'))
}

function scratch (OTR) {
  const otr = Object.create(OTR.prototype)
  Object.assign(otr, {
    ALLOW_V2: true,
    ALLOW_V3: true,
    ERROR_START_AKE: false,
    our_instance_tag: '\x00\x00\x01\x00',
    their_instance_tag: '\x00\x00\x00\x00'
  })
  Parse.initFragment(otr)
  return otr
}

const versionNumber = (v) => (typeof v === 'string' && v.length === 2 ? v.charCodeAt(1) : 0)

function classify (parsed) {
  if (parsed === undefined) return 'unknown' // a fragment, stored (or ignored)
  if (parsed.cls === 'query') return 'query'
  if (parsed.cls === 'error') return 'error'
  if (parsed.cls === 'data') return 'data'
  if (parsed.cls === 'ake') return AKE_TYPES[parsed.type]
  if (parsed.version !== undefined) return 'unknown' // encoded, of a type otr.js does not know
  return parsed.ver && parsed.ver.length ? 'tagged_plaintext' : 'plaintext'
}

function parse (OTR, entry, input) {
  let parsed
  try {
    parsed = Parse.parseMsg(scratch(OTR), input)
  } catch (exc) {
    return { 'x-crash': String(exc) }
  }
  const best = (ver) => Math.max(0, ...(ver || []).map(versionNumber).filter((v) => v === 2 || v === 3))
  switch (entry) {
    case 'message_type':
      return classify(parsed)
    case 'message_version':
      return parsed && parsed.version !== undefined ? versionNumber(parsed.version) : 0
    case 'query_version':
      return parsed && parsed.cls === 'query' ? best(parsed.ver) : 0
    case 'whitespace_version':
      if (parsed && parsed.cls === undefined && parsed.version === undefined && parsed.ver && parsed.ver.length) {
        return { version: best(parsed.ver), stripped: parsed.msg }
      }
      return { version: 0, stripped: null }
  }
  throw new Error(`unknown parse entry ${entry}`)
}

module.exports = { ENTRIES, load, parse }
