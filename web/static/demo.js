// demo.js: the demo page. Connects an AlarmClient, shows the user's inbox in <alarm-inbox>
// (#inbox, alarm-inbox.js) and mirrors the connection into the developer panel (#state, #node,
// #epoch, #last-id, #alarms li[data-id], #unread-badge, li[data-read]) so people and browser
// tests can read it.
import { AlarmClient, compareIds } from './client.js';

const $ = (sel) => document.querySelector(sel);
const els = {
  state: $('#state'),
  node: $('#node'),
  epoch: $('#epoch'),
  lastId: $('#last-id'),
  count: $('#alarm-count'),
  configMsg: $('#config-msg'),
  stale: $('#stale-banner'),
  staleText: $('#stale-text'),
  alarms: $('#alarms'),
  log: $('#log'),
  wsURL: $('#ws-url'),
  transport: $('#transport'),
  shared: $('#shared'),
  user: $('#user'),
  token: $('#token'),
  apiKey: $('#api-key'),
  pubChannel: $('#pub-channel'),
  pubEvent: $('#pub-event'),
  pubData: $('#pub-data'),
  pubIdem: $('#pub-idem'),
  pubResult: $('#publish-result'),
  unread: $('#unread-badge'),
  inbox: $('#inbox'),
};

let client = null;
let received = 0;

// The page and its API live on the same origin; the WebSocket may be elsewhere.
function defaultWS() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v1/ws`;
}

async function loadConfig() {
  els.wsURL.value = defaultWS();
  try {
    const res = await fetch('/demo/config', { headers: { Accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const cfg = await res.json();
    if (typeof cfg.token !== 'string' || cfg.token === '') throw new Error('no token in config');
    els.token.value = cfg.token;
    els.apiKey.value = cfg.api_key ?? '';
    if (cfg.user) els.user.value = cfg.user;
    if (cfg.ws) els.wsURL.value = cfg.ws;
    els.pubChannel.value = `user:${els.user.value}`;
    return true;
  } catch (err) {
    showConfigMsg(
      `Demo config is not available (${err.message}): the gateway is not running in demo mode. ` +
        'Paste a client token and an API key below, then press Connect.',
    );
    return false;
  }
}

function showConfigMsg(text) {
  els.configMsg.textContent = text;
  els.configMsg.hidden = false;
}

function connect() {
  if (client) client.stop();
  const endpoints = els.wsURL.value.split(/[\s,]+/).filter(Boolean);
  const token = els.token.value.trim();
  if (!token || endpoints.length === 0) {
    showConfigMsg('A client token and at least one WebSocket URL are needed to connect.');
    return;
  }
  client = new AlarmClient({
    endpoints,
    token,
    user: els.user.value.trim() || 'demo',
    transport: els.transport.value === 'sse' ? 'sse' : 'websocket',
    shared: els.shared.checked,
  });
  client.addEventListener('status', (e) => onStatus(e.detail));
  client.addEventListener('welcome', () => showPosition());
  client.addEventListener('alarm', (e) => addAlarm(e.detail));
  client.addEventListener('state', (e) => applyState(e.detail));
  client.addEventListener('counts', (e) => showCounts(e.detail));
  client.addEventListener('stateerror', (e) => log(`state change refused: ${e.detail.message}`));
  client.addEventListener('resumed', (e) => log(`resumed: ${e.detail.resume.replayed} replayed`));
  client.addEventListener('stale', (e) => showStale(e.detail.resume.status));
  client.addEventListener('disconnected', (e) => log(`disconnected: ${e.detail.code} ${e.detail.reason}`));
  client.addEventListener('tokenexpired', () => {
    showConfigMsg('Token rejected (4001): paste a new token and press Connect.');
  });
  client.addEventListener('error', (e) => log(`error (${e.detail.phase}): ${e.detail.error}`));
  showInbox(client);
  showPosition();
  client.start();
}

// showInbox gives the header's <alarm-inbox> a model of client's inbox. Its HTTP calls go to
// the page's own node (the WebSocket may be on another).
function showInbox(c) {
  const old = els.inbox.inbox;
  const inbox = c.inbox({ api: location.origin });
  inbox.addEventListener('error', (e) => log(`inbox ${e.detail.phase}: ${e.detail.error}`));
  els.inbox.inbox = inbox;
  old?.close();
}

function onStatus(s) {
  els.state.textContent = s.state;
  els.state.dataset.state = s.state;
  els.node.textContent = s.node ?? '–';
  let line = s.state;
  if (s.state === 'connecting') line += ` ${s.endpoint}`;
  if (s.state === 'open') line += ` on ${s.node} (${s.resume})`;
  if (s.state === 'closed') line += ` ${s.code}${s.reconnect ? `, retry in ${s.delay} ms` : ''}`;
  log(line);
}

function showPosition() {
  const p = client.position();
  els.lastId.textContent = p.last_id ?? '–';
  els.epoch.textContent = p.epoch ?? '–';
}

function showStale(status) {
  els.stale.dataset.status = status;
  els.staleText.textContent =
    `Resume status "${status}": alarms may have been missed. ` +
    'Refetch your state (GET /v1/alarms) before trusting this list.';
  els.stale.hidden = false;
  log(`stale: ${status}`);
}

function addAlarm(a) {
  const li = document.createElement('li');
  li.dataset.id = a.id;
  li.dataset.channel = a.channel;
  li.dataset.event = a.event;
  if (a.replayed) li.dataset.replayed = 'true';
  const head = document.createElement('div');
  head.className = 'head';
  for (const [cls, text] of [['id', a.id], ['channel', a.channel], ['event', a.event]]) {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    head.append(span);
  }
  if (a.replayed) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'replayed';
    head.append(badge);
  }
  const pre = document.createElement('pre');
  pre.textContent = JSON.stringify(a.data);
  li.append(head, pre);
  if (typeof a.unread === 'number') {
    // An inbox alarm: unread until a state event says otherwise; a click marks it read.
    li.dataset.read = 'false';
    li.classList.add('unread');
    li.addEventListener('click', () => {
      if (li.dataset.read === 'false') client?.markRead([a.id]).catch((err) => log(`mark read: ${err.message}`));
    });
  }
  els.alarms.prepend(li);
  els.count.textContent = String(++received);
  showPosition();
}

// ---- Inbox state: badge and read styling, in sync with every device through state events ----

function showCounts(c) {
  els.unread.textContent = String(c.unread);
  els.unread.dataset.unread = String(c.unread);
}

function applyState(s) {
  const read = { read: 'true', unread: 'false' }[s.op];
  if (read === undefined) return; // seen and archive do not change the styling
  const hit = (id) => (s.ids ? s.ids.includes(id) : compareIds(id, s.up_to) <= 0);
  for (const li of els.alarms.querySelectorAll('li[data-read]')) {
    if (!hit(li.dataset.id)) continue;
    li.dataset.read = read;
    li.classList.toggle('unread', read === 'false');
  }
}

function log(text) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  els.log.prepend(li);
  while (els.log.children.length > 50) els.log.lastElementChild.remove();
}

async function publish() {
  let data;
  try {
    data = JSON.parse(els.pubData.value || 'null');
  } catch (err) {
    return showResult('invalid', `Data is not valid JSON: ${err.message}`);
  }
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${els.apiKey.value.trim()}` };
  if (els.pubIdem.value.trim()) headers['Idempotency-Key'] = els.pubIdem.value.trim();
  const body = JSON.stringify({ channel: els.pubChannel.value.trim(), event: els.pubEvent.value, data });
  try {
    const res = await fetch('/v1/alarms', { method: 'POST', headers, body });
    const out = await res.json().catch(() => ({}));
    if (res.ok) return showResult(String(res.status), `${res.status}: published ${out.id}`, out.id);
    const e = out.error ?? {};
    showResult(String(res.status), `${res.status} ${e.code ?? ''}: ${e.message ?? res.statusText}`);
  } catch (err) {
    showResult('network', `Publish failed: ${err.message}`);
  }
}

function showResult(status, text, id = '') {
  els.pubResult.dataset.status = status;
  els.pubResult.dataset.id = id;
  els.pubResult.textContent = text;
}

$('#connect-form').addEventListener('submit', (e) => {
  e.preventDefault();
  els.configMsg.hidden = true;
  connect();
});
$('#disconnect').addEventListener('click', () => client?.stop());
$('#forget').addEventListener('click', () => {
  client?.stop();
  localStorage.removeItem(`alarmgate:${els.user.value.trim() || 'demo'}`);
  els.lastId.textContent = els.epoch.textContent = '–';
  log('position forgotten; Connect starts fresh');
});
$('#publish-form').addEventListener('submit', (e) => {
  e.preventDefault();
  publish();
});
$('#mark-all-read').addEventListener('click', () => {
  client?.markAllRead().catch((err) => log(`mark all read: ${err.message}`));
});
$('#stale-dismiss').addEventListener('click', () => {
  els.stale.hidden = true;
});

// Exposed for debugging and browser tests.
window.alarmDemo = { get client() { return client; }, get inbox() { return els.inbox.inbox; }, connect, publish };

if (await loadConfig()) connect();
