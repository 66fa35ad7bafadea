'use strict'
/*
 * otrcheck's otr.js shim: `node main.js OTR_PACKAGE_DIR` serves one account of otr.js over the
 * peer protocol (docs/peer-protocol.md) on standard input and output; logs go to standard error.
 * OTR_PACKAGE_DIR is the installed npm package `otr` (implementations/otrjs/provision.py puts
 * otr@0.2.16 into ~/.cache/otrcheck/otrjs/).
 */

const fs = require('fs')
const path = require('path')

const random = require('./random.js')
const protocol = require('./protocol.js')

function main (argv) {
  const otrDir = argv[0]
  if (!otrDir || !fs.existsSync(path.join(otrDir, 'package.json'))) {
    process.stderr.write('usage: node main.js OTR_PACKAGE_DIR (the npm package otr)\n')
    process.exit(2)
  }
  random.install() // before otr.js loads: its bigint.js draws through crypto.randomBytes
  const otr = require(otrDir)
  const version = JSON.parse(fs.readFileSync(path.join(otrDir, 'package.json'), 'utf8')).version
  require('./parse.js').load(otrDir)
  const { OtrjsAdapter } = require('./adapter.js')
  protocol.serve(new OtrjsAdapter(otr, version))
}

main(process.argv.slice(2))
