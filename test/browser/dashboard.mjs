// The dashboard in a real browser (issue 22; run by test/e2e/dashboard_browser.sh, which starts
// PostgreSQL, the test gateway, Caddy and Prometheus and seeds the demo's data).
//
// Debian's chromium (/usr/bin/chromium, headless) driven by playwright-core: no browser is ever
// downloaded. For every staff role: sign in, the menu is exactly the role's, every page it may
// see renders with data and passes axe-core (no serious or critical violation), every page it
// may not see is refused by the DATABASE (the endpoint called with that role's own JWT from the
// page: 403), and every response body the browser received holds none of the raw PII values of
// the seeded raw file. Then the flows: wrong password, lockout, 401 -> sign-in, record edit ->
// history, propose -> approve, the DP form (value + interval), upload (without an agent: a
// tokenized file accepted and a raw one refused by the PII firewall; with the local agent: a raw
// CSV dropped, tokenized by the agent, its progress and batch; another origin's page refused).
// Screenshots of each page go to SDP_DASH_SHOTS.
//
// Environment: SDP_DASH_URL (https://127.0.0.1:port), SDP_DASH_USERS (JSON file
// {"admin": "<password>", ...}), SDP_DASH_RAW_VALUES (raw PII values, one a line),
// SDP_DASH_SHOTS (directory), SDP_DASH_TOKENIZED_CSV, SDP_DASH_RAW_CSV (files for the upload),
// SDP_DASH_CLIENT_KEY (the API key of the client the upload page uploads as),
// SDP_DASH_LOCK_USER (a user this test may lock out), SDP_DASH_AGENT_URL and SDP_DASH_AGENT_KEY (a
// running `sdp-agent serve --upload-config`), SDP_DASH_AGENT_BATCH (file: the batch it uploaded),
// SDP_DASH_OTHER_ORIGIN (a page of another origin, for the cross-site attack on the agent).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const base = process.env.SDP_DASH_URL;
const users = JSON.parse(readFileSync(process.env.SDP_DASH_USERS, 'utf8'));
const rawValues = readFileSync(process.env.SDP_DASH_RAW_VALUES, 'utf8')
  .split('\n')
  .map((s) => s.trim())
  .filter((s) => s.length >= 4);
const shots = process.env.SDP_DASH_SHOTS;
mkdirSync(shots, { recursive: true });

let checks = 0;
const failures = [];
const ok = (what) => {
  checks++;
  console.log('ok: ' + what);
};
const bad = (what) => {
  failures.push(what);
  console.log('FAIL: ' + what);
};
const check = (cond, what) => (cond ? ok(what) : bad(what));

// ---- the roles and what each may see (issue 22, the contract's role gates) -------------------
const PAGES = {
  overview: { title: 'Overview', fn: 'dash_overview' },
  batches: { title: 'Batches', fn: 'dash_batches' },
  records: { title: 'Records', fn: 'dash_records' },
  upload: { title: 'Upload', fn: null },
  audit: { title: 'Audit', fn: 'dash_audit' },
  privacy: { title: 'Privacy budget', fn: 'dash_privacy' },
  classification: { title: 'Classification', fn: 'dash_classification' },
  compliance: { title: 'Compliance report', fn: 'dash_compliance' },
  monitoring: { title: 'Monitoring', fn: null },
};
const ROLES = {
  viewer: ['overview', 'batches', 'monitoring'],
  analyst: ['overview', 'batches', 'records', 'classification', 'monitoring'],
  engineer: ['overview', 'batches', 'records', 'upload', 'classification', 'monitoring'],
  auditor: ['overview', 'batches', 'records', 'audit', 'privacy', 'classification', 'compliance', 'monitoring'],
  admin: Object.keys(PAGES),
  dp_analyst: ['privacy'],
};
// Which role's screenshot shows each page (the one that sees the most of it).
const SHOT_ROLE = { privacy: 'dp_analyst', upload: 'engineer' };

// ---- leak crawl --------------------------------------------------------------------------------
// Every body the browser receives is kept; a raw value must not appear in any: as a whole string
// of a JSON document, as a word, or as a run of words (names, addresses).
const rawSet = new Set(rawValues);
// Values with a separator inside (addresses: "201 High St, Madrid") are also looked for as plain
// substrings; the word runs below would split them.
const DELIM = /[\s"',;:(){}[\]<>=\\|]+/;
const rawWithDelims = rawValues.filter((v) => /[,;:"'()<>=|\\{}[\]]/.test(v));
const bodies = [];
function leaksIn(text) {
  const found = new Set();
  for (const v of rawWithDelims) if (text.includes(v)) found.add(v);
  const words = text.split(DELIM).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let run = words[i];
    if (rawSet.has(run)) found.add(run);
    for (let j = i + 1; j < Math.min(words.length, i + 5); j++) {
      run += ' ' + words[j];
      if (rawSet.has(run)) found.add(run);
    }
  }
  // JSON string leaves whole (values with punctuation inside, e.g. addresses)
  try {
    const walk = (v) => {
      if (typeof v === 'string') {
        if (rawSet.has(v.trim())) found.add(v.trim());
      } else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (rawSet.has(k)) found.add(k);
          walk(x);
        }
      }
    };
    walk(JSON.parse(text));
  } catch {
    /* not JSON */
  }
  return [...found];
}

async function newSession(browser, role) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, // the run's throwaway CA
    viewport: { width: 1280, height: 860 },
    serviceWorkers: 'block',
  });
  const page = await context.newPage();
  const cspErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  page.on('response', async (r) => {
    try {
      const b = await r.body();
      bodies.push({ role, url: r.url(), status: r.status(), text: b.toString('utf8') });
    } catch {
      /* redirects and aborted loads have no body */
    }
  });
  return { context, page, cspErrors };
}

async function signIn(page, user, password) {
  await page.goto(base + '/app/', { waitUntil: 'domcontentloaded' });
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function waitLoaded(page) {
  await page.locator('main h1').first().waitFor({ timeout: 15000 });
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'), null, { timeout: 15000 });
}

async function axeCheck(page, what) {
  const result = await page.evaluate(
    async (src) => {
      if (!window.axe) (0, eval)(src);
      const r = await window.axe.run(document, { resultTypes: ['violations'] });
      return r.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.length} nodes, e.g. ${v.nodes[0]?.target}`);
    },
    axeSource,
  );
  check(result.length === 0, `axe-core on ${what}: no serious or critical violation${result.length ? ': ' + result.join('; ') : ''}`);
}

// A call from the page with the role's own JWT (a fresh sign-in from the page context: the app
// keeps its token where no script can read it).
async function callAsRole(page, user, password, path) {
  return page.evaluate(
    async ([user, password, path]) => {
      const l = await fetch('/rpc/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: user, password }),
      });
      const { token } = await l.json();
      const r = await fetch(path, { headers: { Authorization: 'Bearer ' + token } });
      return { status: r.status, body: await r.text() };
    },
    [user, password, path],
  );
}

async function pageHasData(page, id) {
  const rows = async (sel = 'table.grid tbody tr:not(:has(td.empty))') => page.locator(sel).count();
  switch (id) {
    case 'overview':
      return (await page.locator('.card').count()) >= 4 && (await page.locator('.card dl.kv div').count()) > 0;
    case 'batches':
    case 'records':
    case 'classification':
    case 'privacy':
      return (await rows()) > 0;
    case 'audit':
      return (await page.locator('#chain-verify').innerText()).includes('intact') && (await rows()) > 0;
    case 'compliance':
      // ... with the key rotation the script put on record (sdp.key_rotation).
      return /Generated .* at audit head seq \d+/.test(await page.locator('#report-date').innerText()) &&
        /customers\.email\s+HASH\s+1 → 2\s+a1b2c3d4\s+finished\s+200\s+200/.test(await page.locator('main').innerText());
    case 'upload':
      return (await page.locator('#agent-state').count()) === 1;
    case 'monitoring':
      return (await page.locator('.chip-ok').count()) > 0;
  }
  return false;
}

async function rolePass(browser, role) {
  const password = users[role];
  const { context, page, cspErrors } = await newSession(browser, role);
  await signIn(page, role, password);
  await page.locator('nav.menu').waitFor({ timeout: 15000 });
  const menu = await page.locator('nav.menu a').allInnerTexts();
  const want = ROLES[role].map((p) => PAGES[p].title);
  check(JSON.stringify(menu) === JSON.stringify(want), `${role}: menu is exactly [${want.join(', ')}] (got [${menu.join(', ')}])`);

  for (const id of ROLES[role]) {
    await page.goto(base + '/app/#/' + id);
    await waitLoaded(page);
    const errors = await page.locator('main .error').allInnerTexts();
    const has = await pageHasData(page, id);
    check(errors.length === 0 && has, `${role}: page ${id} renders with data${errors.length ? ' (errors: ' + errors.join(' | ') + ')' : ''}`);
    // axe-core and the screenshot once per page, as the role that sees most of it (the record
    // form and history get theirs in the flows below).
    if ((SHOT_ROLE[id] ?? 'admin') === role) {
      await axeCheck(page, `${role}/${id}`);
      await page.screenshot({ path: `${shots}/${id}.png`, fullPage: true });
    }
  }
  // What the menu hides, the database refuses.
  for (const [id, p] of Object.entries(PAGES)) {
    if (ROLES[role].includes(id) || !p.fn) continue;
    const r = await callAsRole(page, role, password, '/rpc/' + p.fn);
    check(r.status === 403, `${role}: /rpc/${p.fn} (page ${id}) refused by the database: HTTP ${r.status}`);
  }
  check(cspErrors.length === 0, `${role}: no Content-Security-Policy violation${cspErrors.length ? ': ' + cspErrors[0] : ''}`);
  return { context, page, cspErrors };
}

async function flows(browser, sessions) {
  // ---- wrong password and lockout -------------------------------------------------------------
  {
    const { context, page } = await newSession(browser, 'lockout');
    const lock = process.env.SDP_DASH_LOCK_USER;
    await page.goto(base + '/app/', { waitUntil: 'domcontentloaded' });
    await page.getByLabel('User name').waitFor();
    await axeCheck(page, 'sign-in');
    await page.screenshot({ path: `${shots}/signin.png` });
    await signIn(page, lock, 'not the password');
    const err = await page.getByRole('alert').innerText({ timeout: 10000 });
    check(/invalid|wrong|incorrect|unknown/i.test(err) && !err.includes(lock), `wrong password -> "${err}"`);
    for (let i = 0; i < 4; i++) {
      await page.getByLabel('User name').fill(lock);
      await page.getByLabel('Password').fill('not the password ' + i);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
    }
    await page.getByLabel('User name').fill(lock);
    await page.getByLabel('Password').fill(users[lock] ?? users.lockme);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const locked = await page.getByRole('alert').innerText({ timeout: 10000 });
    check(/lock|too many/i.test(locked) && (await page.locator('nav.menu').count()) === 0,
      `after 5 wrong passwords the right one is refused: "${locked}"`);
    await context.close();
  }

  // ---- 401 -> sign-in ---------------------------------------------------------------------------
  {
    const { page } = sessions.viewer;
    await page.route('**/rpc/dash_batches*', (r) =>
      r.fulfill({ status: 401, contentType: 'application/json', body: '{"code":"PGRST301","message":"JWT expired","details":null,"hint":null}' }));
    await page.goto(base + '/app/#/batches');
    await page.getByLabel('User name').waitFor({ timeout: 10000 });
    const notice = await page.locator('.notice').innerText();
    check(/sign in again/i.test(notice), `401 from the API -> back to the sign-in page ("${notice}")`);
    await page.unroute('**/rpc/dash_batches*');
  }

  // ---- record edit -> history (engineer), propose (analyst) -> approve (engineer) ---------------
  {
    const eng = sessions.engineer.page;
    await eng.goto(base + '/app/#/records');
    await waitLoaded(eng);
    await eng.locator('table.grid tbody tr td a').first().click();
    await eng.locator('#h-record').waitFor();
    await waitLoaded(eng);
    const before = await eng.locator('.panel table.grid tbody tr:not(:has(td.empty))').count();
    const recordUrl = eng.url();
    const field = await eng.locator('form.edit select option').nth(1).getAttribute('value');
    await eng.locator('form.edit select').selectOption(field);
    await eng.getByLabel('New value').fill('e2e_edit_value');
    await eng.getByRole('button', { name: 'Save new version' }).click();
    const msg = await eng.getByRole('status').innerText({ timeout: 10000 });
    await eng.waitForFunction(
      (n) => document.querySelectorAll('.panel table.grid tbody tr:not(:has(td.empty))').length > n, before, { timeout: 10000 },
    ).catch(() => {});
    const after = await eng.locator('.panel table.grid tbody tr:not(:has(td.empty))').count();
    check(/new version/i.test(msg) && after > before, `engineer edits ${field}: "${msg}", history ${before} -> ${after} versions`);
    await axeCheck(eng, 'engineer/record (edit form, history)');
    await eng.screenshot({ path: `${shots}/record_history.png`, fullPage: true });

    const an = sessions.analyst.page;
    await an.goto(recordUrl);
    await an.locator('#h-record').waitFor();
    await waitLoaded(an);
    await an.locator('form.edit select').selectOption(field);
    await an.getByLabel('New value').fill('e2e_proposed_value');
    check((await an.getByRole('button', { name: 'Propose change' }).count()) === 1 &&
      (await an.getByRole('button', { name: 'Save new version' }).count()) === 0, 'analyst: the form proposes, it does not save');
    // Submitted from the keyboard (Enter in the field), as a user may.
    await an.getByLabel('New value').press('Enter');
    const pmsg = await an.getByRole('status').innerText({ timeout: 10000 });
    check(/proposal/i.test(pmsg), `analyst proposes a change: "${pmsg}"`);

    // Away and back within the app (a reload would sign out: the token lives in memory only).
    await eng.goto(base + '/app/#/overview');
    await waitLoaded(eng);
    await eng.goto(recordUrl);
    await eng.locator('#h-record').waitFor();
    await waitLoaded(eng);
    const approve = eng.getByRole('button', { name: 'Approve' });
    await approve.first().waitFor({ timeout: 10000 }).catch(() => {});
    if ((await approve.count()) > 0) {
      await approve.first().click();
      const amsg = await eng.getByRole('status').innerText({ timeout: 10000 });
      check(/approved/i.test(amsg), `engineer approves the proposal: "${amsg}"`);
    } else bad('engineer sees the pending proposal with an Approve button');

    const aud = sessions.auditor.page;
    await aud.goto(recordUrl);
    await aud.locator('#h-record').waitFor();
    await waitLoaded(aud);
    const hist = await aud.locator('.panel table.grid tbody tr:not(:has(td.empty))').count();
    check(hist >= 3 && (await aud.locator('form.edit').count()) === 0, `auditor reads the full history (${hist} versions), no edit form`);
  }

  // ---- DP form: value and interval ------------------------------------------------------------
  {
    const dp = sessions.dp_analyst.page;
    await dp.goto(base + '/app/#/privacy');
    await waitLoaded(dp);
    await dp.getByLabel('ε').fill('0.1');
    await dp.getByRole('button', { name: 'Run' }).click();
    await dp.locator('#dp-result .dp-value').first().waitFor({ timeout: 15000 }).catch(() => {});
    const txt = (await dp.locator('#dp-result').count()) ? await dp.locator('#dp-result').innerText() : await dp.locator('main').innerText();
    const m = /value (-?[\d.]+), 95% interval \[(-?[\d.]+), (-?[\d.]+)\]/.exec(txt);
    check(m && Number(m[2]) <= Number(m[1]) && Number(m[1]) <= Number(m[3]), `DP count: ${m ? m[0] : txt.slice(0, 200)}`);
    await dp.screenshot({ path: `${shots}/privacy.png`, fullPage: true });
  }

  // ---- upload ----------------------------------------------------------------------------------
  {
    const eng = sessions.engineer.page;
    const agentUrl = process.env.SDP_DASH_AGENT_URL;
    const agentKey = process.env.SDP_DASH_AGENT_KEY;
    // Everything the page sends to the server (not to the agent): the agent's key must be in none.
    const toServer = [];
    eng.on('request', (r) => {
      if (agentUrl && r.url().startsWith(agentUrl)) return;
      toServer.push(JSON.stringify({ url: r.url(), headers: r.headers(), body: r.postData() ?? '' }));
    });
    const openUpload = async (url) => {
      await eng.evaluate((u) => sessionStorage.setItem('sdp-agent-url', u), url);
      await eng.goto(base + '/app/#/overview');
      await waitLoaded(eng);
      await eng.goto(base + '/app/#/upload');
      await eng.locator('#agent-state').waitFor({ timeout: 10000 });
      return (await eng.locator('#agent-state').innerText()).startsWith('Local agent found');
    };
    const result = async () => {
      await eng.locator('#upload-result').waitFor({ timeout: 60000 });
      return eng.locator('#upload-result').innerText();
    };
    // No agent at this address (and the CSP allows none there): the page says so and takes only a
    // tokenized file, sent to the server as the client; a raw one is refused by the PII firewall.
    const before = sessions.engineer.cspErrors.length;
    const absent = !(await openUpload('http://127.0.0.1:9'));
    check(absent, 'no local agent at the address: the page says so and takes only a tokenized file');
    check(sessions.engineer.cspErrors.slice(before).some((e) => e.includes('127.0.0.1:9')),
      'the CSP refuses an agent address that connect-src does not name');
    const viaServer = async (file) => {
      await eng.locator('input[type=file]').setInputFiles(file);
      await eng.getByLabel('Client API key').fill(process.env.SDP_DASH_CLIENT_KEY);
      await eng.getByRole('button', { name: /upload/i }).click();
      return result();
    };
    const r = await viaServer(process.env.SDP_DASH_TOKENIZED_CSV);
    check(/^Uploaded: batch [0-9a-f-]{36}/.test(r), `tokenized file -> /api/v1/jobs/upload: "${r}"`);
    const r2 = await viaServer(process.env.SDP_DASH_RAW_CSV);
    check(/Refused \(HTTP 422\)/.test(r2), `raw file -> refused by the PII firewall: "${r2.slice(0, 160)}"`);

    if (agentUrl) {
      // The local agent: the raw CSV is dropped on the page, handed to the agent with its key
      // (asked once, kept in sessionStorage), tokenized there and uploaded; the page shows the
      // progress and the batch.
      const present = await openUpload(agentUrl);
      check(present, `local agent found at ${agentUrl}`);
      const raw = readFileSync(process.env.SDP_DASH_RAW_CSV, 'utf8');
      const dt = await eng.evaluateHandle((text) => {
        const d = new DataTransfer();
        d.items.add(new File([text], 'customers_raw.csv', { type: 'text/csv' }));
        return d;
      }, raw);
      await eng.dispatchEvent('#drop-zone', 'dragover', { dataTransfer: dt });
      await eng.dispatchEvent('#drop-zone', 'drop', { dataTransfer: dt });
      await eng.getByLabel('Agent key').fill(agentKey);
      await eng.getByRole('button', { name: 'Tokenize and upload' }).click();
      await eng.locator('#upload-progress').waitFor({ timeout: 30000 });
      const ra = await result();
      const m = /^Uploaded: batch ([0-9a-f-]{36}), (\d+) records/.exec(ra);
      const rows = raw.trim().split('\n').length - 1;
      check(m && Number(m[2]) === rows, `raw CSV dropped -> tokenized by the local agent and uploaded: "${ra}"`);
      const prog = await eng.locator('#upload-progress').innerText();
      check(/Agent: uploaded; \d+ rows tokenized; ([\d,]+) of \1 bytes uploaded/.test(prog), `progress shown: "${prog}"`);
      const link = await eng.getByRole('link', { name: 'view the batch' }).getAttribute('href');
      check(m && link && link.includes(m[1]), `a link to the batch: ${link}`);
      if (m && process.env.SDP_DASH_AGENT_BATCH) writeFileSync(process.env.SDP_DASH_AGENT_BATCH, m[1]);
      await eng.screenshot({ path: `${shots}/upload.png`, fullPage: true });
      const kept = await eng.evaluate(() => sessionStorage.getItem('sdp-agent-key'));
      check(kept === agentKey, "the agent's key is kept in this tab's sessionStorage (asked once)");
      check(!(await eng.getByLabel('Agent key').count()), 'the key is not asked again');
      check(toServer.length > 0 && !toServer.some((t) => t.includes(agentKey)),
        `the agent's key went to the agent only: in none of the ${toServer.length} requests to the server`);
      await eng.goto(base + '/app/#/batches?batch=' + (m ? m[1] : ''));
      await waitLoaded(eng);
      check(m && (await eng.locator('main').innerText()).includes(m[1]), 'the batch page shows the uploaded batch');

      // Another web page the user visits (another origin) tries the agent with the stolen key:
      // the browser's preflight is refused, so the request never reaches the upload; a simple GET
      // gets a 403 without CORS headers, which the page cannot even read.
      const other = await sessions.engineer.context.newPage();
      await other.goto(process.env.SDP_DASH_OTHER_ORIGIN);
      const attack = await other.evaluate(async ([url, key]) => {
        const out = {};
        try {
          const r = await fetch(url + '/upload', { method: 'POST', headers: { 'X-API-Key': key, 'Content-Type': 'text/csv' }, body: 'customer_id\nX-1\n' });
          out.post = 'answered ' + r.status;
        } catch (e) {
          out.post = 'blocked';
        }
        try {
          const r = await fetch(url + '/upload');
          out.get = 'answered ' + r.status;
        } catch (e) {
          out.get = 'blocked';
        }
        return out;
      }, [agentUrl, agentKey]);
      check(attack.post === 'blocked' && attack.get === 'blocked',
        `a page of another origin cannot use the agent, even with its key: POST ${attack.post}, GET ${attack.get}`);
      await other.close();
    }
  }
}

const t0 = Date.now();
const browser = await chromium.launch({
  executablePath: process.env.SDP_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
try {
  const sessions = {};
  for (const role of Object.keys(ROLES)) {
    const t = Date.now();
    sessions[role] = await rolePass(browser, role);
    console.log(`   (${role}: ${((Date.now() - t) / 1000).toFixed(1)} s)`);
  }
  const t = Date.now();
  await flows(browser, sessions);
  console.log(`   (flows: ${((Date.now() - t) / 1000).toFixed(1)} s)`);
  for (const s of Object.values(sessions)) await s.context.close();
} catch (e) {
  bad('unexpected: ' + (e && e.stack ? e.stack.split('\n').slice(0, 14).join(' / ') : e));
} finally {
  await browser.close();
}

// ---- the leak crawl over everything every role received ----------------------------------------
{
  // The detector itself first: planted raw values (a JSON field, inside a sentence, a name of
  // two words) must be found.
  const name = rawValues.find((v) => / /.test(v) && !/[,"]/.test(v));
  const planted = [JSON.stringify({ email: rawValues[0] }), 'seen ' + rawValues[1] + ' here', 'x ' + (name ?? rawValues[2]) + ' y'];
  if (rawWithDelims.length) planted.push('at ' + rawWithDelims[0] + '.');
  check(planted.every((t) => leaksIn(t).length > 0), 'leak detector finds planted raw values (JSON field, in a sentence, a multi-word value, an address)');
  let leaks = [];
  const seen = new Set(); // the same body (the app's files, per session) is scanned once
  for (const b of bodies) {
    if (seen.has(b.text)) continue;
    seen.add(b.text);
    for (const v of leaksIn(b.text)) leaks.push(`${b.role} ${b.url}: ${v.slice(0, 3)}…`);
  }
  const roles = new Set(bodies.map((b) => b.role));
  check(rawValues.length > 0 && bodies.length > 0 && leaks.length === 0,
    `leak crawl: ${bodies.length} response bodies for ${roles.size} sessions, ${rawValues.length} raw PII values, ${leaks.length} found${leaks.length ? ': ' + leaks.slice(0, 5).join('; ') : ''}`);
}

console.log(`dashboard browser test: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${checks} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
