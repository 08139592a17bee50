// The Devices and Settings screens: managing sensors and relays (rename,
// enable, alert mode, flags, delete, learn with a countdown), the panel's
// configuration sections as forms, reboot and the panel's own history,
// over the management API (web/manage.go). A daemon without that API
// answers 404: the screen says the feature is not in this version.

// The option flags a sensor's PATCH takes (the rest are enabled and the
// alert mode, which have their own fields).
const optionFlags = [
  ['arm_delay', 'Entry/exit delay'],
  ['detect_door', 'Detect door left open'],
  ['door_chime', 'Door chime'],
  ['independent_zone', 'Independent zone (also when disarmed)'],
];
const alertModes = [
  ['alert_always', 'Always (24 h zone)'],
  ['alert_when_away', 'When armed away'],
  ['alert_when_away_and_home', 'When armed away or home'],
];
const sectionNames = { host: 'Panel', net: 'Network', phones: 'Phones', alerts: 'Alerts', sia: 'SIA (monitoring station)', cid: 'Contact ID' };

let ids = 0;

export function setup({ api, el, panels }) {
  const $ = (sel, root = document) => root.querySelector(sel);
  const uid = p => p + '-' + ++ids;

  // choose returns the panel a screen works on, with a selector when
  // there are several.
  function choose(body, render) {
    const list = [...panels.values()].filter(p => p.view);
    if (list.length === 0) {
      body.replaceChildren(el('p', 'No panel read yet.', 'note'));
      return null;
    }
    let name = body.dataset.panel;
    if (!list.some(p => p.view.name === name)) name = list[0].view.name;
    body.dataset.panel = name;
    const head = [];
    if (list.length > 1) {
      const id = uid('panel');
      const label = el('label', 'Panel ');
      label.htmlFor = id;
      const sel = el('select');
      sel.id = id;
      for (const p of list) sel.append(new Option(p.view.name, p.view.name, false, p.view.name === name));
      sel.addEventListener('change', () => {
        body.dataset.panel = sel.value;
        render();
      });
      const row = el('div', undefined, 'card row');
      row.append(label, sel);
      head.push(row);
    }
    const view = list.find(p => p.view.name === name).view;
    let pin = null;
    if (view.pin_required) {
      const id = uid('pin');
      const row = el('div', undefined, 'card row');
      const label = el('label', 'PIN');
      label.htmlFor = id;
      pin = el('input');
      Object.assign(pin, { id, type: 'password', inputMode: 'numeric', autocomplete: 'off' });
      row.append(label, pin, el('span', 'needed for changes that can weaken the alarm', 'sub'));
      head.push(row);
    }
    return { view, head, base: 'api/panels/' + encodeURIComponent(name), pinValue: () => (pin ? pin.value : undefined) };
  }

  function msgLine() {
    const m = el('p', '', 'msg');
    m.setAttribute('role', 'status');
    return m;
  }

  function fail(m, err) {
    m.className = 'msg err';
    m.textContent = err.message;
  }

  function ok(m, text) {
    m.className = 'msg';
    m.textContent = text;
  }

  function field(labelText, input, help) {
    const wrap = el('div', undefined, 'field');
    input.id = input.id || uid('f');
    const label = el('label', labelText);
    label.htmlFor = input.id;
    const err = el('p', '', 'field-err');
    err.id = uid('err');
    const described = [err.id];
    if (help) {
      const h = el('p', help, 'sub');
      h.id = uid('help');
      described.push(h.id);
      wrap.append(label, input, h, err);
    } else {
      wrap.append(label, input, err);
    }
    input.setAttribute('aria-describedby', described.join(' '));
    if (input.type === 'checkbox') wrap.classList.add('check');
    return { wrap, err };
  }

  function checkbox(checked) {
    const c = el('input');
    c.type = 'checkbox';
    c.checked = !!checked;
    return c;
  }

  function textInput(value) {
    const i = el('input');
    i.type = 'text';
    i.value = value ?? '';
    return i;
  }

  function select(options, value) {
    const s = el('select');
    for (const [v, text] of options) s.append(new Option(text, v, false, v === value));
    return s;
  }

  // Devices.

  let types = null;

  async function loadManage() {
    const body = $('#screen-manage .body');
    const ctx = choose(body, loadManage);
    if (!ctx) return;
    let sensors, relays;
    try {
      [sensors, relays] = await Promise.all([api('GET', ctx.base + '/sensors'), api('GET', ctx.base + '/relays')]);
      types = types || await api('GET', 'api/types');
    } catch (err) {
      body.replaceChildren(...ctx.head, el('p', 'Devices: ' + err.message, 'msg err'));
      return;
    }
    body.replaceChildren(...ctx.head,
      kindCard(ctx, 'sensors', 'Sensors', sensors.sensors || [], types.sensors || []),
      kindCard(ctx, 'relays', 'Relays', relays.relays || [], types.relays || []));
  }

  function kindCard(ctx, kind, heading, items, typeList) {
    const sec = el('section', undefined, 'card');
    const h = el('h3', heading);
    h.id = uid('h');
    sec.setAttribute('aria-labelledby', h.id);
    const ul = el('ul', undefined, 'list');
    for (const it of items) ul.append(itemEditor(ctx, kind, it));
    if (items.length === 0) ul.append(el('li', 'None yet.', 'note'));
    const added = it => {
      if (ul.firstChild && ul.firstChild.classList.contains('note')) ul.firstChild.remove();
      ul.append(itemEditor(ctx, kind, it));
    };
    sec.append(h, ul, learnForm(ctx, kind, typeList, added));
    return sec;
  }

  function itemEditor(ctx, kind, it) {
    const li = el('li', undefined, 'item manage');
    const main = el('div', undefined, 'main');
    main.append(el('span', it.name, 'title'), el('span', it.type + ' · #' + it.index + (it.enabled ? '' : ' · disabled'), 'sub'));
    const edit = el('details', undefined, 'edit');
    edit.append(el('summary', 'Edit'));
    edit.querySelector('summary').setAttribute('aria-label', 'Edit ' + it.name);
    const form = el('form', undefined, 'stack');
    const name = field('Name', textInput(it.name));
    const enabled = field('Enabled', checkbox(it.enabled));
    form.append(name.wrap, enabled.wrap);
    const fields = { name, enabled };
    if (kind === 'sensors' && it.alert_mode && it.alert_mode !== 'invalid') {
      fields.alert_mode = field('Alarm', select(alertModes, it.alert_mode));
      form.append(fields.alert_mode.wrap);
    }
    if (kind === 'sensors' && Array.isArray(it.flags)) {
      const fs = el('fieldset');
      fs.append(el('legend', 'Options'));
      fields.flags = { err: el('p', '', 'field-err'), boxes: [] };
      for (const [f, text] of optionFlags) {
        const b = field(text, checkbox(it.flags.includes(f)));
        b.wrap.querySelector('input').dataset.flag = f;
        fields.flags.boxes.push(b.wrap.querySelector('input'));
        fs.append(b.wrap);
      }
      fs.append(fields.flags.err);
      form.append(fs);
    }
    const save = el('button', 'Save', 'primary');
    save.type = 'submit';
    const del = el('button', 'Delete', 'danger');
    del.type = 'button';
    const buttons = el('div', undefined, 'buttons');
    buttons.append(save, del);
    const m = msgLine();
    form.append(buttons, m);
    edit.append(form);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      for (const f of Object.values(fields)) f.err.textContent = '';
      const body = {};
      const nameValue = name.wrap.querySelector('input').value.trim();
      if (nameValue !== it.name) body.name = nameValue;
      const en = enabled.wrap.querySelector('input').checked;
      if (en !== it.enabled) body.enabled = en;
      if (fields.alert_mode) {
        const v = fields.alert_mode.wrap.querySelector('select').value;
        if (v !== it.alert_mode) body.alert_mode = v;
      }
      if (fields.flags) {
        const on = fields.flags.boxes.filter(b => b.checked).map(b => b.dataset.flag);
        const was = optionFlags.map(f => f[0]).filter(f => it.flags.includes(f));
        if (on.join() !== was.join()) body.flags = on;
      }
      if (Object.keys(body).length === 0) return ok(m, 'Nothing changed.');
      if (ctx.pinValue() !== undefined) body.pin = ctx.pinValue();
      save.disabled = true;
      ok(m, 'Saving…');
      try {
        const got = await api('PATCH', ctx.base + '/' + kind + '/' + it.index, body);
        Object.assign(it, got);
        main.firstChild.textContent = it.name;
        ok(m, 'Saved; the panel holds it.');
      } catch (err) {
        fail(m, err);
        const f = fields[err.field];
        if (f) {
          f.err.textContent = err.message;
          const input = f.wrap ? f.wrap.querySelector('input, select') : f.boxes[0];
          if (input) input.focus();
        }
      } finally {
        save.disabled = false;
      }
    });
    del.addEventListener('click', async () => {
      if (!confirm('Delete ' + it.name + ' (#' + it.index + ') from the panel? It must be learned again to come back.')) return;
      del.disabled = true;
      ok(m, 'Deleting…');
      try {
        const headers = ctx.pinValue() !== undefined ? { 'X-G90-PIN': ctx.pinValue() } : {};
        await api('DELETE', ctx.base + '/' + kind + '/' + it.index, undefined, headers);
        li.replaceChildren(el('span', it.name + ' deleted.', 'note'));
      } catch (err) {
        fail(m, err);
        del.disabled = false;
      }
    });
    li.append(main, edit);
    return li;
  }

  function learnForm(ctx, kind, typeList, added) {
    const box = el('details', undefined, 'learn');
    box.append(el('summary', kind === 'sensors' ? 'Add a sensor' : 'Add a relay'));
    const form = el('form', undefined, 'stack');
    const type = field('Model', select(typeList.map(t => [t.name, t.name]), ''));
    const name = field('Name', textInput(''));
    const start = el('button', kind === 'sensors' ? 'Learn the sensor' : 'Learn the relay', 'primary');
    start.type = 'submit';
    const cancel = el('button', 'Stop waiting');
    cancel.type = 'button';
    cancel.hidden = true;
    const progress = el('progress');
    progress.hidden = true;
    const m = msgLine();
    m.setAttribute('aria-live', 'polite');
    const buttons = el('div', undefined, 'buttons');
    buttons.append(start, cancel);
    form.append(type.wrap, name.wrap, buttons, progress, m);
    box.append(form);
    let job = null;
    form.addEventListener('submit', async e => {
      e.preventDefault();
      type.err.textContent = name.err.textContent = '';
      const body = { type: type.wrap.querySelector('select').value };
      const n = name.wrap.querySelector('input').value.trim();
      if (n) body.name = n;
      if (ctx.pinValue() !== undefined) body.pin = ctx.pinValue();
      start.disabled = true;
      try {
        const r = await api('POST', ctx.base + '/' + kind, body);
        job = r.job;
        progress.max = r.timeout_s;
        progress.value = r.timeout_s;
        progress.hidden = false;
        cancel.hidden = false;
        ok(m, (kind === 'sensors' ? 'Trigger the sensor now' : 'Switch the relay into pairing now') + ': ' + r.timeout_s + ' s left.');
        poll(r.job);
      } catch (err) {
        fail(m, err);
        const f = { type, name }[err.field];
        if (f) f.err.textContent = err.message;
        start.disabled = false;
      }
    });
    const finish = () => {
      job = null;
      start.disabled = false;
      cancel.hidden = true;
      progress.hidden = true;
    };
    async function poll(id) {
      while (job === id) {
        await new Promise(r => setTimeout(r, 1000));
        if (job !== id) return;
        let j;
        try {
          j = await api('GET', ctx.base + '/jobs/' + id);
        } catch (err) {
          fail(m, err);
          return finish();
        }
        if (j.state === 'waiting') {
          progress.value = j.remaining_s;
          ok(m, (kind === 'sensors' ? 'Trigger the sensor now' : 'Switch the relay into pairing now') + ': ' + j.remaining_s + ' s left.');
          continue;
        }
        finish();
        if (j.state === 'done') {
          ok(m, 'Added: ' + (j.result ? j.result.name + ' (#' + j.result.index + ')' : 'done') + '.');
          if (j.result) added(j.result);
        } else if (j.state === 'cancelled') {
          ok(m, 'Stopped waiting. The panel may still be listening for a minute.');
        } else {
          fail(m, new Error('Not added: ' + (j.error || j.state)));
        }
      }
    }
    cancel.addEventListener('click', async () => {
      const id = job;
      if (!id) return;
      try {
        await api('DELETE', ctx.base + '/jobs/' + id);
      } catch (err) {
        fail(m, err);
      }
    });
    return box;
  }

  // Settings.

  async function loadSettings() {
    const body = $('#screen-settings .body');
    const ctx = choose(body, loadSettings);
    if (!ctx) return;
    let sections;
    try {
      sections = (await api('GET', ctx.base + '/config')).sections || [];
    } catch (err) {
      body.replaceChildren(...ctx.head, el('p', 'Settings: ' + err.message, 'msg err'));
      return;
    }
    body.replaceChildren(...ctx.head, ...sections.map(s => sectionCard(ctx, s)), rebootCard(ctx), historyCard(ctx));
  }

  function sectionCard(ctx, name) {
    const sec = el('details', undefined, 'card section');
    sec.dataset.section = name;
    sec.append(el('summary', sectionNames[name] || name));
    const form = el('form', undefined, 'stack');
    // The daemon checks each value as the CLI does, and its error is shown
    // next to the field; the browser's own bubbles would say less.
    form.noValidate = true;
    sec.append(form);
    sec.addEventListener('toggle', () => {
      if (sec.open && !sec.dataset.loaded) load();
    });
    async function load() {
      sec.dataset.loaded = '1';
      try {
        fill(await api('GET', ctx.base + '/config/' + encodeURIComponent(name)));
      } catch (err) {
        sec.dataset.loaded = '';
        form.replaceChildren(el('p', err.message, 'msg err'));
      }
    }
    function fill(r, note) {
      const inputs = new Map();
      const out = [];
      for (const f of r.fields || []) {
        let input;
        if (f.secret) {
          // Never sent by the daemon: typing one sets it.
          input = el('input');
          input.type = 'password';
          input.autocomplete = 'new-password';
          input.placeholder = f.set ? 'set; type to change' : 'not set';
        } else if (f.type === 'bool') {
          input = checkbox(f.value);
        } else if (Array.isArray(f.enum) && f.enum.length > 0) {
          const opts = f.enum.map(c => [String(c.value), c.name]);
          // The panel may hold a value outside the list; it is kept.
          if (!f.enum.some(c => c.value === f.value)) opts.unshift([String(f.value), String(f.value) + ' (as the panel holds it)']);
          input = select(opts, String(f.value));
        } else if (f.type === 'int') {
          input = el('input');
          input.type = 'number';
          input.value = f.value;
          if (f.min !== undefined) input.min = f.min;
          if (f.max !== undefined) input.max = f.max;
        } else {
          input = textInput(f.value);
          if (f.max !== undefined) input.maxLength = f.max;
          if (f.format === 'digits') input.inputMode = 'numeric';
          if (f.format === 'phone') input.type = 'tel';
        }
        input.name = f.name;
        if (!f.writable) input.disabled = true;
        const fl = field(f.name.replaceAll('_', ' '), input, f.help);
        inputs.set(f.name, { f, input, err: fl.err });
        out.push(fl.wrap);
      }
      const save = el('button', 'Save', 'primary');
      save.type = 'submit';
      const m = msgLine();
      if (note) ok(m, note);
      form.replaceChildren(...out, save, m);
      form.onsubmit = async e => {
        e.preventDefault();
        const values = {};
        for (const [n, { f, input, err }] of inputs) {
          err.textContent = '';
          if (!f.writable) continue;
          if (f.secret) {
            if (input.value !== '') values[n] = input.value;
            continue;
          }
          const v = f.type === 'bool' ? input.checked : f.type === 'int' ? Number(input.value) : input.value;
          if (v !== f.value) values[n] = v;
        }
        if (Object.keys(values).length === 0) return ok(m, 'Nothing changed.');
        const body = { values };
        if (ctx.pinValue() !== undefined) body.pin = ctx.pinValue();
        save.disabled = true;
        ok(m, 'Writing and reading back…');
        try {
          fill(await api('PUT', ctx.base + '/config/' + encodeURIComponent(name), body), 'Saved; the panel holds it.');
        } catch (err) {
          save.disabled = false;
          fail(m, err);
          const i = inputs.get(err.field);
          if (i) {
            i.err.textContent = err.message;
            i.input.focus();
          }
        }
      };
    }
    return sec;
  }

  function rebootCard(ctx) {
    const sec = el('section', undefined, 'card');
    sec.append(el('h3', 'Reboot'));
    sec.append(el('p', 'Restarts the panel\u2019s GSM, MCU and Wi-Fi; it is unreachable for a minute.', 'note'));
    const b = el('button', 'Reboot the panel', 'danger');
    b.type = 'button';
    const m = msgLine();
    b.addEventListener('click', async () => {
      if (!confirm('Reboot ' + ctx.view.name + '?')) return;
      b.disabled = true;
      try {
        const body = ctx.pinValue() !== undefined ? { pin: ctx.pinValue() } : undefined;
        await api('POST', ctx.base + '/reboot', body);
        ok(m, 'Rebooting.');
      } catch (err) {
        fail(m, err);
      } finally {
        b.disabled = false;
      }
    });
    sec.append(b, m);
    return sec;
  }

  function historyCard(ctx) {
    const sec = el('section', undefined, 'card');
    sec.append(el('h3', 'The panel\u2019s own history'));
    const ol = el('ol', undefined, 'log');
    const more = el('button', 'Read the panel\u2019s history');
    more.type = 'button';
    const m = msgLine();
    let start = 1;
    const count = 20;
    more.addEventListener('click', async () => {
      more.disabled = true;
      ok(m, 'Reading…');
      try {
        const r = await api('GET', ctx.base + '/history?start=' + start + '&count=' + count);
        for (const e of r.entries || []) {
          const li = el('li', undefined, 'entry');
          const line = el('div', undefined, 'line');
          const t = el('time', new Date(e.time).toLocaleString());
          t.dateTime = e.time;
          line.append(t, el('span', e.type.replaceAll('_', ' ') + (e.name ? ': ' + e.name : ''), 'title'));
          li.append(line, el('span', '#' + e.position + (e.source ? ' · ' + e.source : ''), 'sub'));
          ol.append(li);
        }
        start += count;
        ok(m, (r.entries || []).length < count ? 'That is all.' : '');
        more.textContent = 'Older';
        more.hidden = (r.entries || []).length < count;
      } catch (err) {
        fail(m, err);
      } finally {
        more.disabled = false;
      }
    });
    sec.append(ol, more, m);
    return sec;
  }

  return { loadManage, loadSettings };
}
