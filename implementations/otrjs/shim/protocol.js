'use strict'
/*
 * The otrcheck peer protocol, version 1 (docs/peer-protocol.md), server side, in Node.js.
 *
 * Invariants:
 * - exactly one response line per request line, in request order; blank lines are skipped;
 * - a request is validated field by field before the adapter sees it: a missing or mistyped
 *   field, an unknown op or an unknown non-"x-" field is answered `bad_request` (id null when
 *   the request has no integer id); "x-" fields are dropped, "x-" ops go to adapter.extension;
 * - an exception escaping the adapter is answered `internal` and serving goes on;
 * - only this module writes to the protocol stream; everything else that would reach standard
 *   output (console.log, a library's debug print) is sent to standard error.
 */

const readline = require('readline')

const EXTENSION = 'x-'
const RESERVED = new Set(['id', 'ok', 'out', 'events', 'error'])
const HEX = /^[0-9a-fA-F]*$/

class AdapterError extends Error {
  constructor (kind, detail) {
    super(detail)
    this.kind = kind
    this.detail = detail
  }
}

const badRequest = (detail) => new AdapterError('bad_request', detail)
const unsupported = (detail) => new AdapterError('unsupported', detail)

function isInt (value) {
  return typeof value === 'number' && Number.isInteger(value)
}

function isHex (value, even, nonempty) {
  return typeof value === 'string' && HEX.test(value) &&
    (!even || value.length % 2 === 0) && (!nonempty || value.length > 0)
}

const checks = {
  text (name, value) {
    if (typeof value !== 'string') throw badRequest(`${name} must be a string`)
    return value
  },
  name (name, value) {
    if (typeof value !== 'string' || value === '') throw badRequest(`${name} must be a non-empty string`)
    return value
  },
  optionalText (name, value) {
    return value === null ? null : checks.text(name, value)
  },
  u32 (name, value) {
    if (!isInt(value) || value < 0 || value > 0xffffffff) {
      throw badRequest(`${name} must be an integer in 0..0xffffffff`)
    }
    return value
  },
  size (name, value) {
    if (!isInt(value) || value < 0) throw badRequest(`${name} must be a non-negative integer`)
    return value
  },
  hexBytes (name, value) {
    if (!isHex(value, true, false)) throw badRequest(`${name} must be a string of hex digit pairs`)
    return Buffer.from(value, 'hex')
  },
  optionalHexBytes (name, value) {
    return value === null ? null : checks.hexBytes(name, value)
  },
  privateKey (name, value) {
    const obj = withoutExtensions(name, value)
    const unknown = Object.keys(obj).filter((k) => !['p', 'q', 'g', 'y', 'x'].includes(k)).sort()
    if (unknown.length) throw badRequest(`${name}: unknown fields ${JSON.stringify(unknown)}`)
    const key = {}
    for (const part of ['p', 'q', 'g', 'y', 'x']) {
      if (!(part in obj)) throw badRequest(`${name}: missing ${part}`)
      if (!isHex(obj[part], false, true)) throw badRequest(`${name}.${part} must be a non-empty hex string`)
      key[part] = BigInt('0x' + obj[part])
    }
    return key
  },
  policy (name, value) {
    const obj = withoutExtensions(name, value)
    const policy = { ...POLICY_DEFAULTS }
    const unknown = Object.keys(obj).filter((k) => !(k in POLICY_DEFAULTS)).sort()
    if (unknown.length) throw badRequest(`unknown policy flags: ${JSON.stringify(unknown)}`)
    for (const [flag, flagValue] of Object.entries(obj)) {
      if (typeof flagValue !== 'boolean') throw badRequest(`policy flag ${flag} must be a boolean`)
      policy[flag] = flagValue
    }
    return policy
  }
}

const POLICY_DEFAULTS = Object.freeze({
  allow_v2: true,
  allow_v3: true,
  require_encryption: false,
  send_whitespace_tag: false,
  whitespace_start_ake: true,
  error_start_ake: true
})

function withoutExtensions (name, value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest(`${name} must be an object`)
  }
  const obj = {}
  for (const [k, v] of Object.entries(value)) if (!k.startsWith(EXTENSION)) obj[k] = v
  return obj
}

const MISSING = Symbol('missing')
const field = (name, check, fallback = MISSING) => ({ name, check, fallback })
const PEER = field('peer', checks.name)

/** Each op's fields, in the order the adapter method takes them. */
const OPS = {
  hello: [],
  init: [
    field('account', checks.name),
    field('protocol', checks.name),
    field('key', checks.privateKey),
    field('instance_tag', checks.u32),
    field('policy', checks.policy, {}),
    field('max_message_size', checks.size, 0),
    field('seed', checks.optionalHexBytes, null)
  ],
  send: [PEER, field('text', checks.text)],
  receive: [PEER, field('wire', checks.text)],
  query: [PEER],
  end: [PEER],
  smp_start: [PEER, field('secret', checks.text), field('question', checks.optionalText, null)],
  smp_respond: [PEER, field('secret', checks.text)],
  smp_abort: [PEER],
  symkey: [PEER, field('use', checks.u32), field('usedata', checks.hexBytes)],
  status: [PEER],
  quit: []
}

function requestId (obj) {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj) && isInt(obj.id)) return obj.id
  return null
}

/** Validate one decoded request: [id, op, args] where args are the op's fields in order. */
function decodeRequest (obj) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw badRequest('a request must be a JSON object')
  }
  const rid = requestId(obj)
  if (rid === null) throw badRequest('a request needs an integer id')
  if (!('op' in obj)) throw badRequest("missing field 'op'")
  const op = obj.op
  if (typeof op !== 'string') throw badRequest('op must be a string')
  if (op.startsWith(EXTENSION)) {
    const fields = {}
    for (const [k, v] of Object.entries(obj)) if (k !== 'id' && k !== 'op') fields[k] = v
    return [rid, op, [fields]]
  }
  if (!Object.prototype.hasOwnProperty.call(OPS, op)) throw badRequest(`unknown op '${op}'`)
  const spec = OPS[op]
  const known = new Set(['id', 'op', ...spec.map((f) => f.name)])
  const unknown = Object.keys(obj).filter((k) => !known.has(k) && !k.startsWith(EXTENSION)).sort()
  if (unknown.length) throw badRequest(`${op}: unknown fields ${JSON.stringify(unknown)}`)
  const args = spec.map((f) => {
    if (Object.prototype.hasOwnProperty.call(obj, f.name)) return f.check(f.name, obj[f.name])
    if (f.fallback === MISSING) throw badRequest(`${op}: missing field '${f.name}'`)
    return f.check(f.name, f.fallback)
  })
  return [rid, op, args]
}

function errorResponse (rid, kind, detail) {
  return { id: rid, ok: false, error: { kind, detail } }
}

/** The answer to one request; never throws for anything the adapter does. */
async function respond (adapter, request) {
  let rid, op, args
  try {
    [rid, op, args] = decodeRequest(request)
  } catch (exc) {
    return [errorResponse(requestId(request), 'bad_request', exc.detail || String(exc)), null]
  }
  try {
    let answer
    if (op.startsWith(EXTENSION)) {
      if (typeof adapter.extension !== 'function') throw unsupported(`${op}: this shim has no extension ops`)
      answer = await adapter.extension(op, args[0])
    } else {
      answer = await adapter[op](...args)
    }
    answer = answer || {}
    const body = { out: answer.out || [], events: answer.events || [] }
    for (const [k, v] of Object.entries(answer.fields || {})) {
      if (RESERVED.has(k)) throw new AdapterError('internal', `adapter.${op} answered reserved field ${k}`)
      body[k] = v
    }
    return [{ id: rid, ok: true, ...body }, op]
  } catch (exc) {
    if (exc instanceof AdapterError) return [errorResponse(rid, exc.kind, exc.detail), op]
    process.stderr.write(`request ${rid} (${op}) failed: ${exc && exc.stack ? exc.stack : exc}\n`)
    return [errorResponse(rid, 'internal', String(exc)), op]
  }
}

/** JSON with every non-ASCII character escaped, so the stream is plain ASCII. */
function encode (obj) {
  return JSON.stringify(obj).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

/**
 * Serve `adapter` on standard input and output until `quit` or end of input.
 * The adapter's methods may return promises; a request is answered only when its promise settles.
 */
function serve (adapter) {
  const stdoutWrite = process.stdout.write.bind(process.stdout)
  const toStderr = (...args) => process.stderr.write(args.map(String).join(' ') + '\n')
  process.stdout.write = (chunk, encoding, cb) => process.stderr.write(chunk, encoding, cb)
  console.log = console.info = console.debug = console.warn = toStderr

  const write = (line) => new Promise((resolve) => stdoutWrite(line + '\n', resolve))
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false })
  let chain = Promise.resolve()
  let stopping = false

  lines.on('line', (line) => {
    chain = chain.then(async () => {
      if (stopping || !line.trim()) return
      let response, op
      try {
        const request = JSON.parse(line)
        ;[response, op] = await respond(adapter, request)
      } catch (exc) {
        response = errorResponse(null, 'bad_request', `not JSON: ${exc.message}`)
        op = null
      }
      await write(encode(response))
      if (op === 'quit') {
        stopping = true
        process.exit(response.ok ? 0 : 1)
      }
    })
  })
  lines.on('close', () => { chain.then(() => process.exit(0)) })
}

module.exports = { AdapterError, badRequest, unsupported, serve, decodeRequest, OPS, POLICY_DEFAULTS }
