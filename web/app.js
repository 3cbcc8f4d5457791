// The emulator's web view: plain browser JavaScript, no build step, no dependencies. Everything it
// shows comes from the emulator's API with the bearer token the user enters (kept in sessionStorage);
// the live flows arrive through the NDJSON follow stream read with fetch() (EventSource cannot send
// the header).

const TOKEN_KEY = 'sandbox-egress-emulator.token';
const ROW_HEIGHT = 26;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 12;
/** The view keeps the newest flows only. */
const MAX_FLOWS = 20000;

const $ = (id) => document.getElementById(id);

/** Creates an element: h('td', { class: 'x' }, 'text', child…). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// ---------------------------------------------------------------------------------------------
// API access

let token = '';

class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, init = {}) {
  const headers = { authorization: `Bearer ${token}`, ...(init.body ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(path, { ...init, headers: { ...headers, ...(init.headers ?? {}) } });
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiFailure(res.status, 'bad_response', `${res.status} ${res.statusText}`);
  }
  if (!res.ok || body?.success === false) {
    if (res.status === 401) onUnauthorized(body?.error?.message ?? 'unauthorized');
    throw new ApiFailure(res.status, body?.error?.code ?? 'error', body?.error?.message ?? `${res.status} ${res.statusText}`);
  }
  return body.data;
}

// ---------------------------------------------------------------------------------------------
// Sign-in

let signedIn = false;

function showLogin(message) {
  signedIn = false;
  stopStream();
  $('login').hidden = false;
  $('tabs').hidden = true;
  $('top-actions').hidden = true;
  for (const id of ['view-flows', 'view-sandboxes', 'view-proxy']) $(id).hidden = true;
  $('login-error').textContent = message ?? '';
  $('token').focus();
}

function onUnauthorized(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  forgetFlows();
  token = '';
  showLogin(message);
}

async function signIn(candidate) {
  token = candidate;
  let info;
  try {
    info = await api('/_emulator/info');
  } catch (err) {
    if (err.status !== 401) onUnauthorized(err.message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, candidate);
  signedIn = true;
  emulatorInfo = info;
  $('login').hidden = true;
  $('login-error').textContent = '';
  $('token').value = '';
  $('tabs').hidden = false;
  $('top-actions').hidden = false;
  $('emulator-summary').textContent = `v${info.version} · ${info.interception.mode} interception${info.testProxy ? ` · test proxy ${info.testProxy.address}` : ''}`;
  selectTab('flows');
  startStream();
}

let emulatorInfo;

// ---------------------------------------------------------------------------------------------
// Tabs

const tabs = ['flows', 'sandboxes', 'proxy'];

function selectTab(name, focus = false) {
  for (const t of tabs) {
    const tab = $(`tab-${t}`);
    const on = t === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`view-${t}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (name === 'flows') renderFlows();
  if (name === 'sandboxes') loadSandboxes();
  if (name === 'proxy') loadProxy();
}

function tabKeys(e) {
  const current = tabs.findIndex((t) => $(`tab-${t}`).getAttribute('aria-selected') === 'true');
  let next;
  if (e.key === 'ArrowRight') next = (current + 1) % tabs.length;
  else if (e.key === 'ArrowLeft') next = (current + tabs.length - 1) % tabs.length;
  else if (e.key === 'Home') next = 0;
  else if (e.key === 'End') next = tabs.length - 1;
  else return;
  e.preventDefault();
  selectTab(tabs[next], true);
}

// ---------------------------------------------------------------------------------------------
// Flows: the live stream, the model, filters

/** key → flow; a flow is the attempt and result events of one flow id of one gateway instance. */
const flows = new Map();
/** Every flow, oldest first. */
let ordered = [];
/** The filtered flows, newest first (what the table shows). */
let view = [];
let selectedKey;
const seenSandboxes = new Set();
const seenReasons = new Set();
let streamAbort;
let streamRetry;

const hostSourceWords = { 'tls-sni': 'SNI', 'http-host': 'Host', 'quic-sni': 'QUIC SNI', 'dns-cache': 'DNS cache', 'dns-query': 'DNS query', classifier: 'classifier' };

/** Where the host came from, as the gateway's classification implies (flow-story.ts hostSourceOf). */
function hostSource(a) {
  if (!a.host) return undefined;
  if (a.protocol === 'ssh') return 'dns-cache';
  if (a.transport === 'udp') return a.classifier_result === 'known' ? 'quic-sni' : 'dns-query';
  if (a.protocol === 'tls') return 'tls-sni';
  if (a.protocol === 'http') return 'http-host';
  if (a.protocol === 'dns') return 'dns-query';
  return 'classifier';
}

function flowKey(e) {
  return `${e.producer?.instance ?? ''}|${e.sandbox_id}|${e.operation_id ?? e.attributes?.flow_id}`;
}

function refreshFlow(flow) {
  const result = flow.events.find((e) => e.phase === 'result');
  const attempt = flow.events.find((e) => e.phase === 'attempt');
  const main = result ?? attempt;
  flow.a = main.attributes;
  flow.outcome = result ? result.outcome : 'accepted';
  flow.time = (attempt ?? result).occurred_at;
  if (result && result.attributes.duration_ms !== undefined) flow.time = new Date(Date.parse(result.occurred_at) - result.attributes.duration_ms).toISOString();
  const a = flow.a;
  flow.search = [flow.sandbox, a.flow_id, a.dest_ip, `${a.dest_ip}:${a.dest_port}`, a.host, a.protocol, a.reason, a.matched_rule, a.route, a.error, a.error_step, a.proxy_target, flow.outcome, a.action]
    .filter((x) => x !== undefined && x !== '')
    .join(' ')
    .toLowerCase();
}

/** Signed out: the flows seen go with the token. */
function forgetFlows() {
  flows.clear();
  ordered = [];
  view = [];
  backlogCursor = undefined;
  selectedKey = undefined;
  storyOpenFor = undefined;
  $('story').hidden = true;
  $('story').parentElement.classList.remove('with-story');
  $('flows-body').replaceChildren();
  seenSandboxes.clear();
  seenReasons.clear();
  for (const id of ['f-sandbox', 'f-reason']) $(id).replaceChildren(h('option', { value: '' }, 'all'));
}

const pending = new Map();
let frameScheduled = false;

function onEvent(e) {
  if (e?.event_type !== 'network_audit' || !e.attributes) return;
  const key = flowKey(e);
  let flow = flows.get(key);
  const isNew = !flow;
  if (!flow) {
    flow = { key, sandbox: e.sandbox_id, events: [] };
    flows.set(key, flow);
    ordered.push(flow);
  } else if (flow.events.some((x) => x.event_id === e.event_id)) return;
  flow.events.push(e);
  refreshFlow(flow);
  if (!seenSandboxes.has(flow.sandbox)) addOption('f-sandbox', seenSandboxes, flow.sandbox);
  if (!seenReasons.has(flow.a.reason)) addOption('f-reason', seenReasons, flow.a.reason);
  pending.set(key, pending.get(key) || isNew);
  if (!frameScheduled) {
    frameScheduled = true;
    requestAnimationFrame(applyPending);
  }
}

function addOption(selectId, seen, value) {
  seen.add(value);
  const select = $(selectId);
  const options = [...seen].sort();
  const at = options.indexOf(value);
  const option = h('option', { value }, value);
  select.insertBefore(option, select.options[at + 1] ?? null);
}

function filters() {
  return { sandbox: $('f-sandbox').value, outcome: $('f-outcome').value, reason: $('f-reason').value, text: $('f-text').value.trim().toLowerCase() };
}

function matches(flow, f) {
  return (!f.sandbox || flow.sandbox === f.sandbox) && (!f.outcome || flow.outcome === f.outcome) && (!f.reason || flow.a.reason === f.reason) && (!f.text || flow.search.includes(f.text));
}

function refilter() {
  const f = filters();
  const out = [];
  for (let i = ordered.length - 1; i >= 0; i--) if (matches(ordered[i], f)) out.push(ordered[i]);
  view = out;
}

function applyPending() {
  frameScheduled = false;
  let trimmed = false;
  if (ordered.length > MAX_FLOWS) {
    for (const old of ordered.splice(0, ordered.length - MAX_FLOWS)) flows.delete(old.key);
    trimmed = true;
  }
  const f = filters();
  const filtering = f.sandbox || f.outcome || f.reason || f.text;
  const anyUpdate = [...pending.values()].some((isNew) => !isNew);
  if (trimmed || (anyUpdate && filtering)) {
    refilter();
  } else {
    // Pending flows are in arrival order: the newest go on top.
    const fresh = [];
    for (const [key, isNew] of pending) {
      const flow = flows.get(key);
      if (isNew && flow && matches(flow, f)) fresh.push(flow);
    }
    if (fresh.length) {
      view = fresh.reverse().concat(view);
      // Keep the rows the user is looking at in place when new ones arrive above them.
      const scroller = $('flows-scroller');
      if (scroller.scrollTop > 0) scroller.scrollTop += fresh.length * ROW_HEIGHT;
    }
  }
  pending.clear();
  renderFlows();
  const open = selectedKey && storyOpenFor === selectedKey ? flows.get(selectedKey) : undefined;
  if (open && open.outcome !== storyOutcome) openStory(open, false);
}

function stopStream() {
  streamAbort?.abort();
  streamAbort = undefined;
  clearTimeout(streamRetry);
}

/** Where the stored events read so far end (a `/_emulator/flows` cursor); the follow stream starts there. */
let backlogCursor;

/**
 * The stored events, from `backlogCursor` on, in small pages: the server signs every event it reads,
 * and 500 at a time keep its event loop free for the gateway's flows in between.
 */
async function loadBacklog(signal) {
  const state = $('stream-state');
  for (let page = 0; page < 1000; page++) {
    const data = await api(`/_emulator/flows?limit=500${backlogCursor ? `&cursor=${backlogCursor}` : ''}`, { signal });
    for (const e of data.events) onEvent(e);
    if (data.watermark) backlogCursor = data.watermark;
    if (!data.next_cursor) return;
    state.textContent = `loading… ${flows.size} flows`;
  }
}

/**
 * The stored flows, then `GET /_emulator/flows?follow=1` from where they end (the server replays
 * what was recorded in between, so nothing is missed); reconnects (deduplicating) when it ends.
 */
async function startStream() {
  stopStream();
  const controller = new AbortController();
  streamAbort = controller;
  const state = $('stream-state');
  state.textContent = 'connecting…';
  try {
    await loadBacklog(controller.signal);
    const from = backlogCursor ? `cursor=${backlogCursor}` : 'start_time=1970-01-01T00:00:00Z';
    const res = await fetch(`/_emulator/flows?follow=1&${from}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
    if (!res.ok) {
      let message = `${res.status}`;
      try {
        message = (await res.json()).error.message;
      } catch {}
      if (res.status === 401) return onUnauthorized(message);
      throw new Error(message);
    }
    state.textContent = '● live';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        try {
          onEvent(JSON.parse(line));
        } catch {}
      }
    }
    throw new Error('stream ended');
  } catch (err) {
    if (controller.signal.aborted) return;
    state.textContent = `disconnected (${err.message}); retrying`;
    streamRetry = setTimeout(() => signedIn && startStream(), 2000);
  }
}

// ---------------------------------------------------------------------------------------------
// Flows: the virtualised table

const pad = (n, w = 2) => String(n).padStart(w, '0');
function clock(iso) {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function flowRow(flow, index) {
  const a = flow.a;
  const source = hostSource(a);
  const selected = flow.key === selectedKey;
  const bytes = a.egress_bytes !== undefined || a.ingress_bytes !== undefined ? `${a.egress_bytes ?? 0}/${a.ingress_bytes ?? 0}` : '';
  const tr = h(
    'tr',
    { class: 'flow', 'aria-rowindex': index + 2, 'aria-selected': String(selected), tabindex: selected ? 0 : -1, 'data-key': flow.key },
    h('td', { title: flow.time }, clock(flow.time)),
    h('td', { title: flow.sandbox }, flow.sandbox),
    h('td', null, a.transport),
    h('td', { class: 'mono' }, a.dest_ip ? `${a.dest_ip}:${a.dest_port}` : '?'),
    h('td', { title: a.host ? `${a.host} (${source})` : '' }, a.host ? `${a.host} · ${hostSourceWords[source]}` : '—'),
    h('td', null, `${a.action} (${a.reason})`),
    h('td', null, a.matched_rule ?? ''),
    h('td', null, a.route ?? ''),
    h('td', { class: `o-${flow.outcome}` }, flow.outcome === 'accepted' ? 'open' : flow.outcome),
    h('td', null, bytes),
    h('td', null, a.duration_ms !== undefined ? `${a.duration_ms} ms` : ''),
  );
  return tr;
}

function spacer(height) {
  const td = h('td', { colspan: 11 });
  td.style.height = `${height}px`;
  return h('tr', { class: 'spacer', 'aria-hidden': 'true' }, td);
}

let lastRange = '';

function renderFlows(force = true) {
  if ($('view-flows').hidden) return;
  const started = performance.now();
  const scroller = $('flows-scroller');
  const total = view.length;
  const head = $('flows-table').tHead.offsetHeight || ROW_HEIGHT;
  const top = Math.max(0, scroller.scrollTop - head);
  const start = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const end = Math.min(total, Math.ceil((top + scroller.clientHeight) / ROW_HEIGHT) + OVERSCAN);
  const range = `${start}:${end}:${total}`;
  if (!force && range === lastRange) return;
  lastRange = range;
  const rows = [];
  if (start > 0) rows.push(spacer(start * ROW_HEIGHT));
  for (let i = start; i < end; i++) rows.push(flowRow(view[i], i));
  if (end < total) rows.push(spacer((total - end) * ROW_HEIGHT));
  const hadFocus = $('flows-body').contains(document.activeElement);
  $('flows-body').replaceChildren(...rows);
  $('flows-table').setAttribute('aria-rowcount', String(total + 1));
  if (!view.some((f) => f.key === selectedKey)) {
    const first = $('flows-body').querySelector('tr.flow');
    if (first) first.tabIndex = 0;
  }
  if (hadFocus) $('flows-body').querySelector('tr.flow[tabindex="0"]')?.focus({ preventScroll: true });
  $('flow-count').textContent = total === ordered.length ? `${total} flows` : `${total} of ${ordered.length} flows`;
  // The last render's cost, as a User Timing entry (the bench reads it; only the latest is kept).
  performance.clearMeasures('flows-render');
  performance.measure('flows-render', { start: started });
}

function selectIndex(i, focus = true) {
  if (view.length === 0) return;
  i = Math.max(0, Math.min(view.length - 1, i));
  selectedKey = view[i].key;
  const scroller = $('flows-scroller');
  const head = $('flows-table').tHead.offsetHeight || ROW_HEIGHT;
  const rowTop = i * ROW_HEIGHT;
  const visible = scroller.clientHeight - head;
  if (rowTop < scroller.scrollTop) scroller.scrollTop = rowTop;
  else if (rowTop + ROW_HEIGHT > scroller.scrollTop + visible) scroller.scrollTop = rowTop + ROW_HEIGHT - visible;
  renderFlows();
  if (focus) $('flows-body').querySelector(`tr.flow[aria-rowindex="${i + 2}"]`)?.focus({ preventScroll: true });
}

function indexOfKey(key) {
  return view.findIndex((f) => f.key === key);
}

function flowKeys(e) {
  const row = e.target.closest?.('tr.flow');
  if (!row) return;
  const i = indexOfKey(row.dataset.key);
  const page = Math.max(1, Math.floor($('flows-scroller').clientHeight / ROW_HEIGHT) - 1);
  const moves = { ArrowDown: i + 1, ArrowUp: i - 1, PageDown: i + page, PageUp: i - page, Home: 0, End: view.length - 1 };
  if (e.key in moves) {
    e.preventDefault();
    selectIndex(moves[e.key]);
    if (storyOpenFor) openStory(view[indexOfKey(selectedKey)], false);
  } else if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    selectedKey = row.dataset.key;
    openStory(flows.get(selectedKey), true);
  }
}

// ---------------------------------------------------------------------------------------------
// The flow story

let storyOpenFor;
let storyOutcome;
let storyRequest = 0;
/** The flow whose story the panel holds (an update of the same flow keeps it until the new one arrives). */
let storyShown;

async function openStory(flow, focus) {
  if (!flow) return;
  selectedKey = flow.key;
  storyOpenFor = flow.key;
  storyOutcome = flow.outcome;
  $('story').hidden = false;
  $('story').parentElement.classList.add('with-story');
  const at = indexOfKey(flow.key);
  if (at >= 0) selectIndex(at, false);
  const request = ++storyRequest;
  $('story-title').textContent = `Flow ${flow.a.flow_id} · ${flow.sandbox}`;
  if (storyShown !== flow.key) $('story-body').replaceChildren(h('p', { class: 'muted' }, 'loading…'));
  storyShown = flow.key;
  try {
    const story = await api(`/_emulator/flows/${encodeURIComponent(flow.a.flow_id)}/story?sandbox=${encodeURIComponent(flow.sandbox)}`);
    if (request !== storyRequest) return;
    $('story-body').replaceChildren(renderStory(story));
  } catch (err) {
    if (request !== storyRequest) return;
    $('story-body').replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message), eventsJson(flow.events));
  }
  if (focus) $('story-title').focus();
}

function closeStory() {
  storyOpenFor = undefined;
  $('story').hidden = true;
  $('story').parentElement.classList.remove('with-story');
  const i = indexOfKey(selectedKey);
  if (i >= 0) selectIndex(i);
}

const stepTitles = {
  classification: 'Classification',
  'platform-checks': 'Platform checks',
  'rule-evaluation': 'Rule evaluation',
  'domain-and-verification': 'Domain phase and host verification',
  decision: 'Decision',
  'proxy-handshake': 'Proxy handshake (as the test proxy saw it)',
  relay: 'Relay',
  close: 'Close',
};

function factsList(facts, kind = 'facts') {
  if (!facts || Object.keys(facts).length === 0) return null;
  const dl = h('dl', { class: kind });
  for (const [k, v] of Object.entries(facts)) dl.append(h('dt', null, k), h('dd', { class: 'mono' }, Array.isArray(v) ? v.join(', ') : String(v)));
  return dl;
}

function timing(step) {
  const parts = [];
  if (step.offsetMs !== undefined) parts.push(`+${step.offsetMs} ms`);
  if (step.durationMs !== undefined) parts.push(`took ${step.durationMs} ms`);
  if (step.at) parts.push(clock(step.at));
  return parts.length ? h('span', { class: 'timing' }, parts.join(' · ')) : null;
}

function groupCell(values, result) {
  if (!values.length) return h('td', { class: 'muted' }, 'any');
  const mark = result === undefined ? '' : result ? ' ✓' : ' ✗';
  return h('td', { class: result === undefined ? '' : result ? 'g-yes' : 'g-no' }, values.join(', ') + mark);
}

function rulesTable(rules, mode) {
  const all = [...rules.tried, ...rules.notTried];
  if (all.length === 0) return h('p', { class: 'muted' }, `No trafficRules (mode ${mode || 'allow-all'}).`);
  const body = all.map((r) => {
    const tried = rules.tried.includes(r);
    const result = !tried ? 'not tried' : r.matched ? `matched → ${r.action}` : 'no match';
    return h(
      'tr',
      { class: r.matched ? 'matched' : tried ? '' : 'not-tried' },
      h('td', null, r.index),
      h('th', { scope: 'row' }, r.name || '(unnamed)'),
      h('td', null, r.action),
      groupCell(r.cidrs, r.groups.cidrs),
      groupCell(r.ports, r.groups.ports),
      groupCell(r.domains, r.groups.domains),
      groupCell(r.appProtocols, r.groups.appProtocols),
      h('td', null, result),
    );
  });
  return h(
    'table',
    { class: 'plain rules' },
    h('caption', null, `Traffic rules, first match wins (mode ${mode || 'allow-all'}; probe: host ${rules.probe.host || '—'}, protocol ${rules.probe.appProtocol || 'unknown'}, ${rules.probe.ip}:${rules.probe.port}/${rules.probe.transport})`),
    h('thead', null, h('tr', null, ...['#', 'Rule', 'Action', 'CIDRs', 'Ports', 'Domains', 'App protocols', 'Result'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, body),
  );
}

function eventsJson(events) {
  if (!events?.length) return null;
  return h('div', null, h('h3', null, 'Audit events'), h('pre', { tabindex: 0, 'aria-label': 'Audit event JSON' }, JSON.stringify(events, null, 2)));
}

function renderStory(story) {
  const frag = document.createDocumentFragment();
  const d = story.decision;
  frag.append(
    h(
      'p',
      null,
      h('strong', null, `${d.action} (${d.reason})`),
      d.matchedRule !== undefined ? ` · rule "${d.matchedRule}"` : '',
      d.route ? ` · route ${d.route}` : '',
      story.host ? ` · host ${story.host} from ${hostSourceWords[story.hostSource] ?? story.hostSource}` : '',
    ),
  );
  if (story.consistent === false) frag.append(h('p', { class: 'note' }, 'The policy has changed since this flow: the steps show the recorded decision, the rule table today\'s policy.'));
  const ol = h('ol', { class: 'steps', 'aria-label': 'Steps' });
  for (const step of story.steps) {
    const li = h(
      'li',
      { class: `s-${step.status}` },
      h('div', null, h('span', { class: 'step-name' }, stepTitles[step.step] ?? step.step), h('span', { class: 'badge' }, step.status), timing(step)),
      h('div', null, step.summary),
      factsList(step.facts),
    );
    if (step.step === 'rule-evaluation' && story.rules) li.append(rulesTable(story.rules, story.mode));
    ol.append(li);
  }
  const steps = h('div', null, h('h3', null, 'Steps'), ol);
  const events = eventsJson(story.events);
  frag.append(events ? h('div', { class: 'story-grid' }, steps, events) : steps);
  return frag;
}

// ---------------------------------------------------------------------------------------------
// Sandboxes

let currentSandbox;

/** Every sandbox, page by page (the list API returns at most 200 at a time). */
async function allSandboxes() {
  const out = [];
  for (let page = 0; page < 50; page++) {
    const data = await api(`/api/v1/sandboxes?limit=200&offset=${out.length}`);
    out.push(...(data.sandboxes ?? []));
    if (!data.has_more || !data.sandboxes?.length) break;
  }
  return out;
}

async function loadSandboxes() {
  const body = $('sandboxes-body');
  try {
    const list = await allSandboxes();
    body.replaceChildren(
      ...(list.length
        ? list.map((s) =>
            h(
              'tr',
              { class: s.id === currentSandbox ? 'matched' : '' },
              h('td', null, h('button', { type: 'button', onclick: () => showSandbox(s.id), 'aria-pressed': String(s.id === currentSandbox) }, s.id)),
              h('td', null, s.template_id ?? ''),
              h('td', null, s.status ?? ''),
            ),
          )
        : [h('tr', null, h('td', { colspan: 3, class: 'muted' }, 'No sandboxes yet.'))]),
    );
    if (currentSandbox && !list.some((s) => s.id === currentSandbox)) {
      currentSandbox = undefined;
      $('sandbox-detail').replaceChildren();
    }
  } catch (err) {
    body.replaceChildren(h('tr', null, h('td', { colspan: 3, class: 'error' }, err.message)));
  }
}

function ports(list) {
  return (list ?? []).map((p) => `${p.port}${p.endPort ? `-${p.endPort}` : ''}/${p.protocol || 'tcp'}`);
}

function policyRulesTable(egress) {
  const rules = egress?.trafficRules ?? [];
  if (!rules.length) return h('p', { class: 'muted' }, 'No trafficRules.');
  return h(
    'table',
    { class: 'plain' },
    h('caption', null, 'Traffic rules (first match wins)'),
    h('thead', null, h('tr', null, ...['#', 'Name', 'Action', 'CIDRs', 'Ports', 'Domains', 'App protocols'].map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      null,
      rules.map((r, i) =>
        h(
          'tr',
          null,
          h('td', null, i),
          h('th', { scope: 'row' }, r.name || '(unnamed)'),
          h('td', null, r.action),
          h('td', null, (r.cidrs ?? []).join(', ') || 'any'),
          h('td', null, ports(r.ports).join(', ') || 'any'),
          h('td', null, (r.domains ?? []).join(', ') || 'any'),
          h('td', null, (r.appProtocols ?? []).join(', ') || 'any'),
        ),
      ),
    ),
  );
}

function legacyLists(egress) {
  const rows = [];
  for (const k of ['allowedCidrs', 'allowedDomains', 'deniedCidrs', 'deniedDomains']) if (egress?.[k]?.length) rows.push([k, egress[k].join(', ')]);
  for (const k of ['allowedPorts', 'deniedPorts']) if (egress?.[k]?.length) rows.push([k, ports(egress[k]).join(', ')]);
  if (!rows.length) return null;
  return h('table', { class: 'plain' }, h('caption', null, 'Legacy lists'), h('tbody', null, rows.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', null, v)))));
}

function bindingsTable(bindings, sources) {
  const source = (name) => sources.find((s) => s.name === name);
  if (!bindings?.length) return h('p', { class: 'muted' }, 'No credential bindings.');
  return h(
    'table',
    { class: 'plain' },
    h('caption', null, 'Credential bindings (secrets are write-only and never shown)'),
    h('thead', null, h('tr', null, ...['Ref', 'Source', 'Source kind', 'Source version', 'Projection', 'Cache'].map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      null,
      bindings.map((b) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, b.ref),
          h('td', null, b.sourceRef),
          h('td', null, source(b.sourceRef)?.resolverKind ?? source(b.sourceRef)?.resolver_kind ?? '(missing)'),
          h('td', null, source(b.sourceRef)?.currentVersion ?? source(b.sourceRef)?.current_version ?? ''),
          h('td', null, b.projection?.type ?? ''),
          h('td', null, b.cachePolicy?.ttl ?? ''),
        ),
      ),
    ),
  );
}

const appProtocolOptions = ['', 'http', 'tls', 'ssh', 'socks5', 'mqtt', 'redis', 'amqp', 'dns', 'mongodb', 'udp'];

function evaluateForm(id) {
  const out = h('div', { 'aria-live': 'polite' });
  const field = (label, input) => h('label', null, label, ' ', input);
  const host = h('input', { name: 'host', placeholder: 'api.internal.example.com', spellcheck: 'false' });
  const ip = h('input', { name: 'ip', placeholder: '198.18.0.10', size: 14, spellcheck: 'false' });
  const port = h('input', { name: 'port', type: 'number', min: 1, max: 65535, value: 443, required: true });
  const transport = h('select', { name: 'transport' }, h('option', { value: 'tcp' }, 'tcp'), h('option', { value: 'udp' }, 'udp'));
  const app = h('select', { name: 'appProtocol' }, appProtocolOptions.map((p) => h('option', { value: p }, p || '(guess from port)')));
  const form = h(
    'form',
    {
      class: 'eval-form',
      'aria-label': 'Evaluate a flow',
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { port: Number(port.value), transport: transport.value };
        if (host.value.trim()) body.host = host.value.trim();
        if (ip.value.trim()) body.ip = ip.value.trim();
        if (app.value) body.appProtocol = app.value;
        out.replaceChildren(h('p', { class: 'muted' }, 'evaluating…'));
        try {
          const r = await api(`/_emulator/sandboxes/${encodeURIComponent(id)}/evaluate/story`, { method: 'POST', body: JSON.stringify(body) });
          out.replaceChildren(renderStory(r.story), h('details', null, h('summary', null, 'Dry-run JSON'), h('pre', null, JSON.stringify(r.decision, null, 2))));
        } catch (err) {
          out.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
        }
      },
    },
    field('Host', host),
    field('IP', ip),
    field('Port', port),
    field('Transport', transport),
    field('App protocol', app),
    h('button', { type: 'submit' }, 'Evaluate'),
  );
  return h('section', { 'aria-label': 'Evaluate' }, h('h3', null, 'Evaluate (dry run)'), form, out);
}

async function showSandbox(id) {
  currentSandbox = id;
  const detail = $('sandbox-detail');
  detail.replaceChildren(h('p', { class: 'muted' }, 'loading…'));
  try {
    const [emu, policy, sources] = await Promise.all([
      api(`/_emulator/sandboxes/${encodeURIComponent(id)}`),
      api(`/api/v1/sandboxes/${encodeURIComponent(id)}/network`),
      api('/api/v1/credential-sources').catch(() => []),
    ]);
    const egress = policy?.egress;
    const info = {
      interception: emu.interception,
      ...(emu.ingress ? { 'SOCKS5 ingress': emu.ingress.socks5, 'HTTP CONNECT ingress': emu.ingress.httpConnect } : {}),
      ...(emu.namespace ? { namespace: emu.namespace } : {}),
      ...(emu.address ? { address: emu.address } : {}),
      mode: policy?.mode || 'allow-all',
      proxy: egress?.proxy ? `${egress.proxy.type} ${egress.proxy.address}${egress.proxy.credentialRef ? ` (credentialRef ${egress.proxy.credentialRef})` : ''}` : 'none (direct)',
    };
    const hosts = Object.entries(emu.hosts ?? {});
    detail.replaceChildren(
      h('h2', null, id),
      factsList(info, 'info'),
      h('h3', null, 'Policy'),
      policyRulesTable(egress),
      legacyLists(egress) ?? '',
      egress?.protocolRules?.length || egress?.credentialRules?.length ? h('p', { class: 'note' }, 'protocolRules / credentialRules are stored but not enforced by the emulator.') : '',
      bindingsTable(policy?.credentialBindings, Array.isArray(sources) ? sources : (sources?.sources ?? sources?.credential_sources ?? [])),
      hosts.length
        ? h('table', { class: 'plain' }, h('caption', null, 'Sandbox hosts entries'), h('tbody', null, hosts.map(([n, a]) => h('tr', null, h('th', { scope: 'row' }, n), h('td', null, a.join(', '))))))
        : '',
      h('details', null, h('summary', null, 'Raw policy JSON'), h('pre', { tabindex: 0 }, JSON.stringify(policy, null, 2))),
      evaluateForm(id),
    );
    loadSandboxes();
  } catch (err) {
    detail.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
  }
}

// ---------------------------------------------------------------------------------------------
// Proxy

/**
 * The fault types, from the emulator's own OpenAPI document (one `oneOf` branch per registered kind):
 * a fault added to the registry shows up here without touching this page.
 */
async function loadFaultTypes() {
  const res = await fetch('/_emulator/openapi.json', { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new ApiFailure(res.status, 'openapi', `${res.status} ${res.statusText}`);
  const doc = await res.json();
  const deref = (s) => (s && typeof s.$ref === 'string' ? doc.components?.schemas?.[s.$ref.split('/').pop()] : s);
  const request = deref(doc.paths?.['/_emulator/proxy/faults']?.post?.requestBody?.content?.['application/json']?.schema);
  const types = (request?.oneOf ?? []).map((branch) => deref(branch)?.properties?.type?.const).filter((t) => typeof t === 'string');
  if (types.length === 0) throw new ApiFailure(0, 'openapi', 'the OpenAPI document lists no fault types');
  return types;
}

async function loadProxy() {
  if (!emulatorInfo?.testProxy) {
    $('proxy-missing').hidden = false;
    return;
  }
  if ($('fault-type').options.length === 0) $('fault-type').replaceChildren(...(await loadFaultTypes()).map((t) => h('option', { value: t }, t)));
  await Promise.all([loadUsers(), loadFaults(), loadCustomerDns(), loadConnections()]);
}

async function loadUsers() {
  try {
    const { users } = await api('/_emulator/proxy/users');
    $('users-body').replaceChildren(...users.map((u) => h('tr', null, h('td', null, u.username))));
  } catch (err) {
    $('users-body').replaceChildren(h('tr', null, h('td', { class: 'error' }, err.message)));
  }
}

async function loadFaults() {
  try {
    const { faults } = await api('/_emulator/proxy/faults');
    $('faults-body').replaceChildren(
      ...(faults.length
        ? faults.map((f) =>
            h(
              'tr',
              null,
              h('th', { scope: 'row' }, f.name),
              h('td', null, f.type),
              h('td', null, f.toxicity),
              h('td', { class: 'mono' }, JSON.stringify(f.attributes ?? {})),
              h('td', { class: 'mono' }, JSON.stringify(f.match ?? {})),
              h('td', null, h('button', { type: 'button', onclick: () => removeFault(f.name), 'aria-label': `Remove fault ${f.name}` }, 'Remove')),
            ),
          )
        : [h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'No active faults.'))]),
    );
  } catch (err) {
    $('faults-body').replaceChildren(h('tr', null, h('td', { colspan: 6, class: 'error' }, err.message)));
  }
}

async function removeFault(name) {
  try {
    await api(`/_emulator/proxy/faults/${encodeURIComponent(name)}`, { method: 'DELETE' });
    $('fault-error').textContent = '';
  } catch (err) {
    $('fault-error').textContent = err.message;
  }
  loadFaults();
}

async function addFault(e) {
  e.preventDefault();
  const error = $('fault-error');
  let attributes;
  let match;
  try {
    attributes = JSON.parse($('fault-attributes').value || '{}');
    match = JSON.parse($('fault-match').value || '{}');
  } catch (err) {
    error.textContent = `attributes and match must be JSON objects: ${err.message}`;
    return;
  }
  const definition = { type: $('fault-type').value, toxicity: Number($('fault-toxicity').value), attributes, match };
  if ($('fault-name').value.trim()) definition.name = $('fault-name').value.trim();
  try {
    await api('/_emulator/proxy/faults', { method: 'POST', body: JSON.stringify(definition) });
    error.textContent = '';
  } catch (err) {
    error.textContent = err.message;
  }
  loadFaults();
}

async function loadCustomerDns() {
  try {
    const { records } = await api('/_emulator/dns/customer');
    $('customer-dns-body').replaceChildren(...Object.entries(records).map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, k), h('td', { class: 'mono' }, v))));
  } catch (err) {
    $('customer-dns-body').replaceChildren(h('tr', null, h('td', { colspan: 2, class: 'error' }, err.message)));
  }
}

async function loadConnections() {
  try {
    const { connections } = await api('/_emulator/proxy/connections?limit=500');
    // A proxied flow's audit names the gateway's end of its proxy connection: the entry's client.
    const bySource = new Map();
    for (const f of ordered) if (f.a.proxy_source) bySource.set(f.a.proxy_source, f);
    const flowOf = (c) => {
      const f = bySource.get(c.client);
      return f && Math.abs(Date.parse(f.time) - Date.parse(c.time)) < 60_000 ? f : undefined;
    };
    $('connections-body').replaceChildren(
      ...connections.reverse().map((c) =>
        h(
          'tr',
          null,
          h('td', null, c.id),
          h(
            'td',
            null,
            flowOf(c)
              ? h('button', { type: 'button', onclick: () => (selectTab('flows'), openStory(flowOf(c), true)), 'aria-label': `Open the story of flow ${flowOf(c).a.flow_id}` }, flowOf(c).a.flow_id)
              : '',
          ),
          h('td', { title: c.time }, clock(c.time)),
          h('td', { class: 'mono' }, c.client),
          h('td', null, `${(c.methods ?? []).join(', ')} → ${c.method ?? '?'}`),
          h('td', null, c.user ? `${c.user}${c.auth ? ` (${c.auth})` : ''}` : ''),
          h('td', null, c.atyp ?? ''),
          h('td', { class: 'mono' }, c.host ? `${c.host}:${c.port}` : ''),
          h('td', null, c.replyCode === undefined ? '' : `0x${c.replyCode.toString(16).padStart(2, '0')}`),
          h('td', { class: 'mono' }, c.upstream ?? ''),
          h('td', null, `${c.bytesUp}/${c.bytesDown}`),
          h('td', null, `${c.durationMs} ms`),
          h('td', null, c.state === 'open' ? 'open' : (c.closeCause ?? '')),
          h('td', null, (c.faults ?? []).join(', ')),
        ),
      ),
    );
  } catch (err) {
    $('connections-body').replaceChildren(h('tr', null, h('td', { colspan: 14, class: 'error' }, err.message)));
  }
}

// ---------------------------------------------------------------------------------------------
// Export: the state and the flows as one JSON file (never the token or a password)

async function exportState() {
  const button = $('export');
  button.disabled = true;
  try {
    const get = (path) => api(path).catch((err) => ({ error: err.message }));
    const { token: _token, testProxy, ...info } = await api('/_emulator/info');
    const list = await allSandboxes();
    const sandboxes = await Promise.all(
      list.map(async (s) => ({ id: s.id, template_id: s.template_id, emulator: await get(`/_emulator/sandboxes/${encodeURIComponent(s.id)}`), network: await get(`/api/v1/sandboxes/${encodeURIComponent(s.id)}/network`) })),
    );
    const proxy = testProxy
      ? {
          address: testProxy.address,
          users: (await get('/_emulator/proxy/users')).users,
          faults: (await get('/_emulator/proxy/faults')).faults,
          customerDns: (await get('/_emulator/dns/customer')).records,
          connections: (await get('/_emulator/proxy/connections')).connections,
        }
      : undefined;
    const doc = {
      kind: 'sandbox-egress-emulator/export',
      version: 1,
      exportedAt: new Date().toISOString(),
      emulator: info,
      platformDns: (await get('/_emulator/dns/platform')).records,
      sandboxes,
      ...(proxy ? { proxy } : {}),
      flows: ordered.map((f) => f.events).flat(),
    };
    const url = URL.createObjectURL(new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' }));
    const a = h('a', { href: url, download: `emulator-export-${doc.exportedAt.replace(/[:.]/g, '-')}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    alert(`export failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring

function init() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('token').value.trim();
    if (value) signIn(value);
  });
  $('sign-out').addEventListener('click', () => onUnauthorized(''));
  $('export').addEventListener('click', exportState);
  for (const t of tabs) $(`tab-${t}`).addEventListener('click', () => selectTab(t));
  $('tabs').addEventListener('keydown', tabKeys);
  for (const id of ['f-sandbox', 'f-outcome', 'f-reason']) $(id).addEventListener('change', () => (refilter(), renderFlows()));
  $('f-text').addEventListener('input', () => (refilter(), renderFlows()));
  $('flow-filters').addEventListener('submit', (e) => e.preventDefault());
  // Scroll events already come at most once per frame (before its animation callbacks): render at once.
  $('flows-scroller').addEventListener('scroll', () => renderFlows(false), { passive: true });
  window.addEventListener('resize', () => renderFlows());
  $('flows-body').addEventListener('click', (e) => {
    const row = e.target.closest('tr.flow');
    if (row) openStory(flows.get(row.dataset.key), false);
  });
  $('flows-body').addEventListener('keydown', flowKeys);
  $('story-close').addEventListener('click', closeStory);
  $('story').addEventListener('keydown', (e) => e.key === 'Escape' && closeStory());
  $('view-flows').addEventListener('keydown', (e) => e.key === 'Escape' && storyOpenFor && closeStory());
  $('sandboxes-refresh').addEventListener('click', loadSandboxes);
  $('connections-refresh').addEventListener('click', loadConnections);
  $('fault-form').addEventListener('submit', addFault);
  setInterval(() => {
    if (signedIn && emulatorInfo?.testProxy && !$('view-proxy').hidden) loadConnections();
  }, 2000);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
  else showLogin('');
  document.documentElement.dataset.ready = 'true';
}

init();
