#!/usr/bin/env node
// Load generator for the samen benchmarks: autocannon (pinned in package.json), driven by bench/run.py.
//
//   node load.js --url http://127.0.0.1:8080/fhir --scenario crud --connections 16 --duration 25 [--warmup 5]
//   node load.js --url ... --scenario read --ids ids.json ...
//
// Scenarios
//   crud  per connection a chain: POST Patient -> GET Patient/{id} -> PUT Patient/{id} -> GET Patient/{id},
//         with the id the server assigned (read from the Location header or the body of the create).
//   read  GET Type/{id} over known ids (ids.json: ["Patient/abc", "Observation/def", ...]), random order.
//   create  POST Type over the resources of --bodies bodies.json (a JSON array), round robin.
//
// Prints one JSON object: requests/s, latency percentiles (exact, from every 2xx response), status counts.
'use strict'

const autocannon = require('autocannon')
const fs = require('fs')

function args () {
  const out = { connections: 16, duration: 25, warmup: 5, scenario: 'crud' }
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '')
    if (key === 'help' || key === 'h') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 12).join('\n'))
      process.exit(0)
    }
    out[key] = argv[i + 1]
  }
  for (const k of ['connections', 'duration', 'warmup']) out[k] = Number(out[k])
  if (!out.url) throw new Error('--url is required')
  return out
}

const JSON_HEADERS = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' }

function patient (n, family) {
  return {
    resourceType: 'Patient',
    meta: { tag: [{ system: 'http://samen.nl/fhir/CodeSystem/data-origin', code: 'synthetic' }] },
    identifier: [{ system: 'http://samen.nl/fhir/NamingSystem/bench', value: `bench-${process.pid}-${n}` }],
    active: true,
    name: [{ use: 'official', family, given: ['Bench'] }],
    gender: n % 2 ? 'female' : 'male',
    birthDate: `19${50 + (n % 50)}-0${1 + (n % 9)}-1${n % 10}`,
    address: [{ use: 'home', line: ['Dorpsstraat 1'], city: 'Utrecht', postalCode: '3511 AB', country: 'NL' }]
  }
}

function idFrom (headers, body) {
  const location = headers.location || headers.Location
  if (location) {
    const m = /\/Patient\/([^/]+)/.exec(location)
    if (m) return m[1]
  }
  try { return JSON.parse(body).id } catch (e) { return undefined }
}

function crudRequests (base) {
  let counter = 0
  return [
    {
      method: 'POST',
      path: `${base}/Patient`,
      headers: JSON_HEADERS,
      setupRequest: (req, context) => {
        context.n = ++counter
        req.body = JSON.stringify(patient(context.n, 'Jansen'))
        return req
      },
      onResponse: (status, body, context, headers) => { context.id = idFrom(headers, body) }
    },
    {
      method: 'GET',
      headers: { accept: 'application/fhir+json' },
      setupRequest: (req, context) => { req.path = `${base}/Patient/${context.id}`; return req }
    },
    {
      method: 'PUT',
      headers: JSON_HEADERS,
      setupRequest: (req, context) => {
        req.path = `${base}/Patient/${context.id}`
        req.body = JSON.stringify({ ...patient(context.n, 'de Vries'), id: context.id })
        return req
      }
    },
    {
      method: 'GET',
      headers: { accept: 'application/fhir+json' },
      setupRequest: (req, context) => { req.path = `${base}/Patient/${context.id}`; return req }
    }
  ]
}

function createRequests (base, bodies) {
  let next = 0
  return [{
    method: 'POST',
    headers: JSON_HEADERS,
    setupRequest: (req) => {
      const body = bodies[next++ % bodies.length]
      req.path = `${base}/${body.resourceType}`
      req.body = JSON.stringify(body)
      return req
    }
  }]
}

function readRequests (base, ids) {
  return [{
    method: 'GET',
    headers: { accept: 'application/fhir+json' },
    setupRequest: (req) => { req.path = `${base}/${ids[Math.floor(Math.random() * ids.length)]}`; return req }
  }]
}

function percentile (sorted, p) {
  if (!sorted.length) return null
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

function runOnce (opts, requests, duration, record) {
  return new Promise((resolve, reject) => {
    const latencies = []
    const statuses = {}
    const instance = autocannon({
      url: opts.origin,
      connections: opts.connections,
      duration,
      requests,
      timeout: 30
    }, (err, result) => { if (err) reject(err); else resolve({ result, latencies, statuses }) })
    instance.on('response', (client, statusCode, resBytes, responseTime) => {
      statuses[statusCode] = (statuses[statusCode] || 0) + 1
      if (record && statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
    })
  })
}

async function main () {
  const opts = args()
  const url = new URL(opts.url)
  opts.origin = url.origin
  const base = url.pathname.replace(/\/$/, '')
  let requests
  if (opts.scenario === 'crud') {
    requests = crudRequests(base)
  } else if (opts.scenario === 'create') {
    requests = createRequests(base, JSON.parse(fs.readFileSync(opts.bodies, 'utf8')))
  } else if (opts.scenario === 'read') {
    const ids = JSON.parse(fs.readFileSync(opts.ids, 'utf8'))
    requests = readRequests(base, ids)
  } else {
    throw new Error(`unknown scenario ${opts.scenario}`)
  }
  if (opts.warmup > 0) await runOnce(opts, requests, opts.warmup, false)
  const { result, latencies, statuses } = await runOnce(opts, requests, opts.duration, true)
  latencies.sort((a, b) => a - b)
  const seconds = (result.finish - result.start) / 1000
  const total = Object.values(statuses).reduce((a, b) => a + b, 0)
  const ok = result['2xx']
  console.log(JSON.stringify({
    scenario: opts.scenario,
    connections: opts.connections,
    duration_s: seconds,
    requests: total,
    requests_per_s: total / seconds,
    ok_per_s: ok / seconds,
    latency_ms: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies.length ? latencies[latencies.length - 1] : null,
      mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : null
    },
    status: statuses,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts
  }))
}

main().catch((e) => { console.error(e); process.exit(1) })
