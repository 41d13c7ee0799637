// dashboard.test.mjs - the dashboard in headless Chromium (the system's
// /usr/bin/chromium through playwright-core): every page loads with data,
// charts render, filters change figures, no console errors, and the hostile
// report's strings show as text; charts put every day of the period on
// their axis; empty pages say why; every page fits 360 px (screenshots at
// 360 and 1400 px, their paths printed).  Prints TAP.  Env: DMARCD_BASE (server
// URL), SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BASE = process.env.DMARCD_BASE;
const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots';
const HOSTILE = '<img src=x onerror=alert(1)>';
let n = 0, failed = 0;

function ok(cond, name, diag) {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond) {
    failed++;
    if (diag !== undefined) for (const l of String(diag).split('\n').slice(0, 20)) console.log('#   ' + l);
  }
  return cond;
}

fs.mkdirSync(SHOTS, { recursive: true });
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dmarcd-chromium-'));
// a fresh profile (--user-data-dir) through the persistent context API
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1360, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = browser.pages()[0] || await browser.newPage();
const problems = [];
page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
page.on('pageerror', (e) => problems.push('pageerror: ' + e.message));
page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss(); });
page.on('requestfailed', (r) => problems.push('request failed: ' + r.url() + ' (' + (r.failure() ? r.failure().errorText : '?') + ')'));

/* Polls fn(arg) in the page until truthy (page.waitForFunction would need
 * eval, which the dashboard's CSP rightly forbids). */
async function waitFor(fn, arg, timeout) {
  const end = Date.now() + (timeout || 10000);
  for (;;) {
    if (await page.evaluate(fn, arg).catch(() => false)) return;
    if (Date.now() > end) throw new Error('timed out: ' + fn.toString().slice(0, 120));
    await new Promise((r) => setTimeout(r, 50));
  }
}

/* Goes to a route and waits until the app has rendered it. */
async function visit(route) {
  const before = await page.evaluate(() => document.getElementById('main')?.dataset.ready || '').catch(() => '');
  if (page.url().startsWith(BASE)) await page.evaluate((r) => { location.hash = r; }, route);
  else await page.goto(BASE + '/' + route);
  await waitFor((b) => {
    const m = document.getElementById('main');
    return m && m.dataset.ready && m.dataset.ready !== b;
  }, before, 10000);
  await page.waitForTimeout(150); // charts are drawn after the DOM
}

/* Sum of every dataset of every chart on the page, and non-blank pixels. */
async function chartInfo() {
  return page.evaluate(() => [...document.querySelectorAll('canvas')].map((c) => {
    const ch = Chart.getChart(c);
    const sum = ch ? ch.data.datasets.reduce((a, d) => a + d.data.reduce((x, y) => x + (+y || 0), 0), 0) : 0;
    const ctx = c.getContext('2d');
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 3; i < px.length; i += 4 * 7) if (px[i] !== 0) ink++;
    return { sum, ink };
  }));
}

/* What each chart on the page shows: its day (or other) labels, the data
 * and colour of each dataset, gap spanning and the axes' titles. */
async function chartSpecs() {
  return page.evaluate(() => [...document.querySelectorAll('main canvas')].map((c) => {
    const ch = Chart.getChart(c);
    if (!ch) return null;
    const title = (a) => (a && a.title && a.title.display ? String(a.title.text) : '');
    return {
      type: ch.config.type, labels: ch.data.labels, spanGaps: ch.options.spanGaps,
      datasets: ch.data.datasets.map((d) => ({ label: d.label, data: d.data,
        color: d.borderColor || d.backgroundColor, spanGaps: d.spanGaps })),
      x: title(ch.options.scales.x), y: title(ch.options.scales.y),
    };
  }));
}

/* Each label the day after the one before it. */
function consecutiveDays(labels) {
  for (let i = 1; i < labels.length; i++)
    if (Date.parse(labels[i] + 'T00:00:00Z') - Date.parse(labels[i - 1] + 'T00:00:00Z') !== 86400000) return false;
  return labels.length > 0;
}

/* Hue (degrees) of a #rrggbb colour, and the angle between two hues. */
function hue(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const max = Math.max(r, g, b), d = max - Math.min(r, g, b);
  if (d === 0) return 0;
  const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return (h * 60 + 360) % 360;
}
const hueApart = (a, b) => { const d = Math.abs(hue(a) - hue(b)); return Math.min(d, 360 - d); };
const titled = (specs) => specs.length > 0 && specs.every((c) => c && c.x && c.y);

const text = (sel) => page.$eval(sel, (e) => e.textContent);
const shot = (name) => page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });

try {
  // Overview, all time
  await visit('#/overview?period=all');
  const msgs = await text('#k-messages .v');
  ok(/[1-9]/.test(msgs), 'overview shows messages', msgs);
  let charts = await chartInfo();
  ok(charts.length === 1 && charts[0].sum > 0 && charts[0].ink > 50, 'overview chart has data and pixels', JSON.stringify(charts));
  ok(await page.$$eval('main table tbody tr', (r) => r.length) > 3, 'overview lists domains');
  await shot('overview');

  // Filter by domain through the select: figures change
  await page.selectOption('#f-domain', 'hostile.example');
  await waitFor(() => location.hash.includes('domain=hostile.example') &&
    document.querySelector('#k-messages .v')?.textContent === '10', null, 10000);
  ok(await text('#k-messages .v') === '10', 'domain filter: hostile.example has 10 messages');
  ok(await text('#k-pass .v') === '30.0%', 'domain filter: pass rate 30.0%', await text('#k-pass .v'));
  // Reporter filter
  await page.selectOption('#f-domain', '');
  // the all-domain figures drawn (not just the hash changed), so that the
  // visit below waits for its own render and not for this one
  await waitFor(() => !location.hash.includes('domain=hostile') &&
    document.querySelector('#k-messages .v')?.textContent !== '10', null, 10000);
  await visit('#/overview?period=all&reporter=google.com');
  const g = await text('#k-messages .v');
  ok(g !== msgs && /[1-9]/.test(g), 'reporter filter changes the figures', `${msgs} -> ${g}`);
  // Period filter: a custom period without data shows the empty state
  await visit('#/overview?period=custom&from=2001-01-01&to=2001-01-31');
  ok((await text('main')).includes('No aggregate reports in this period'), 'period filter: empty period explained');
  await shot('overview-empty');

  // Charts: every day of the period on the day axis, a day without
  // reports a null (a gap) and not left out; axes titled with their units
  const FIVE = ['2025-04-29', '2025-04-30', '2025-05-01', '2025-05-02', '2025-05-03'];
  const gappy = (c) => JSON.stringify(c.labels) === JSON.stringify(FIVE) &&
    c.datasets.length > 0 && c.datasets.every((d) => d.data[0] === null && d.data[1] === null && d.data[4] === null) &&
    c.datasets.some((d) => d.data[2] > 0);
  await visit('#/overview?period=custom&from=2025-04-29&to=2025-05-03&domain=hostile.example');
  let specs = await chartSpecs();
  ok(specs.length === 1 && gappy(specs[0]), 'overview chart: days without reports shown as gaps (null), not dropped', JSON.stringify(specs));
  ok(specs.length === 1 && specs[0].x === 'day (UTC)' && specs[0].y === 'messages', 'overview chart: axes titled (day (UTC), messages)', JSON.stringify(specs.map((c) => [c.x, c.y])));
  await visit('#/alignment?period=custom&from=2025-04-29&to=2025-05-03&domain=hostile.example');
  specs = await chartSpecs();
  ok(specs.length === 3 && specs.every(gappy), 'alignment charts: days without reports shown as gaps', JSON.stringify(specs));
  const line = specs.find((c) => c && c.type === 'line');
  ok(line && line.spanGaps === false && line.datasets.every((d) => d.spanGaps !== true), 'alignment lines: no line across a gap (spanGaps false)', JSON.stringify(line));
  ok(line && line.datasets.length === 2 && hueApart(line.datasets[0].color, line.datasets[1].color) >= 90,
    'alignment lines: DKIM and SPF in colours far apart', line && JSON.stringify(line.datasets.map((d) => [d.label, d.color])));
  ok(titled(specs) && line.y.includes('%') && specs.every((c) => c.x === 'day (UTC)'), 'alignment charts: axes titled with units',
    JSON.stringify(specs.map((c) => [c.x, c.y])));

  // Alignment
  await visit('#/alignment?period=all');
  charts = await chartInfo();
  ok(charts.length === 3 && charts.every((c) => c.sum > 0 && c.ink > 50), 'alignment: three charts with data', JSON.stringify(charts));
  specs = await chartSpecs();
  ok(specs.every((c) => consecutiveDays(c.labels) && c.datasets.some((d) => d.data.includes(null))),
    'alignment, all time: every day on the axis, those without reports null', JSON.stringify(specs.map((c) => [c.labels.length, c.labels[0]])));
  ok((await text('main')).includes('forwarded'), 'alignment: override reasons listed');
  await shot('alignment');

  // Sources and drill-down
  await visit('#/sources?period=all');
  ok(await page.$$eval('main table tbody tr', (r) => r.length) > 10, 'sources: IPs listed');
  await page.click('main table:first-of-type th >> text=/^Fail$/'); // sort by fail (server side)
  await waitFor(() => location.hash.includes('sort=fail'), null, 5000);
  await waitFor(() => document.querySelector('main th.desc')?.textContent === 'Fail', null, 5000);
  ok(true, 'sources: sorting by a column');
  await shot('sources');
  // who each source is: host (marked when unverified), service, type, network
  await visit('#/sources?period=all&sort=service&order=asc');
  let srcs = await text('main');
  ok(srcs.includes('a8-30.smtp-out.amazonses.com') && srcs.includes('Amazon SES') &&
     srcs.includes('ESP / marketing') && srcs.includes('AS16509 AMAZON-02 · US'),
    'sources: host, service, type and network shown');
  ok(await page.$eval('main table', (t) => t.querySelector('tbody tr td:nth-child(3)')?.textContent) === 'Amazon SES',
    'sources: sorted by service (server side)');
  await page.selectOption('#f-type', 'esp');
  await waitFor(() => location.hash.includes('type=esp'), null, 5000);
  await waitFor(() => document.querySelector('main table')?.querySelectorAll('tbody tr').length === 1, null, 5000);
  ok((await text('main table')).includes('Amazon SES'), 'sources: filtered by service type');
  ok((await text('main')).includes('By service'), 'sources: grouped by service');
  await visit('#/sources?period=all&domain=hostile.example');
  srcs = await text('main');
  ok(srcs.includes('<script>alert(3)</script>\\200.example ?') &&
     await page.$$eval('main script, main img', (e) => e.length) === 0,
    'sources: a hostile PTR name shown as text, marked unverified');
  await visit('#/source?period=all&ip=192.0.2.66');
  const src = await text('main');
  ok(src.includes('<script>alert(3)</script>\\200.example ?') && src.includes('Who it is'),
    'source drill-down: the hostile PTR name as text, unverified');
  ok(src.includes(HOSTILE), 'source drill-down shows the hostile org_name as text');
  ok(src.includes('<script>alert(2)</script>.hostile.example'), 'hostile header_from shown as text');
  await shot('source');

  // Overview summarises readiness: what p=reject would fail
  await visit('#/overview?period=all');
  await waitFor(() => /\d/.test(document.querySelector('#k-readiness .v')?.textContent || ''), null, 10000);
  ok(Number((await text('#k-readiness .v')).replace(/\D/g, '')) > 0,
    'overview: the Readiness card says what p=reject would fail', await text('#k-readiness'));

  // Readiness: the simulator's controls change the figures
  await visit('#/readiness?period=all&p=none&sp=none');
  const cardv = (id) => page.$eval('#' + id + ' .v', (e) => e.textContent);
  ok(await cardv('k-sim-reject') === '0' && await cardv('k-sim-quarantine') === '0' &&
     (await text('main')).includes('None: under this policy'),
    'readiness: under p=none nothing would be quarantined or rejected');
  await page.selectOption('#sim-p', 'reject');
  await waitFor(() => location.hash.includes('p=reject'), null, 5000);
  await waitFor(() => document.querySelector('#k-sim-reject .v')?.textContent !== '0', null, 10000);
  const rej = await cardv('k-sim-reject');
  let rd = await text('main');
  ok((await text('#sim-verdict')).match(/^(Ready for this policy|Not ready|Cannot tell yet)/) &&
     (await text('#sim-change')).includes('all time has no period before it'),
    'readiness: a verdict with its reason (all time: no period before)', await text('#sim-verdict'));
  await visit('#/readiness?period=custom&from=2024-01-01&to=2026-12-31&p=reject');
  ok(/Compared: (would pass [\d.]+% in the \d+ days before \([+-][\d.]+ points now\)|no reports in the period before)/.test(await text('#sim-change')),
    'readiness: the change from the period of the same length before', await text('#sim-change'));
  await visit('#/readiness?period=all&p=reject&sp=none');
  ok(Number(rej.replace(/\D/g, '')) > 0 && rd.includes('Sources that would lose mail') &&
     await page.$$eval('main table', (t) => t[1] ? t[1].querySelectorAll('tbody tr').length : 0) > 0,
    'readiness: p=reject lists the sources that would lose mail', rd.slice(0, 800));
  ok(/no DKIM signature of your domain|DKIM breaks at a forwarder|SPF passes only/.test(rd),
    'readiness: each source says why it would fail');
  await page.selectOption('#sim-pct', '50');
  await waitFor(() => location.hash.includes('pct=50'), null, 5000);
  await waitFor((r) => document.querySelector('#k-sim-reject .v')?.textContent !== r, rej, 10000);
  ok(Number((await cardv('k-sim-reject')).replace(/\D/g, '')) < Number(rej.replace(/\D/g, '')) &&
     Number((await cardv('k-sim-quarantine')).replace(/\D/g, '')) > 0,
    'readiness: pct=50 halves the rejected, the rest quarantined');
  // approved senders: listed per domain; an edit without the right says why
  await visit('#/readiness?period=all&domain=hostile.example');
  ok((await text('main')).includes('Approved senders of hostile.example'),
    'readiness: the domain\'s approved senders listed');
  const before = problems.length;
  await page.fill('#sender-rule', 'cidr 192.0.2.0/24');
  await page.click('#sender-add');
  await waitFor(() => document.getElementById('senders-msg')?.textContent.includes('Not saved'), null, 5000);
  ok((await text('#senders-msg')).includes('senders right'),
    'readiness: an edit on a read-only dashboard is refused, and says why');
  // the refusal is this edit's 403, which Chromium logs: that one only
  const extra = problems.splice(before);
  problems.push(...extra.filter((m) => !/status of 403/.test(m)));
  ok(extra.filter((m) => /status of 403/.test(m)).length === 1,
    'readiness: the refused edit was one POST answered 403', extra.join('\n'));
  await shot('readiness');

  // Reporters
  await visit('#/reporters?period=all');
  charts = await chartInfo();
  ok(charts.length === 1 && charts[0].sum > 0, 'reporters: chart with data', JSON.stringify(charts));
  specs = await chartSpecs();
  ok(titled(specs), 'reporters chart: axes titled', JSON.stringify(specs.map((c) => [c.x, c.y])));
  ok((await text('main')).includes(HOSTILE), 'reporters: hostile name as text');
  await shot('reporters');

  // Reports: list, detail
  await visit('#/reports?period=all&domain=hostile.example');
  ok((await text('main')).includes('q"u\'o`te'), 'reports: hostile report id as text');
  await page.click('main td.mono a');
  await waitFor(() => location.hash.startsWith('#/report?'), null, 5000);
  await waitFor(() => document.querySelector('main h1')?.textContent.startsWith('Report '), null, 5000);
  const rep = await text('main');
  ok(rep.includes(HOSTILE) && rep.includes('Report XML'), 'report detail: fields, and a panel for the XML');
  await waitFor(() => document.querySelector('#report-xml')?.textContent.includes('</feedback>'), null, 5000);
  const xml = await text('#report-xml');
  ok(xml.startsWith('<?xml') && xml.includes('<org_name>&lt;img src=x onerror=alert(1)&gt;</org_name>'),
    'report detail: the XML as it arrived, shown as text', xml.slice(0, 300));
  ok(await page.$$eval('main img, main script, main feedback', (e) => e.length) === 0,
    'report detail: nothing of the XML became markup');
  ok(await page.$eval('main a[download]', (a) => a.getAttribute('href').startsWith('/api/report/document?')),
    'report detail: the XML as a download');
  await shot('report');
  await visit('#/reports?period=all');
  await shot('reports');

  // Quarantine
  await visit('#/quarantine');
  ok(await page.$$eval('main a[download]', (a) => a.length) >= 1, 'quarantine: a row with its download');
  await shot('quarantine');

  // Failure reports: list, chart, detail with the returned headers as text
  await visit('#/failures?period=all');
  ok((await text('main')).includes('Failure reports'), 'failure reports page');
  ok(await page.$$eval('main table tbody tr', (r) => r.length) >= 7, 'failure reports: the corpus reports are listed');
  charts = await chartInfo();
  ok(charts.length === 1 && charts[0].sum >= 7 && charts[0].ink > 50, 'failure reports: chart has data and pixels', JSON.stringify(charts));
  specs = await chartSpecs();
  ok(specs.length === 1 && consecutiveDays(specs[0].labels) && specs[0].datasets[0].data.includes(null) &&
    titled(specs) && specs[0].x === 'day (UTC)', 'failure reports chart: every day of all time, gaps null, axes titled',
    JSON.stringify(specs.map((c) => [c.labels.length, c.labels[0], c.x, c.y])));
  await shot('failures');
  await page.click('main table tbody tr a');
  await waitFor(() => document.querySelector('#forensic-headers') !== null, null, 5000);
  ok((await text('#forensic-headers')).length > 20, 'failure report detail: returned headers shown as text');
  const stray = await page.evaluate(() => [...document.getElementById('main').childNodes]
    .filter((n) => n.nodeType === 3 && /^(null|undefined)$/.test(n.textContent.trim())).length);
  ok(stray === 0, 'failure report detail: no stray null/undefined text', stray);
  await shot('failure');

  // Failure reports, an empty period: the latest day with a failure report
  // (not an aggregate one), how to get them, and a way to all time that
  // lists them
  const ALLQ = 'from=1970-01-01&to=2069-12-31';
  const apiGet = async (p) => (await fetch(BASE + '/api/' + p)).json();
  const lastDay = (days) => days.map((x) => x.day).sort().pop();
  const lastAggregate = lastDay((await apiGet('overview?' + ALLQ)).days);
  const lastFailure = lastDay((await apiGet('forensic?' + ALLQ)).days);
  const lastTls = lastDay((await apiGet('tlsrpt?' + ALLQ)).days);
  ok(lastAggregate !== lastFailure && lastAggregate !== lastTls, 'the data: latest aggregate, failure and TLS days differ',
    `${lastAggregate} ${lastFailure} ${lastTls}`);
  await visit('#/failures?period=custom&from=2001-01-01&to=2001-01-31');
  let t = await text('main');
  ok(t.includes('No failure reports in this period') && t.includes(lastFailure) && !t.includes(lastAggregate),
    `failure reports, empty period: names the latest failure report's day (${lastFailure})`, t);
  ok(t.includes('ruf=mailto:') && t.includes('fo=1') && t.includes('v=DMARC1'),
    'failure reports, empty period: says a ruf= tag asks for them', t);
  await shot('failures-empty');
  await page.click('main .empty button');
  await waitFor(() => location.hash.includes('period=all') &&
    document.querySelectorAll('main table tbody tr').length >= 7, null, 10000).catch(() => {});
  ok(await page.$$eval('main table tbody tr', (r) => r.length) >= 7 && (await text('main')).includes('Failure reports per day'),
    'failure reports: "Show all time" lists them', page.url());
  // none at all for a domain: said, and no button that would do nothing
  await visit('#/failures?period=all&domain=hostile.example');
  t = await text('main');
  ok(t.includes('No failure reports stored yet for hostile.example') && t.includes('_dmarc.hostile.example'),
    'failure reports of a domain with none: says there are none at all', t);
  ok(await page.$$eval('main .empty button', (b) => b.length) === 0, 'failure reports of a domain with none: no "Show all time" that does nothing');
  await visit('#/failures?period=all&domain=' + encodeURIComponent(HOSTILE));
  ok((await text('main')).includes('_dmarc.' + HOSTILE) && await page.$$eval('main img', (e) => e.length) === 0,
    'failure reports, empty state: the domain of the filter shown as text');

  // TLS reports: sessions per policy domain, failure details
  await visit('#/tls?period=all');
  ok((await text('main')).includes('TLS reports'), 'TLS reports page');
  ok((await text('main')).includes('Per policy domain'), 'TLS reports: per policy domain table');
  charts = await chartInfo();
  ok(charts.length === 1 && charts[0].sum > 0 && charts[0].ink > 50, 'TLS reports: chart has data and pixels', JSON.stringify(charts));
  specs = await chartSpecs();
  ok(specs.length === 1 && consecutiveDays(specs[0].labels) && specs[0].datasets.every((d) => d.data.includes(null)) &&
    titled(specs) && specs[0].y === 'sessions', 'TLS reports chart: every day of all time, gaps null, axes titled',
    JSON.stringify(specs.map((c) => [c.labels.length, c.labels[0], c.x, c.y])));
  await shot('tls');

  // TLS reports, an empty period: likewise
  await visit('#/tls?period=custom&from=2001-01-01&to=2001-01-31');
  t = await text('main');
  ok(t.includes('No TLS reports in this period') && t.includes(lastTls) && !t.includes(lastAggregate),
    `TLS reports, empty period: names the latest TLS report's day (${lastTls})`, t);
  ok(t.includes('_smtp._tls.example.com') && t.includes('v=TLSRPTv1; rua=mailto:'),
    'TLS reports, empty period: says a TLS-RPT record asks for them', t);
  await shot('tls-empty');
  await page.click('main .empty button');
  await waitFor(() => location.hash.includes('period=all') &&
    document.querySelector('main')?.textContent.includes('Per policy domain'), null, 10000).catch(() => {});
  ok((await text('main')).includes('Per policy domain') && await page.$$eval('main table tbody tr', (r) => r.length) >= 10,
    'TLS reports: "Show all time" lists them', page.url());

  // Narrow screens: at 360 px every page scrolls only vertically, every
  // navigation link shows and can be clicked (not under the filters), and
  // a table wider than the screen scrolls inside its own panel; at 600 px
  // the navigation likewise.  Screenshots of each page at 360 and 1400 px.
  const rep1 = (await apiGet('reports?' + ALLQ + '&limit=1')).reports[0];
  const fr1 = (await apiGet('forensic?' + ALLQ + '&limit=1')).reports[0];
  const tr1 = (await apiGet('tlsrpt?' + ALLQ + '&limit=1')).reports[0];
  const ROUTES = [['overview', '#/overview?period=all'], ['alignment', '#/alignment?period=all'],
    ['sources', '#/sources?period=all'], ['source', '#/source?period=all&ip=192.0.2.66'],
    ['readiness', '#/readiness?period=all&p=reject'],
    ['reporters', '#/reporters?period=all'], ['reports', '#/reports?period=all'],
    ['report', '#/report?' + new URLSearchParams({ domain: rep1.domain, id: rep1.id })],
    ['quarantine', '#/quarantine'], ['failures', '#/failures?period=all'],
    ['failure', '#/failures?' + new URLSearchParams({ domain: fr1.domain, id: fr1.id })],
    ['failures-empty', '#/failures?period=custom&from=2001-01-01&to=2001-01-31'],
    ['tls', '#/tls?period=all'], ['tls-report', '#/tls?' + new URLSearchParams({ domain: tr1.domain, id: tr1.id })]];
  const layout = () => page.evaluate(() => {
    window.scrollTo(0, 0);
    const W = window.innerWidth;
    const bad = [];
    for (const e of [document.documentElement, document.body]) {
      const o = getComputedStyle(e).overflowX;
      if (o === 'hidden' || o === 'clip') bad.push(e.tagName + ' overflow-x ' + o);
    }
    if (document.documentElement.scrollWidth > W) bad.push(`page ${document.documentElement.scrollWidth} px wide in ${W}`);
    const links = [...document.querySelectorAll('#nav a')];
    if (links.length < 8) bad.push('nav links: ' + links.length);
    for (const a of links) {
      const r = a.getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      if (r.width === 0 || r.left < 0 || r.right > W || r.top < 0 || !(hit === a || a.contains(hit)))
        bad.push(`nav "${a.textContent}" at ${Math.round(r.left)}..${Math.round(r.right)},${Math.round(r.top)} hit ${hit ? hit.tagName + '.' + hit.className : 'nothing'}`);
    }
    for (const t of document.querySelectorAll('main table')) {
      let c = t.parentElement;
      while (c && c !== document.body && !/auto|scroll/.test(getComputedStyle(c).overflowX)) c = c.parentElement;
      if (!c || c === document.body) { bad.push('a table outside a scrolling container'); continue; }
      const r = c.getBoundingClientRect();
      if (r.left < 0 || r.right > W) bad.push(`a table's container at ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
    return bad;
  });
  const pngWidth = (f) => { const b = fs.readFileSync(f); return b.toString('latin1', 1, 4) === 'PNG' ? b.readUInt32BE(16) : 0; };
  const shots = [];
  for (const width of [360, 1400]) {
    await page.setViewportSize({ width, height: width === 360 ? 740 : 900 });
    for (const [name, route] of ROUTES) {
      await visit(route);
      if (width === 360) {
        const bad = await layout();
        ok(bad.length === 0, `360 px: ${name} fits the width, its navigation shows, tables scroll in their panel`, bad.join('\n'));
      }
      const f = path.join(SHOTS, `${name}-${width}.png`);
      await page.screenshot({ path: f, fullPage: true });
      shots.push([f, width]);
    }
  }
  await page.setViewportSize({ width: 600, height: 800 });
  await visit('#/overview?period=all');
  const bad600 = await layout();
  ok(bad600.length === 0, '600 px: the whole navigation shows', bad600.join('\n'));
  await page.setViewportSize({ width: 1360, height: 900 });
  const small = shots.filter(([f, w]) => !fs.existsSync(f) || fs.statSync(f).size < 8000 || pngWidth(f) !== w);
  for (const [f] of shots) console.log('# screenshot: ' + f);
  ok(shots.length === 2 * ROUTES.length && small.length === 0, `screenshots at 360 and 1400 px written (${shots.length})`, small.map(([f]) => f).join('\n'));

  // Escaping: nothing from a report became markup
  const imgs = await page.evaluate(async () => {
    location.hash = '#/source?period=all&ip=192.0.2.66';
    await new Promise((r) => setTimeout(r, 500));
    return document.querySelectorAll('img, script:not([src]), svg').length;
  });
  ok(imgs === 0, 'no img/inline script/svg element from report data', imgs);
  ok(problems.length === 0, 'no console errors, page errors, dialogs or failed requests', problems.join('\n'));
} catch (e) {
  ok(false, 'browser run', e.stack);
  await shot('failure').catch(() => {});
}
await browser.close();
fs.rmSync(profile, { recursive: true, force: true });
console.log(`1..${n}`);
process.exit(0);
