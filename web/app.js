/* vigil dashboard: Live, Events, event detail, Models, System. Plain DOM,
 * no dependencies. Every piece of server text goes in through text nodes
 * (never innerHTML), so HTML in event text or camera names stays text. */
'use strict';

const main = document.getElementById('main');
const conn = document.getElementById('conn');
const LEVELS = ['low', 'medium', 'high', 'critical'];
let onNewEvent = null; /* the current page's handler of live events */

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k instanceof Node ? k : String(k));
  return e;
}

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, opts) {
  const r = await fetch(path, opts);
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!r.ok) throw new ApiError(r.status, (body && body.detail) || `HTTP ${r.status}`);
  return body;
}

function badge(level) {
  const l = LEVELS.includes(level) ? level : 'low';
  return h('span', {class: `badge ${l}`}, l);
}

function fmtTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

function setPage(name, title) {
  onCamera = null; /* only the Live page follows camera states */
  document.title = `${title} · vigil`;
  for (const a of document.querySelectorAll('nav a'))
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
}

function show(...kids) {
  main.replaceChildren(...kids);
}

function failure(e) {
  return h('p', {class: 'err', role: 'alert'}, e.message || String(e));
}

/* ---- live feed (server-sent events) ---- */

let onCamera = null; /* the current page's handler of live camera states */

/* The server may end each response after a while (a bounded poll) and the
 * browser reconnects with Last-Event-ID: an error while CONNECTING is that
 * normal turn; only a CLOSED source is offline. ?live=1 adds `camera` records
 * (a camera's current frame and tracks changed). */
function startStream() {
  const es = new EventSource('/events/stream?live=1');
  es.onopen = () => { conn.textContent = 'live'; };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      conn.textContent = 'offline — retrying';
      setTimeout(startStream, 5000);
    }
  };
  const parse = (m) => { try { return JSON.parse(m.data); } catch (e) { return null; } };
  es.onmessage = (m) => {
    conn.textContent = 'live';
    const msg = parse(m);
    if (msg && msg.type === 'new_event' && onNewEvent) onNewEvent(msg.event);
  };
  es.addEventListener('camera', (m) => {
    const msg = parse(m);
    if (msg && msg.type === 'camera' && msg.camera && onCamera) onCamera(msg.camera);
  });
}

/* ---- Live ---- */

function labelChips(dets) {
  const counts = {};
  for (const d of dets) counts[d.class] = (counts[d.class] || 0) + 1;
  const names = Object.keys(counts).sort();
  if (!names.length) return h('p', {class: 'mut'}, 'no objects');
  return h('div', {class: 'chips', 'aria-label': 'Objects'}, names.map((n) => h('span', {class: 'chip'}, `${n} × ${counts[n]}`)));
}

function fmtDwell(s) {
  const v = Number(s) || 0;
  return v < 60 ? `${v.toFixed(0)} s` : v < 3600 ? `${(v / 60).toFixed(1)} min` : `${(v / 3600).toFixed(1)} h`;
}

/* The camera's current frame (tracks drawn on it by the pipeline) and its
 * tracked objects now; updated in place by `camera` stream records. */
function liveView(name, live) {
  const box = h('div', {class: 'live', 'data-seq': live ? live.seq : 0});
  if (!live) {
    box.append(h('p', {class: 'mut'}, 'no live view (no pipeline is running for this camera)'));
    return box;
  }
  box.append(live.frame
    ? h('img', {class: 'liveframe', src: live.frame, alt: `Current frame of ${name} with its tracked objects`})
    : h('div', {class: 'noimg'}, 'no frame'));
  const tracks = live.tracks || [];
  box.append(h('p', {class: 'mut'}, `Tracked now: ${tracks.length} object${tracks.length === 1 ? '' : 's'} · frame ${fmtTime(live.frame_ts)}`));
  const age = (Date.now() - Date.parse(live.updated_at)) / 1000;
  if (age > 60) box.append(h('p', {class: 'mut stale'}, `No update for ${ago(live.updated_at)}: the pipeline may have stopped.`));
  if (tracks.length)
    box.append(h('ul', {class: 'tracks', 'aria-label': `Objects tracked now on ${name}`},
      tracks.map((t) => h('li', {'data-track': t.id},
        h('strong', {}, `#${t.id} ${t.label}`), ` ${(Number(t.score) * 100).toFixed(0)}% · ${fmtDwell(t.dwell_s)}`,
        t.stationary ? ' · still' : ''))));
  return box;
}

async function tile(c) {
  const ev = c.last_event;
  const name = c.name || c.id;
  const card = h('section', {class: 'card tile', 'data-camera': c.id, 'aria-label': `Camera ${name}`}, h('h2', {}, name));
  card.append(liveView(name, c.live));
  if (ev && ev.has_snapshot && !(c.live && c.live.frame))
    card.append(h('img', {src: `/events/${ev.id}/snapshot`, alt: `Latest annotated frame of ${name}`, loading: 'lazy'}));
  else if (!c.live) card.append(h('div', {class: 'noimg'}, 'no snapshot yet'));
  if (!ev) return card;
  card.append(h('p', {}, badge(ev.risk_level), ' ', h('a', {href: `/event/${ev.id}`}, ev.summary || '(no summary)')));
  card.append(h('p', {class: 'mut'}, fmtTime(ev.window_end)));
  try {
    const d = await api(`/events/${ev.id}/detections`);
    card.append(h('p', {class: 'mut'}, 'Objects in the latest event:'), labelChips(d.detections));
  } catch (e) { card.append(failure(e)); }
  return card;
}

async function pageLive() {
  setPage('live', 'Live');
  const grid = h('div', {class: 'grid', id: 'tiles'});
  show(h('h1', {}, 'Live'), grid);
  const names = {};
  const render = async () => {
    const {cameras} = await api('/api/cameras');
    for (const c of cameras) names[c.id] = c.name || c.id;
    const tiles = await Promise.all(cameras.map(tile));
    grid.replaceChildren(...(tiles.length ? tiles : [h('p', {class: 'mut'}, 'No camera has reported yet.')]));
  };
  const rerender = () => { render().catch((e) => grid.replaceChildren(failure(e))); };
  onNewEvent = rerender;
  onCamera = (live) => {
    const card = [...grid.querySelectorAll('section.tile')].find((s) => s.dataset.camera === live.camera_id);
    if (!card) { rerender(); return; } /* a camera not shown yet */
    const old = card.querySelector('.live');
    if (old && Number(old.dataset.seq) >= live.seq) return;
    const name = names[live.camera_id] || live.camera_id;
    if (old) old.replaceWith(liveView(name, live)); else card.querySelector('h2').after(liveView(name, live));
    if (live.frame) for (const im of card.querySelectorAll('img:not(.liveframe)')) im.remove();
  };
  await render();
}

/* ---- the risk rule table (ids -> descriptions), loaded once ---- */

let ruleTable = null;
async function loadRules() {
  if (ruleTable) return ruleTable;
  try {
    const {rules} = await api('/api/rules');
    ruleTable = {};
    for (const r of rules) ruleTable[r.id] = r;
  } catch (e) { return {}; }
  return ruleTable;
}

/* ---- Events ---- */

function hashQuery() {
  const q = location.hash.indexOf('?');
  return new URLSearchParams(q >= 0 ? location.hash.slice(q + 1) : '');
}

function hasPlate(ev) { return !!ev.plate || (Array.isArray(ev.plates) && ev.plates.length > 0); }
function platesOf(ev) { return [].concat(ev.plate || [], ev.plates || []).map((p) => (typeof p === 'string' ? p : (p && p.text) || '')); }

function eventRow(ev) {
  return h('li', {'data-event': ev.id},
    h('a', {href: `/event/${ev.id}`},
      badge(ev.risk_level),
      h('span', {class: 'mut'}, fmtTime(ev.window_start)),
      h('span', {class: 'mut'}, ev.camera_id),
      h('span', {class: 'sum'}, ev.summary || '(no summary)'),
      ev.reviewed ? h('span', {class: 'ok', title: 'reviewed'}, '✓ reviewed') : null));
}

function matches(ev, q) {
  if (q.get('camera') && ev.camera_id !== q.get('camera')) return false;
  if (q.get('level') && ev.risk_level !== q.get('level')) return false;
  if (q.get('reviewed') === 'true' && !ev.reviewed) return false;
  if (q.get('reviewed') === 'false' && ev.reviewed) return false;
  if (q.get('rule') && !(ev.rules || []).includes(q.get('rule'))) return false;
  if (q.get('plate') && !platesOf(ev).some((p) => p.toLowerCase().includes(q.get('plate').toLowerCase()))) return false;
  return true;
}

async function pageEvents() {
  setPage('events', 'Events');
  const q = hashQuery();
  const [{cameras}, list, rules] = await Promise.all([api('/api/cameras'), (async () => {
    const p = new URLSearchParams({limit: '200'});
    for (const k of ['camera', 'level', 'reviewed', 'plate', 'rule']) if (q.get(k)) p.set(k, q.get(k));
    for (const k of ['since', 'until']) if (q.get(k)) p.set(k, new Date(q.get(k)).toISOString());
    return api(`/events?${p}`);
  })(), loadRules()]);
  const events = list.events.filter((e) => matches(e, q));
  const sel = (name, label, opts) => h('label', {}, label, h('select', {name},
    h('option', {value: ''}, 'any'), opts.map(([v, t]) => h('option', {value: v, selected: q.get(name) === v}, t))));
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter events'},
    sel('camera', 'Camera', cameras.map((c) => [c.id, c.name || c.id])),
    sel('level', 'Risk level', LEVELS.map((l) => [l, l])),
    h('label', {}, 'From', h('input', {type: 'datetime-local', name: 'since', value: q.get('since') || ''})),
    h('label', {}, 'To', h('input', {type: 'datetime-local', name: 'until', value: q.get('until') || ''})),
    sel('reviewed', 'Reviewed', [['false', 'not reviewed'], ['true', 'reviewed']]),
    sel('rule', 'Rule fired', Object.keys(rules).sort().map((id) => [id, id])),
    list.events.some(hasPlate) || q.get('plate') ? h('label', {}, 'Plate', h('input', {name: 'plate', value: q.get('plate') || ''})) : null,
    h('button', {type: 'submit'}, 'Apply'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    location.hash = `#/events?${p}`;
  });
  const ol = h('ol', {class: 'timeline', 'aria-label': 'Events, newest first'}, events.map(eventRow));
  const empty = h('p', {class: 'mut', hidden: events.length > 0}, 'No events match.');
  show(h('h1', {}, 'Events'), form, empty, ol);
  onNewEvent = (ev) => {
    if (!matches(ev, q) || ol.querySelector(`[data-event="${ev.id}"]`)) return;
    ol.prepend(eventRow(ev));
    empty.hidden = true;
  };
}

/* ---- one event ---- */

async function pageEvent(id) {
  setPage('events', `Event ${id}`);
  onNewEvent = null;
  let ev;
  try {
    ev = await api(`/events/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e.status === 404 || e.status === 400) {
      document.title = 'Event not found · vigil';
      show(h('h1', {}, 'Event not found'), h('p', {role: 'alert'}, `There is no event “${id}”.`),
        h('p', {}, h('a', {href: '/#/events'}, 'Back to the events')));
      return;
    }
    throw e;
  }
  let dets = [];
  try { dets = (await api(`/events/${ev.id}/detections`)).detections; } catch (e) { dets = []; }
  await loadRules();
  const status = h('p', {role: 'status', 'aria-live': 'polite', class: 'mut', id: 'review-status'});
  const reviewed = h('input', {type: 'checkbox', name: 'reviewed', id: 'reviewed', checked: ev.reviewed});
  const notes = h('textarea', {name: 'notes', id: 'notes', rows: 4, maxlength: 10000}, ev.notes || '');
  const form = h('form', {'aria-label': 'Review'},
    h('p', {}, h('label', {style: 'flex-direction:row;gap:6px;align-items:center', for: 'reviewed'}, reviewed, 'Reviewed')),
    h('label', {for: 'notes'}, 'Note', notes),
    h('p', {}, h('button', {type: 'submit', id: 'save'}, 'Save')), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    status.textContent = 'saving…';
    try {
      const r = await api(`/events/${ev.id}`, {method: 'PATCH', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({reviewed: reviewed.checked, notes: notes.value})});
      reviewed.checked = r.reviewed;
      status.textContent = 'saved';
    } catch (err) { status.textContent = `not saved: ${err.message}`; }
  });
  const detRows = dets.map((d) => {
    const en = d.enrichment || {};
    const facts = [];
    if (en.threat) facts.push(`threat: ${en.threat.threat_type} (${en.threat.severity})`);
    if (en.pose) facts.push(`pose: ${en.pose.posture}${en.pose.alerts && en.pose.alerts.length ? ' — ' + en.pose.alerts.join(', ') : ''}`);
    if (en.clothing) facts.push(`clothing: ${en.clothing.color} ${en.clothing.type}`);
    if (en.vehicle) facts.push(`vehicle: ${en.vehicle.vehicle_type}`);
    if (en.pet) facts.push(`pet: ${en.pet.type}`);
    if (en.demographics) facts.push(`person: ${en.demographics.gender}, ${en.demographics.age_range}`);
    return h('tr', {}, h('td', {}, d.class), h('td', {}, (d.confidence * 100).toFixed(0) + '%'),
      h('td', {}, [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2].map((v) => Math.round(v)).join(', ')), h('td', {}, facts.join('; ')));
  });
  show(
    h('p', {}, h('a', {href: '/#/events'}, '← Events')),
    h('h1', {}, badge(ev.risk_level), ` ${ev.risk_score} — `, ev.summary || '(no summary)'),
    h('div', {class: 'detail'},
      h('div', {},
        ev.has_snapshot ? h('img', {src: `/events/${ev.id}/snapshot`, alt: 'Snapshot with boxes and skeletons'}) : h('div', {class: 'noimg'}, 'no snapshot'),
        h('h2', {}, 'Detections'),
        h('div', {class: 'tablewrap'}, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'object'), h('th', {}, 'confidence'), h('th', {}, 'box'), h('th', {}, 'enrichment'))),
          h('tbody', {}, detRows)))),
      h('div', {},
        h('p', {}, h('strong', {}, 'Camera: '), ev.camera_id),
        h('p', {}, h('strong', {}, 'Window: '), `${fmtTime(ev.window_start)} – ${fmtTime(ev.window_end)}`),
        h('p', {}, h('strong', {}, 'Scored by: '), ev.scorer, ev.fast_path ? ' (fast path)' : ''),
        h('h2', {}, 'Reasoning'), h('pre', {class: 'reason'}, ev.reasoning || ''),
        h('h2', {}, 'Rules that fired'),
        (ev.rules || []).length
          ? h('ul', {class: 'rules', id: 'rules'}, ev.rules.map((id) => {
            const r = ruleTable[id];
            return h('li', {'data-rule': id}, h('a', {href: `/#/events?rule=${encodeURIComponent(id)}`}, h('code', {}, id)),
              r ? ` — ${r.description} (${r.kind} ${r.kind === 'add' && r.value > 0 ? '+' : ''}${r.value})` : '');
          }))
          : h('p', {class: 'mut'}, 'none recorded'),
        h('h2', {}, 'Review'), form)));
}

/* ---- Models ---- */

function mb(v) { return v === undefined || v === null ? '—' : `${Number(v).toFixed(1)} MB`; }
function ago(s) {
  if (!s) return 'never';
  const t = typeof s === 'number' ? s * 1000 : Date.parse(s);
  if (isNaN(t)) return String(s);
  const d = Math.max(0, (Date.now() - t) / 1000);
  return d < 60 ? `${d.toFixed(0)} s ago` : d < 3600 ? `${(d / 60).toFixed(0)} min ago` : `${(d / 3600).toFixed(1)} h ago`;
}

async function zooCard(svc) {
  const card = h('section', {class: 'card', 'data-service': svc.name, 'aria-label': `Service ${svc.name}`}, h('h2', {}, svc.name), h('p', {class: 'mut'}, svc.url));
  let health;
  try { health = await api(`/api/services/${encodeURIComponent(svc.name)}/health`); } catch (e) { card.append(failure(e)); return card; }
  if (health.models_registered === undefined) { card.append(h('p', {class: 'mut'}, 'no model zoo on this service')); return card; }
  let st;
  try { st = await api(`/api/services/${encodeURIComponent(svc.name)}/models/status`); } catch (e) { card.append(failure(e)); return card; }
  const used = st.vram_used_mb !== undefined ? st.vram_used_mb : (st.loaded_models || []).reduce((a, m) => a + (m.vram_mb || 0), 0);
  const total = st.vram_budget_mb || st.vram_total_mb || 0;
  const pct = total ? Math.min(100, (100 * used) / total) : 0;
  card.append(h('p', {}, `Status: ${st.status} · ${mb(used)} of ${mb(total)} budget`),
    h('div', {class: `bar${pct > 95 ? ' warn' : ''}`, role: 'meter', 'aria-label': `memory of ${svc.name}`, 'aria-valuemin': 0,
      'aria-valuemax': Math.round(total), 'aria-valuenow': Math.round(used)}, h('span', {style: `width:${pct.toFixed(1)}%`})));
  const loaded = {};
  for (const m of st.loaded_models || []) loaded[m.name] = m;
  const pending = new Set(st.pending_loads || []);
  const msg = h('p', {role: 'status', 'aria-live': 'polite', class: 'mut'});
  const act = async (what, name, btn) => {
    btn.disabled = true;
    msg.textContent = `${what} ${name}…`;
    try {
      const r = await api(`/api/services/${encodeURIComponent(svc.name)}/models/${what}?model_name=${encodeURIComponent(name)}`, {method: 'POST'});
      msg.textContent = `${name}: ${r.status}`;
    } catch (e) { msg.textContent = `${name}: ${e.message}`; }
    const fresh = await zooCard(svc);
    card.replaceWith(fresh);
    const again = fresh.querySelector(`button[data-model="${CSS.escape(name)}"][data-action="${what}"]`);
    (again || fresh).focus();
  };
  const rows = (st.registered_models || []).map((m) => {
    const l = loaded[m.name];
    const state = l ? 'loaded' : pending.has(m.name) ? 'loading' : m.state || 'registered';
    const pre = h('button', {type: 'button', 'data-model': m.name, 'data-action': 'preload', disabled: !!l}, 'Preload');
    const un = h('button', {type: 'button', 'data-model': m.name, 'data-action': 'unload', disabled: !l}, 'Unload');
    pre.addEventListener('click', () => act('preload', m.name, pre));
    un.addEventListener('click', () => act('unload', m.name, un));
    return h('tr', {'data-model': m.name}, h('td', {}, m.name),
      h('td', {class: l ? 'ok' : m.error ? 'err' : '', title: m.error || null, 'data-state': state}, state),
      h('td', {}, l ? mb(l.vram_mb) + ' measured' : mb(m.vram_mb) + ' est.'), h('td', {}, m.priority),
      h('td', {}, l ? ago(l.last_used) : '—'), h('td', {}, pre, ' ', un));
  });
  card.append(h('div', {class: 'tablewrap'}, h('table', {},
    h('thead', {}, h('tr', {}, ['model', 'state', 'size', 'priority', 'last use', ''].map((t) => h('th', {}, t)))),
    h('tbody', {}, rows))), msg);
  return card;
}

async function pageModels() {
  setPage('models', 'Models');
  onNewEvent = null;
  const {services} = await api('/api/services');
  const cards = await Promise.all(services.map(zooCard));
  show(h('h1', {}, 'Models'), h('div', {class: 'stack'}, cards));
}

/* ---- System ---- */

function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)/);
    if (m) out.push({name: m[1], labels: (m[2] || '').slice(1, -1), value: Number(m[3])});
  }
  return out;
}

function group(name) {
  if (/queue|dropped|pending|buffered|inflight|in_flight/.test(name)) return 'Queues and drops';
  if (/error|fail|refus/.test(name)) return 'Errors';
  if (/seconds|_ms|duration|latency|timing/.test(name)) return 'Timings';
  return 'Other';
}

function metricsCard(title, samples) {
  const groups = {};
  for (const s of samples) (groups[group(s.name)] = groups[group(s.name)] || []).push(s);
  const order = ['Queues and drops', 'Timings', 'Errors', 'Other'];
  return h('section', {class: 'card', 'aria-label': `Metrics of ${title}`}, h('h2', {}, title),
    order.filter((g) => groups[g]).map((g) => h('details', {open: g !== 'Other'}, h('summary', {}, `${g} (${groups[g].length})`),
      h('div', {class: 'tablewrap'}, h('table', {}, h('tbody', {}, groups[g].map((s) =>
        h('tr', {}, h('td', {}, s.name), h('td', {class: 'mut'}, s.labels), h('td', {}, Number.isInteger(s.value) ? s.value : s.value.toFixed(4))))))))));
}

/* The pipelines' own counters (they run in `vigil analyze`, not behind a
 * port): per camera, from the live state each publishes with its frame. */
function pipelinesCard(cameras) {
  const live = cameras.filter((c) => c.live && c.live.stats);
  const card = h('section', {class: 'card', 'aria-label': 'Pipelines per camera'}, h('h2', {}, 'Pipelines (per camera)'));
  if (!live.length) { card.append(h('p', {class: 'mut'}, 'No pipeline has published a live state.')); return card; }
  const per = (ms, n) => (n ? `${(ms / n).toFixed(1)} ms` : '—');
  const head = ['camera', 'updated', 'frames', 'dropped', 'no detector call', 'detector calls', 'detect / frame', 'track / frame', 'enrich / call', 'events'];
  card.append(h('div', {class: 'tablewrap'}, h('table', {},
    h('thead', {}, h('tr', {}, head.map((t) => h('th', {}, t)))),
    h('tbody', {}, live.map((c) => {
      const s = c.live.stats;
      return h('tr', {'data-camera': c.id}, h('td', {}, c.name || c.id), h('td', {class: 'mut'}, ago(c.live.updated_at)),
        h('td', {}, s.frames), h('td', {'data-stat': 'dropped'}, s.dropped), h('td', {}, s.frames_gated), h('td', {}, s.detector_calls),
        h('td', {}, per(s.detect_ms, s.detected_frames)), h('td', {}, per(s.track_ms, s.detected_frames)),
        h('td', {}, per(s.enrich_ms, s.enriched)), h('td', {}, s.events));
    })))));
  return card;
}

async function pageSystem() {
  setPage('system', 'System');
  onNewEvent = null;
  const cards = [];
  cards.push(pipelinesCard((await api('/api/cameras')).cameras));
  const own = await fetch('/metrics').then((r) => r.text());
  cards.push(metricsCard('events (this service)', parseMetrics(own)));
  const {services} = await api('/api/services');
  for (const s of services) {
    try {
      const r = await fetch(`/api/services/${encodeURIComponent(s.name)}/metrics`);
      if (!r.ok) throw new Error((await r.json().catch(() => ({}))).detail || `HTTP ${r.status}`);
      cards.push(metricsCard(s.name, parseMetrics(await r.text())));
    } catch (e) {
      cards.push(h('section', {class: 'card'}, h('h2', {}, s.name), failure(e)));
    }
  }
  show(h('h1', {}, 'System'), h('div', {class: 'grid wide'}, cards));
}

/* ---- routing ---- */

async function route() {
  delete main.dataset.ready;
  const m = location.pathname.match(/^\/event\/([^/]+)$/);
  const page = m ? null : (location.hash.replace(/^#\/?/, '').split('?')[0] || 'live');
  const pages = {live: pageLive, events: pageEvents, models: pageModels, system: pageSystem};
  try {
    if (m) await pageEvent(decodeURIComponent(m[1]));
    else if (pages[page]) await pages[page]();
    else { setPage('', 'Not found'); show(h('h1', {}, 'Page not found'), h('p', {}, h('a', {href: '/#/live'}, 'Go to Live'))); }
  } catch (e) {
    show(h('h1', {}, 'Something went wrong'), failure(e));
  }
  main.dataset.ready = '1';
  if (routed) main.focus({preventScroll: true}); /* keyboard users land on the new page */
  routed = true;
}
let routed = false;

window.addEventListener('hashchange', route);
startStream();
route();
