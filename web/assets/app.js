// The g90 web UI: panels from the stream's "state" messages, the event
// log from /api/events plus the stream's "event" messages. Data is only
// ever put into the page as text.
'use strict';

const MAX_LOG = 200;
const panels = new Map(); // name → {el, view}
const names = new Map(); // GUID → name
let pending = null; // live events held back while the log loads

const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

async function api(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = {};
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) throw new Error(data.error || res.status + ' ' + res.statusText);
  return data;
}

function ago(t) {
  if (!t || t.startsWith('0001-')) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return new Date(t).toLocaleString();
}

// Panels.

function card(name) {
  let p = panels.get(name);
  if (p) return p;
  const node = $('#panel-tpl').content.firstElementChild.cloneNode(true);
  p = { el: node, view: null };
  panels.set(name, p);
  $('#panels').append(node);
  $('form', node).addEventListener('submit', e => e.preventDefault());
  for (const b of node.querySelectorAll('button[data-mode]')) {
    b.addEventListener('click', () => command(p, b.dataset.mode, b));
  }
  return p;
}

const armLabels = { away: 'Armed away', home: 'Armed home', disarmed: 'Disarmed', alarmed: 'ALARM' };

function render(view) {
  const p = card(view.name);
  p.view = view;
  const st = view.state || {};
  if (st.guid && names.get(st.guid) !== view.name) {
    names.set(st.guid, view.name);
    // Log rows shown before the name was known.
    for (const td of document.querySelectorAll('#events td.panel')) {
      if (td.dataset.guid === st.guid) td.textContent = view.name;
    }
  }
  const e = p.el;
  $('.name', e).textContent = view.name;
  $('.guid', e).textContent = (st.guid || 'GUID not read yet') + ' · ' + view.addr;
  const arm = st.alarm ? 'alarmed' : st.arm || '';
  const badge = $('.arm', e);
  badge.textContent = armLabels[arm] || (view.ready ? 'state unknown' : 'reading…');
  badge.className = 'arm badge ' + arm;
  const alarm = $('.alarm', e);
  alarm.hidden = !st.alarm;
  alarm.textContent = 'Alarm' + (st.alarm_sensor ? ': ' + st.alarm_sensor.name : '');
  $('.pin', e).hidden = !view.pin_required;
  renderReach(p);
  $('.sensors', e).replaceChildren(...(st.sensors || []).map(sensorRow));
  $('.relays', e).replaceChildren(...(st.devices || []).map(d => relayRow(p, d)));
}

function renderReach(p) {
  const st = p.view.state || {};
  const parts = [st.reachable ? 'reachable' : p.view.ready ? 'NOT reachable' : 'reading…'];
  if (st.transport) parts.push('commands over ' + (st.transport === 'cloud' ? 'the cloud link' : 'UDP'));
  parts.push('last read ' + ago(st.last_read));
  for (const [src, t] of Object.entries(st.last_packet || {})) parts.push(src + ' packet ' + ago(t));
  $('.reach', p.el).textContent = parts.join(' · ');
}

function sensorRow(s) {
  const tr = el('tr');
  if (!s.enabled) tr.className = 'disabled';
  const door = s.type_id === 1 || /door/i.test(s.type || '');
  const state = door ? (s.occupied ? 'open' : 'closed') : (s.occupied ? 'active' : 'idle');
  const flags = el('td', undefined, 'flags');
  for (const [on, text] of [[s.tamper, 'tamper'], [s.low_battery, 'low battery'],
    [s.door_open_when_arming, 'open when arming'], [!s.enabled, 'disabled']]) {
    if (on) flags.append(el('span', text, 'badge warn'));
  }
  tr.append(el('td', s.index), el('td', s.name), el('td', s.type, 'muted'),
    el('td', state, s.occupied ? 'on' : ''), flags);
  return tr;
}

function relayRow(p, d) {
  const tr = el('tr');
  const td = el('td');
  for (const on of [true, false]) {
    const b = el('button', on ? 'On' : 'Off');
    b.type = 'button';
    b.addEventListener('click', () => send(p, b,
      '/relays/' + d.index + '/' + d.node, { on }, d.name + (on ? ' on' : ' off')));
    td.append(b, ' ');
  }
  // The panel cannot report a relay's state: this is the last switch
  // through g90, or unknown.
  const state = d.on === undefined ? 'unknown' : d.on ? 'on' : 'off';
  tr.append(el('td', d.index + ':' + d.node), el('td', d.name), el('td', d.type, 'muted'),
    el('td', state, d.on ? 'on' : ''), td);
  return tr;
}

function command(p, mode, button) {
  const pin = $('.pin input', p.el);
  const withPIN = body => (p.view.pin_required ? Object.assign(body, { pin: pin.value }) : body);
  switch (mode) {
    case 'refresh': return send(p, button, '/refresh', undefined, 'refresh');
    case 'disarm': return send(p, button, '/disarm', withPIN({}), 'disarm', pin);
    default: return send(p, button, '/arm', withPIN({ mode }), 'arm ' + mode, pin);
  }
}

async function send(p, button, path, body, what, pin) {
  const msg = $('.msg', p.el);
  button.disabled = true;
  msg.className = 'msg';
  msg.textContent = what + '…';
  try {
    await api('POST', 'api/panels/' + encodeURIComponent(p.view.name) + path, body);
    msg.textContent = what + ': done';
    if (pin) pin.value = '';
  } catch (err) {
    msg.className = 'msg err';
    msg.textContent = what + ': ' + err.message;
  } finally {
    button.disabled = false;
  }
}

// The event log.

function details(ev) {
  const d = [];
  if (ev.sensor) d.push(ev.sensor.name);
  if (ev.device) d.push(ev.device.name + ' (' + ev.device.index + ':' + ev.device.node + ')');
  if (ev.state) d.push(ev.state);
  if (ev.type === 'sensor_activity') d.push((ev.occupied ? 'active' : 'inactive') + (ev.reset ? ' (timed out)' : ''));
  if (ev.type === 'alarm' && ev.tamper) d.push('tamper');
  if (ev.type === 'sos') d.push(ev.host ? 'from the panel' : 'from a remote');
  if (ev.button) d.push(ev.button);
  if (ev.keypad) d.push(ev.keypad + (ev.keypad === 'card' ? ' ' + ev.card : ''));
  return d.join(' · ');
}

function logRow(ev) {
  const tr = el('tr');
  const panel = el('td', names.get(ev.panel) || ev.panel || '?', 'panel');
  panel.dataset.guid = ev.panel || '';
  tr.dataset.key = (ev.panel || '') + '/' + (ev.seq || '');
  tr.append(el('td', new Date(ev.time).toLocaleString()), panel,
    el('td', ev.type), el('td', details(ev)), el('td', (ev.sources || [ev.source]).join(' + '), 'muted'));
  return tr;
}

// updateEvent shows the grown sources of an event already in the log: a
// later report of the same happening was merged into it.
function updateEvent(ev) {
  if (pending) {
    pending.push(ev);
    return;
  }
  const key = (ev.panel || '') + '/' + (ev.seq || '');
  for (const tr of $('#events').children) {
    if (tr.dataset.key === key) {
      tr.replaceWith(logRow(ev));
      return;
    }
  }
}

function addEvent(ev) {
  if (pending) {
    pending.push(ev);
    return;
  }
  const body = $('#events');
  body.prepend(logRow(ev));
  while (body.childElementCount > MAX_LOG) body.lastElementChild.remove();
}

// eventKey identifies an event whether it came from the journal (with
// its "seq") or live: both are the same JSON object otherwise.
function eventKey(ev) {
  return (ev.panel || '') + '/' + ev.seq;
}

// loadLog reads the log while the stream runs: live events that came
// meanwhile and are not in it yet follow it.
async function loadLog() {
  if (pending) return;
  pending = [];
  let events = [];
  let failed = null;
  try {
    events = (await api('GET', 'api/events?limit=' + MAX_LOG)).events;
  } catch (err) {
    failed = err;
  }
  // An update (the same seq again) replaces the event it updates.
  const byKey = new Map(events.map(ev => [eventKey(ev), ev]));
  for (const ev of pending) byKey.set(eventKey(ev), ev);
  const all = [...byKey.values()].slice(-MAX_LOG);
  pending = null;
  const rows = all.reverse().map(logRow);
  if (failed) {
    const tr = el('tr');
    const td = el('td', 'event log: ' + failed.message, 'msg err');
    td.colSpan = 5;
    tr.append(td);
    rows.push(tr);
  }
  $('#events').replaceChildren(...rows);
}

// The stream. EventSource reconnects by itself after a network error;
// after an HTTP error it stops, so start it again.

function live(ok, text) {
  const b = $('#live');
  b.textContent = text;
  b.className = 'badge ' + (ok ? 'ok' : 'bad');
}

function connect() {
  const es = new EventSource('api/events/stream');
  es.addEventListener('open', () => {
    live(true, 'live');
    loadLog();
  });
  es.addEventListener('error', () => {
    live(false, 'reconnecting…');
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  });
  es.addEventListener('state', e => render(JSON.parse(e.data)));
  es.addEventListener('event', e => addEvent(JSON.parse(e.data)));
  es.addEventListener('update', e => updateEvent(JSON.parse(e.data)));
}

// Apple Home: the setup code while the bridge is not paired.
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

connect();
const homekitTimer = setInterval(homekit, 10000);
homekit();
setInterval(() => panels.forEach(p => p.view && renderReach(p)), 5000);
