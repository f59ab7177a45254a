// The dashboard in headless chromium (playwright-core from $VIGIL_HOME/ref), run by
// tests/service/test_dashboard.c. Asserts: every page loads with no console error;
// HTML in camera names and event text stays text; an event stored while the page is
// open appears (server-sent events); a Live tile follows its camera's live state
// (frame and tracked objects) without a reload; marking reviewed + a note persist; the models
// page shows the real zoo of enrich-light and its preload/unload buttons work; an
// unknown event id gives a 404 page that says so; keyboard and phone layout.
import {createRequire} from 'node:module';
import {execFileSync} from 'node:child_process';
import {mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

const {BASE, LIGHT, OUT, INSERTER, INSERT_DB, SNAPSHOT, REF} = process.env;
const require = createRequire(path.join(REF, 'package.json'));
const {chromium} = require('playwright-core');

// a fresh profile each run (playwright passes it as --user-data-dir)
const ctx = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), 'vigil-chromium-')), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: {width: 1280, height: 900},
});
const errors = [];
let allow404 = false;
function watch(page) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (allow404 && /404/.test(m.text())) return;
    /* the browser logs every failed fetch; the service "gone" is down on purpose */
    if (/\/api\/services\/gone\//.test(m.location().url) && /502/.test(m.text())) return;
    errors.push(`${page.url()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
}
const page = await ctx.newPage();
watch(page);
const shot = (name) => page.screenshot({path: path.join(OUT, `${name}.png`), fullPage: true});
async function open(url) {
  /* a hash change re-renders without a load: wait for that render, not the last one */
  await page.evaluate(() => { const m = document.querySelector('main'); if (m) delete m.dataset.ready; }).catch(() => {});
  const r = await page.goto(BASE + url);
  await page.waitForSelector('main[data-ready="1"]');
  return r;
}
const step = (s) => console.log(`# ${s}`);

try {
  step('live');
  await open('/#/live');
  await page.waitForSelector('section.tile[data-camera="front"] .chips');
  const names = await page.$$eval('section.tile h2', (hs) => hs.map((h) => h.textContent));
  assert.ok(names.includes('Front <img src=x onerror="window.__pwned=1">'), `camera names: ${names}`);
  assert.equal(await page.locator('img[src="x"]').count(), 0, 'HTML in a camera name became an element');
  const chips = await page.locator('section.tile[data-camera="front"] .chip').allTextContents();
  assert.deepEqual(chips.sort(), ['car × 1', 'person × 2']);
  assert.equal(await page.locator('section.tile[data-camera="front"] img').getAttribute('alt') !== null, true);
  await page.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0));
  /* the live view: the pipeline's current frame and tracked objects */
  const front = page.locator('section.tile[data-camera="front"]');
  assert.equal(await front.locator('ul.tracks li').count(), 1);
  assert.match(await front.locator('ul.tracks li').textContent(), /^#1 person 87% · 4 s$/);
  const src0 = await front.locator('img.liveframe').getAttribute('src');
  assert.match(src0, /^\/cameras\/front\/live\.jpg\?seq=\d+$/);
  assert.match(await page.locator('section.tile[data-camera="garage"] .live').textContent(), /no live view/);
  await shot('live');

  step('live: a tile follows the camera\'s tracks without a reload');
  await page.evaluate(() => { window.__sameDocument = 1; });
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'live');
  execFileSync(INSERTER, ['--live', INSERT_DB, 'front', 'person,person,<img src=y onerror="window.__pwned=2">', SNAPSHOT]);
  await page.waitForFunction(() => document.querySelectorAll('section.tile[data-camera="front"] ul.tracks li').length === 3, null, {timeout: 30000});
  assert.equal(await page.evaluate(() => window.__sameDocument), 1, 'the page reloaded');
  const items = await front.locator('ul.tracks li').allTextContents();
  assert.deepEqual(items, ['#1 person 87% · 4 s', '#2 person 87% · 8 s · still', '#3 <img src=y onerror="window.__pwned=2"> 87% · 12 s']);
  assert.equal(await page.locator('img[src="y"]').count(), 0, 'HTML in a track label became an element');
  const src1 = await front.locator('img.liveframe').getAttribute('src');
  assert.notEqual(src1, src0, 'the live frame was not refreshed');
  await page.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0));
  await shot('live-updated');

  step('events timeline, and an event stored while it is open');
  await open('/#/events');
  assert.equal(await page.locator('ol.timeline li').count(), 2);
  const sums = await page.locator('ol.timeline li .sum').allTextContents();
  assert.ok(sums.includes('<script>window.__pwned=1</script><b>two people</b> at the door'), sums.join(' | '));
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'HTML in event text was executed');
  await page.waitForFunction(() => document.getElementById('conn').textContent === 'live');
  const fresh = execFileSync(INSERTER, ['--insert', INSERT_DB, 'porch', 'fresh <i>event</i> from the test', SNAPSHOT]).toString().trim();
  await page.waitForSelector(`ol.timeline li[data-event="${fresh}"]`, {timeout: 30000});
  assert.equal(await page.locator('ol.timeline li').count(), 3);
  assert.equal(await page.locator(`li[data-event="${fresh}"] .sum`).textContent(), 'fresh <i>event</i> from the test');
  await shot('events');

  step('filters');
  await open('/#/events?camera=garage');
  assert.equal(await page.locator('ol.timeline li').count(), 1);
  assert.equal(await page.locator('select[name="camera"]').inputValue(), 'garage');
  await page.selectOption('select[name="camera"]', '');
  await page.selectOption('select[name="level"]', 'high');
  await page.click('form.filters button[type="submit"]');
  await page.waitForFunction(() => location.hash.includes('level=high'));
  await page.waitForSelector('main[data-ready="1"]');
  await page.waitForFunction(() => document.querySelectorAll('ol.timeline li').length === 1);
  assert.equal(await page.locator('input[name="plate"]').count(), 0, 'plate filter without plates');
  await open('/#/events?rule=weapon_firearm');
  assert.equal(await page.locator('select[name="rule"]').inputValue(), 'weapon_firearm');
  assert.equal(await page.locator('ol.timeline li').count(), 0, 'no event fired weapon_firearm');
  await open('/#/events?rule=weapon_knife');
  assert.equal(await page.locator('ol.timeline li').count(), 3);

  step('one event: review with the keyboard, persisted');
  await open(`/event/${fresh}`);
  assert.ok((await page.locator('h1').textContent()).includes('fresh <i>event</i> from the test'));
  /* the rules that fired: stored ids, described from /api/rules, each a link to the rule filter */
  assert.equal(await page.locator('ul.rules li').count(), 2);
  assert.match(await page.locator('li[data-rule="weapon_knife"]').textContent(), /^weapon_knife — a knife is detected \(floor 85\)$/);
  assert.equal(await page.locator('li[data-rule="night_person"] a').getAttribute('href'), '/#/events?rule=night_person');
  assert.equal(await page.locator('table tbody tr').count(), 1);
  await page.focus('#reviewed');
  await page.keyboard.press('Space');
  await page.focus('#notes');
  await page.keyboard.type('checked <b>by</b> the test');
  await page.focus('#save');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('review-status').textContent === 'saved');
  await shot('event');
  await open(`/event/${fresh}`);
  assert.equal(await page.locator('#reviewed').isChecked(), true);
  assert.equal(await page.locator('#notes').inputValue(), 'checked <b>by</b> the test');
  const api = await (await fetch(`${BASE}/events/${fresh}`)).json();
  assert.equal(api.reviewed, true);
  assert.equal(api.notes, 'checked <b>by</b> the test');

  step('an event that does not exist: a 404 page');
  allow404 = true;
  const r404 = await open('/event/999999');
  allow404 = false;
  assert.equal(r404.status(), 404);
  assert.equal(await page.locator('h1').textContent(), 'Event not found');
  await shot('not-found');

  step('models: the real zoo of enrich-light');
  const zoo = await (await fetch(`${LIGHT}/models/status`)).json();
  await open('/#/models');
  const card = page.locator('section[data-service="enrich-light"]');
  await card.locator('table').waitFor();
  assert.equal(await card.locator('tbody tr').count(), zoo.registered_models.length);
  for (const m of zoo.registered_models) assert.equal(await card.locator(`tr[data-model="${m.name}"]`).count(), 1, m.name);
  assert.equal(await card.locator('[role="meter"]').getAttribute('aria-valuemax'), String(Math.round(zoo.vram_budget_mb)));
  await card.locator('button[data-model="movenet-lightning"][data-action="preload"]').click();
  await page.waitForSelector('section[data-service="enrich-light"] tr[data-model="movenet-lightning"] td[data-state="loaded"]', {timeout: 60000});
  const after = await (await fetch(`${LIGHT}/models/status`)).json();
  assert.ok(after.loaded_models.some((m) => m.name === 'movenet-lightning'), 'preload did not reach the service');
  const gone = page.locator('section[data-service="gone"] [role="alert"]');
  assert.match(await gone.textContent(), /service 'gone' at http:\/\/127\.0\.0\.1:\d+ is not reachable/);
  await shot('models');
  await page.locator('section[data-service="enrich-light"] button[data-model="movenet-lightning"][data-action="unload"]').click();
  await page.waitForSelector('section[data-service="enrich-light"] tr[data-model="movenet-lightning"] td[data-state="unloaded"]', {timeout: 60000});

  step('system');
  await open('/#/system');
  await page.waitForSelector('section[aria-label="Metrics of enrich-light"] table');
  /* the pipelines' counters (dropped frames, stage times) from the live state */
  const pipe = page.locator('section[aria-label="Pipelines per camera"] tr[data-camera="front"]');
  assert.equal(await pipe.locator('td[data-stat="dropped"]').textContent(), '4');
  assert.ok((await pipe.locator('td').allTextContents()).includes('12.3 ms'), 'detect time per frame');
  assert.match(await page.locator('main section.card:has(h2:text-is("gone")) [role="alert"]').textContent(), /not reachable/);
  assert.ok((await page.locator('section[aria-label="Metrics of events (this service)"] td').allTextContents()).some((t) => t.startsWith('vigil_http_')));
  await shot('system');

  step('keyboard and phone');
  await page.goto('about:blank');
  await open('/#/live'); /* a fresh load: focus starts at the top of the document */
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Live');
  await page.setViewportSize({width: 390, height: 844});
  await open('/#/events');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'horizontal scroll on a phone');
  await shot('events-phone');

  assert.deepEqual(errors, [], 'console errors');
  console.log('# dashboard: all checks passed; screenshots in', OUT);
} finally {
  await ctx.close();
}
