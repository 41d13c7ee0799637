/*
 * app.js - the dmarcd dashboard: a single-page app on /api/, hash routes.
 *
 * Every string from a report is attacker-chosen.  The page is built only
 * through el() below, which makes DOM nodes and puts text in text nodes:
 * it is the project's one HTML escaper.  Nothing here assigns innerHTML.
 */
'use strict';

/* ---- the one escaper: DOM building ---------------------------------- */

const SAFE_ATTRS = new Set(['class', 'href', 'title', 'id', 'colspan',
  'type', 'value', 'download', 'role', 'aria-label', 'disabled',
  'placeholder']);

/* Element tag with attrs; children are nodes or strings (text nodes). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      e.addEventListener(k.slice(2), v);
    } else if (SAFE_ATTRS.has(k)) {
      if (k === 'href' && !/^(#|\/api\/)/.test(String(v)))
        throw new Error('href outside the app');
      e.setAttribute(k, String(v));
    } else {
      throw new Error('attribute not allowed: ' + k);
    }
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/* ---- formatting ------------------------------------------------------ */

const nf = new Intl.NumberFormat('en');
const num = (n) => nf.format(n || 0);
const pct = (a, b) => (b > 0 ? (100 * a / b).toFixed(1) + '%' : '–');
const dateOf = (secs) => (secs ? new Date(secs * 1000).toISOString().slice(0, 10) : '–');
const timeOf = (secs) => (secs ? new Date(secs * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '–');
const orNone = (s) => (s === null || s === undefined || s === '' ? el('span', { class: 'muted' }, '(none)') : s);

const COLORS = {
  pass: '#3f8f6b', none: '#d9a441', quarantine: '#d5793a', reject: '#b5473f',
  other: '#8a979c', neutral: '#7d8fb3', softfail: '#c9a25e', temperror: '#9a7fb8',
  permerror: '#6d5a8a', policy: '#5b8fa8', fail: '#b5473f',
  dkimAligned: '#2f6db5', spfAligned: '#e08a2e',
};
const color = (k) => COLORS[k] || '#8a979c';

function rate(a, b) {
  const p = b > 0 ? a / b : 0;
  return el('span', { class: 'rate' },
    el('span', { class: 'bar' }, barFill(p)), pct(a, b));
}

/* The filled part of a rate bar: width set through CSSOM (no inline
 * style attribute, which the CSP forbids). */
function barFill(p) {
  const s = el('span');
  s.style.width = Math.round(100 * Math.max(0, Math.min(1, p))) + '%';
  return s;
}

/* ---- state: the hash route and the filter ---------------------------- */

let META = null;
const charts = [];

function parseHash() {
  const h = location.hash.replace(/^#\/?/, '');
  const [path, q] = h.split('?');
  return { page: path || 'overview', q: new URLSearchParams(q || '') };
}

function today() {
  return (META && META.features && META.features.today) ||
    new Date().toISOString().slice(0, 10);
}

function addDays(d, n) {
  const t = new Date(d + 'T12:00:00Z');
  t.setUTCDate(t.getUTCDate() + n);
  return t.toISOString().slice(0, 10);
}

/* The days each domain has reports of the kind a page shows (/api/meta):
 * failure and TLS reports have spans of their own, unlike the aggregate
 * reports' that every other page shows. */
function spans(page) {
  const key = { failures: 'forensic_domains', tls: 'tlsrpt_domains' }[page] || 'domains';
  return (META && META[key]) || [];
}

/* from/to of the period in q, on page (the shown one by default): all
 * time is every day with reports of the page's kind, up to today. */
function period(q, page) {
  const p = q.get('period') || '30';
  if (p === 'custom' || (!q.get('period') && q.get('from')))
    return { from: q.get('from') || addDays(today(), -29), to: q.get('to') || today() };
  if (p === 'all') {
    let from = today(), to = today();
    for (const d of spans(page || parseHash().page)) {
      if (d.first_day < from) from = d.first_day;
      if (d.last_day > to) to = d.last_day;
    }
    return { from, to };
  }
  const n = Math.max(1, parseInt(p, 10) || 30);
  return { from: addDays(today(), -(n - 1)), to: today() };
}

/* API query string of the filter (plus extra parameters). */
function filterQuery(q, extra) {
  const { from, to } = period(q);
  const u = new URLSearchParams();
  if (q.get('domain')) u.set('domain', q.get('domain'));
  if (q.get('reporter')) u.set('reporter', q.get('reporter'));
  u.set('from', from);
  u.set('to', to);
  for (const [k, v] of Object.entries(extra || {}))
    if (v !== undefined && v !== null && v !== '') u.set(k, v);
  return u.toString();
}

/* A hash link to page keeping the filter, with changes. */
function link(page, q, changes) {
  const u = new URLSearchParams();
  for (const k of ['domain', 'reporter', 'period', 'from', 'to'])
    if (q.get(k)) u.set(k, q.get(k));
  // the Sources page's own filter stays while it is sorted or paged
  if (page === 'sources')
    for (const k of ['service', 'type'])
      if (q.get(k)) u.set(k, q.get(k));
  // the Readiness page's policy stays while the filter changes
  if (page === 'readiness')
    for (const k of SIM_KEYS)
      if (q.get(k)) u.set(k, q.get(k));
  for (const [k, v] of Object.entries(changes || {})) {
    if (v === undefined || v === null || v === '') u.delete(k);
    else u.set(k, v);
  }
  const s = u.toString();
  return '#/' + page + (s ? '?' + s : '');
}

/* A link to the reports behind a figure: the same filter, a narrower one. */
function reportsLink(q, changes) {
  return link('reports', q, changes);
}

function dayRange(q, day) {
  return { period: 'custom', from: day, to: day };
}

async function api(path, query) {
  const r = await fetch('/api/' + path + (query ? '?' + query : ''),
    { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => ({ error: 'bad response' }));
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

/* ---- shared widgets ---------------------------------------------------- */

/* A sortable table.  cols: {key, label, num, fmt(row), sort(row)}. */
function table(cols, rows, opts) {
  opts = opts || {};
  let sortKey = opts.sortKey || null;
  let asc = !!opts.asc;
  const tbody = el('tbody');
  const heads = cols.map((c) => el('th', {
    class: (c.num ? 'num ' : '') + (c.nosort ? '' : 'sortable'),
    onclick: c.nosort ? undefined : () => {
      if (opts.server) { opts.server(c.key); return; }
      asc = sortKey === c.key ? !asc : !c.num;
      sortKey = c.key;
      draw();
    },
  }, c.label));
  function value(c, r) {
    return c.sort ? c.sort(r) : r[c.key];
  }
  function draw() {
    let list = rows.slice();
    const c = cols.find((x) => x.key === sortKey);
    if (c && !opts.server) {
      list.sort((a, b) => {
        const x = value(c, a), y = value(c, b);
        const r = (typeof x === 'number' && typeof y === 'number') ? x - y :
          String(x === null ? '' : x).localeCompare(String(y === null ? '' : y));
        return asc ? r : -r;
      });
    }
    heads.forEach((h, i) => {
      h.classList.remove('asc', 'desc');
      if (cols[i].key === sortKey) h.classList.add(asc ? 'asc' : 'desc');
    });
    tbody.replaceChildren(...list.map((r) => el('tr', {},
      cols.map((col) => el('td', { class: col.num ? 'num' : (col.cls || '') },
        col.fmt ? col.fmt(r) : orNone(r[col.key]))))));
    if (list.length === 0)
      tbody.replaceChildren(el('tr', {}, el('td', { colspan: cols.length, class: 'muted' }, 'Nothing in this period.')));
  }
  draw();
  return el('table', {}, el('thead', {}, el('tr', {}, heads)), tbody);
}

function panel(title, ...body) {
  return el('section', { class: 'panel' }, title ? el('h2', {}, title) : null, body);
}

function chartBox(small) {
  const canvas = el('canvas');
  return { box: el('div', { class: small ? 'chart small' : 'chart' }, canvas), canvas };
}

/* A Chart.js chart, destroyed when the page changes.  A day without
 * reports is null on the day axis: a gap, never a line across it. */
function chart(canvas, config) {
  if (typeof Chart === 'undefined') return null;
  config.options = Object.assign({
    responsive: true, maintainAspectRatio: false, animation: false, spanGaps: false,
    normalized: true, /* each dataset's data is one value per label, in order */
    interaction: { mode: 'index', intersect: false },
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 12, color: '#4b585e' } } },
  }, config.options || {});
  /* a day's bar at least 2 px wide: over a long period's day axis it
   * would be a fraction of a pixel, and the bars would not show at all */
  const w = canvas.parentNode ? canvas.parentNode.clientWidth : 0;
  if (config.type === 'bar' && !config.options.indexAxis && w > 0 &&
      w / Math.max(1, config.data.labels.length) < 3)
    config.options.datasets = { bar: { barThickness: 2 } };
  /* and no more day labels than fit side by side (a phone's width) */
  const x = config.options.scales && config.options.scales.x;
  if (x && x.ticks && x.ticks.maxTicksLimit && w > 0)
    x.ticks.maxTicksLimit = Math.max(2, Math.min(x.ticks.maxTicksLimit, Math.floor(w / 110)));
  const c = new Chart(canvas, config);
  charts.push(c);
  return c;
}

/* An axis title: what the axis counts, in its unit. */
function axisTitle(text) {
  return { display: true, text, color: '#66737a', font: { size: 12 } };
}

/* The day axis (x) of the period's days; labels are measured on a sample
 * only, as every label is a date of the same width (all time has years
 * of days). */
function dayAxis(stacked) {
  return { stacked, grid: { display: false }, title: axisTitle('day (UTC)'),
    ticks: { color: '#66737a', maxRotation: 0, autoSkipPadding: 12, maxTicksLimit: 12, sampleSize: 20 } };
}

/* Stacked bars per day; y counts unit. */
function stackedScales(unit) {
  return {
    x: dayAxis(true),
    y: { stacked: true, beginAtZero: true, grid: { color: '#eef1f0' }, title: axisTitle(unit), ticks: { color: '#66737a', precision: 0 } },
  };
}

/* Every day of the period, from..to (UTC): the day axis, on which a day
 * without reports is a gap rather than left out. */
function periodDays(q) {
  const { from, to } = period(q);
  const out = [];
  for (let d = from; d <= to && out.length <= 40000; d = addDays(d, 1)) out.push(d);
  return out;
}

/* value(row) of the row of each day of days (rows by their day), null
 * for a day without one. */
function onDays(days, rows, value) {
  const by = new Map(rows.map((r) => [r.day, r]));
  return days.map((d) => (by.has(d) ? value(by.get(d)) : null));
}

function pager(total, q, offset, limit) {
  const page = (o) => () => { location.hash = link(parseHash().page, q, Object.assign(
    Object.fromEntries(parseHash().q), { offset: o || '' })); };
  return el('div', { class: 'pager' },
    el('button', { type: 'button', disabled: offset <= 0, onclick: page(Math.max(0, offset - limit)) }, '← Newer'),
    total ? `${num(offset + 1)}–${num(Math.min(total, offset + limit))} of ${num(total)}` : '',
    el('button', { type: 'button', disabled: offset + limit >= total, onclick: page(offset + limit) }, 'Older →'));
}

/* What to show when a period has no data: the latest day with reports of
 * the page's kind (for the chosen domain), a way to all time when that
 * day is outside the period, and how to get such reports (how: nodes). */
function emptyState(q, what, latest, how) {
  const page = parseHash().page;
  let last = null;
  for (const d of spans(page))
    if (!q.get('domain') || d.domain === q.get('domain'))
      if (!last || d.last_day > last) last = d.last_day;
  const { from, to } = period(q);
  const outside = last && (last < from || last > to);
  let note;
  if (!last)
    note = `No ${what} stored yet` + (q.get('domain') ? ` for ${q.get('domain')}.` : '.');
  else if (outside)
    note = `${latest} ${last}.`;
  else
    note = `${latest} ${last}; none matches this filter.`;
  return el('div', { class: 'empty' },
    el('div', {}, `No ${what} in this period.`),
    el('div', { class: 'note' }, note),
    outside ? el('button', { type: 'button', onclick: () => { location.hash = link(page, q, { period: 'all', from: '', to: '' }); } }, 'Show all time') : null,
    how || (last ? null : el('div', { class: 'note' }, 'Run dmarcd ingest, or deliver reports to dmarcd lmtp.')));
}

/* How to get failure reports, or TLS reports: the DNS record that asks
 * for them (the chosen domain, as text). */
function howFailures(q) {
  const dom = q.get('domain') || 'example.com';
  return el('div', { class: 'how' },
    el('p', {}, 'Receivers send failure reports only for domains whose DMARC record asks for them with a ruf= tag (fo=1: on any failed check), for example:'),
    el('pre', { class: 'mono' }, `_dmarc.${dom} TXT "v=DMARC1; p=none; rua=mailto:dmarc@${dom}; ruf=mailto:dmarc@${dom}; fo=1"`),
    el('p', {}, 'The address must deliver to dmarcd (LMTP or the Maildir it reads). Few receivers send them; many large ones never do.'));
}

function howTls(q) {
  const dom = q.get('domain') || 'example.com';
  return el('div', { class: 'how' },
    el('p', {}, 'Senders report TLS (SMTP TLS Reporting, RFC 8460) for domains that publish a TLS-RPT record, for example:'),
    el('pre', { class: 'mono' }, `_smtp._tls.${dom} TXT "v=TLSRPTv1; rua=mailto:tls-reports@${dom}"`),
    el('p', {}, 'The address must deliver to dmarcd (LMTP or the Maildir it reads).'));
}

/* ---- pages ------------------------------------------------------------- */

/* The Overview's summary of Readiness: what p=reject would do, filled in
 * when the simulation answers (it reads records: it may take longer than
 * the rollups the rest of the page reads). */
function readinessCard(q) {
  const c = card('Under p=reject', '…', 'simulating', link('readiness', q, { p: 'reject', sp: 'reject' }), 'k-readiness');
  api('simulate', simQuery(q, { p: 'reject', sp: 'reject' })).then((d) => {
    const t = simTotals(d.domains);
    c.querySelector('.v').textContent = num(t.q + t.r);
    c.querySelector('.n').textContent = t.approved === 0 ? 'would fail; no approved senders yet'
      : `would fail, ${num(t.approvedFail)} of approved senders`;
  }).catch((e) => { c.querySelector('.n').textContent = 'could not simulate: ' + e.message; });
  return c;
}

async function pageOverview(q) {
  const d = await api('overview', filterQuery(q));
  const t = { messages: 0, pass: 0, spf: 0, dkim: 0, reports: 0 };
  for (const r of d.domains) {
    t.messages += r.messages; t.pass += r.pass; t.spf += r.spf_aligned;
    t.dkim += r.dkim_aligned; t.reports += r.reports;
  }
  const out = [el('h1', {}, 'Overview', el('span', { class: 'sub' }, q.get('domain') || allDomains()))];
  if (t.messages === 0) return out.concat(emptyState(q, 'aggregate reports', 'The latest aggregate report covers'));
  const rl = reportsLink(q);
  out.push(el('div', { class: 'cards' },
    card('Messages', num(t.messages), `${num(t.reports)} reports`, rl, 'k-messages'),
    card('DMARC pass', pct(t.pass, t.messages), `${num(t.pass)} aligned`, rl, 'k-pass'),
    card('SPF aligned', pct(t.spf, t.messages), `${num(t.spf)} messages`, link('alignment', q), 'k-spf'),
    card('DKIM aligned', pct(t.dkim, t.messages), `${num(t.dkim)} messages`, link('alignment', q), 'k-dkim'),
    card('Failing', num(t.messages - t.pass), 'not aligned', link('sources', q, { sort: 'fail' }), 'k-fail'),
    readinessCard(q)));

  const { box, canvas } = chartBox();
  out.push(panel('Messages per day', el('div', { class: 'note' }, 'Click a day for the reports behind it.'), box));
  const days = periodDays(q);
  const series = (k) => onDays(days, d.days, (x) => x[k]);
  setTimeout(() => chart(canvas, {
    type: 'bar',
    data: {
      labels: days,
      datasets: [
        { label: 'Pass', data: series('pass'), backgroundColor: COLORS.pass },
        { label: 'Fail, delivered', data: series('fail_none'), backgroundColor: COLORS.none },
        { label: 'Fail, quarantined', data: series('fail_quarantine'), backgroundColor: COLORS.quarantine },
        { label: 'Fail, rejected', data: series('fail_reject'), backgroundColor: COLORS.reject },
      ],
    },
    options: {
      scales: stackedScales('messages'),
      onClick: (ev, els) => {
        if (els.length) location.hash = reportsLink(q, dayRange(q, days[els[0].index]));
      },
    },
  }));

  out.push(panel('Domains', table([
    { key: 'domain', label: 'Domain', fmt: (r) => el('a', { href: link('overview', q, { domain: r.domain }) }, r.domain) },
    { key: 'messages', label: 'Messages', num: true, fmt: (r) => el('a', { href: reportsLink(q, { domain: r.domain }) }, num(r.messages)) },
    { key: 'rate', label: 'DMARC pass', num: true, sort: (r) => r.pass / r.messages, fmt: (r) => rate(r.pass, r.messages) },
    { key: 'spf', label: 'SPF aligned', num: true, sort: (r) => r.spf_aligned / r.messages, fmt: (r) => pct(r.spf_aligned, r.messages) },
    { key: 'dkim', label: 'DKIM aligned', num: true, sort: (r) => r.dkim_aligned / r.messages, fmt: (r) => pct(r.dkim_aligned, r.messages) },
    { key: 'fail', label: 'Failing', num: true, sort: (r) => r.messages - r.pass, fmt: (r) => el('a', { href: link('sources', q, { domain: r.domain, sort: 'fail' }) }, num(r.messages - r.pass)) },
    { key: 'reports', label: 'Reports', num: true, fmt: (r) => el('a', { href: reportsLink(q, { domain: r.domain }) }, num(r.reports)) },
  ], d.domains, { sortKey: 'messages' })));
  return out;
}

function card(k, v, n, href, id) {
  return el('a', { class: 'card', href, id }, el('div', { class: 'k' }, k), el('div', { class: 'v' }, v), el('div', { class: 'n' }, n));
}

/* Results by day for one method, as stacked datasets on days (null: no
 * reports of the method that day). */
function resultSeries(rows, method, days) {
  const results = [...new Set(rows.filter((r) => r.method === method).map((r) => r.result))];
  results.sort((a, b) => (a === 'pass' ? -1 : b === 'pass' ? 1 : a.localeCompare(b)));
  const idx = new Map(days.map((d, i) => [d, i]));
  const sets = results.map((res) => {
    const data = new Array(days.length).fill(null);
    for (const r of rows)
      if (r.method === method && r.result === res && idx.has(r.day))
        data[idx.get(r.day)] = (data[idx.get(r.day)] || 0) + r.messages;
    return { label: res || '(none)', data, backgroundColor: color(res) };
  });
  return { labels: days, datasets: sets };
}

async function pageAlignment(q) {
  const d = await api('alignment', filterQuery(q));
  const out = [el('h1', {}, 'Alignment and failures')];
  if (d.alignment.length === 0) return out.concat(emptyState(q, 'aggregate reports', 'The latest aggregate report covers'));
  const a = chartBox(true), b = chartBox(true), c = chartBox(true);
  out.push(el('div', { class: 'grid2' },
    panel('Aligned messages per day (policy evaluated)', c.box),
    panel('DKIM results per day (each signature)', a.box)));
  out.push(el('div', { class: 'grid2' }, panel('SPF results per day', b.box),
    panel('Overrides by reason', table([
      { key: 'reason', label: 'Reason', fmt: (r) => r.reason || el('span', { class: 'muted' }, '(no override)') },
      { key: 'messages', label: 'Messages', num: true, fmt: (r) => num(r.messages) },
      { key: 'fail', label: 'Failing DMARC', num: true, fmt: (r) => num(r.fail) },
    ], d.reasons, { sortKey: 'messages' }))));
  setTimeout(() => {
    const days = periodDays(q);
    chart(a.canvas, { type: 'bar', data: resultSeries(d.days, 'dkim', days), options: { scales: stackedScales('messages') } });
    chart(b.canvas, { type: 'bar', data: resultSeries(d.days, 'spf', days), options: { scales: stackedScales('messages') } });
    const share = (k) => onDays(days, d.alignment, (x) => (x.messages > 0 ? +(100 * x[k] / x.messages).toFixed(1) : null));
    /* two colours far apart, and a dash, to tell the lines apart */
    chart(c.canvas, {
      type: 'line',
      data: {
        labels: days,
        datasets: [
          { label: 'DKIM aligned %', data: share('dkim_aligned'), borderColor: COLORS.dkimAligned, backgroundColor: COLORS.dkimAligned, tension: 0.2, pointRadius: 2 },
          { label: 'SPF aligned %', data: share('spf_aligned'), borderColor: COLORS.spfAligned, backgroundColor: COLORS.spfAligned, borderDash: [6, 3], tension: 0.2, pointRadius: 2 },
        ],
      },
      options: { scales: { y: { min: 0, max: 100, title: axisTitle('% of messages'), ticks: { color: '#66737a' } }, x: dayAxis(false) } },
    });
  });
  out.push(panel('Failing sources', table([
    { key: 'ip', label: 'Source IP', cls: 'mono', fmt: (r) => el('a', { href: link('source', q, { ip: r.ip }) }, r.ip) },
    { key: 'ptr', label: 'Host', fmt: hostName },
    { key: 'service', label: 'Service', fmt: (r) => serviceName(r, q) },
    { key: 'country', label: 'Network', fmt: network },
    { key: 'messages', label: 'Failing messages', num: true, fmt: (r) => el('a', { href: reportsLink(q, { ip: r.ip }) }, num(r.messages)) },
    { key: 'quarantine', label: 'Quarantined', num: true, fmt: (r) => num(r.quarantine) },
    { key: 'reject', label: 'Rejected', num: true, fmt: (r) => num(r.reject) },
    { key: 'header_from', label: 'Header From', nosort: true, fmt: (r) => tags(r.header_from) },
  ], d.failing_sources, { sortKey: 'messages' })));
  out.push(panel('DKIM selectors', table([
    { key: 'domain', label: 'Signing domain', fmt: (r) => orNone(r.domain) },
    { key: 'selector', label: 'Selector', cls: 'mono', fmt: (r) => orNone(r.selector) },
    { key: 'messages', label: 'Messages', num: true, fmt: (r) => num(r.messages) },
    { key: 'rate', label: 'Pass rate', num: true, sort: (r) => r.pass / r.messages, fmt: (r) => rate(r.pass, r.messages) },
  ], d.selectors, { sortKey: 'messages' })));
  return out;
}

function tags(list) {
  return (list || []).map((s) => el('span', { class: 'tag' }, s === '' ? '(none)' : s));
}

/* Who a source is (source_host): its PTR name, marked when the name does
 * not resolve back to the address (anyone can set a PTR), the service and
 * its type, the network.  Text only: el() never parses markup. */
const SERVICE_TYPES = {
  mailbox: 'mailbox provider', esp: 'ESP / marketing', transactional: 'transactional',
  crm: 'CRM / helpdesk', gateway: 'security gateway', forwarder: 'forwarder / list', hosting: 'ISP / hosting',
};
function hostName(r) {
  if (!r.ptr) return el('span', { class: 'muted' }, '–');
  return r.ptr_verified ? el('span', { class: 'mono host' }, r.ptr)
    : el('span', { class: 'mono host unverified', title: 'unverified: this name does not resolve back to the address' }, r.ptr, ' ?');
}
function serviceName(r, q) {
  if (!r.service) return el('span', { class: 'muted' }, '–');
  return q ? el('a', { href: link('sources', q, { service: r.service, offset: '' }) }, r.service) : r.service;
}
function serviceType(r) {
  return r.service_type ? el('span', { class: 'tag' }, SERVICE_TYPES[r.service_type] || r.service_type) : el('span', { class: 'muted' }, '–');
}
function network(r) {
  const as = r.asn ? `AS${r.asn}${r.as_org ? ' ' + r.as_org : ''}` : '';
  return as || r.country ? [as, r.country ? (as ? ' · ' : '') + r.country : ''].join('') : el('span', { class: 'muted' }, '–');
}

async function pageSources(q) {
  const limit = 100, offset = parseInt(q.get('offset') || '0', 10) || 0;
  const sort = q.get('sort') || 'messages';
  // service "(none)": the sources no service was found for (the API's "")
  const service = q.get('service'), stype = q.get('type');
  const [d, sv] = await Promise.all([
    api('sources', filterQuery(q, { limit, offset, sort, order: q.get('order') }) +
      (service ? '&service=' + encodeURIComponent(service === '(none)' ? '' : service) : '') +
      (stype !== null ? '&type=' + encodeURIComponent(stype) : '')),
    api('services', filterQuery(q))]);
  const out = [el('h1', {}, 'Sources', el('span', { class: 'sub' }, 'sending IPs as reporters saw them'))];
  const typeSel = el('select', { id: 'f-type', 'aria-label': 'Service type' }, el('option', { value: '' }, 'every type'),
    ...Object.entries(SERVICE_TYPES).map(([k, v]) => el('option', { value: k }, v)));
  typeSel.value = stype || '';
  typeSel.addEventListener('change', () => { location.hash = link('sources', q, { type: typeSel.value, offset: '' }); });
  out.push(el('div', { class: 'toolbar' }, typeSel, service
    ? el('span', {}, ' service: ', el('span', { class: 'tag' }, service === '(none)' ? '(none found)' : service), ' ',
      el('a', { href: link('sources', q, { service: '', offset: '' }) }, 'any service'))
    : ''));
  if (d.sources.length === 0 && offset === 0 && !service && !stype) return out.concat(emptyState(q, 'sources', 'The latest aggregate report covers'));
  const total = d.sources.length ? d.sources[0].total : 0;
  const server = (key) => {
    const cur = parseHash().q;
    const order = cur.get('sort') === key && cur.get('order') !== 'asc' ? 'asc' : '';
    location.hash = link('sources', q, { sort: key, order, offset: '' });
  };
  out.push(panel(null, table([
    { key: 'ip', label: 'Source IP', cls: 'mono', fmt: (r) => el('a', { href: link('source', q, { ip: r.ip }) }, r.ip) },
    { key: 'ptr', label: 'Host', fmt: hostName },
    { key: 'service', label: 'Service', fmt: (r) => serviceName(r, q) },
    { key: 'type', label: 'Type', fmt: serviceType },
    { key: 'asn', label: 'Network', fmt: network },
    { key: 'messages', label: 'Messages', num: true, fmt: (r) => el('a', { href: reportsLink(q, { ip: r.ip }) }, num(r.messages)) },
    { key: 'pass', label: 'Pass', num: true, fmt: (r) => num(r.pass) },
    { key: 'fail', label: 'Fail', num: true, fmt: (r) => num(r.fail) },
    { key: 'rate', label: 'Pass rate', num: true, nosort: true, fmt: (r) => rate(r.pass, r.messages) },
    { key: 'header_from', label: 'Header From', nosort: true, fmt: (r) => [tags(r.header_from), r.n_header_from > 10 ? ` +${r.n_header_from - 10}` : ''] },
    { key: 'domains', label: 'Domains', nosort: true, fmt: (r) => tags(r.domains) },
  ], d.sources, { server, sortKey: sort, asc: q.get('order') === 'asc' }), pager(total, q, offset, limit)));
  out.push(panel('By service', table([
    { key: 'service', label: 'Service', fmt: (r) => el('a', { href: link('sources', q, { service: r.service || '(none)', type: '', offset: '' }) }, r.service || '(none found)') },
    { key: 'service_type', label: 'Type', fmt: serviceType },
    { key: 'ips', label: 'IPs', num: true, fmt: (r) => num(r.ips) },
    { key: 'messages', label: 'Messages', num: true, fmt: (r) => num(r.messages) },
    { key: 'fail', label: 'Fail', num: true, fmt: (r) => num(r.fail) },
    { key: 'rate', label: 'Pass rate', num: true, sort: (r) => r.pass / r.messages, fmt: (r) => rate(r.pass, r.messages) },
  ], sv.services, { sortKey: 'messages' })));
  return out;
}

async function pageSource(q) {
  const ip = q.get('ip') || '';
  const offset = parseInt(q.get('offset') || '0', 10) || 0, limit = 100;
  const d = await api('source', filterQuery(q, { ip, limit, offset }));
  const out = [el('h1', {}, 'Source ', el('span', { class: 'mono' }, ip))];
  const h = d.host || {};
  const f = (k, v) => [el('dt', {}, k), el('dd', {}, v)];
  out.push(panel('Who it is', el('dl', { class: 'fields' },
    f('Host', hostName(h)), f('Lookup', h.state ? (h.state === 'pending' ? 'not looked up yet' : h.state) : 'not looked up yet'),
    f('Base domain', orNone(h.base_domain)), f('Service', serviceName(h, q)), f('Type', serviceType(h)),
    f('Network', network(h)))));
  out.push(panel('In the rollups', table([
    { key: 'domain', label: 'Domain' },
    { key: 'header_from', label: 'Header From', fmt: (r) => orNone(r.header_from) },
    { key: 'dkim_aligned', label: 'DKIM', fmt: (r) => result(r.dkim_aligned) },
    { key: 'spf_aligned', label: 'SPF', fmt: (r) => result(r.spf_aligned) },
    { key: 'disposition', label: 'Disposition', fmt: (r) => orNone(r.disposition) },
    { key: 'messages', label: 'Messages', num: true, fmt: (r) => num(r.messages) },
  ], d.summary, { sortKey: 'messages' })));
  const total = d.records.length ? d.records[0].total : 0;
  out.push(panel('Records', recordsTable(d.records, q, true), pager(total, q, offset, limit)));
  return out;
}

function result(ok) {
  return el('span', { class: ok ? 'tag pass' : 'tag fail' }, ok ? 'aligned' : 'not aligned');
}

function resTag(s) {
  return el('span', { class: 'tag ' + (s === 'pass' ? 'pass' : s ? 'fail' : '') }, s || '(none)');
}

function authList(domains, results, selectors) {
  return (domains || []).map((dm, i) => el('div', {}, resTag(results && results[i]), ' ',
    dm || '(none)', selectors && selectors[i] ? el('span', { class: 'muted' }, ' s=', selectors[i]) : null));
}

function recordsTable(rows, q, withReport) {
  const cols = [];
  if (withReport) {
    cols.push({ key: 'day', label: 'Day' });
    cols.push({ key: 'org_name', label: 'Reporter', fmt: (r) => el('a', { href: '#/report?' + new URLSearchParams({ domain: r.domain, id: r.report }) }, orNone(r.org_name)) });
  } else {
    cols.push({ key: 'ip', label: 'Source IP', cls: 'mono', fmt: (r) => el('a', { href: link('source', q, { ip: r.ip }) }, r.ip) });
    cols.push({ key: 'ptr', label: 'Host', fmt: hostName }, { key: 'service', label: 'Service', fmt: (r) => serviceName(r, null) });
  }
  cols.push(
    { key: 'count', label: 'Messages', num: true, fmt: (r) => num(r.count) },
    { key: 'disposition', label: 'Disposition', fmt: (r) => orNone(r.disposition) },
    { key: 'dkim', label: 'DKIM', fmt: (r) => resTag(r.dkim) },
    { key: 'spf', label: 'SPF', fmt: (r) => resTag(r.spf) },
    { key: 'header_from', label: 'Header From', fmt: (r) => orNone(r.header_from) },
    { key: 'dkim_domain', label: 'DKIM signatures', nosort: true, fmt: (r) => authList(r.dkim_domain, r.dkim_result, r.dkim_selector) },
    { key: 'spf_domain', label: 'SPF checks', nosort: true, fmt: (r) => authList(r.spf_domain, r.spf_result) },
    { key: 'reason_type', label: 'Override', nosort: true, fmt: (r) => tags(r.reason_type) });
  return table(cols, rows, {});
}

async function pageReporters(q) {
  const d = await api('reporters', filterQuery(q));
  const out = [el('h1', {}, 'Reporters', el('span', { class: 'sub' }, 'who sends you aggregate reports'))];
  if (d.reporters.length === 0) return out.concat(emptyState(q, 'reports', 'The latest aggregate report covers'));
  const { from, to } = period(q);
  const span = Math.round((new Date(to) - new Date(from)) / 86400000) + 1;
  const c = chartBox(true);
  out.push(panel('Reports by reporter', c.box));
  const top = d.reporters.slice(0, 15);
  setTimeout(() => chart(c.canvas, {
    type: 'bar',
    data: { labels: top.map((r) => r.reporter || '(unnamed)'), datasets: [{ label: 'Reports', data: top.map((r) => r.reports), backgroundColor: COLORS.policy }] },
    options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, title: axisTitle('reports'), ticks: { precision: 0, color: '#66737a' } }, y: { title: axisTitle('reporter'), ticks: { color: '#4b585e' } } },
      onClick: (ev, els) => { if (els.length) location.hash = reportsLink(q, { reporter: top[els[0].index].reporter }); } },
  }));
  out.push(panel(null, table([
    { key: 'reporter', label: 'Reporter', fmt: (r) => el('a', { href: link('overview', q, { reporter: r.reporter }) }, orNone(r.reporter)) },
    { key: 'reports', label: 'Reports', num: true, fmt: (r) => el('a', { href: reportsLink(q, { reporter: r.reporter }) }, num(r.reports)) },
    { key: 'messages', label: 'Messages', num: true, fmt: (r) => num(r.messages) },
    { key: 'domains', label: 'Domains', num: true, fmt: (r) => num(r.domains) },
    { key: 'days', label: 'Days with reports', num: true, fmt: (r) => `${num(r.days)} of ${num(span)}` },
    { key: 'first_day', label: 'First' },
    { key: 'last_day', label: 'Last seen' },
    { key: 'last_received', label: 'Last received', fmt: (r) => timeOf(r.last_received) },
  ], d.reporters, { sortKey: 'reports' })));
  return out;
}

async function pageReports(q) {
  const limit = 100, offset = parseInt(q.get('offset') || '0', 10) || 0;
  const d = await api('reports', filterQuery(q, { ip: q.get('ip'), limit, offset }));
  const title = [el('h1', {}, 'Reports', q.get('ip') ? el('span', { class: 'sub' }, 'with records from ', el('span', { class: 'mono' }, q.get('ip'))) : null)];
  if (d.reports.length === 0 && offset === 0) return title.concat(emptyState(q, 'reports', 'The latest aggregate report covers'));
  const total = d.reports.length ? d.reports[0].total : 0;
  return title.concat(panel(null, table([
    { key: 'day', label: 'Day' },
    { key: 'domain', label: 'Domain' },
    { key: 'org_name', label: 'Reporter', fmt: (r) => orNone(r.org_name) },
    { key: 'report_id', label: 'Report ID', cls: 'mono', fmt: (r) => el('a', { href: '#/report?' + new URLSearchParams({ domain: r.domain, id: r.id }) }, r.report_id) },
    { key: 'period', label: 'Period', sort: (r) => r.begin_time, fmt: (r) => `${timeOf(r.begin_time)} – ${timeOf(r.end_time)}` },
    { key: 'records', label: 'Records', num: true, fmt: (r) => num(r.records) },
    { key: 'messages', label: 'Messages', num: true, fmt: (r) => num(r.messages) },
    { key: 'p', label: 'Policy', fmt: (r) => orNone(r.p) },
  ], d.reports, {}), pager(total, q, offset, limit)));
}

async function pageReport(q) {
  const offset = parseInt(q.get('offset') || '0', 10) || 0, limit = 500;
  const d = await api('report', new URLSearchParams({ domain: q.get('domain') || '', id: q.get('id') || '', limit, offset }).toString());
  const r = d.report;
  if (!r) return [el('h1', {}, 'Report'), el('div', { class: 'empty' }, 'No such report.')];
  const f = (k, v) => [el('dt', {}, k), el('dd', {}, v === null || v === undefined || v === '' ? el('span', { class: 'muted' }, '–') : v)];
  const out = [el('h1', {}, 'Report ', el('span', { class: 'mono' }, r.report_id))];
  out.push(el('div', { class: 'grid2' },
    panel('Report', el('dl', { class: 'fields' },
      f('Reporter', r.org_name), f('Contact', r.org_email), f('Extra contact', r.extra_contact_info),
      f('Domain', r.domain), f('Period', `${timeOf(r.begin_time)} – ${timeOf(r.end_time)}`),
      f('Counted on', r.day), f('Records', num(r.records)), f('Messages', num(r.messages)),
      f('Errors', (r.errors || []).length ? r.errors.map((e) => el('div', {}, e)) : null),
      f('Generator', r.generator), f('Schema', r.dmarcbis ? 'DMARCbis' : r.version))),
    panel('Published policy and origin', el('dl', { class: 'fields' },
      f('p / sp / np', [r.p, r.sp, r.np].map((x) => x || '–').join(' / ')),
      f('pct', r.pct), f('adkim / aspf', `${r.adkim || '–'} / ${r.aspf || '–'}`), f('fo', r.fo),
      f('testing', r.testing), f('Source', r.source), f('Attachment', r.item),
      f('Message-ID', r.message_id), f('SHA-256', r.sha256 ? el('span', { class: 'mono' }, r.sha256) : null),
      f('Received', timeOf(r.received))))));
  if (r.records_pruned)
    out.push(panel(`Records (${num(r.records)})`, el('div', { class: 'note' }, 'Pruned: this report is older than retention, so its records and its XML are gone (dmarcd.conf(5)); the per-day figures it made stay until rollup_retention.')));
  else
    out.push(panel(`Records (${num(r.records)})`, recordsTable(d.records, q, false)));
  out.push(r.records_pruned ? panel('Report XML', el('div', { class: 'note' }, 'Pruned with its records (retention).')) : documentPanel(d.document, r));
  return out;
}

/* The report's XML as it arrived: its first DOC_SHOW bytes as text (never
 * parsed or rendered as markup), and the whole as a download. */
const DOC_SHOW = 256 * 1024;

function documentPanel(doc, r) {
  const title = 'Report XML';
  if (!doc)
    return panel(title, el('div', { class: 'note' }, 'Not kept: this report was stored before dmarcd kept report documents.'));
  if (!doc.kept)
    return panel(title, el('div', { class: 'note' }, `Not kept: ${num(doc.size)} bytes, more than max_stored_document allows (see dmarcd.conf(5)).`));
  const url = '/api/report/document?' + new URLSearchParams({ domain: r.domain, id: r.id });
  const pre = el('pre', { class: 'mono xml', id: 'report-xml' }, 'Loading…');
  const note = el('div', { class: 'note' });
  showDocument(url, doc.size, pre, note);
  return panel(`${title} (${num(doc.size)} bytes)`,
    el('div', {}, el('a', { href: url, download: `report-${r.id}.xml` }, 'Download the XML')), note, pre);
}

/* A decoder for the document's encoding: its BOM, else its XML
 * declaration, else UTF-8. */
function docDecoder(bytes) {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be');
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 200));
  const m = /^(?:\ufeff|ï»¿)?<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head);
  try {
    return new TextDecoder(m ? m[1] : 'utf-8');
  } catch (e) {
    return new TextDecoder('utf-8');
  }
}

async function showDocument(url, size, pre, note) {
  /* only for the page that is shown: render() attaches the winning
   * render's nodes before this task runs; a superseded one never is */
  await new Promise((r) => setTimeout(r, 0));
  if (!pre.isConnected) return;
  try {
    const resp = await fetch(url);
    if (!resp.ok) throw new Error('HTTP ' + resp.status);
    let bytes;
    if (size <= 4 * DOC_SHOW) {
      /* read whole, as every other response: the usual case (reading a
       * small body through a stream reader made Chromium report the
       * finished request as aborted now and then, under load) */
      bytes = new Uint8Array(await resp.arrayBuffer()).subarray(0, DOC_SHOW);
    } else {
      /* a large one: its first DOC_SHOW bytes; the rest is not read */
      const reader = resp.body.getReader();
      const chunks = [];
      let got = 0;
      while (got < DOC_SHOW) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        got += value.length;
      }
      if (got >= DOC_SHOW) reader.cancel();
      bytes = new Uint8Array(Math.min(got, DOC_SHOW));
      let at = 0;
      for (const c of chunks) {
        const part = c.subarray(0, Math.min(c.length, bytes.length - at));
        bytes.set(part, at);
        at += part.length;
      }
    }
    pre.replaceChildren(docDecoder(bytes).decode(bytes));
    if (size > DOC_SHOW)
      note.replaceChildren(`The first ${num(DOC_SHOW)} of ${num(size)} bytes; the download has all of it.`);
  } catch (e) {
    pre.replaceChildren('Could not load the XML: ' + e.message);
  }
}

async function pageQuarantine(q) {
  const limit = 100, offset = parseInt(q.get('offset') || '0', 10) || 0;
  const all = q.get('all') === '1';
  const d = await api('quarantine', new URLSearchParams({ all: all ? 1 : 0, limit, offset }).toString());
  const out = [el('h1', {}, 'Quarantine', el('span', { class: 'sub' }, 'messages that gave no report, kept byte for byte'))];
  out.push(el('p', {}, el('a', { href: link('quarantine', q, { all: all ? '' : '1' }) }, all ? 'Hide resolved' : 'Show resolved too')));
  if (d.quarantine.length === 0 && offset === 0) return out.concat(el('div', { class: 'empty' }, 'Nothing in quarantine. Every message gave its reports.'));
  const total = d.quarantine.length ? d.quarantine[0].total : 0;
  out.push(panel(null, table([
    { key: 'last_seen', label: 'Last seen', fmt: (r) => timeOf(r.last_seen) },
    { key: 'reason', label: 'Why', fmt: (r) => r.reason },
    { key: 'source', label: 'Source', cls: 'mono', fmt: (r) => orNone(r.source) },
    { key: 'size', label: 'Bytes', num: true, fmt: (r) => num(r.size) },
    { key: 'times_seen', label: 'Seen', num: true, fmt: (r) => num(r.times_seen) },
    { key: 'resolved', label: 'Resolved', fmt: (r) => (r.resolved ? timeOf(r.resolved) : '–') },
    { key: 'id', label: '', nosort: true, fmt: (r) => el('a', { href: '/api/quarantine/raw?' + new URLSearchParams({ domain: r.domain, id: r.id }), download: `quarantine-${r.id}.eml` }, 'Download') },
  ], d.quarantine, { sortKey: 'last_seen' }), pager(total, q, offset, limit)));
  return out;
}

/* ---- failure reports and TLS reports (httpd/api_reports.c) ------------- */

const listOf = (v) => (Array.isArray(v) ? v : (v === null || v === undefined || v === '' ? [] : [String(v)]));
const fieldList = (f) => (k, v) => [el('dt', {}, k), el('dd', {}, v === null || v === undefined || v === '' ? el('span', { class: 'muted' }, '–') : v)];

async function pageFailures(q) {
  if (q.get('id')) return pageFailure(q);
  const limit = 100, offset = parseInt(q.get('offset') || '0', 10) || 0;
  const d = await api('forensic', filterQuery(q, { ip: q.get('ip'), limit, offset }));
  const out = [el('h1', {}, 'Failure reports')];
  if (d.reports.length === 0 && offset === 0) return out.concat(emptyState(q, 'failure reports', 'The latest failure report arrived on', howFailures(q)));
  const { box, canvas } = chartBox(true);
  out.push(panel('Failure reports per day', box));
  const days = periodDays(q);
  setTimeout(() => chart(canvas, {
    type: 'bar',
    data: { labels: days, datasets: [{ label: 'Failure reports', data: onDays(days, d.days, (x) => x.reports), backgroundColor: COLORS.reject }] },
    options: { scales: stackedScales('failure reports') },
  }), 0);
  const total = d.reports.length ? d.reports[0].total : 0;
  out.push(panel(null, table([
    { key: 'arrival', label: 'Arrival', fmt: (r) => timeOf(r.arrival) },
    { key: 'domain', label: 'Domain', fmt: (r) => orNone(r.domain) },
    { key: 'reporter', label: 'Reporter', fmt: (r) => el('a', { href: '#/failures?' + new URLSearchParams({ domain: r.domain, id: r.id }) }, r.reporter || '(none)') },
    { key: 'source_ip', label: 'Source IP', cls: 'mono', fmt: (r) => orNone(r.source_ip) },
    { key: 'feedback_type', label: 'Type', fmt: (r) => orNone(r.feedback_type) },
    { key: 'auth_failure', label: 'Failed', fmt: (r) => listOf(r.auth_failure).join(', ') },
    { key: 'original_mail_from', label: 'Mail from', fmt: (r) => orNone(r.original_mail_from) },
    { key: 'report_subject', label: 'Subject', fmt: (r) => orNone(r.report_subject) },
  ], d.reports, {}), pager(total, q, offset, limit)));
  return out;
}

async function pageFailure(q) {
  const d = await api('forensic/item', new URLSearchParams({ domain: q.get('domain') || '', id: q.get('id') || '' }).toString());
  const r = d.report;
  if (!r) return [el('h1', {}, 'Failure report'), el('div', { class: 'empty' }, 'No such report.')];
  const f = fieldList();
  const lines = (v) => (listOf(v).length ? listOf(v).map((x) => el('div', {}, x)) : null);
  return [el('h1', {}, 'Failure report ', el('span', { class: 'mono' }, r.report_message_id || String(r.id))),
    el('div', { class: 'grid2' },
      panel('Report', el('dl', { class: 'fields' },
        f('Reporter', r.reporter), f('Subject', r.report_subject), f('Date', timeOf(r.report_date)),
        f('Format', r.format), f('Feedback type', r.feedback_type), f('User agent', r.user_agent),
        f('Reported domain', r.reported_domain), f('Auth failure', listOf(r.auth_failure).join(', ')),
        f('Source', r.source), f('Received', timeOf(r.received)))),
      panel('Failed message', el('dl', { class: 'fields' },
        f('Arrival', r.arrival ? timeOf(r.arrival) : r.arrival_text), f('Source IP', r.source_ip),
        f('Mail from', r.original_mail_from), f('Rcpt to', lines(r.original_rcpt_to)),
        f('Authentication results', lines(r.authentication_results)),
        f('DKIM', [r.dkim_domain, r.dkim_identity, r.dkim_selector].map((x) => x || '–').join(' / ')),
        f('Delivery result', r.delivery_result), f('Identity alignment', r.identity_alignment),
        f('Reported URI', lines(r.reported_uri)), f('Redacted', r.redacted ? 'yes' : 'no')))),
    panel('Headers' + (r.headers_truncated ? ' (truncated)' : ''), el('pre', { class: 'mono', id: 'forensic-headers' }, r.headers || '')),
    r.body !== null && r.body !== undefined ? panel('Body' + (r.body_truncated ? ' (truncated)' : ''), el('pre', { class: 'mono' }, r.body)) : null]
    .filter((x) => x !== null);
}

async function pageTls(q) {
  if (q.get('id')) return pageTlsReport(q);
  const limit = 100, offset = parseInt(q.get('offset') || '0', 10) || 0;
  const d = await api('tlsrpt', filterQuery(q, { limit, offset }));
  const out = [el('h1', {}, 'TLS reports')];
  if (d.reports.length === 0 && offset === 0) return out.concat(emptyState(q, 'TLS reports', 'The latest TLS report covers', howTls(q)));
  const { box, canvas } = chartBox(true);
  out.push(panel('TLS sessions per day', box));
  /* d.days has a row per day and policy domain */
  const days = periodDays(q);
  const byDay = new Map();
  for (const x of d.days) {
    const t = byDay.get(x.day) || { day: x.day, successful: 0, failed: 0 };
    t.successful += Number(x.successful || 0);
    t.failed += Number(x.failed || 0);
    byDay.set(x.day, t);
  }
  const sum = (k) => onDays(days, [...byDay.values()], (x) => x[k]);
  setTimeout(() => chart(canvas, {
    type: 'bar',
    data: { labels: days, datasets: [
      { label: 'Successful', data: sum('successful'), backgroundColor: COLORS.pass },
      { label: 'Failed', data: sum('failed'), backgroundColor: COLORS.reject }] },
    options: { scales: stackedScales('sessions') },
  }), 0);
  out.push(panel('Per policy domain', table([
    { key: 'domain', label: 'Policy domain', fmt: (r) => orNone(r.domain) },
    { key: 'successful', label: 'Successful', num: true, fmt: (r) => num(r.successful) },
    { key: 'failed', label: 'Failed', num: true, fmt: (r) => num(r.failed) },
    { key: 'rate', label: 'Success', num: true, sort: (r) => r.successful / (Number(r.successful) + Number(r.failed) || 1), fmt: (r) => pct(Number(r.successful), Number(r.successful) + Number(r.failed)) },
  ], d.domains, {})));
  if (d.failures.length) {
    out.push(panel('Failures', table([
      { key: 'domain', label: 'Policy domain', fmt: (r) => orNone(r.domain) },
      { key: 'result_type', label: 'Result', fmt: (r) => orNone(r.result_type) },
      { key: 'receiving_mx_hostname', label: 'Receiving MX', cls: 'mono', fmt: (r) => orNone(r.receiving_mx_hostname) },
      { key: 'sending_mta_ip', label: 'Sending MTA', cls: 'mono', fmt: (r) => orNone(r.sending_mta_ip) },
      { key: 'sessions', label: 'Sessions', num: true, fmt: (r) => num(r.sessions) },
    ], d.failures, {})));
  }
  const total = d.reports.length ? d.reports[0].total : 0;
  out.push(panel('Reports', table([
    { key: 'begin', label: 'Period', fmt: (r) => `${timeOf(r.begin)} – ${timeOf(r.end)}` },
    { key: 'organization_name', label: 'Reporter', fmt: (r) => el('a', { href: '#/tls?' + new URLSearchParams({ domain: r.domain, id: r.id }) }, r.organization_name) },
    { key: 'domain', label: 'Domain', fmt: (r) => orNone(r.domain) },
    { key: 'successful', label: 'Successful', num: true, fmt: (r) => num(r.successful) },
    { key: 'failed', label: 'Failed', num: true, fmt: (r) => num(r.failed) },
  ], d.reports, {}), pager(total, q, offset, limit)));
  return out;
}

async function pageTlsReport(q) {
  const d = await api('tlsrpt/item', new URLSearchParams({ domain: q.get('domain') || '', id: q.get('id') || '' }).toString());
  const r = d.report;
  if (!r) return [el('h1', {}, 'TLS report'), el('div', { class: 'empty' }, 'No such report.')];
  const f = fieldList();
  return [el('h1', {}, 'TLS report ', el('span', { class: 'mono' }, r.report_id)),
    panel('Report', el('dl', { class: 'fields' },
      f('Reporter', r.organization_name), f('Contact', r.contact_info),
      f('Period', `${r.start_datetime} – ${r.end_datetime}`), f('Successful', num(r.successful)),
      f('Failed', num(r.failed)), f('Source', r.source))),
    panel('Policies', table([
      { key: 'domain', label: 'Policy domain', fmt: (p) => orNone(p.domain) },
      { key: 'policy_type', label: 'Type' },
      { key: 'mx_host', label: 'MX hosts', fmt: (p) => listOf(p.mx_host).join(', ') },
      { key: 'successful', label: 'Successful', num: true, fmt: (p) => num(p.successful) },
      { key: 'failed', label: 'Failed', num: true, fmt: (p) => num(p.failed) },
    ], d.policies, {})),
    panel('Failure details', table([
      { key: 'result_type', label: 'Result', fmt: (x) => orNone(x.result_type) },
      { key: 'sending_mta_ip', label: 'Sending MTA', cls: 'mono', fmt: (x) => orNone(x.sending_mta_ip) },
      { key: 'receiving_mx_hostname', label: 'Receiving MX', fmt: (x) => orNone(x.receiving_mx_hostname) },
      { key: 'receiving_ip', label: 'Receiving IP', cls: 'mono', fmt: (x) => orNone(x.receiving_ip) },
      { key: 'failed_session_count', label: 'Sessions', num: true, fmt: (x) => num(x.failed_session_count) },
      { key: 'failure_reason_code', label: 'Reason code', fmt: (x) => orNone(x.failure_reason_code) },
      { key: 'additional_information', label: 'Information', fmt: (x) => orNone(x.additional_information) },
    ], d.failures, {}))];
}

/* ---- Readiness: what a stricter policy would do (/api/simulate) ------- */

const SIM_KEYS = ['p', 'sp', 'pct', 'adkim', 'aspf', 'testing'];

function policyText(p) {
  return `p=${p.p} sp=${p.sp} pct=${p.pct} adkim=${p.adkim} aspf=${p.aspf}` + (p.testing ? ' t=y' : '');
}

function publishedText(p) {
  if (!p.p) return 'nothing published in these reports';
  return ['p', 'sp', 'np', 'pct', 'adkim', 'aspf', 'testing']
    .filter((k) => p[k] !== null && p[k] !== undefined).map((k) => `${k}=${p[k]}`).join(' ');
}

/* The controls: each a select whose first choice is "as published". */
function simControls(q) {
  const choice = (key, label, values) => {
    const s = el('select', { id: 'sim-' + key, 'aria-label': label },
      el('option', { value: '' }, label + ': as published'),
      ...values.map((v) => el('option', { value: v }, `${label}=${v}`)));
    s.value = q.get(key) || '';
    s.addEventListener('change', () => { location.hash = link('readiness', q, { [key]: s.value }); });
    return s;
  };
  return el('div', { class: 'toolbar', id: 'sim-controls' },
    choice('p', 'p', ['none', 'quarantine', 'reject']),
    choice('sp', 'sp', ['none', 'quarantine', 'reject']),
    choice('pct', 'pct', ['100', '50', '25', '10', '0']),
    choice('adkim', 'adkim', ['r', 's']),
    choice('aspf', 'aspf', ['r', 's']),
    choice('testing', 't', ['n', 'y']));
}

/* An approved-sender edit: POST with the CSRF token of /api/meta; the
 * server says no unless the user has the senders right. */
async function senderEdit(action, domain, rule) {
  const u = new URLSearchParams({ action, domain, rule });
  const r = await fetch('/api/senders?' + u, {
    method: 'POST', headers: { Accept: 'application/json', 'X-Dmarcd-CSRF': (META && META.csrf) || '' },
  });
  const body = await r.json().catch(() => ({ error: 'bad response' }));
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

/* The domain's approved senders, with add and remove (the edits need a
 * user with the senders right; anyone else sees why not). */
async function sendersPanel(q, domain) {
  const { from, to } = period(q);
  const d = await api('senders', new URLSearchParams({ domain, from, to }).toString());
  const msg = el('div', { class: 'note', id: 'senders-msg' });
  const act = async (action, rule) => {
    try {
      await senderEdit(action, domain, rule);
      render();
    } catch (e) {
      msg.replaceChildren(el('span', { class: 'error' }, 'Not saved: ', e.message));
    }
  };
  const input = el('input', { id: 'sender-rule', type: 'text', placeholder: 'service Amazon SES · cidr 192.0.2.0/24 · dkim example.net', 'aria-label': 'Rule' });
  const add = el('button', { id: 'sender-add', type: 'button' }, 'Approve');
  add.addEventListener('click', () => { if (input.value.trim()) act('add', input.value.trim()); });
  return panel('Approved senders of ' + domain,
    d.rules.length === 0 ? el('div', { class: 'empty' }, 'None yet: every source counts as forwarded or unknown.')
      : table([
        { key: 'rule', label: 'Rule', cls: 'mono', sort: (r) => `${r.kind} ${r.value}`, fmt: (r) => `${r.kind} ${r.value}` },
        { key: 'note', label: 'Note', fmt: (r) => r.note || '' },
        { key: 'added', label: 'Added', fmt: (r) => r.added },
        { key: 'remove', label: '', nosort: true, fmt: (r) => { const b = el('button', { type: 'button' }, 'Remove'); b.addEventListener('click', () => act('remove', `${r.kind} ${r.value}`)); return b; } },
      ], d.rules, { sortKey: 'rule' }),
    (d.suggested || []).length === 0 ? '' : table([
      { key: 'rule', label: 'Suggested', cls: 'mono', fmt: (r) => r.rule },
      { key: 'service', label: 'Service', fmt: (r) => r.service || '(none found)' },
      { key: 'messages', label: 'Messages', num: true, fmt: (r) => num(r.messages) },
      { key: 'approve', label: '', nosort: true, fmt: (r) => { const b = el('button', { type: 'button' }, 'Approve'); b.addEventListener('click', () => act('add', r.rule)); return b; } },
    ], d.suggested, { sortKey: 'messages' }),
    el('div', { class: 'toolbar' }, input, add), msg);
}

/* The simulator's query: the filter without a reporter (a policy applies
 * to every receiver's reports). */
function simQuery(q, extra) {
  const u = new URLSearchParams(filterQuery(q, extra));
  u.delete('reporter');
  return u.toString();
}

/* The simulator's totals of every domain. */
function simTotals(domains) {
  const t = { messages: 0, pass: 0, q: 0, r: 0, approvedFail: 0, approved: 0 };
  for (const r of domains) {
    t.messages += r.messages; t.pass += r.pass; t.q += r.would_quarantine; t.r += r.would_reject;
    t.approved += r.by_class.approved.messages; t.approvedFail += r.by_class.approved.would_fail;
  }
  return t;
}

/* The verdict on the simulated policy, with its reason. */
function simVerdict(t) {
  if (t.messages === 0) return ['unknown', 'Cannot tell: no reports in this period.'];
  if (t.approved === 0)
    return ['unknown', 'Cannot tell yet: no approved senders. Approve the sources that are yours (suggested below for a domain) and the simulation can say whose mail this policy would lose.'];
  if (t.approvedFail > 0)
    return ['fail', `Not ready: ${num(t.approvedFail)} messages of your approved senders would be quarantined or rejected. Fix those sources first (each says why).`];
  return ['pass', `Ready for this policy: none of your approved senders would lose mail; ${num(t.q + t.r)} messages of unknown or forwarded sources would be quarantined or rejected.`];
}

async function pageReadiness(q) {
  const extra = {};
  for (const k of SIM_KEYS) extra[k] = q.get(k);
  // the period, and the one of the same length before it
  const { from, to } = period(q);
  const days = Math.round((new Date(to) - new Date(from)) / 86400000) + 1;
  const prevQ = new URLSearchParams(q);
  prevQ.set('period', 'custom');
  prevQ.set('from', addDays(from, -days));
  prevQ.set('to', addDays(from, -1));
  // all time has no period before it
  const before = q.get('period') !== 'all' && prevQ.get('from') >= '1970-01-01';
  const [d, p] = await Promise.all([api('simulate', simQuery(q, extra)),
    before ? api('simulate', simQuery(prevQ, extra)) : { domains: [] }]);
  const out = [el('h1', {}, 'Readiness', el('span', { class: 'sub' }, 'what a stricter policy would do to this period\'s mail')),
    simControls(q)];
  if (d.domains.length === 0) return out.concat(emptyState(q, 'aggregate reports', 'The latest aggregate report covers'));
  const t = simTotals(d.domains), pt = simTotals(p.domains);
  const [cls, words] = simVerdict(t);
  const change = !before ? 'all time has no period before it' : pt.messages === 0 ? 'no reports in the period before' :
    `would pass ${pct(pt.pass, pt.messages)} in the ${days} days before (${((100 * t.pass / t.messages) - (100 * pt.pass / pt.messages) >= 0 ? '+' : '')}${((100 * t.pass / t.messages) - (100 * pt.pass / pt.messages)).toFixed(1)} points now)`;
  out.push(el('div', { class: 'verdict ' + cls, id: 'sim-verdict' }, words, ' ', el('span', { class: 'note', id: 'sim-change' }, 'Compared: ', change, '.')));
  out.push(el('div', { class: 'cards' },
    card('Messages', num(t.messages), `${d.domains.length} domains`, reportsLink(q), 'k-sim-messages'),
    card('Would pass', pct(t.pass, t.messages), `${num(t.pass)} aligned`, link('alignment', q), 'k-sim-pass'),
    card('Would be quarantined', num(t.q), pct(t.q, t.messages), link('sources', q, { sort: 'fail' }), 'k-sim-quarantine'),
    card('Would be rejected', num(t.r), pct(t.r, t.messages), link('sources', q, { sort: 'fail' }), 'k-sim-reject')));
  out.push(panel('Domains', el('div', { class: 'note' }, 'Every record\'s DMARC result recomputed from its DKIM and SPF results under the policy above; what is not chosen is what the domain published.'),
    table([
      { key: 'domain', label: 'Domain', fmt: (r) => el('a', { href: link('readiness', q, { domain: r.domain }) }, r.domain) },
      { key: 'published', label: 'Published', nosort: true, fmt: (r) => publishedText(r.published) },
      { key: 'policy', label: 'Simulated', nosort: true, fmt: (r) => policyText(r.policy) },
      { key: 'messages', label: 'Messages', num: true, fmt: (r) => num(r.messages) },
      { key: 'pass', label: 'Would pass', num: true, sort: (r) => r.pass / r.messages, fmt: (r) => rate(r.pass, r.messages) },
      { key: 'would_quarantine', label: 'Quarantined', num: true, fmt: (r) => num(r.would_quarantine) },
      { key: 'would_reject', label: 'Rejected', num: true, fmt: (r) => num(r.would_reject) },
      { key: 'approved', label: 'Approved senders failing', num: true, sort: (r) => r.by_class.approved.would_fail, fmt: (r) => num(r.by_class.approved.would_fail) },
      { key: 'forwarded', label: 'Forwarded failing', num: true, sort: (r) => r.by_class.forwarded.would_fail, fmt: (r) => num(r.by_class.forwarded.would_fail) },
      { key: 'unknown', label: 'Unknown failing', num: true, sort: (r) => r.by_class.unknown.would_fail, fmt: (r) => num(r.by_class.unknown.would_fail) },
    ], d.domains, { sortKey: 'would_reject' })));
  const losing = [];
  for (const r of d.domains) for (const s of r.sources) losing.push(Object.assign({ domain: r.domain }, s));
  // the owner's approved senders that would lose mail first
  losing.sort((a, b) => (a.class === 'approved') !== (b.class === 'approved')
    ? (a.class === 'approved' ? -1 : 1) : b.would_fail - a.would_fail);
  out.push(panel('Sources that would lose mail', losing.length === 0
    ? el('div', { class: 'empty' }, 'None: under this policy every message passes or is delivered.')
    : table([
      { key: 'domain', label: 'Domain', fmt: (r) => r.domain },
      { key: 'ip', label: 'Source IP', cls: 'mono', fmt: (r) => el('a', { href: link('source', q, { ip: r.ip }) }, r.ip) },
      { key: 'service', label: 'Service', fmt: (r) => r.service || '(none found)' },
      { key: 'class', label: 'Class', fmt: (r) => el('span', { class: 'tag' }, r.class), sort: (r) => (r.class === 'approved' ? 0 : 1) },
      { key: 'rule', label: 'Approved by', fmt: (r) => r.rule || '–' },
      { key: 'would_fail', label: 'Would fail', num: true, fmt: (r) => num(r.would_fail) },
      { key: 'messages', label: 'Messages', num: true, fmt: (r) => num(r.messages) },
      { key: 'why', label: 'Why', nosort: true, fmt: (r) => r.why },
    ], losing.slice(0, 50), { sortKey: 'would_fail' })));
  if (q.get('domain')) out.push(await sendersPanel(q, q.get('domain')));
  return out;
}

const PAGES = {
  overview: ['Overview', pageOverview],
  alignment: ['Alignment', pageAlignment],
  sources: ['Sources', pageSources],
  readiness: ['Readiness', pageReadiness],
  source: [null, pageSource],
  reporters: ['Reporters', pageReporters],
  reports: ['Reports', pageReports],
  report: [null, pageReport],
  quarantine: ['Quarantine', pageQuarantine],
  failures: ['Failure reports', pageFailures],
  tls: ['TLS reports', pageTls],
};

/* ---- the shell ---------------------------------------------------------- */

/* A user limited to some domains (the users file) sees theirs only: say so. */
function limitedUser() {
  return !!(META && META.user && META.user.domains);
}

function allDomains() {
  return limitedUser() ? 'all your domains' : 'all domains';
}

function fillFilters(q) {
  const dom = document.getElementById('f-domain');
  const rep = document.getElementById('f-reporter');
  if (dom.options.length === 1 && META) {
    if (limitedUser()) dom.options[0].textContent = 'All your domains';
    for (const d of META.domains) dom.appendChild(el('option', { value: d.domain }, d.domain));
    for (const r of META.reporters) rep.appendChild(el('option', { value: r.reporter }, r.reporter || '(unnamed)'));
  }
  dom.value = q.get('domain') || '';
  rep.value = q.get('reporter') || '';
  const per = q.get('period') || (q.get('from') ? 'custom' : '30');
  document.getElementById('f-period').value = per;
  const { from, to } = period(q);
  document.getElementById('f-custom').hidden = per !== 'custom';
  document.getElementById('f-from').value = from;
  document.getElementById('f-to').value = to;
  document.getElementById('f-range').replaceChildren(`${from} – ${to} (UTC)`);
}

function onFilter() {
  const { page, q } = parseHash();
  const per = document.getElementById('f-period').value;
  const ch = {
    domain: document.getElementById('f-domain').value,
    reporter: document.getElementById('f-reporter').value,
    period: per, offset: '',
    from: per === 'custom' ? document.getElementById('f-from').value : '',
    to: per === 'custom' ? document.getElementById('f-to').value : '',
  };
  if (per === 'custom' && !ch.from) {
    const p = period(q);
    ch.from = p.from; ch.to = p.to;
  }
  location.hash = link(page, q, ch);
}

let renderSeq = 0;

async function render() {
  const seq = ++renderSeq;
  const { page, q } = parseHash();
  const entry = PAGES[page];
  const main = document.getElementById('main');
  while (charts.length) charts.pop().destroy();
  fillFilters(q);
  document.getElementById('nav').replaceChildren(...Object.entries(PAGES)
    .filter(([, v]) => v[0])
    .map(([k, v]) => el('a', { href: link(k, q), class: k === page || (page === 'source' && k === 'sources') || (page === 'report' && k === 'reports') ? 'on' : null }, v[0])));
  if (!entry) {
    main.replaceChildren(el('div', { class: 'empty' }, 'No such page. ', el('a', { href: '#/overview' }, 'Overview')));
    return;
  }
  document.title = 'dmarcd · ' + (entry[0] || page);
  try {
    const nodes = await entry[1](q);
    if (seq !== renderSeq) return;
    main.replaceChildren(...nodes);
    main.dataset.page = page;
    main.dataset.ready = String(seq);
  } catch (e) {
    if (seq !== renderSeq) return;
    main.replaceChildren(el('div', { class: 'error' }, 'Could not load: ', e.message));
    main.dataset.ready = String(seq);
  }
}

async function start() {
  try {
    META = await api('meta');
    document.getElementById('foot').replaceChildren(`dmarcd ${META.version}`,
      META.features.quarantined ? el('span', {}, ' · ', el('a', { href: '#/quarantine' }, `${META.features.quarantined} in quarantine`)) : '');
  } catch (e) {
    META = { domains: [], reporters: [], features: {} };
  }
  for (const id of ['f-domain', 'f-period', 'f-reporter', 'f-from', 'f-to'])
    document.getElementById(id).addEventListener('change', onFilter);
  document.getElementById('filters').addEventListener('submit', (e) => { e.preventDefault(); onFilter(); });
  window.addEventListener('hashchange', render);
  render();
}

document.addEventListener('DOMContentLoaded', start);
