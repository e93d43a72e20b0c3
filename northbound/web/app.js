// Pulse web view: the fabric by tiers as SVG, links coloured by planned or measured utilisation,
// jobs' paths, the live event stream and a detail panel. Dependency-free; reads only the
// read-only JSON API under /api/v1/ (northbound/web_api.h).
//
// Large fabrics stay small in the DOM: a tier with more than MAX_NODES_PER_TIER switches is
// drawn as groups of consecutive switches, links between two groups as one bundle (coloured by
// its hottest member), and servers as one box per leaf (group).
//
// Test hooks: <body data-ready="1" data-ready-ms=..> once the first full render is done;
// every bundle is a <line class="bundle"> with data-a, data-b, data-count, data-links (ids),
// data-state; every switch (group) a <g class="node"> with data-members and data-drained.
'use strict';

const MAX_NODES_PER_TIER = 16;
const EVENT_POLL_MS = 500;
const STATE_POLL_MS = 2000;
const IDLE_POLL_MS = 10000;
const MAX_EVENTS_SHOWN = 200;
const SVG_NS = 'http://www.w3.org/2000/svg';
const TIER_NAMES = {3: 'super-spines', 2: 'spines', 1: 'leaves'};
const started = performance.now();

const state = {
  topo: null,               // /api/v1/topology
  switchByName: new Map(),  // name -> switch (latest state)
  links: new Map(),         // id -> link state (/api/v1/links)
  discovery: null,
  measured: false,
  jobs: [],
  job: null,                // /api/v1/jobs/ID of the selected job
  colour: 'planned',
  plane: 'all',
  rail: 'all',
  eventSeq: 0,
  layout: null,             // {groups, groupOf, bundles, serverBoxes}
  selection: null,          // {kind: 'bundle'|'node'|'link'|'switch', key}
  connectedSeen: false,     // some switch was ever connected (else planning mode)
};

// ---------- API ----------
class AuthError extends Error {}

function takeTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  setToken(token);
  url.searchParams.delete('token');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
}

function setToken(token) {
  document.cookie = 'pulse_token=' + encodeURIComponent(token) + '; path=/; SameSite=Strict';
}

async function api(path) {
  const res = await fetch('/api/v1/' + path, {credentials: 'same-origin', cache: 'no-store'});
  if (res.status === 401) throw new AuthError('token needed');
  if (!res.ok) {
    let message = res.statusText;
    try { message = (await res.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(path + ': ' + res.status + ' ' + message);
  }
  return res.json();
}

function showLogin(message) {
  document.getElementById('login').hidden = false;
  document.getElementById('login-error').textContent = message || '';
  setStatus('token needed', true);
}

function setStatus(text, isError) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.classList.toggle('error', !!isError);
}

// ---------- helpers ----------
function el(name, attrs, parent) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function html(tag, text, parent, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
}

function naturalCompare(a, b) {
  return a.localeCompare(b, undefined, {numeric: true});
}

function fmtBps(bps) {
  if (bps === null || bps === undefined) return '—';
  const units = [['T', 1e12], ['G', 1e9], ['M', 1e6], ['k', 1e3]];
  for (const [u, f] of units) if (Math.abs(bps) >= f) return (bps / f).toFixed(bps / f >= 100 ? 0 : 1) + ' ' + u + 'bit/s';
  return bps.toFixed(0) + ' bit/s';
}

function fmtPct(u) {
  return (u === null || u === undefined) ? '—' : (u * 100).toFixed(1) + '%';
}

function utilColour(u) {
  if (u === null || u === undefined) return '#b0b8c4';
  if (u < 0.25) return '#2e7d32';
  if (u < 0.5) return '#9e9d24';
  if (u < 0.8) return '#f9a825';
  if (u <= 1.0) return '#ef6c00';
  return '#c62828';
}

function switchVisible(sw) {
  if (state.plane !== 'all' && String(sw.plane) !== state.plane) return false;
  if (state.rail !== 'all' && sw.rail >= 0 && String(sw.rail) !== state.rail) return false;
  return true;
}

// ---------- layout (topology and filters only; state is painted separately) ----------
function buildLayout() {
  const svg = document.getElementById('fabric');
  svg.replaceChildren();
  const defs = el('defs', {}, svg);
  const hatch = el('pattern', {id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse',
    patternTransform: 'rotate(45)'}, defs);
  el('rect', {width: 6, height: 6, fill: '#efe6e1'}, hatch);
  el('line', {x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#a1887f', 'stroke-width': 3}, hatch);

  const switches = state.topo.switches.filter(switchVisible);
  const levels = [...new Set(switches.map(s => s.level))].sort((a, b) => b - a);
  // Fill the pane: the drawing's height follows the pane's aspect ratio.
  const width = 1200;
  const aspect = svg.clientWidth > 0 ? svg.clientHeight / svg.clientWidth : 0.5;
  const minHeight = 70 + 130 * (levels.length - 1) + 130;
  const height = Math.max(minHeight, Math.min(width * aspect, 70 + 260 * (levels.length - 1) + 160));
  const tierGap = levels.length > 1 ? (height - 70 - 130) / (levels.length - 1) : 0;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);

  const groups = [];            // {key, level, members: [switch], x, y, w, h, label}
  const groupOf = new Map();    // switch name -> group
  levels.forEach((level, tierIndex) => {
    const tier = switches.filter(s => s.level === level).sort((a, b) =>
      (a.plane - b.plane) || (a.pod - b.pod) || (a.rail - b.rail) || naturalCompare(a.name, b.name));
    const size = Math.ceil(tier.length / MAX_NODES_PER_TIER);
    const count = Math.ceil(tier.length / size);
    const y = 50 + tierIndex * tierGap;
    const slot = (width - 140) / count;
    const w = Math.min(110, slot * 0.85);
    const tierLabel = el('text', {x: 6, y: y + 4, class: 'tier'}, svg);
    tierLabel.textContent = TIER_NAMES[level] || ('level ' + level);
    for (let i = 0; i < count; i++) {
      const members = tier.slice(i * size, (i + 1) * size);
      const g = {key: level + ':' + i, level, members, x: 120 + slot * (i + 0.5), y, w, h: 26};
      g.label = members.length === 1 ? members[0].name
        : members[0].name + '–' + members[members.length - 1].name.replace(/^.*?(\d+)$/, '$1');
      groups.push(g);
      for (const m of members) groupOf.set(m.name, g);
    }
  });

  // Bundles: links between two groups. Drawn first so that switches sit on top.
  const bundleLayer = el('g', {id: 'bundles'}, svg);
  const bundles = new Map();
  for (const link of state.topo.links) {
    const ga = groupOf.get(link.a), gb = groupOf.get(link.b);
    if (!ga || !gb || ga === gb) continue;
    const [lo, hi] = ga.level < gb.level ? [ga, gb] : [gb, ga];
    const key = lo.key + '|' + hi.key;
    let b = bundles.get(key);
    if (!b) {
      b = {key, lo, hi, links: []};
      bundles.set(key, b);
    }
    b.links.push(link.id);
  }
  for (const b of bundles.values()) {
    b.el = el('line', {x1: b.lo.x, y1: b.lo.y - b.lo.h / 2, x2: b.hi.x, y2: b.hi.y + b.hi.h / 2,
      class: 'bundle', 'data-key': b.key, 'data-a': b.lo.label, 'data-b': b.hi.label,
      'data-count': b.links.length, 'data-links': b.links.join(' '),
      'stroke-width': (1.5 + Math.log2(b.links.length) * 0.6).toFixed(1)}, bundleLayer);
    b.el.addEventListener('click', () => select({kind: 'bundle', key: b.key}));
  }

  // Servers: one box per leaf group, joined to it by one line.
  const serverBoxes = new Map();
  const leafGroups = groups.filter(g => g.level === 1);
  for (const g of leafGroups) {
    const servers = g.members.reduce((n, s) => n + s.servers, 0);
    if (servers === 0) continue;
    const y = g.y + 90;
    const line = el('line', {x1: g.x, y1: g.y + g.h / 2, x2: g.x, y2: y - 12, class: 'nic-links'}, svg);
    const box = el('g', {class: 'servers', 'data-group': g.key}, svg);
    el('rect', {x: g.x - g.w / 2, y: y - 12, width: g.w, height: 24, rx: 3}, box);
    const text = el('text', {x: g.x, y: y + 4, 'text-anchor': 'middle'}, box);
    text.textContent = servers + ' srv';
    box.addEventListener('click', () => select({kind: 'node', key: g.key}));
    serverBoxes.set(g.key, {group: g, el: box, line, text, servers});
  }

  // Switches (groups).
  for (const g of groups) {
    g.el = el('g', {class: 'node', 'data-key': g.key, 'data-members': g.members.map(m => m.name).join(' '),
      'data-count': g.members.length}, svg);
    el('rect', {x: g.x - g.w / 2, y: g.y - g.h / 2, width: g.w, height: g.h, rx: 4}, g.el);
    const text = el('text', {x: g.x, y: g.y + 4, 'text-anchor': 'middle'}, g.el);
    const chars = Math.floor(g.w / 5.6);
    text.textContent = g.label.length > chars ? g.label.slice(0, Math.max(4, chars - 1)) + '…' : g.label;
    const title = el('title', {}, g.el);
    title.textContent = g.members.map(m => m.name).join(', ');
    g.el.addEventListener('click', () => select({kind: 'node', key: g.key}));
  }
  state.layout = {groups, groupOf, bundles, serverBoxes, groupByKey: new Map(groups.map(g => [g.key, g]))};
  svg.setAttribute('data-bundles', bundles.size);
  svg.setAttribute('data-nodes', groups.length);
  svg.setAttribute('data-links-rendered', [...bundles.values()].reduce((n, b) => n + b.links.length, 0));
}

// ---------- painting state onto the layout ----------
function linkUtil(link) {
  const values = state.colour === 'measured' ? link.measured_utilisation : link.planned_utilisation;
  if (!values) return null;
  const known = values.filter(v => v !== null && v !== undefined);
  return known.length ? Math.max(...known) : null;
}

function linkState(link) {
  if (!link) return 'unknown';
  if (!link.up) return 'down';
  if (link.discovery === 'miswired') return 'miswired';
  if (link.discovery === 'missing') return 'missing';
  if (link.drained) return 'drained';
  return 'ok';
}

function bundleSummary(b) {
  let util = null, down = 0, drained = 0, miswired = 0;
  for (const id of b.links) {
    const link = state.links.get(id);
    const s = linkState(link);
    if (s === 'down') down++;
    else if (s === 'drained') drained++;
    else if (s === 'miswired' || s === 'missing') miswired++;
    if (link) {
      const u = linkUtil(link);
      if (u !== null && (util === null || u > util)) util = u;
    }
  }
  const n = b.links.length;
  let s = 'ok';
  if (down === n) s = 'down';
  else if (miswired > 0) s = 'miswired';
  else if (down > 0) s = 'partly-down';
  else if (drained === n) s = 'drained';
  return {util, down, drained, miswired, state: s};
}

function paint() {
  if (!state.layout) return;
  const {groups, bundles, serverBoxes} = state.layout;
  const jobLinks = new Set(state.job ? state.job.links.map(l => l.id) : []);
  const jobSwitches = new Set();
  const jobLeaves = new Set();
  if (state.job) {
    for (const l of state.job.links) {
      const aSwitch = state.switchByName.has(l.a), bSwitch = state.switchByName.has(l.b);
      if (aSwitch) jobSwitches.add(l.a);
      if (bSwitch) jobSwitches.add(l.b);
      if (aSwitch !== bSwitch) jobLeaves.add(aSwitch ? l.a : l.b);
    }
  }
  const svg = document.getElementById('fabric');
  svg.querySelectorAll('text.mark').forEach(m => m.remove());
  let downTotal = 0;
  for (const b of bundles.values()) {
    const s = bundleSummary(b);
    downTotal += s.down;
    b.el.setAttribute('stroke', utilColour(s.util));
    b.el.setAttribute('data-state', s.state);
    b.el.setAttribute('data-down', s.down);
    b.el.setAttribute('data-util', s.util === null ? '' : s.util.toFixed(4));
    const onJob = b.links.some(id => jobLinks.has(id));
    b.el.classList.toggle('job', onJob);
    if (onJob) b.el.parentNode.appendChild(b.el);  // on top of the others
    if (s.down > 0) {  // a cross on the cut
      const mark = el('text', {x: (b.lo.x + b.hi.x) / 2, y: (b.lo.y + b.hi.y) / 2 + 5,
        'text-anchor': 'middle', class: 'mark'}, svg);
      mark.textContent = '✕';
    }
  }
  for (const g of groups) {
    const members = g.members.map(m => state.switchByName.get(m.name) || m);
    const drained = members.filter(m => m.drained).length;
    const lost = state.connectedSeen ? members.filter(m => !m.connected).length : 0;
    g.el.setAttribute('data-drained', drained > 0 ? '1' : '0');
    g.el.setAttribute('data-lost', lost > 0 ? '1' : '0');
    g.el.classList.toggle('job', members.some(m => jobSwitches.has(m.name)));
  }
  for (const box of serverBoxes.values()) {
    const members = box.group.members.map(m => state.switchByName.get(m.name) || m);
    const nicDown = members.reduce((n, m) => n + (m.nic_links_down || 0), 0);
    box.el.setAttribute('data-down', nicDown > 0 ? '1' : '0');
    box.text.textContent = box.servers + ' srv' + (nicDown ? ` (${nicDown} down)` : '');
    const onJob = box.group.members.some(m => jobLeaves.has(m.name));
    box.el.classList.toggle('job', onJob);
    box.line.classList.toggle('job', onJob);
  }
  document.body.setAttribute('data-links-down', downTotal);
  markSelection();
}

// ---------- selection and the detail panel ----------
function select(selection) {
  state.selection = selection;
  renderDetail();
  markSelection();
}

function markSelection() {
  if (!state.layout) return;
  document.querySelectorAll('#fabric .selected').forEach(n => n.classList.remove('selected'));
  const s = state.selection;
  if (!s) return;
  if (s.kind === 'bundle') state.layout.bundles.get(s.key)?.el.classList.add('selected');
  if (s.kind === 'node') state.layout.groupByKey.get(s.key)?.el.classList.add('selected');
}

function dl(parent, rows) {
  const list = html('dl', null, parent);
  for (const [k, v, cls] of rows) {
    html('dt', k, list);
    html('dd', v, list, cls);
  }
  return list;
}

function pick(parent, text, selection) {
  const a = html('a', text, parent, 'pick');
  a.addEventListener('click', () => select(selection));
  return a;
}

function renderDetail() {
  const pane = document.getElementById('detail');
  pane.replaceChildren();
  html('h2', 'Details', pane);
  const s = state.selection;
  if (!s) { html('p', 'Click a link, a bundle or a switch.', pane, 'hint'); return; }
  if (s.kind === 'bundle') {
    const b = state.layout.bundles.get(s.key);
    if (!b) return;
    if (b.links.length === 1) return renderLink(pane, b.links[0]);
    const sum = bundleSummary(b);
    html('h3', `${b.lo.label} ↔ ${b.hi.label}`, pane);
    dl(pane, [['links', b.links.length], ['down', sum.down, sum.down ? 'bad' : ''],
      ['drained', sum.drained], ['miswired / missing', sum.miswired, sum.miswired ? 'bad' : ''],
      [`hottest (${state.colour})`, fmtPct(sum.util)]]);
    const rows = b.links.map(id => state.links.get(id)).filter(Boolean)
      .sort((x, y) => (linkState(x) === 'down' ? -1 : 0) - (linkState(y) === 'down' ? -1 : 0) ||
        (linkUtil(y) ?? -1) - (linkUtil(x) ?? -1)).slice(0, 12);
    const table = html('table', null, pane);
    for (const link of rows) {
      const tr = html('tr', null, table);
      pick(html('td', null, tr), `${link.a}:${link.a_port} ↔ ${link.b}:${link.b_port}`, {kind: 'link', key: link.id});
      html('td', linkState(link), tr, linkState(link) === 'ok' ? '' : 'bad');
      html('td', fmtPct(linkUtil(link)), tr);
    }
    return;
  }
  if (s.kind === 'link') return renderLink(pane, s.key);
  if (s.kind === 'switch') return renderSwitch(pane, s.key);
  if (s.kind === 'node') {
    const g = state.layout.groupByKey.get(s.key);
    if (!g) return;
    if (g.members.length === 1) return renderSwitch(pane, g.members[0].name);
    html('h3', `${g.members.length} switches: ${g.label}`, pane);
    const table = html('table', null, pane);
    for (const m of g.members) {
      const sw = state.switchByName.get(m.name) || m;
      const tr = html('tr', null, table);
      pick(html('td', null, tr), sw.name, {kind: 'switch', key: sw.name});
      html('td', sw.drained ? 'drained' : (state.connectedSeen && !sw.connected ? 'not connected' : 'ok'), tr,
        sw.drained || (state.connectedSeen && !sw.connected) ? 'bad' : '');
      html('td', sw.servers ? sw.servers + ' srv' : '', tr);
    }
  }
}

function renderLink(pane, id) {
  const link = state.links.get(id);
  if (!link) { html('p', 'link ' + id + ' has no state yet', pane, 'hint'); return; }
  const st = linkState(link);
  html('h3', `${link.a}:${link.a_port} ↔ ${link.b}:${link.b_port}`, pane);
  const m = link.measured_utilisation || [null, null], mb = link.measured_bps || [null, null];
  dl(pane, [['link id', link.id], ['state', st, st === 'ok' ? '' : 'bad'],
    ['up', link.up ? 'yes' : 'no'], ['usable', link.usable ? 'yes' : 'no'],
    ['drained', link.drained ? 'yes' : 'no'], ['discovery', link.discovery],
    ['capacity', fmtBps(link.capacity_bps)],
    [`planned ${link.a}→${link.b}`, `${fmtBps(link.planned_bps[0])} (${fmtPct(link.planned_utilisation[0])})`],
    [`planned ${link.b}→${link.a}`, `${fmtBps(link.planned_bps[1])} (${fmtPct(link.planned_utilisation[1])})`],
    [`measured ${link.a}→${link.b}`, mb[0] === null ? 'not measured' : `${fmtBps(mb[0])} (${fmtPct(m[0])})`],
    [`measured ${link.b}→${link.a}`, mb[1] === null ? 'not measured' : `${fmtBps(mb[1])} (${fmtPct(m[1])})`]]);
  if (state.job && state.job.links.some(l => l.id === id)) html('p', 'On the path of job ' + state.job.id, pane);
}

function renderSwitch(pane, name) {
  const sw = state.switchByName.get(name);
  if (!sw) return;
  html('h3', sw.name, pane);
  const links = state.topo.links.filter(l => l.a === name || l.b === name);
  const down = links.filter(l => linkState(state.links.get(l.id)) === 'down').length;
  dl(pane, [['role', sw.role], ['level', sw.level], ['pod', sw.pod], ['plane', sw.plane],
    ['rail', sw.rail], ['datapath id', sw.dpid],
    ['connected', sw.connected ? 'yes' : (state.connectedSeen ? 'no' : 'no (planning mode)'),
      state.connectedSeen && !sw.connected ? 'bad' : ''],
    ['drained', sw.drained ? 'yes' : 'no', sw.drained ? 'bad' : ''],
    ['fabric links', `${links.length} (${down} down)`, down ? 'bad' : ''],
    ['servers / NICs', `${sw.servers} / ${sw.nics}` + (sw.nic_links_down ? ` (${sw.nic_links_down} NIC links down)` : '')]]);
  const table = html('table', null, pane);
  for (const l of links.slice(0, 64)) {
    const link = state.links.get(l.id);
    const tr = html('tr', null, table);
    const peer = l.a === name ? `${l.b}:${l.b_port}` : `${l.a}:${l.a_port}`;
    pick(html('td', null, tr), `port ${l.a === name ? l.a_port : l.b_port} → ${peer}`, {kind: 'link', key: l.id});
    html('td', linkState(link), tr, linkState(link) === 'ok' ? '' : 'bad');
    html('td', link ? fmtPct(linkUtil(link)) : '', tr);
  }
}

// ---------- jobs ----------
function fillJobSelect() {
  const sel = document.getElementById('job-select');
  const current = state.job ? state.job.id : sel.value;
  const ids = state.jobs.map(j => j.id);
  const existing = [...sel.options].slice(1).map(o => o.value);
  if (ids.join('\n') !== existing.join('\n')) {
    sel.replaceChildren(new Option('(none)', ''));
    for (const j of state.jobs) sel.appendChild(new Option(`${j.id} (${j.pattern}, ${j.endpoints} endpoints)`, j.id));
  }
  sel.value = ids.includes(current) ? current : '';
}

async function selectJob(id) {
  const url = new URL(location.href);
  if (id) url.searchParams.set('job', id); else url.searchParams.delete('job');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
  if (!id) {
    state.job = null;
  } else {
    try {
      state.job = await api('jobs/' + encodeURIComponent(id) + '?max_flows=200');
    } catch (e) {
      if (e instanceof AuthError) return showLogin();
      state.job = null;
      setStatus(String(e.message), true);
    }
  }
  document.getElementById('job-select').value = state.job ? state.job.id : '';
  renderJob();
  paint();
}

function renderJob() {
  const pane = document.getElementById('job');
  pane.replaceChildren();
  html('h2', 'Job', pane);
  const job = state.job;
  document.body.setAttribute('data-job', job ? job.id : '');
  if (!job) { html('p', 'Select a job to see its paths.', pane, 'hint'); return; }
  html('h3', job.id, pane);
  const measured = job.measured && job.measured.available
    ? `${fmtPct(job.measured.max_path_utilisation)} on its busiest link (${job.measured.bottleneck})`
    : 'not measured (no counters for its links yet)';
  dl(pane, [['pattern', job.pattern], ['endpoints', job.endpoints], ['flows', job.flows],
    ['traffic class', job.traffic_class],
    ['predicted bandwidth', fmtBps(job.predicted_bps) + ' total'],
    ['per flow', job.flows ? fmtBps(job.predicted_bps / job.flows) : '—'],
    ['planned max link load', fmtPct(job.max_link_load)],
    ['lower bound', fmtPct(job.lower_bound)],
    ['measured', measured],
    ['links crossed', job.links.length]]);
  const table = html('table', null, pane);
  const tr0 = html('tr', null, table);
  ['link', 'job load', 'planned'].forEach(h => html('th', h, tr0));
  const links = [...job.links].sort((x, y) => (y.job_bps[0] + y.job_bps[1]) - (x.job_bps[0] + x.job_bps[1]));
  for (const l of links.slice(0, 16)) {
    const tr = html('tr', null, table);
    const cell = html('td', null, tr);
    if (state.links.has(l.id)) pick(cell, `${l.a} ↔ ${l.b}`, {kind: 'link', key: l.id});
    else cell.textContent = `${l.a} ↔ ${l.b}`;
    html('td', fmtBps(l.job_bps[0] + l.job_bps[1]), tr);
    html('td', fmtPct(l.planned_utilisation), tr);
  }
  if (job.flows_truncated) html('p', `showing the first ${job.flows_listed.length} flows' detail`, pane, 'hint');
}

// ---------- polling ----------
async function refreshState() {
  const [switches, links] = await Promise.all([api('switches'), api('links')]);
  for (const sw of switches.switches) {
    state.switchByName.set(sw.name, sw);
    if (sw.connected) state.connectedSeen = true;
  }
  state.links = new Map(links.links.map(l => [l.id, l]));
  state.discovery = links.discovery;
  if (state.measured !== links.measured) {
    state.measured = links.measured;
    document.getElementById('colour-measured').parentElement.title =
      links.measured ? '' : 'no link is measured yet';
  }
  paint();
  if (state.selection) renderDetail();
}

async function refreshJobs() {
  state.jobs = (await api('jobs')).jobs;
  fillJobSelect();
  if (state.job) {
    if (!state.jobs.some(j => j.id === state.job.id)) { state.job = null; renderJob(); paint(); }
    else await selectJob(state.job.id);
  }
}

function addEvents(events) {
  const list = document.getElementById('events');
  for (const e of events) {
    const li = document.createElement('li');
    li.className = e.type;
    li.value = e.sequence;
    const time = new Date(e.time_unix_ms).toLocaleTimeString();
    li.textContent = `${time} ${e.type} ${e.subject}` + (e.detail ? ` — ${e.detail}` : '') +
      (e.flows_moved ? ` (${e.flows_moved} flows moved)` : '');
    list.insertBefore(li, list.firstChild);
  }
  while (list.children.length > MAX_EVENTS_SHOWN) list.lastChild.remove();
}

let refreshPending = null;
function refreshSoon(jobsToo) {
  if (refreshPending) { refreshPending.jobs ||= jobsToo; return; }
  refreshPending = {jobs: jobsToo};
  setTimeout(async () => {
    const p = refreshPending;
    refreshPending = null;
    try {
      await refreshState();
      if (p.jobs) await refreshJobs();
    } catch (e) { handleError(e); }
  }, 50);
}

async function pollEvents() {
  try {
    const path = state.eventSeq === 0 ? 'events?last=50' : 'events?after=' + state.eventSeq;
    const res = await api(path);
    if (res.events.length) {
      addEvents(res.events);
      state.eventSeq = res.events[res.events.length - 1].sequence;
      document.body.setAttribute('data-event-seq', state.eventSeq);
      const types = new Set(res.events.map(e => e.type));
      const jobs = [...types].some(t => t.startsWith('job-'));
      if (jobs || [...types].some(t => /^(link|switch|discovery)/.test(t)) || res.gap) refreshSoon(jobs || res.gap);
    } else if (state.eventSeq === 0) {
      state.eventSeq = res.last_sequence;
    }
    setStatus(`live · event ${state.eventSeq} · ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    handleError(e);
  }
  setTimeout(pollEvents, EVENT_POLL_MS);
}

function handleError(e) {
  if (e instanceof AuthError) showLogin('');
  else setStatus(String(e.message || e), true);
}

// ---------- start ----------
function fillFilters() {
  const planes = document.getElementById('plane-select');
  const rails = document.getElementById('rail-select');
  for (const p of state.topo.planes) planes.appendChild(new Option(String(p), String(p)));
  for (const r of state.topo.rails) rails.appendChild(new Option(String(r), String(r)));
  planes.disabled = state.topo.planes.length < 2;
  rails.disabled = state.topo.rails.length === 0;
}

async function start() {
  takeTokenFromUrl();
  document.getElementById('login-form').addEventListener('submit', ev => {
    ev.preventDefault();
    setToken(document.getElementById('login-token').value);
    location.reload();
  });
  try {
    state.topo = await api('topology');
  } catch (e) {
    if (e instanceof AuthError) return showLogin('');
    setStatus(String(e.message), true);
    return;
  }
  for (const sw of state.topo.switches) {
    state.switchByName.set(sw.name, sw);
    if (sw.connected) state.connectedSeen = true;
  }
  fillFilters();
  buildLayout();
  document.getElementById('plane-select').addEventListener('change', ev => {
    state.plane = ev.target.value; buildLayout(); paint();
  });
  document.getElementById('rail-select').addEventListener('change', ev => {
    state.rail = ev.target.value; buildLayout(); paint();
  });
  for (const radio of document.querySelectorAll('input[name=colour]')) {
    radio.addEventListener('change', ev => {
      state.colour = ev.target.value;
      document.body.setAttribute('data-colour', state.colour);
      paint();
      if (state.selection) renderDetail();
    });
  }
  document.getElementById('job-select').addEventListener('change', ev => selectJob(ev.target.value));
  try {
    await refreshState();
    await refreshJobs();
    const wanted = new URL(location.href).searchParams.get('job');
    if (wanted) await selectJob(wanted);
  } catch (e) {
    return handleError(e);
  }
  document.body.setAttribute('data-colour', state.colour);
  document.body.setAttribute('data-ready', '1');
  document.body.setAttribute('data-ready-ms', Math.round(performance.now() - started));
  pollEvents();
  // Events refresh the drawing at once; measured load changes without events, so poll it often
  // only while there is some (a large fabric's link list is a few hundred kB).
  let sinceRefresh = 0;
  setInterval(() => {
    sinceRefresh += STATE_POLL_MS;
    if (!state.measured && sinceRefresh < IDLE_POLL_MS) return;
    sinceRefresh = 0;
    refreshState().catch(handleError);
  }, STATE_POLL_MS);
  setInterval(() => refreshJobs().catch(handleError), STATE_POLL_MS * 5);
}

start();
