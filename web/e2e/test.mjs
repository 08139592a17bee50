// The web app's end-to-end tests in Debian's Chromium, driven by
// playwright-core. daemon/webapp_test.go runs this against g90 serve with
// two simulated panels ("home": no PIN; "cabin": PIN 4321) and sets:
//
//	G90_WEB          the web app's URL
//	G90_RIG          the test's rig (simulator and MQTT, see webAppRig)
//	G90_CHROMIUM     the browser
//	G90_USER_DATA    a fresh, empty profile folder
//	G90_WEB_LOGIN    a second daemon's web app, with a password
//	G90_PASSWORD     its password
//	G90_SCREENSHOTS  optional: a folder for the screens' screenshots
//
// It prints one line per check and exits non-zero when one failed.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = process.env;
for (const k of ['G90_WEB', 'G90_RIG', 'G90_CHROMIUM', 'G90_USER_DATA']) {
  if (!env[k]) {
    console.error(k + ' not set: run this through go test -run TestWebApp ./daemon');
    process.exit(2);
  }
}
const WEB = env.G90_WEB.replace(/\/?$/, '/');
const RIG = env.G90_RIG;
const SHOTS = env.G90_SCREENSHOTS || '';
if (SHOTS) mkdirSync(SHOTS, { recursive: true });

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const PIN = '4321';

let failed = 0;

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok    ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    failed++;
    console.log(`FAIL  ${name}: ${err.stack || err}`);
  }
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function rig(method, path, body) {
  const res = await fetch(RIG + path, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json();
  if (!res.ok) throw new Error(`rig ${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
  return data;
}

// until polls fn until it returns a truthy value, or fails after ms.
async function until(what, fn, ms = 5000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms (last ${JSON.stringify(last)})`);
    await new Promise(r => setTimeout(r, 50));
  }
}

const panel = (page, name) => page.locator('section.panel', { has: page.locator('h2.name', { hasText: new RegExp('^' + name + '$') }) });

async function armText(page, name) {
  return (await panel(page, name).locator('.status .arm').textContent()).trim();
}

async function waitArm(page, name, want, ms = 8000) {
  await until(`${name} shows "${want}"`, async () => (await armText(page, name)) === want, ms);
}

async function shot(page, name) {
  if (!SHOTS) return;
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `${name}-${scheme}.png`), fullPage: false });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

// contrast returns the visible text (and input edges) whose contrast
// with its effective background is below WCAG AA: 4.5:1 for text, 3:1
// for large text and for the edges of inputs (WCAG 1.4.3, 1.4.11).
function contrast() {
  const parse = c => {
    const m = /rgba?\(([^)]*)\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1,
  });
  const lum = c => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const background = e => {
    const layers = [];
    for (; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) {
        layers.push(c);
        if (c.a >= 1) break;
      }
    }
    let base = { r: 255, g: 255, b: 255, a: 1 };
    for (const l of layers.reverse()) base = over(l, base);
    return base;
  };
  const bad = [];
  let checked = 0;
  for (const e of document.querySelectorAll('body *')) {
    if (!e.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const s = getComputedStyle(e);
    const ownText = [...e.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== '');
    const isInput = e.matches('input, select');
    if (!ownText && !isInput) continue;
    const bg = background(e);
    if (ownText || (isInput && e.value)) {
      checked++;
      const fg = over(parse(s.color), bg);
      const size = parseFloat(s.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
      const got = ratio(fg, bg);
      if (got < (large ? 3 : 4.5)) bad.push(`${e.tagName.toLowerCase()}.${e.className} "${(e.textContent || e.value).trim().slice(0, 30)}": ${got.toFixed(2)}:1 (${s.color} on rgb(${bg.r | 0}, ${bg.g | 0}, ${bg.b | 0}))`);
    }
    if (isInput) {
      const edge = parse(s.borderTopColor);
      const outside = background(e.parentElement);
      const got = ratio(over(edge, outside), outside);
      if (got < 3) bad.push(`${e.tagName.toLowerCase()} edge: ${got.toFixed(2)}:1`);
    }
  }
  return { bad, checked };
}

async function checkContrast(page, where) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    const { bad, checked } = await page.evaluate(contrast);
    expect(checked > 5, `${where}, ${scheme}: only ${checked} text elements checked`);
    expect(bad.length === 0, `${where}, ${scheme}: below WCAG AA:\n  ` + bad.join('\n  '));
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

// unnamed lists the visible controls a screen reader could not name:
// no label, no aria-label(ledby), no text.
function unnamed() {
  const out = [];
  for (const e of document.querySelectorAll('button, input, select, a[href], summary, [role=switch]')) {
    if (!e.checkVisibility()) continue;
    const name = (e.getAttribute('aria-label') || '') ||
      [...(e.labels || [])].map(l => l.textContent).join('') ||
      (e.getAttribute('aria-labelledby') || '').split(' ').map(id => document.getElementById(id)?.textContent || '').join('') ||
      (e.matches('input, select') ? '' : e.textContent);
    if (!name.trim()) out.push(e.outerHTML.slice(0, 80));
  }
  return out;
}

async function allNamed(page, where) {
  const bad = await page.evaluate(unnamed);
  expect(bad.length === 0, `${where}: controls without a name:\n  ` + bad.join('\n  '));
}

async function noSidewaysScroll(page, where) {
  const [sw, iw] = await page.evaluate(() => [document.scrollingElement.scrollWidth, innerWidth]);
  expect(sw <= iw, `${where}: scrollWidth ${sw} > innerWidth ${iw}`);
}

const guids = await rig('GET', '/panels');

const context = await chromium.launchPersistentContext(env.G90_USER_DATA, {
  executablePath: env.G90_CHROMIUM,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: PHONE,
});
const page = context.pages()[0] || await context.newPage();
const problems = [];
page.on('pageerror', err => problems.push('page error: ' + err.message));
// Expected: 401 before the login, 403 for the wrong PIN, 400 for the
// bad setting, and refused connections once the server is stopped.
let serverStopped = false;
page.on('console', m => {
  if (m.type() === 'error' && !/status of 40[013]/.test(m.text()) && !serverStopped) problems.push('console: ' + m.text());
});
let doorsOpened = 0;

for (const [size, vp] of [['phone', PHONE], ['desktop', DESKTOP]]) {
  await page.setViewportSize(vp);

  await step(`${size}: both panels shown, read and live`, async () => {
    await page.goto(WEB);
    await until('"live"', async () => (await page.locator('#live').textContent()) === 'live', 15000);
    await waitArm(page, 'home', 'Disarmed', 15000);
    await waitArm(page, 'cabin', 'Disarmed', 15000);
    expect(await page.locator('.stale-note:visible').count() === 0, 'a live panel marked as not live');
    expect(await panel(page, 'home').locator('.pin').isHidden(), 'home (no PIN) shows a PIN field');
    expect(await panel(page, 'cabin').locator('.pin').isVisible(), 'cabin (PIN) shows no PIN field');
    expect(await panel(page, 'cabin').getByLabel('PIN').isVisible(), 'the PIN field has no label "PIN"');
  });

  await step(`${size}: no sideways scrolling; every control has a name`, async () => {
    await noSidewaysScroll(page, size + ' home');
    await allNamed(page, size + ' home');
  });

  await step(`${size}: arming by keyboard alone`, async () => {
    const p = panel(page, 'cabin');
    await p.getByLabel('PIN').focus();
    await page.keyboard.type(PIN);
    await page.keyboard.press('Tab'); // Arm away
    await page.keyboard.press('Tab'); // Arm home
    expect(await page.evaluate(() => document.activeElement.textContent) === 'Arm home', 'Tab from the PIN does not reach Arm home');
    await page.keyboard.press('Enter');
    await waitArm(page, 'cabin', 'Armed home');
    await p.getByLabel('PIN').focus();
    await page.keyboard.type(PIN);
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await waitArm(page, 'cabin', 'Disarmed');
  });

  await step(`${size}: arm away and disarm without a PIN`, async () => {
    const p = panel(page, 'home');
    await p.getByRole('button', { name: 'Arm away' }).click();
    await waitArm(page, 'home', 'Armed away');
    await p.getByRole('button', { name: 'Disarm' }).click();
    await waitArm(page, 'home', 'Disarmed');
  });

  await step(`${size}: a wrong PIN is refused and shown; the right one arms and disarms`, async () => {
    const p = panel(page, 'cabin');
    await p.getByLabel('PIN').fill('0000');
    await p.getByRole('button', { name: 'Arm home' }).click();
    await until('the error', async () => /Arm home: .*(PIN|pin)/.test(await p.locator('.controls .msg').textContent()));
    expect(await p.locator('.controls .msg.err').count() === 1, 'the refusal is not shown as an error');
    expect((await armText(page, 'cabin')) === 'Disarmed', 'armed with a wrong PIN');
    await p.getByLabel('PIN').fill(PIN);
    await p.getByRole('button', { name: 'Arm home' }).click();
    await waitArm(page, 'cabin', 'Armed home');
    // Cleared when the command's answer comes (the state may come first).
    await until('the PIN field emptied after use', async () => (await p.getByLabel('PIN').inputValue()) === '');
    await p.getByLabel('PIN').fill(PIN);
    await p.getByRole('button', { name: 'Disarm' }).click();
    await waitArm(page, 'cabin', 'Disarmed');
  });

  await step(`${size}: a door opening is shown within a second`, async () => {
    const door = panel(page, 'home').locator('li.item', { hasText: 'Front door' });
    const t0 = Date.now();
    await rig('POST', '/inject?panel=home', { event: 'door_open', sensor: 1 });
    doorsOpened++;
    await door.locator('.state', { hasText: /^Open$/ }).waitFor({ timeout: 1000 });
    console.log(`      shown after ${Date.now() - t0} ms`);
    await until('"changed … ago"', async () => /changed/.test(await door.locator('.when').textContent()), 1000);
    await rig('POST', '/inject?panel=home', { event: 'door_close', sensor: 1 });
    await door.locator('.state', { hasText: /^Closed$/ }).waitFor({ timeout: 1000 });
    // The time comes with the daemon's state too: a page opened anew,
    // with no log read yet, shows it.
    const st = await page.evaluate(async () => (await (await fetch('api/panels/home/state')).json()).state);
    const s1 = st.sensors.find(s => s.index === 1);
    expect(s1 && s1.changed && Date.now() - Date.parse(s1.changed) < 60000, `the state's changed for sensor 1: ${JSON.stringify(s1)}`);
  });

  await step(`${size}: a relay toggle reaches the simulator and MQTT`, async () => {
    const item = panel(page, 'home').locator('li.item', { hasText: 'Garden lights' });
    const toggle = item.getByRole('switch');
    const topic = `g90/${guids.home}/relay/3/0`;
    for (const on of [true, false]) {
      await toggle.click();
      await until(`the simulator's relay 3:0 ${on}`, async () => (await rig('GET', '/relay?panel=home&index=3&node=0')).on === on);
      await until(`MQTT ${topic} ${on ? 'ON' : 'OFF'}`, async () => (await rig('GET', '/mqtt?topic=' + encodeURIComponent(topic))).payload === (on ? 'ON' : 'OFF'));
      await until('the switch\'s state', async () => (await toggle.getAttribute('aria-checked')) === String(on));
      expect((await item.locator('.state').textContent()) === (on ? 'On' : 'Off'), 'the relay\'s state text');
      await until('"done" beside the relay', async () => (await item.locator('.relay-msg').textContent()) === `Garden lights ${on ? 'on' : 'off'}: done`);
      await until('"switched … ago" beside the relay', async () => /switched/.test(await item.locator('.when').textContent()));
    }
  });

  await step(`${size}: the event log shows each happening once`, async () => {
    await page.getByRole('link', { name: 'Events' }).click();
    await page.locator('#events li.entry').first().waitFor();
    const entries = await page.$$eval('#events li.entry', ls => ls.map(l => [l.dataset.key, l.dataset.type, l.textContent]));
    const keys = entries.map(e => e[0]);
    expect(new Set(keys).size === keys.length, 'an event twice: ' + keys.join(' '));
    const opened = entries.filter(e => e[1] === 'door_open' && e[2].includes('Front door')).length;
    expect(opened === doorsOpened, `${opened} "Front door opened" lines for ${doorsOpened} openings`);
    const activity = entries.filter(e => e[1] === 'sensor_activity' && e[2].includes('Front door'));
    expect(activity.length === 0, 'a door opening shown twice (also as sensor activity): ' + activity.map(e => e[2]).join('; '));
    await noSidewaysScroll(page, size + ' events');
    if (size === 'phone') {
      await checkContrast(page, 'events');
      await shot(page, 'events');
    }
    await page.getByRole('link', { name: 'Home' }).click();
  });

  // Each screen over an API that this daemon may not have (the other
  // parts of issue 19): without it, it says so; with it, it shows no error.
  await step(`${size}: the Devices, Settings and History screens`, async () => {
    for (const [tab, screen, probe, ready] of [
      ['Devices', '#screen-manage', 'api/panels/home/sensors', 'li.item'],
      ['Settings', '#screen-settings', 'api/panels/home/config', 'details.section'],
      ['History', '#screen-history', 'api/history', '#history-list li'],
    ]) {
      const status = await page.evaluate(async u => (await fetch(u)).status, probe);
      expect(status === 200, `${tab}: ${probe} answers ${status}`);
      await page.getByRole('link', { name: tab }).click();
      await page.locator(screen + ' ' + ready).first().waitFor({ timeout: 10000 });
      const errors = await page.locator(screen + ' .msg.err:visible').allTextContents();
      expect(errors.length === 0, `${tab}: ${errors.join('; ')}`);
      if (size === 'phone') {
        await checkContrast(page, tab);
        await shot(page, tab.toLowerCase());
      }
      await noSidewaysScroll(page, `${size} ${tab}`);
      await allNamed(page, `${size} ${tab}`);
    }
    await page.getByRole('link', { name: 'Home' }).click();
  });
}

// The narrowest phones the app is for: 360 px, every screen.
await step('360 px: no sideways scrolling on any screen', async () => {
  await page.setViewportSize({ width: 360, height: 740 });
  for (const [tab, screen] of [['Home', '#screen-home'], ['Events', '#screen-log'], ['History', '#screen-history'], ['Devices', '#screen-manage'], ['Settings', '#screen-settings']]) {
    await page.getByRole('link', { name: tab }).click();
    await page.locator(screen).waitFor({ state: 'visible', timeout: 10000 });
    await noSidewaysScroll(page, '360 px ' + tab);
  }
  await page.getByRole('link', { name: 'Home' }).click();
});

await page.setViewportSize(PHONE);

// The daemon has a HomeKit bridge, not paired: the Apple Home card shows
// its setup code and QR code (once paired, api/homekit leaves them out
// and the card says "Paired with Apple Home." instead).
await step('phone: the Apple Home card shows the setup code and its QR code, as api/homekit has them', async () => {
  const hk = await page.evaluate(async () => (await fetch('api/homekit')).json());
  expect(hk.enabled && !hk.paired && /^X-HM:\/\/[0-9A-Z]{13}$/.test(hk.uri), 'api/homekit: ' + JSON.stringify(hk));
  const card = page.locator('#homekit');
  await card.waitFor({ state: 'visible', timeout: 10000 });
  expect(await card.locator('.setup').isVisible(), 'the card shows no setup code');
  expect(await card.locator('.paired').isHidden(), 'the card says paired');
  const code = (await card.locator('.code').textContent()).trim();
  expect(/^\d{3}-\d{2}-\d{3}$/.test(code), `the setup code "${code}" is not NNN-NN-NNN`);
  expect(code === hk.code, `the card shows ${code}, api/homekit ${hk.code}`);
  const qr = card.locator('img.qr');
  await card.scrollIntoViewIfNeeded();
  await until('the QR code drawn', () => qr.evaluate(i => i.complete && i.naturalWidth > 0));
  const [status, type, svg] = await qr.evaluate(async i => {
    const r = await fetch(i.src);
    return [r.status, r.headers.get('content-type'), await r.text()];
  });
  expect(status === 200 && type.startsWith('image/svg+xml') && /^<svg[\s>]/.test(svg) && svg.includes(code), `the QR code: ${status} ${type} ${svg.slice(0, 200)}`);
  expect((await qr.getAttribute('alt')).includes(code), 'the QR code\'s alt text does not name the code');
  const box = await qr.boundingBox();
  expect(box && box.width >= 150 && box.width === box.height, 'the QR code drawn at ' + JSON.stringify(box));
  await checkContrast(page, 'the Apple Home card');
  await shot(page, 'homekit');
});

// Managing a panel (web/manage.go), on the phone.
const hasManage = (await page.evaluate(async () => (await fetch('api/types')).status)) === 200;

await step('devices: learn a sensor with the simulator\'s registration, with a countdown', async () => {
  if (!hasManage) return console.log('      (no management API in this version)');
  await page.getByRole('link', { name: 'Devices' }).click();
  const scr = page.locator('#screen-manage');
  await scr.locator('li.item').first().waitFor({ timeout: 10000 });
  const learn = scr.locator('details.learn', { hasText: 'Add a sensor' });
  await learn.locator('summary').click();
  await learn.getByLabel('Model').selectOption('Door Sensor: WDS07');
  await learn.getByLabel('Name').fill('Shed door');
  await learn.getByRole('button', { name: 'Learn the sensor' }).click();
  await until('the countdown', async () => /Trigger the sensor now: \d+ s left/.test(await learn.locator('.msg').textContent()));
  expect(await learn.locator('progress').isVisible(), 'no progress bar');
  await rig('POST', '/inject?panel=home', { event: 'learn', type: 'Door Sensor: WDS07' });
  await until('"Added"', async () => /^Added: Shed door \(#\d+\)\.$/.test(await learn.locator('.msg').textContent()), 15000);
  const st = await rig('GET', '/state?panel=home');
  expect(st.sensors.some(x => x.name === 'Shed door' && x.type_id === 1), 'the simulator has no "Shed door"');
  await scr.locator('li.item', { hasText: 'Shed door' }).waitFor();
  await noSidewaysScroll(page, 'devices');
});

await step('devices: rename a sensor; the panel holds the new name', async () => {
  if (!hasManage) return;
  const scr = page.locator('#screen-manage');
  // By position: its text changes with the name.
  const names = await scr.locator('li.item .title').allTextContents();
  expect(names.includes('Back door'), 'no "Back door" in ' + names.join(', '));
  const item = scr.locator('li.item').nth(names.indexOf('Back door'));
  await item.locator('summary').click();
  await item.getByLabel('Name').fill('Cellar door');
  await item.getByRole('button', { name: 'Save' }).click();
  await until('"Saved"', async () => /Saved; the panel holds it/.test(await item.locator('.msg').textContent()), 10000);
  const st = await rig('GET', '/state?panel=home');
  expect(st.sensors.some(x => x.name === 'Cellar door'), 'the simulator has no "Cellar door"');
  // And back, for the steps after this one.
  await item.getByLabel('Name').fill('Back door');
  await item.getByRole('button', { name: 'Save' }).click();
  await until('"Saved" again', async () => /Saved; the panel holds it/.test(await item.locator('.msg').textContent()), 10000);
});

await step('devices: with a PIN, a change that can weaken the alarm needs it', async () => {
  if (!hasManage) return;
  const scr = page.locator('#screen-manage');
  await scr.getByLabel('Panel').selectOption('cabin');
  await scr.getByLabel('PIN').waitFor();
  await scr.locator('li.item').first().waitFor({ timeout: 10000 });
  const names = await scr.locator('li.item .title').allTextContents();
  const item = scr.locator('li.item').nth(names.indexOf('Front door'));
  await item.locator('summary').click();
  const chime = item.getByLabel('Door chime');
  const was = await chime.isChecked();
  await chime.setChecked(!was);
  await item.getByRole('button', { name: 'Save' }).click();
  await until('the refusal', async () => /PIN/.test(await item.locator('.msg.err').textContent().catch(() => '')), 10000);
  const before = (await rig('GET', '/state?panel=cabin')).sensors.find(x => x.index === 1).user_flags;
  await scr.getByLabel('PIN').fill(PIN);
  await item.getByRole('button', { name: 'Save' }).click();
  await until('"Saved"', async () => /Saved; the panel holds it/.test(await item.locator('.msg').textContent()), 10000);
  const after = (await rig('GET', '/state?panel=cabin')).sensors.find(x => x.index === 1).user_flags;
  expect(after !== before, `the simulator's flags stayed ${before}`);
});

await step('settings: a bad value is shown next to its field; a good one is verified', async () => {
  if (!hasManage) return;
  await page.getByRole('link', { name: 'Settings' }).click();
  const sec = page.locator('#screen-settings details.section[data-section="host"]');
  await sec.locator('summary').click();
  const input = sec.locator('input[name="alarm_siren_duration"]');
  await input.waitFor({ timeout: 10000 });
  const field = sec.locator('.field', { has: page.locator('input[name="alarm_siren_duration"]') });
  await input.fill('99999');
  await sec.getByRole('button', { name: 'Save' }).click();
  await until('the error beside the field', async () => /alarm_siren_duration.*99999/.test(await field.locator('.field-err').textContent()));
  expect(await page.evaluate(() => document.activeElement.name) === 'alarm_siren_duration', 'the bad field has no focus');
  expect((await rig('GET', '/state?panel=home')).host_config.alarm_siren_duration !== 99999, 'the panel took 99999');
  await input.fill('120');
  await sec.getByRole('button', { name: 'Save' }).click();
  await until('"Saved"', async () => /Saved; the panel holds it/.test(await sec.locator('.msg').last().textContent()), 10000);
  expect((await rig('GET', '/state?panel=home')).host_config.alarm_siren_duration === 120, 'the simulator does not hold 120');
  expect(await sec.locator('input[name="alarm_siren_duration"]').inputValue() === '120', 'the form does not show the verified value');
  await checkContrast(page, 'settings, open');
  await noSidewaysScroll(page, 'settings');
  await page.getByRole('link', { name: 'Home' }).click();
});

await step('phone: contrast of the home screen, disarmed and armed, light and dark', async () => {
  await waitArm(page, 'home', 'Disarmed');
  await checkContrast(page, 'home, disarmed');
  await shot(page, 'home');
  await panel(page, 'home').getByRole('button', { name: 'Arm away' }).click();
  await waitArm(page, 'home', 'Armed away');
  await checkContrast(page, 'home, armed');
});

await step('phone: an alarm says which sensor and when, in both themes', async () => {
  await rig('POST', '/inject?panel=home', { event: 'alarm', sensor: 7 });
  await waitArm(page, 'home', 'ALARM', 5000);
  const status = panel(page, 'home').locator('.status');
  await until('the sensor and time', async () => /Triggered by Hall PIR at \S/.test(await status.textContent()));
  expect(await status.getAttribute('role') === 'alert', 'the alarm is not role=alert');
  await checkContrast(page, 'home, alarm');
  await noSidewaysScroll(page, 'alarm');
  await shot(page, 'alarm');
  await panel(page, 'home').getByRole('button', { name: 'Disarm' }).click();
  await waitArm(page, 'home', 'Disarmed');
});

await step('history: filtered by event and by sensor, and as CSV', async () => {
  if ((await page.evaluate(async () => (await fetch('api/history')).status)) !== 200) return console.log('      (no history API in this version)');
  await page.getByRole('link', { name: 'History' }).click();
  const scr = page.locator('#screen-history');
  await scr.getByLabel('Event').selectOption('door_open');
  await scr.getByRole('button', { name: 'Show' }).click();
  await until('only door openings', async () => {
    const types = await scr.locator('#history-list li').evaluateAll(ls => ls.map(l => l.dataset.type));
    return types.length === doorsOpened && types.every(t => t === 'door_open');
  });
  await scr.getByLabel('Event').selectOption('');
  expect(await scr.getByLabel('Sensor').isDisabled(), 'a sensor without a panel can be given');
  await scr.getByLabel('Panel').selectOption('home');
  await scr.getByLabel('Sensor').fill('Hall PIR');
  await scr.getByRole('button', { name: 'Show' }).click();
  await until('only Hall PIR', async () => {
    const titles = await scr.locator('#history-list li .title').allTextContents();
    return titles.length > 0 && titles.every(t => t.includes('Hall PIR')) && titles.some(t => /ALARM/.test(t));
  });
  expect((await scr.locator('.msg.err').count()) === 0, 'history: ' + await scr.locator('.msg').first().textContent());
  const csv = await page.evaluate(async () => {
    const r = await fetch(document.querySelector('#history-csv').href);
    return [r.headers.get('content-type'), await r.text()];
  });
  expect(csv[0].startsWith('text/csv') && /Hall PIR/.test(csv[1]) && !/Front door/.test(csv[1]), 'CSV: ' + csv[0] + ' ' + csv[1].slice(0, 200));
  await checkContrast(page, 'history');
  await noSidewaysScroll(page, 'history');
  await shot(page, 'history');
  await page.getByRole('link', { name: 'Home' }).click();
});

await step('login: a daemon with a password shows the form, refuses a wrong one, and logs in and out', async () => {
  if (!env.G90_WEB_LOGIN) return;
  const login = await context.newPage();
  login.on('pageerror', err => problems.push('login page error: ' + err.message));
  await login.goto(env.G90_WEB_LOGIN);
  await login.getByLabel('Password').waitFor({ timeout: 10000 });
  expect(await login.locator('section.panel').count() === 0, 'panels shown before the login');
  expect(await login.locator('nav.tabs').isHidden(), 'the tabs are shown before the login');
  expect((await login.evaluate(async () => (await fetch('api/panels')).status)) === 401, 'the API answers without a session');
  await checkContrast(login, 'login');
  await noSidewaysScroll(login, 'login');
  await allNamed(login, 'login');
  await shot(login, 'login');
  await login.getByLabel('Password').fill('wrong password');
  await login.getByRole('button', { name: 'Log in' }).click();
  await until('"Wrong password."', async () => (await login.locator('#login .msg').textContent()) === 'Wrong password.');
  await login.getByLabel('Password').fill(env.G90_PASSWORD);
  await login.getByRole('button', { name: 'Log in' }).click();
  await until('the cabin, live', async () => (await login.locator('#live').textContent()) === 'live' && (await armText(login, 'cabin')) === 'Disarmed', 10000);
  await login.reload();
  await until('still logged in', async () => (await login.locator('#live').textContent()) === 'live', 10000);
  expect(await login.locator('#screen-login').isHidden(), 'the form again after a reload');
  await login.getByRole('button', { name: 'Log out' }).click();
  await login.getByLabel('Password').waitFor({ timeout: 10000 });
  expect((await login.evaluate(async () => (await fetch('api/panels')).status)) === 401, 'the API answers after the logout');
  await login.close();
});

await step('the service worker controls the page', async () => {
  await until('a controller', () => page.evaluate(() => navigator.serviceWorker.ready.then(() => !!navigator.serviceWorker.controller)), 10000);
  const m = await page.evaluate(async () => {
    const r = await fetch('manifest.webmanifest');
    return [r.headers.get('content-type'), (await r.json()).display];
  });
  expect(m[0].startsWith('application/manifest+json') && m[1] === 'standalone', 'manifest: ' + m);
});

await step('notifications: with permission, a tamper becomes a system notification', async () => {
  await context.grantPermissions(['notifications'], { origin: new URL(WEB).origin });
  await page.reload();
  // Live, not the kept state: an event before the stream is only history.
  await until('"live"', async () => (await page.locator('#live').textContent()) === 'live', 10000);
  await panel(page, 'home').locator('.stale-note').waitFor({ state: 'hidden' });
  await waitArm(page, 'home', 'Disarmed', 10000);
  await until('"Notifications are on"', async () => /Notifications are on/.test(await page.locator('#notify-card').textContent()));
  await rig('POST', '/inject?panel=home', { event: 'tamper', sensor: 2 });
  const shown = await until('the notification', () => page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    const ns = await reg.getNotifications();
    return ns.length > 0 && ns.map(n => n.title + ' | ' + n.body);
  }));
  expect(shown.some(t => /Tamper: Back door \| home/.test(t)), 'notifications: ' + shown.join('; '));
  // The tamper raised an alarm: end it.
  await panel(page, 'home').getByRole('button', { name: 'Disarm' }).click();
  await waitArm(page, 'home', 'Disarmed');
});

await step('a panel that stops answering is shown and notified; back, it is shown again', async () => {
  const reach = panel(page, 'cabin').locator('.reach');
  expect((await reach.textContent()) === 'Panel reachable', 'cabin: ' + await reach.textContent());
  await rig('POST', '/faults?panel=cabin', { silent: true });
  await until('"NOT reachable"', async () => (await reach.textContent()) === 'Panel NOT reachable', 15000);
  const shown = await until('the notification', () => page.evaluate(async () => {
    const ns = await (await navigator.serviceWorker.ready).getNotifications();
    return ns.some(n => n.title === 'Panel unreachable' && n.body === 'cabin does not answer.');
  }));
  expect(shown, 'no notification');
  await rig('POST', '/faults?panel=cabin', {});
  await until('"reachable" again', async () => (await reach.textContent()) === 'Panel reachable', 15000);
});

await step('offline: the shell opens, says the panel is unreachable and notifies', async () => {
  const before = await armText(page, 'home');
  serverStopped = true;
  await rig('POST', '/stop');
  await until('the server gone', async () => { try { await fetch(WEB); return false; } catch (_) { return true; } });
  await page.reload();
  await page.locator('h1', { hasText: 'g90 alarm' }).waitFor({ timeout: 5000 });
  await page.locator('#offline', { hasText: 'Panel unreachable' }).waitFor({ timeout: 8000 });
  // The state kept from before, marked as not live.
  await panel(page, 'home').locator('.stale-note', { hasText: /Last known state.*not live/ }).waitFor({ timeout: 2000 });
  const kept = await armText(page, 'home');
  expect(kept === before, `the kept state: ${kept}, before: ${before}`);
  const shown = await until('the "unreachable" notification', () => page.evaluate(async () => {
    const ns = await (await navigator.serviceWorker.ready).getNotifications();
    return ns.some(n => n.title === 'Panel unreachable');
  }));
  expect(shown, 'no "Panel unreachable" notification');
  await noSidewaysScroll(page, 'offline');
  await checkContrast(page, 'offline');
  await shot(page, 'offline');
});

if (problems.length) {
  failed++;
  console.log('FAIL  the page reported errors:\n  ' + problems.join('\n  '));
}
await context.close();
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);
