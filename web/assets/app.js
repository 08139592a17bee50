// The g90 web app: the panels from the stream's "state" messages, the
// event log from /api/events plus the stream's "event" and "update"
// messages, and the screens of the other endpoints (history, devices and
// settings in manage.js, login) when this version of the daemon has them.
// Data is only ever put into the page as text. No build step, no
// dependencies.

import { setup } from './manage.js';

const MAX_LOG = 200;
// A sensor_activity within FOLD_MS of a more specific event about the same
// sensor (door_open, alarm…) is the same happening: the panel reports both
// (a notification and an alert), so the log shows the specific one only.
const FOLD_MS = 3000;

const panels = new Map(); // name → {el, view}
const names = new Map(); // GUID → name
const log = []; // events, oldest first, at most MAX_LOG
const changed = new Map(); // "GUID/index" → time of the sensor's last event
const alarms = new Map(); // GUID → the last alarm event
let pending = null; // live messages held back while the log loads
let serverUp = true;

const $ = (sel, root = document) => root.querySelector(sel);

// setText changes an element's text only when it differs: a live
// region re-announces any text set again.
function setText(e, text) {
  if (e.textContent !== text) e.textContent = text;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

class APIError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field; // the input a 400 names
  }
}

async function api(method, path, body, headers = {}) {
  const opts = { method, headers: { ...headers } };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (err) {
    unreachable(true);
    throw new APIError(0, 'no answer from the g90 server');
  }
  let data = {};
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (res.status === 401 && !path.endsWith('api/login')) showLogin();
  if (res.status === 503 && data.offline) {
    unreachable(true); // the service worker's answer: no network
    throw new APIError(0, 'no answer from the g90 server');
  }
  if (!res.ok) {
    let msg = data.error || res.status + ' ' + res.statusText;
    if (res.status === 429 && res.headers.get('Retry-After')) msg += ' (try again in ' + res.headers.get('Retry-After') + ' s)';
    throw new APIError(res.status, msg, data.field);
  }
  return data;
}

function zero(t) { return !t || t.startsWith('0001-'); }

function ago(t) {
  if (zero(t)) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return new Date(t).toLocaleString();
}

function clock(t) {
  const d = new Date(t);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

// Screens.

const screens = ['home', 'log', 'history', 'manage', 'settings'];
let loginShown = false;

function show(screen) {
  if (loginShown) screen = 'login';
  if (screen !== 'login' && !screens.includes(screen)) screen = 'home';
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.id !== 'screen-' + screen;
  for (const a of document.querySelectorAll('.tabs a')) {
    if (a.dataset.screen === screen) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (screen === 'history') loadHistory(false);
  if (screen === 'manage') loadManage();
  if (screen === 'settings') loadSettings();
}

function route() { show(location.hash.slice(1) || 'home'); }

// newPanel shows the screen again that lists panels when one more is
// known (a screen opened before the stream's first state).
let rerouting = null;
function newPanel() {
  if (rerouting || !['manage', 'settings', 'history'].includes(location.hash.slice(1))) return;
  rerouting = setTimeout(() => {
    rerouting = null;
    route();
  }, 200);
}

// The server and the panel being reachable.

function unreachable(down) {
  serverUp = !down;
  const b = $('#offline');
  b.hidden = !down;
  setText(b, !down ? '' : 'Panel unreachable: the g90 server does not answer.' +
    (panels.size > 0 ? ' What is shown is the last known state.' : ''));
  for (const p of panels.values()) {
    const note = $('.stale-note', p.el);
    if (p.stale) continue;
    note.hidden = !down;
    setText(note, down ? 'Last known state — not live.' : '');
  }
  if (down) {
    live(false, 'offline');
    notify('Panel unreachable', 'The g90 server does not answer.', 'server');
  } else {
    notified.delete('server'); // the next time it goes, say so again
  }
}

// Panels.

function card(name) {
  let p = panels.get(name);
  if (p) return p;
  const node = $('#panel-tpl').content.firstElementChild.cloneNode(true);
  p = { el: node, view: null, wasReachable: null, relayMsgs: new Map() };
  panels.set(name, p);
  const id = 'panel-' + panels.size;
  $('.name', node).id = id + '-name';
  node.setAttribute('aria-labelledby', id + '-name');
  $('.pin-input', node).id = id + '-pin';
  $('#panels').append(node);
  $('form', node).addEventListener('submit', e => e.preventDefault());
  for (const b of node.querySelectorAll('button[data-mode]')) {
    b.addEventListener('click', () => command(p, b.dataset.mode, b));
  }
  const refresh = $('.refresh', node);
  refresh.addEventListener('click', () => send(p, refresh, '/refresh', undefined, 'Read again'));
  return p;
}

const armLabels = { away: 'Armed away', home: 'Armed home', disarmed: 'Disarmed' };

// The last state the stream gave, kept on this device, so that the app
// opens with it (marked as such) before the stream answers, or offline.
const LAST = 'g90.last';

function saveLast() {
  try {
    const views = [...panels.values()].filter(p => p.view && !p.stale).map(p => p.view);
    localStorage.setItem(LAST, JSON.stringify({ at: new Date().toISOString(), views }));
  } catch (_) { /* storage full or disabled */ }
}

function loadLast() {
  try {
    const last = JSON.parse(localStorage.getItem(LAST) || 'null');
    if (last && Array.isArray(last.views)) for (const v of last.views) render(v, last.at);
  } catch (_) { /* damaged: the stream brings a fresh one */ }
}

// render shows a panel; stale is the time of a kept state, or empty for
// a live one.
function render(view, stale = '') {
  const p = card(view.name);
  if (!p.view) newPanel();
  if (!stale && p.stale) p.stale = '';
  else if (stale && p.view && !p.stale) return; // a live one is there
  p.view = view;
  p.stale = stale;
  const note = $('.stale-note', p.el);
  note.hidden = !stale;
  note.textContent = stale ? 'Last known state, from ' + clock(stale) + ' — not live.' : '';
  if (!stale) saveLast();
  const st = view.state || {};
  if (st.guid && names.get(st.guid) !== view.name) {
    names.set(st.guid, view.name);
    renderLog();
  }
  const e = p.el;
  $('.name', e).textContent = view.name;
  $('.guid', e).textContent = st.guid || 'GUID not read yet';
  const arm = st.alarm ? 'alarm' : st.arm || 'unknown';
  const status = $('.status', e);
  status.dataset.arm = arm;
  if (status.getAttribute('role') !== (st.alarm ? 'alert' : 'status')) status.setAttribute('role', st.alarm ? 'alert' : 'status');
  setText($('.arm', e), st.alarm ? 'ALARM' : armLabels[arm] || (view.ready ? 'Arm state unknown' : 'Reading the panel…'));
  const alarm = $('.alarm', e);
  if (st.alarm) {
    const last = alarms.get(st.guid);
    const who = st.alarm_sensor ? st.alarm_sensor.name : last && last.sensor ? last.sensor.name : '';
    const parts = [];
    parts.push(who ? 'Triggered by ' + who : 'Triggered');
    if (last) parts.push('at ' + clock(last.time));
    if (last && last.tamper) parts.push('(tamper)');
    setText(alarm, parts.join(' '));
  } else {
    setText(alarm, arm === 'unknown' ? '' : 'No alarm');
  }
  for (const b of e.querySelectorAll('button[data-mode]')) {
    b.setAttribute('aria-pressed', String(!st.alarm && st.arm === (b.dataset.mode === 'disarm' ? 'disarmed' : b.dataset.mode)));
  }
  $('.pin', e).hidden = !view.pin_required;
  renderReach(p);
  renderSensors(p);
  $('.relays', e).replaceChildren(...(st.devices || []).map(d => relayItem(p, d)));
  if (view.ready && p.wasReachable === true && !st.reachable) {
    notify('Panel unreachable', view.name + ' does not answer.', 'reach-' + view.name);
  }
  if (st.reachable) notified.delete('reach-' + view.name);
  if (view.ready) p.wasReachable = !!st.reachable;
}

const sourceNames = { local: 'local notifications', cloud: 'the cloud link', history: 'history polling' };

function renderReach(p) {
  const st = p.view.state || {};
  const up = st.reachable && serverUp;
  const reach = $('.reach', p.el);
  reach.textContent = !serverUp ? 'Unreachable (no server)' : st.reachable ? 'Panel reachable' : p.view.ready ? 'Panel NOT reachable' : 'Reading…';
  reach.className = 'reach ' + (up ? 'ok' : p.view.ready || !serverUp ? 'bad' : '');
  // The newest packet, in the summary: how events arrive, and whether they do.
  const newest = Object.entries(st.last_packet || {}).filter(([, t]) => !zero(t)).sort((a, b) => (a[1] < b[1] ? 1 : -1))[0];
  setText($('.last', p.el), newest ? 'last packet ' + ago(newest[1]) + ' by ' + (sourceNames[newest[0]] || newest[0]) : '');
  const dl = $('.conn-list', p.el);
  const rows = [
    ['Commands over', st.transport === 'cloud' ? 'the cloud link' : st.transport === 'local' ? 'UDP on the LAN' : 'not known yet'],
    ['Last read', ago(st.last_read)],
    ['Address', p.view.addr],
  ];
  const packets = Object.entries(st.last_packet || {});
  if (packets.length === 0) rows.push(['Events arrive by', 'nothing received yet']);
  for (const [src, t] of packets) rows.push(['Events by ' + (sourceNames[src] || src), 'last packet ' + ago(t)]);
  dl.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
}

// Sensor kinds, by type_id (peripheral.Type; spec: peripherals.md 7.1).
const kinds = [
  { name: 'Doors and windows', test: s => s.type_id === 1 || s.type_id === 2 || s.type_id === 131 || (s.type_id === 126 && /door|window/i.test(s.type)), on: 'Open', off: 'Closed' },
  { name: 'Motion', test: s => s.type_id === 8 || s.type_id === 9, on: 'Motion', off: 'No motion' },
  { name: 'Smoke and gas', test: s => s.type_id === 4, on: 'Smoke!', off: 'Clear' },
  { name: 'Smoke and gas', test: s => s.type_id === 3, on: 'Gas!', off: 'Clear' },
  { name: 'Water leak', test: s => s.type_id === 7, on: 'Leak!', off: 'Dry' },
  { name: 'Remotes and keypads', test: s => [5, 10, 11, 12, 13, 17].includes(s.type_id), on: 'Pressed', off: 'Idle' },
  { name: 'Other sensors', test: () => true, on: 'Active', off: 'Idle' },
];

function kindOf(s) { return kinds.find(k => k.test(s)); }

function renderSensors(p) {
  const st = p.view.state || {};
  const groups = new Map();
  for (const s of st.sensors || []) {
    const k = kindOf(s);
    if (!groups.has(k.name)) groups.set(k.name, []);
    groups.get(k.name).push([s, k]);
  }
  const out = [];
  for (const [name, list] of groups) {
    const g = el('section', undefined, 'group');
    const h = el('h4', name);
    g.append(h, el('ul', undefined, 'list'));
    for (const [s, k] of list) g.lastChild.append(sensorItem(st.guid, s, k));
    out.push(g);
  }
  if (out.length === 0) out.push(el('p', p.view.ready ? 'No sensors.' : 'Reading…', 'note'));
  $('.sensors', p.el).replaceChildren(...out);
}

function sensorItem(guid, s, k) {
  const li = el('li', undefined, 'item' + (s.enabled ? '' : ' disabled'));
  const main = el('div', undefined, 'main');
  main.append(el('span', s.name, 'title'), el('span', s.type, 'sub'));
  const state = el('span', !s.enabled ? 'Disabled' : s.occupied ? k.on : k.off, 'state' + (s.occupied && s.enabled ? ' on' : ''));
  const badges = el('div', undefined, 'badges');
  for (const [on, text, cls] of [[s.tamper, 'Tamper', 'bad'], [s.low_battery, 'Low battery', 'warn'],
    [s.door_open_when_arming, 'Open when arming', 'warn']]) {
    if (on) badges.append(el('span', text, 'badge ' + cls));
  }
  // When it last changed: the daemon's state says (kept across
  // restarts), or the log the app read does, whichever is later.
  let t = changed.get(guid + '/' + s.index);
  if (s.changed && (!t || Date.parse(s.changed) > Date.parse(t))) t = s.changed;
  li.append(main, state, badges);
  if (t) {
    const when = el('span', 'changed ' + ago(t), 'sub when');
    when.title = new Date(t).toLocaleString();
    li.append(when);
  }
  return li;
}

function relayItem(p, d) {
  const li = el('li', undefined, 'item relay');
  const main = el('div', undefined, 'main');
  // The panel cannot report a relay's state: this is the last switch
  // through g90, or unknown.
  const state = el('span', d.on === undefined ? 'State unknown' : d.on ? 'On' : 'Off', 'state' + (d.on ? ' on' : ''));
  main.append(el('span', d.name, 'title'), state, el('span', d.type + ' · ' + d.index + ':' + d.node, 'sub'));
  if (d.changed) {
    const when = el('span', 'switched ' + ago(d.changed), 'sub when');
    when.title = new Date(d.changed).toLocaleString();
    main.append(when);
  }
  const b = el('button', d.on ? 'Turn off' : 'Turn on', 'toggle');
  b.type = 'button';
  b.setAttribute('role', 'switch');
  b.setAttribute('aria-checked', String(d.on === true));
  b.setAttribute('aria-label', d.name + ' ' + (d.on ? 'on' : 'off'));
  const key = d.index + ':' + d.node;
  const m = el('p', '', 'msg relay-msg');
  m.setAttribute('role', 'status');
  m.dataset.relay = key;
  showRelayMsg(m, p.relayMsgs.get(key));
  b.addEventListener('click', () => {
    const on = d.on !== true;
    send(p, b, '/relays/' + d.index + '/' + d.node, { on }, d.name + (on ? ' on' : ' off'), undefined, relaySay(p, key));
  });
  li.append(main, b, m);
  return li;
}

function command(p, mode, button) {
  const pin = $('.pin-input', p.el);
  const withPIN = body => (p.view.pin_required ? Object.assign(body, { pin: pin.value }) : body);
  if (mode === 'disarm') return send(p, button, '/disarm', withPIN({}), 'Disarm', pin);
  return send(p, button, '/arm', withPIN({ mode }), mode === 'away' ? 'Arm away' : 'Arm home', pin);
}

// send runs a command; say(text, isError) shows how it went (by default
// under the panel's buttons).
async function send(p, button, path, body, what, pin, say = panelSay(p)) {
  button.disabled = true;
  say(what + '…', false);
  try {
    await api('POST', 'api/panels/' + encodeURIComponent(p.view.name) + path, body);
    const done = what + ': done';
    say(done, false);
    if (pin) pin.value = '';
    setTimeout(() => say('', false, done), 5000);
  } catch (err) {
    say(what + ': ' + err.message, true);
    if (pin && (err.status === 403 || err.status === 429)) pin.focus();
  } finally {
    button.disabled = false;
  }
}

// panelSay writes to the panel's message line; with only, it clears the
// line only while it still says that.
function panelSay(p) {
  return (text, isError, only) => {
    const msg = $('.msg', p.el);
    if (only !== undefined && msg.textContent !== only) return;
    msg.className = 'msg' + (isError ? ' err' : '');
    msg.textContent = text;
  };
}

// relaySay writes to a relay's line, which survives the list being drawn
// again (each state message does).
function relaySay(p, key) {
  return (text, isError, only) => {
    const cur = p.relayMsgs.get(key);
    if (only !== undefined && (!cur || cur.text !== only)) return;
    p.relayMsgs.set(key, { text, isError });
    const m = p.el.querySelector('.relay-msg[data-relay="' + key + '"]');
    if (m) showRelayMsg(m, p.relayMsgs.get(key));
  };
}

function showRelayMsg(m, st) {
  m.className = 'msg relay-msg' + (st && st.isError ? ' err' : '');
  m.textContent = st ? st.text : '';
}

// The event log.

function eventKey(ev) { return (ev.panel || '') + '/' + ev.seq; }

function title(ev) {
  const s = ev.sensor ? ev.sensor.name : '';
  switch (ev.type) {
    case 'arm_disarm': return ev.state === 'alarmed' ? 'Panel in alarm' : armLabels[ev.state] || ev.state;
    case 'door_open': return s + ' opened';
    case 'door_close': return s + ' closed';
    case 'sensor_activity': {
      const k = ev.sensor ? kindOf({ type: ev.sensor.type || '', type_id: typeIdOf(ev) }) : null;
      if (k && k.name === 'Motion') return (ev.occupied ? 'Motion: ' : 'No more motion: ') + s;
      return s + (ev.occupied ? ' active' : ' idle') + (ev.reset ? ' (timed out)' : '');
    }
    case 'alarm': return 'ALARM' + (ev.tamper ? ' (tamper)' : '') + (s ? ': ' + s : '');
    case 'tamper': return 'Tamper: ' + s;
    case 'low_battery': return 'Low battery: ' + s;
    case 'sos': return 'SOS' + (s ? ': ' + s : ev.host ? ' from the panel' : '');
    case 'door_open_when_arming': return 'Open when arming: ' + s;
    case 'remote_button': return s + ': ' + ev.button;
    case 'rfid_keypad': return s + ': ' + ev.keypad + (ev.keypad === 'card' ? ' ' + ev.card : '');
    case 'relay_switched': return (ev.device ? ev.device.name : 'Relay') + (ev.on ? ' on' : ' off');
    default: return ev.type.replaceAll('_', ' ') + (s ? ': ' + s : '');
  }
}

// typeIdOf guesses a logged sensor's kind from the panels' sensor lists.
function typeIdOf(ev) {
  for (const p of panels.values()) {
    const st = p.view && p.view.state;
    if (!st || st.guid !== ev.panel) continue;
    const s = (st.sensors || []).find(x => x.index === ev.sensor.index);
    if (s) return s.type_id;
  }
  return -1;
}

const serious = new Set(['alarm', 'tamper', 'sos', 'low_battery', 'ac_power_failure', 'door_open_when_arming']);

function logItem(ev) {
  const li = el('li', undefined, 'entry' + (serious.has(ev.type) ? ' serious' : ''));
  li.dataset.key = eventKey(ev);
  li.dataset.type = ev.type;
  const time = el('time', clock(ev.time));
  time.dateTime = ev.time;
  const head = el('div', undefined, 'line');
  head.append(time, el('span', title(ev), 'title'));
  const sub = [];
  if (panels.size > 1 || !names.has(ev.panel)) sub.push(names.get(ev.panel) || ev.panel || '?');
  if (ev.device && ev.type !== 'relay_switched') sub.push(ev.device.name + ' (' + ev.device.index + ':' + ev.device.node + ')');
  const via = (ev.sources || [ev.source]).filter(Boolean);
  sub.push(via.length ? 'via ' + via.join(' + ') : ev.reset ? 'timed out in g90' : 'from g90');
  li.append(head, el('span', sub.join(' · '), 'sub'));
  return li;
}

// folded reports whether ev is a sensor_activity that repeats a more
// specific event of the same sensor in the log.
function folded(ev, i, list = log) {
  if (ev.type !== 'sensor_activity' || !ev.sensor) return false;
  const t = Date.parse(ev.time);
  for (let j = Math.max(0, i - 4); j < Math.min(list.length, i + 5); j++) {
    const o = list[j];
    if (j === i || o.panel !== ev.panel || !o.sensor || o.sensor.index !== ev.sensor.index) continue;
    if (Math.abs(Date.parse(o.time) - t) > FOLD_MS) continue;
    if (ev.occupied && ['door_open', 'alarm', 'sos', 'tamper', 'door_open_when_arming'].includes(o.type)) return true;
    if (!ev.occupied && o.type === 'door_close') return true;
  }
  return false;
}

function renderLog() {
  const items = [];
  for (let i = log.length - 1; i >= 0; i--) {
    if (!folded(log[i], i)) items.push(logItem(log[i]));
  }
  if (items.length === 0) items.push(el('li', 'No events yet.', 'entry note'));
  $('#events').replaceChildren(...items);
}

// remember keeps what the panels' cards show from an event.
function remember(ev) {
  if (ev.sensor) {
    const k = ev.panel + '/' + ev.sensor.index;
    if (!changed.has(k) || changed.get(k) < ev.time) changed.set(k, ev.time);
  }
  if (ev.type === 'alarm') alarms.set(ev.panel, ev);
}

// addEvents puts events into the log; an event whose key is there already
// (an update: its sources grew, or one the log and the stream both had)
// replaces it.
function addEvents(evs) {
  for (const ev of evs) {
    remember(ev);
    const i = log.findIndex(o => eventKey(o) === eventKey(ev));
    if (i >= 0) log[i] = ev;
    else log.push(ev);
  }
  log.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : (a.seq || 0) - (b.seq || 0)));
  log.splice(0, Math.max(0, log.length - MAX_LOG));
  renderLog();
  for (const p of panels.values()) if (p.view) render(p.view, p.stale);
}

function liveEvent(ev, fresh) {
  if (pending) {
    pending.push(ev);
    return;
  }
  addEvents([ev]);
  if (fresh) alert(ev);
}

// loadLog reads the log while the stream runs: live events that came
// meanwhile are merged by their number.
async function loadLog() {
  if (pending) return;
  pending = [];
  try {
    const evs = (await api('GET', 'api/events?limit=' + MAX_LOG)).events;
    log.length = 0;
    addEvents(evs);
  } catch (err) {
    if (err.status !== 401) $('#events').replaceChildren(el('li', 'Event log: ' + err.message, 'entry msg err'));
  }
  const held = pending;
  pending = null;
  addEvents(held);
  for (const ev of held) alert(ev);
}

// The stream. EventSource reconnects by itself after a network error;
// after an HTTP error it stops, so start it again.

function live(ok, text) {
  const b = $('#live');
  setText(b, text);
  b.className = 'live ' + (ok ? 'ok' : 'bad');
}

let source = null;

function connect() {
  if (source) source.close();
  const es = new EventSource('api/events/stream');
  source = es;
  es.addEventListener('open', () => {
    live(true, 'live');
    unreachable(false);
    loadLog();
  });
  es.addEventListener('error', async () => {
    live(false, 'reconnecting…');
    // Is the server there at all? (EventSource does not say.)
    try {
      await api('GET', 'api/panels');
    } catch (_) { /* unreachable() said so */ }
    for (const p of panels.values()) if (p.view) renderReach(p);
    if (es.readyState === EventSource.CLOSED && source === es) setTimeout(connect, 3000);
  });
  es.addEventListener('state', e => render(JSON.parse(e.data)));
  es.addEventListener('event', e => liveEvent(JSON.parse(e.data), true));
  es.addEventListener('update', e => liveEvent(JSON.parse(e.data), false));
}

// Notifications (with permission, through the service worker).

const notifyTypes = new Set(['alarm', 'tamper', 'sos', 'low_battery']);
const notified = new Set();

function alert(ev) {
  if (!notifyTypes.has(ev.type)) return;
  const where = names.get(ev.panel) || ev.panel || '';
  notify(title(ev), where + ' · ' + clock(ev.time), eventKey(ev));
}

async function notify(heading, body, tag) {
  if (notified.has(tag)) return;
  notified.add(tag);
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const reg = await navigator.serviceWorker.ready;
    await reg.showNotification(heading, { body, tag, icon: 'assets/icon-192.png', badge: 'assets/icon-192.png' });
  } catch (_) {
    try { new Notification(heading, { body, tag }); } catch (_) { /* not supported */ }
  }
}

function setupNotifications() {
  const sec = $('#notify-card');
  if (!('Notification' in window) || !('serviceWorker' in navigator)) return;
  const btn = $('#notify-on');
  const msg = $('.msg', sec);
  const update = () => {
    const p = Notification.permission;
    sec.hidden = false;
    btn.hidden = p !== 'default';
    msg.textContent = p === 'granted' ? 'Notifications are on.' : p === 'denied' ? 'Notifications are blocked in the browser settings.' : '';
  };
  btn.addEventListener('click', async () => {
    await Notification.requestPermission();
    update();
  });
  update();
}

// Apple Home: the setup code while the bridge is not paired.
let homekitTimer = null;

async function homekit() {
  let hk;
  try { hk = await api('GET', 'api/homekit'); } catch (_) { return; }
  const sec = $('#homekit');
  sec.hidden = !hk.enabled;
  if (!hk.enabled) {
    clearInterval(homekitTimer); // no bridge: nothing will change
    return;
  }
  $('.paired', sec).hidden = !hk.paired;
  $('.setup', sec).hidden = hk.paired;
  if (!hk.paired) {
    $('.code', sec).textContent = hk.code;
    const img = $('.qr', sec);
    img.alt = 'QR code of the HomeKit setup code ' + hk.code;
    if (!img.src) img.src = 'api/homekit/qr.svg';
  }
}

// Login (when the daemon requires one: not on loopback).

function showLogin() {
  if (loginShown) return;
  loginShown = true;
  live(false, 'log in');
  // Nothing of the panels stays on a device that has to log in.
  localStorage.removeItem(LAST);
  for (const p of panels.values()) p.el.remove();
  panels.clear();
  document.body.classList.add('locked');
  show('login');
  $('#login-password').focus();
}

async function session() {
  try {
    const s = await api('GET', 'api/session');
    if (s.login_required && !s.logged_in) {
      showLogin();
      return false;
    }
    $('#logout').hidden = !s.login_required;
  } catch (err) {
    if (err.status === 401) return false;
    // 404: a daemon without logins; others: the stream says.
  }
  return true;
}

$('#logout').addEventListener('click', async () => {
  try { await api('POST', 'api/logout'); } catch (_) { /* gone anyway */ }
  localStorage.removeItem(LAST);
  location.reload();
});

$('#login').addEventListener('submit', async e => {
  e.preventDefault();
  const msg = $('#login .msg');
  msg.className = 'msg';
  msg.textContent = 'Logging in…';
  try {
    await api('POST', 'api/login', { password: $('#login-password').value });
    $('#login-password').value = '';
    msg.textContent = '';
    loginShown = false;
    document.body.classList.remove('locked');
    route();
    start();
  } catch (err) {
    msg.className = 'msg err';
    msg.textContent = err.status === 401 ? 'Wrong password.' : err.message;
  }
});

// History (GET /api/history, when this version has it).

let historyNext = '';

async function loadHistory(more) {
  const sec = $('#screen-history');
  const form = $('#history-filter');
  const msg = $('.msg', sec);
  const select = form.elements.panel;
  if (select.options.length === 0 || select.options.length !== panels.size + 1) {
    select.replaceChildren(new Option('All panels', ''), ...[...panels.keys()].map(n => new Option(n, n)));
  }
  sensorField();
  const q = new URLSearchParams();
  for (const f of ['panel', 'sensor', 'type', 'from', 'to']) {
    const v = form.elements[f].disabled ? '' : form.elements[f].value.trim();
    if (v) q.set(f, v);
  }
  if (q.has('sensor') && !q.has('panel') && panels.size === 1) q.set('panel', [...panels.keys()][0]);
  $('#history-csv').href = 'api/history.csv?' + q;
  if (more && historyNext) q.set('before', historyNext);
  msg.className = 'msg';
  msg.textContent = 'Loading…';
  try {
    const r = await api('GET', 'api/history?' + q);
    // A type filter shows what was asked for, folded or not.
    const evs = r.events || [];
    const items = evs.filter((ev, i) => q.has('type') || !folded(ev, i, evs)).map(logItem);
    if (more) $('#history-list').append(...items);
    else $('#history-list').replaceChildren(...items);
    historyNext = r.next || '';
    $('#history-more').hidden = !historyNext;
    msg.textContent = items.length || more ? '' : 'No events match.';
  } catch (err) {
    msg.className = 'msg err';
    msg.textContent = 'History: ' + err.message;
  }
}

// A sensor is one panel's: its field waits for a panel (or takes the only one).
function sensorField() {
  const form = $('#history-filter');
  const none = form.elements.panel.value === '' && panels.size !== 1;
  form.elements.sensor.disabled = none;
  form.elements.sensor.placeholder = none ? 'choose a panel first' : 'name or number';
}
$('#history-filter').elements.panel.addEventListener('change', sensorField);

$('#history-filter').addEventListener('submit', e => {
  e.preventDefault();
  loadHistory(false);
});
$('#history-more').addEventListener('click', () => loadHistory(true));

const { loadManage, loadSettings } = setup({ api, el, panels });

// Start.

let started = false;

async function start() {
  if (started) return;
  if (!(await session())) return;
  started = true;
  connect();
  homekit();
  homekitTimer = setInterval(homekit, 10000);
}

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => { /* http on a LAN name: no worker */ });
}
window.addEventListener('hashchange', route);
loadLast();
route();
setupNotifications();
start();
setInterval(() => panels.forEach(p => p.view && (renderReach(p), renderSensors(p))), 5000);
