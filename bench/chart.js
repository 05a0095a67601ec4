// A hand-written SVG of a bench run: one horizontal bar per case and store, its ratio of server CPU time per
// request to the bare route's (throughput's ratio written beside it), or, for the login routes, its fraction
// of the argon2 bound, with the target marked.

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-')

const COLORS = { met: '#2e7d32', missed: '#e65100', none: '#607d8b', target: '#111' }

export function renderSvg (results) {
  const W = 1300
  const LABEL = 410
  const BAR = 430
  const ROW = 20
  const parts = []
  let y = 0
  const text = (x, yy, s, attrs = '') => parts.push(`<text x="${x}" y="${yy}" ${attrs}>${esc(s)}</text>`)

  y += 26
  text(12, y, 'fastify-accounts: server CPU time per request relative to a bare Fastify route (same run, paired rounds)', 'font-size="16" font-weight="bold"')
  y += 18
  const m = results.machine
  text(12, y, `${results.command} · ${results.date.slice(0, 10)} · ${m.cpu}, ${m.cores} cores · Node ${m.node} · ${results.config.connections} connections, ${results.config.rounds ?? 1} rounds of bare + case per case (median) · load average at start ${m.loadAverage[0]}`, 'font-size="11" fill="#444"')
  y += 10

  const panel = (title, scaleMax, rows) => {
    y += 24
    text(12, y, title, 'font-size="13" font-weight="bold"')
    y += 8
    const x0 = LABEL
    const scale = (v) => x0 + Math.max(0, Math.min(v, scaleMax)) / scaleMax * BAR
    const top = y
    const bottom = y + rows.length * ROW
    // Grid first, so the bars sit on it: 0, 0.25 ... scaleMax.
    for (let v = 0; v <= scaleMax + 1e-9; v += 0.25) {
      const x = scale(v).toFixed(1)
      parts.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${bottom + 2}" stroke="${v === 1 ? '#999' : '#ddd'}" stroke-width="${v === 1 ? 1 : 0.5}"/>`)
      text(x, bottom + 14, v.toFixed(2), 'font-size="10" fill="#666" text-anchor="middle"')
    }
    for (const row of rows) {
      if (row.header !== undefined) {
        y += ROW
        text(12, y - 5, row.header, 'font-size="12" font-weight="bold" fill="#333"')
        continue
      }
      y += ROW
      const color = row.met === null ? COLORS.none : row.met ? COLORS.met : COLORS.missed
      text(24, y - 5, row.label, 'font-size="12"')
      parts.push(`<rect x="${x0}" y="${y - ROW + 4}" width="${Math.max(1, scale(row.value) - x0).toFixed(1)}" height="${ROW - 7}" fill="${color}"/>`)
      if (row.target !== null) {
        const tx = scale(row.target).toFixed(1)
        parts.push(`<line x1="${tx}" x2="${tx}" y1="${y - ROW + 2}" y2="${y - 1}" stroke="${COLORS.target}" stroke-width="2"/>`)
      }
      text(x0 + BAR + 8, y - 5, row.note, 'font-size="11" fill="#333"')
    }
    y += 16
  }

  const fast = []
  const slow = []
  let maxRatio = 1
  for (const s of results.stores) {
    const bareUs = s.bare.reduce((a, r) => a + r.serverCpuUs, 0) / s.bare.length
    fast.push({ header: `${s.kind} (bare route ${fmt(bareUs)} µs of server CPU per request, ${fmt(s.reference)} req/s${s.bareProcess ? ', its own process' : ''})` })
    slow.push({ header: `${s.kind} (bound ${s.argon2.cores} cores / ${fmt(s.argon2.sequential.meanMs, 1)} ms per argon2id verify = ${fmt(s.argon2.boundPerSecond, 1)}/s)` })
    for (const c of results.cases) {
      const r = s.cases[c.id]
      if (r === undefined) continue
      const target = r.verdict.target === null ? null : r.verdict.min
      const problems = r.non2xx + r.errors > 0 ? `, ${r.non2xx} non-2xx!` : ''
      if (r.argon2Fraction !== undefined) {
        slow.push({ label: c.label, value: r.argon2Fraction, target: r.verdict.of === 'argon2' ? target : null, met: r.verdict.met, note: `${fmt(r.argon2Fraction, 2)} of bound, ${fmt(r.argon2MeasuredFraction, 2)} of argon2 alone (${fmt(r.rps, 1)} req/s${problems})` })
      } else {
        maxRatio = Math.max(maxRatio, r.cpuRatio)
        const judged = r.verdict.of === 'cpu' || r.verdict.of === undefined
        fast.push({ label: c.label, value: r.cpuRatio, target: judged ? target : null, met: judged ? r.verdict.met : null, note: `${fmt(r.cpuRatio, 2)} (${fmt(r.serverCpuUs)} µs); req/s ${fmt(r.ratio, 2)} of bare (${fmt(r.rps)} req/s, p99 ${fmt(r.p99)} ms${problems})` })
      }
    }
  }
  panel('Bare route\'s server CPU per request / the case\'s (higher is better; black tick = target; green met, orange missed, grey no target)', Math.ceil(maxRatio * 4) / 4, fast)
  if (slow.length > results.stores.length) {
    panel('Logins: fraction of the argon2 bound (cores / time of one argon2id verify, measured alone before each store)', 1, slow)
  }

  y += 6
  if (results.eventLoop !== null) {
    const e = results.eventLoop
    y += 16
    text(12, y, `Event loop: /jwt/verify/ alone ${fmt(e.alone.rps)} req/s (p99 ${fmt(e.alone.p99)} ms); while ${fmt(e.logins.rps, 1)} logins/s hash: ${fmt(e.during.rps)} req/s, p99 ${fmt(e.during.p99)} ms, loop delay max ${fmt(e.during.eld.max, 1)} ms (one argon2id verify: ${fmt(e.argon2VerifyMs, 1)} ms).`, 'font-size="11"')
    y += 16
    const b = e.blocking
    text(12, y, `Control, a hasher that spends that time on the main thread instead: verify ${fmt(b.verify.rps)} req/s, p99 ${fmt(b.verify.p99)} ms, loop delay max ${fmt(b.verify.eld.max, 1)} ms.`, 'font-size="11"')
  }
  for (const mem of results.memory) {
    y += 16
    text(12, y, `Memory, ${mem.store} token store: ${fmt(mem.refreshes)} rotations; RSS ${fmt(mem.before.rss / 2 ** 20)} → ${fmt(mem.end.rss / 2 ** 20)} → ${fmt(mem.after.rss / 2 ** 20)} MB, refresh records ${fmt(mem.before.records.refresh)} → ${fmt(mem.end.records.refresh)} → ${fmt(mem.after.records.refresh)} (before → right after → expired): ${mem.recordsGone ? 'expired records gone' : 'expired records NOT gone'}.`, 'font-size="11"')
  }
  y += 14
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">\n` +
    `<rect width="100%" height="100%" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`
}
