// Unit tests for client.js: node --test web/static/client.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlarmClient, AlarmInbox, GatewayHTTPError, backoffDelay, compareIds } from './client.js';

const EVENTS = ['alarm', 'status', 'welcome', 'resumed', 'stale', 'disconnected', 'tokenexpired', 'error'];

class MemStorage {
  constructor(init = {}) {
    this.m = new Map(Object.entries(init));
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    this.m.set(k, String(v));
  }
}

// harness builds a client on a fake WebSocket. socket(i) resolves to the i-th socket created.
function harness(t, opts = {}) {
  const sockets = [];
  const waiters = [];
  class FakeWS {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.closed = null;
      sockets.push(this);
      for (const w of waiters.splice(0)) {
        if (w.i < sockets.length) w.res(sockets[w.i]);
        else waiters.push(w);
      }
    }
    send(d) {
      this.sent.push(JSON.parse(d));
    }
    close(code, reason) {
      this.closed = { code, reason };
    }
    open() {
      this.onopen?.({});
    }
    receive(...msgs) {
      this.onmessage?.({ data: msgs.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join('\n') });
    }
    serverClose(code, reason = '') {
      this.onclose?.({ code, reason });
    }
  }
  const storage = opts.storage ?? new MemStorage();
  const client = new AlarmClient({
    endpoints: ['ws://a/v1/ws', 'ws://b/v1/ws'],
    token: 'tok',
    user: 'u',
    storage,
    WebSocketImpl: FakeWS,
    minBackoff: 1,
    maxBackoff: 4,
    ...opts,
  });
  const events = [];
  for (const type of EVENTS) client.addEventListener(type, (e) => events.push({ type, detail: e.detail }));
  t.after(() => client.stop());
  const socket = (i) =>
    i < sockets.length ? Promise.resolve(sockets[i]) : new Promise((res) => waiters.push({ i, res }));
  const of = (type) => events.filter((e) => e.type === type).map((e) => e.detail);
  return { client, storage, sockets, socket, events, of };
}

// connect starts the client and opens socket i, returning it with its hello.
async function connect(h, i = 0) {
  if (i === 0) h.client.start();
  const ws = await h.socket(i);
  ws.open();
  return ws;
}

const welcome = (position, resume = { status: 'new' }, epoch = 'E1') => ({
  type: 'welcome',
  node: 'gw-1',
  epoch,
  channels: ['user:u', 'broadcast'],
  position,
  resume,
});
const alarm = (id) => ({ type: 'alarm', id, channel: 'user:u', event: 'e', data: { id }, ts: 1 });
const once = (target, type) => new Promise((res) => target.addEventListener(type, (e) => res(e.detail), { once: true }));

test('compareIds orders numerically per part', () => {
  const cases = [
    ['1-0', '1-0', 0],
    ['1-0', '1-1', -1],
    ['2-0', '1-9', 1],
    ['10-0', '9-99', 1],
    ['007-1', '7-1', 0],
    ['1-18446744073709551616', '1-18446744073709551615', 1],
    ['1732530000000-3', '1732530000001-0', -1],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(compareIds(a, b), want, `${a} vs ${b}`);
    assert.equal(compareIds(b, a), -want || 0, `${b} vs ${a}`);
  }
  for (const bad of ['', '1', '1-', '-1', 'a-1', '1-2-3', ' 1-2', null]) assert.ok(Number.isNaN(compareIds(bad, '1-1')), String(bad));
});

test('backoffDelay stays within full-jitter bounds', () => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const cap = Math.min(10000, 100 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, 100, 10000, () => 0), 0);
    const hi = backoffDelay(attempt, 100, 10000, () => 0.999999);
    assert.ok(hi < cap && hi >= cap - 1, `attempt ${attempt}: ${hi} vs cap ${cap}`);
    for (let i = 0; i < 20; i++) {
      const d = backoffDelay(attempt, 100, 10000);
      assert.ok(d >= 0 && d < cap && Number.isInteger(d));
    }
  }
});

test('hello carries token, and last_id and epoch when known', async (t) => {
  const h = harness(t);
  const ws = await connect(h);
  assert.deepEqual(ws.sent, [{ type: 'hello', token: 'tok' }]);

  const storage = new MemStorage({ 'alarmgate:u': JSON.stringify({ last_id: '5-1', epoch: 'E1' }) });
  const h2 = harness(t, { storage });
  const ws2 = await connect(h2);
  assert.deepEqual(ws2.sent, [{ type: 'hello', token: 'tok', last_id: '5-1', epoch: 'E1' }]);
});

test('frames are split on newlines; pings, unknown types and junk are ignored', async (t) => {
  const h = harness(t);
  const ws = await connect(h);
  ws.receive(welcome('0-0'), alarm('1-0'), '', '{"type":"ping"}', '{"type":"future","x":1}', 'not json', '42', alarm('2-0'));
  assert.deepEqual(h.of('alarm').map((a) => a.id), ['1-0', '2-0']);
  assert.equal(h.of('welcome').length, 1);
  const open = h.of('status').find((s) => s.state === 'open');
  assert.equal(open.node, 'gw-1');
  assert.equal(open.epoch, 'E1');
});

test('duplicates at or below the last id are dropped', async (t) => {
  const h = harness(t);
  const ws = await connect(h);
  ws.receive(welcome('5-0'));
  ws.receive(alarm('4-9'), alarm('5-0'), alarm('5-1'), alarm('5-1'), alarm('10-0'), alarm('9-99'));
  assert.deepEqual(h.of('alarm').map((a) => a.id), ['5-1', '10-0']);
  assert.equal(h.of('alarm')[0].replayed, false);
});

test('position is persisted after welcome and alarm, and a new client resumes from it', async (t) => {
  const storage = new MemStorage();
  const h = harness(t, { storage });
  const ws = await connect(h);
  ws.receive(welcome('3-0'));
  assert.deepEqual(JSON.parse(storage.getItem('alarmgate:u')), { last_id: '3-0', epoch: 'E1' });
  ws.receive(alarm('4-2'));
  assert.deepEqual(h.client.position(), { last_id: '4-2', epoch: 'E1' });
  assert.deepEqual(JSON.parse(storage.getItem('alarmgate:u')), { last_id: '4-2', epoch: 'E1' });
  h.client.stop();

  const h2 = harness(t, { storage });
  assert.deepEqual(h2.client.position(), { last_id: '4-2', epoch: 'E1' });
  const ws2 = await connect(h2);
  assert.deepEqual(ws2.sent[0], { type: 'hello', token: 'tok', last_id: '4-2', epoch: 'E1' });

  const junk = harness(t, { storage: new MemStorage({ 'alarmgate:u': '{not json' }) });
  assert.deepEqual(junk.client.position(), { last_id: null, epoch: null });
});

test('reconnects with backoff, rotating endpoints and resuming', async (t) => {
  const h = harness(t, { random: () => 0.5, minBackoff: 2, maxBackoff: 4 });
  const ws0 = await connect(h);
  assert.equal(ws0.url, 'ws://a/v1/ws');
  ws0.serverClose(1006); // no welcome yet: attempt 0
  ws0.serverClose(1006); // ignored: socket already dropped
  const ws1 = await connect(h, 1);
  assert.equal(ws1.url, 'ws://b/v1/ws');
  ws1.serverClose(1013); // attempt 1
  const ws2 = await connect(h, 2);
  assert.equal(ws2.url, 'ws://a/v1/ws');
  ws2.receive(welcome('7-0'));
  ws2.serverClose(4029); // welcome reset the attempts
  const ws3 = await connect(h, 3);
  assert.deepEqual(ws3.sent[0], { type: 'hello', token: 'tok', last_id: '7-0', epoch: 'E1' });
  const closed = h.of('status').filter((s) => s.state === 'closed');
  assert.deepEqual(closed.map((s) => [s.code, s.reconnect, s.delay]), [
    [1006, true, 1],
    [1013, true, 2],
    [4029, true, 1],
  ]);
  assert.deepEqual(h.of('disconnected').map((d) => d.code), [1006, 1013, 4029]);
});

test('1012 reconnects at once', async (t) => {
  const h = harness(t, { random: () => 0.5, minBackoff: 1000, maxBackoff: 1000 });
  const ws = await connect(h);
  ws.receive(welcome('1-0'));
  ws.serverClose(1012, 'draining');
  await h.socket(1);
  assert.equal(h.of('status').find((s) => s.state === 'closed').delay, 0);
});

test('4001 calls the token function again before reconnecting', async (t) => {
  let calls = 0;
  const h = harness(t, { token: async () => `jwt-${++calls}` });
  const ws0 = await connect(h);
  assert.equal(ws0.sent[0].token, 'jwt-1');
  ws0.serverClose(1006);
  const ws1 = await connect(h, 1);
  assert.equal(ws1.sent[0].token, 'jwt-1', 'token is reused across ordinary reconnects');
  ws1.serverClose(4001, 'token expired');
  const ws2 = await connect(h, 2);
  assert.equal(ws2.sent[0].token, 'jwt-2');
  assert.equal(calls, 2);
});

test('4001 with a string token waits for setToken', async (t) => {
  const h = harness(t);
  const ws0 = await connect(h);
  ws0.receive(welcome('2-0'));
  ws0.serverClose(4001, 'bad token');
  assert.deepEqual(h.of('tokenexpired'), [{ code: 4001, reason: 'bad token' }]);
  assert.equal(h.client._retry, null, 'no reconnect scheduled');
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(h.sockets.length, 1);
  h.client.setToken('fresh');
  const ws1 = await connect(h, 1);
  assert.deepEqual(ws1.sent[0], { type: 'hello', token: 'fresh', last_id: '2-0', epoch: 'E1' });
});

test('4000 and 1000 stop the client', async (t) => {
  for (const code of [4000, 1000]) {
    const h = harness(t);
    const ws = await connect(h);
    ws.serverClose(code, 'bye');
    assert.deepEqual(h.of('disconnected'), [{ code, reason: 'bye' }]);
    const last = h.of('status').at(-1);
    assert.equal(last.state, 'closed');
    assert.equal(last.reconnect, false);
    assert.equal(h.client._retry, null);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(h.sockets.length, 1);
    h.client.start(); // a stopped client can be started again
    await h.socket(1);
  }
});

test('alarms of a resume replay are marked replayed', async (t) => {
  const storage = new MemStorage({ 'alarmgate:u': JSON.stringify({ last_id: '1-0', epoch: 'E1' }) });
  const h = harness(t, { storage });
  const ws = await connect(h);
  ws.receive(welcome('1-0', { status: 'resumed', replayed: 2 }), alarm('2-0'), alarm('3-0'));
  ws.receive(alarm('4-0'));
  assert.deepEqual(h.of('alarm').map((a) => [a.id, a.replayed]), [
    ['2-0', true],
    ['3-0', true],
    ['4-0', false],
  ]);
  assert.equal(h.of('resumed').length, 1);
  assert.equal(h.of('stale').length, 0);
  ws.serverClose(1006);
  const ws1 = await connect(h, 1);
  ws1.receive(welcome('4-0', { status: 'resumed', replayed: 0 }), alarm('5-0'));
  assert.equal(h.of('alarm').at(-1).replayed, false);
});

test('stale welcomes emit stale and move to the new position', async (t) => {
  for (const status of ['expired', 'epoch_changed', 'invalid']) {
    const storage = new MemStorage({ 'alarmgate:u': JSON.stringify({ last_id: '100-0', epoch: 'E1' }) });
    const h = harness(t, { storage });
    const ws = await connect(h);
    ws.receive(welcome('3-0', { status }, 'E2'), alarm('4-0'));
    assert.equal(h.of('stale').length, 1, status);
    assert.equal(h.of('stale')[0].resume.status, status);
    assert.equal(h.of('resumed').length, 0);
    assert.deepEqual(h.of('alarm').map((a) => [a.id, a.replayed]), [['4-0', false]], status);
    assert.deepEqual(h.client.position(), { last_id: '4-0', epoch: 'E2' });
  }
  const h = harness(t);
  const ws = await connect(h);
  ws.receive(welcome('0-0', { status: 'new' }));
  assert.equal(h.of('stale').length + h.of('resumed').length, 0, 'new is neither stale nor resumed');
});

test('idle connections are dropped and reconnected', async (t) => {
  const h = harness(t, { idleTimeout: 5 });
  const ws0 = await connect(h);
  const d = await once(h.client, 'disconnected');
  assert.deepEqual(d, { code: 1006, reason: 'idle timeout' });
  assert.ok(ws0.closed, 'idle socket closed');
  await h.socket(1);
});

test('stop closes the socket and cancels reconnects', async (t) => {
  const h = harness(t);
  const ws = await connect(h);
  ws.receive(welcome('1-0'));
  h.client.stop();
  assert.ok(ws.closed);
  ws.serverClose(1006); // late close of the dropped socket is ignored
  ws.receive(alarm('2-0'));
  assert.equal(h.of('alarm').length, 0);
  assert.equal(h.of('disconnected').length, 0);
  assert.equal(h.of('status').at(-1).state, 'closed');
  assert.equal(h.client._retry, null);
});

test('a failing token function is reported and retried', async (t) => {
  let calls = 0;
  const h = harness(t, {
    token: () => {
      if (++calls === 1) throw new Error('auth down');
      return 'ok';
    },
  });
  const ws = await connect(h);
  assert.equal(h.of('error')[0].phase, 'token');
  assert.equal(ws.sent[0].token, 'ok');
});

test('constructor validates options', () => {
  assert.throws(() => new AlarmClient({ endpoints: [], token: 't', user: 'u' }), /endpoints/);
  assert.throws(() => new AlarmClient({ endpoints: ['ws://x'], token: '', user: 'u' }), /token/);
  assert.throws(() => new AlarmClient({ endpoints: ['ws://x'], token: 't' }), /user/);
});

// sseHarness builds clients on a fake fetch and EventSource.
function sseHarness(t, opts = {}) {
  const streams = [];
  const tickets = [];
  let ticketStatus = 200;
  class FakeES {
    constructor(url) {
      this.url = new URL(url);
      this.listeners = {};
      this.closed = false;
      streams.push(this);
    }
    addEventListener(type, f) {
      (this.listeners[type] ||= []).push(f);
    }
    close() {
      this.closed = true;
    }
    emit(type, obj) {
      for (const f of this.listeners[type] || []) f({ data: JSON.stringify(obj) });
    }
  }
  const fetchImpl = async (url, init) => {
    tickets.push({ url, auth: init.headers.Authorization });
    return { status: ticketStatus, ok: ticketStatus === 200, json: async () => ({ ticket: 'T' + tickets.length }) };
  };
  const make = (extra = {}) => {
    const c = new AlarmClient({
      endpoints: ['ws://a/v1/ws'],
      token: 'tok',
      user: 'u',
      storage: opts.storage ?? new MemStorage(),
      transport: 'sse',
      EventSourceImpl: FakeES,
      fetchImpl,
      minBackoff: 1,
      maxBackoff: 4,
      ...opts,
      ...extra,
    });
    const got = [];
    for (const type of [...EVENTS, 'role']) c.addEventListener(type, (e) => got.push({ type, detail: e.detail }));
    c.got = got;
    c.of = (type) => got.filter((e) => e.type === type).map((e) => e.detail);
    t.after(() => c.stop());
    return c;
  };
  const stream = async (i) => {
    for (let n = 0; n < 200 && streams.length <= i; n++) await new Promise((r) => setTimeout(r, 1));
    assert.ok(streams[i], `stream ${i} never opened`);
    return streams[i];
  };
  return { make, streams, stream, tickets, setTicketStatus: (s) => (ticketStatus = s) };
}


test('sse: a ticket per connect, last_event_id carries the epoch, close events act like close codes', async (t) => {
  const h = sseHarness(t);
  const c = h.make();
  c.start();
  const s0 = await h.stream(0);
  assert.equal(s0.url.origin + s0.url.pathname, 'http://a/v1/sse');
  assert.equal(s0.url.searchParams.get('ticket'), 'T1');
  assert.equal(s0.url.searchParams.get('last_event_id'), null);
  assert.deepEqual(h.tickets[0], { url: 'http://a/v1/sse/ticket', auth: 'Bearer tok' });
  s0.emit('welcome', welcome('5-0'));
  s0.emit('alarm', alarm('6-0'));
  s0.emit('ping', { type: 'ping' });
  s0.emit('alarm', alarm('6-0'));
  assert.deepEqual(c.of('alarm').map((a) => a.id), ['6-0']);
  s0.emit('close', { type: 'close', code: 1012, reason: 'node restarting' });
  assert.ok(s0.closed);
  const s1 = await h.stream(1);
  assert.equal(s1.url.searchParams.get('ticket'), 'T2');
  assert.equal(s1.url.searchParams.get('last_event_id'), 'E1/6-0');
  assert.deepEqual(c.of('disconnected')[0], { code: 1012, reason: 'node restarting' });
  s1.emit('welcome', welcome('6-0', { status: 'expired' }));
  assert.equal(c.of('stale').length, 1);
});

test('sse: a stream error reconnects; a refused ticket is a 4001', async (t) => {
  const h = sseHarness(t);
  const c = h.make();
  c.start();
  const s0 = await h.stream(0);
  s0.onerror();
  await h.stream(1);
  h.setTicketStatus(401);
  h.streams[1].emit('close', { type: 'close', code: 1013, reason: 'x' });
  for (let n = 0; n < 200 && c.of('tokenexpired').length === 0; n++) await new Promise((r) => setTimeout(r, 1));
  assert.equal(c.of('tokenexpired')[0].code, 4001);
});

// fakeLocks grants one exclusive lock per name at a time, in request order.
function fakeLocks() {
  const held = new Map();
  const queue = new Map();
  const grant = (name) => {
    if (held.get(name)) return;
    const q = queue.get(name) || [];
    const next = q.shift();
    if (!next) return;
    held.set(name, true);
    Promise.resolve(next.cb({ name }))
      .finally(() => {
        held.set(name, false);
        grant(name);
      })
      .then(next.res, next.rej);
  };
  return {
    request(name, opts, cb) {
      return new Promise((res, rej) => {
        const entry = { cb, res, rej };
        if (!queue.has(name)) queue.set(name, []);
        queue.get(name).push(entry);
        opts.signal?.addEventListener('abort', () => {
          const q = queue.get(name);
          const i = q.indexOf(entry);
          if (i >= 0) {
            q.splice(i, 1);
            rej(new Error('AbortError'));
          }
        });
        queueMicrotask(() => grant(name));
      });
    },
  };
}

// FakeBC delivers to every other open channel of the same name, asynchronously.
class FakeBC {
  static all = [];
  constructor(name) {
    this.name = name;
    FakeBC.all.push(this);
  }
  postMessage(m) {
    const data = structuredClone(m);
    for (const o of FakeBC.all) if (o !== this && o.name === this.name) queueMicrotask(() => o.onmessage?.({ data }));
  }
  close() {
    FakeBC.all = FakeBC.all.filter((o) => o !== this);
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));

test('shared: one leader connects, every tab sees every alarm once, a new leader resumes', async (t) => {
  const storage = new MemStorage();
  const h = sseHarness(t, { storage, shared: true, locks: fakeLocks(), BroadcastChannelImpl: FakeBC });
  const tabs = [h.make(), h.make(), h.make()];
  for (const c of tabs) c.start();
  await tick();
  assert.deepEqual(tabs.map((c) => c.role()), ['leader', 'follower', 'follower']);
  const s0 = await h.stream(0);
  s0.emit('welcome', welcome('5-0'));
  s0.emit('alarm', alarm('6-0'));
  s0.emit('alarm', alarm('7-0'));
  await tick();
  assert.equal(h.streams.length, 1, 'only the leader connects');
  tabs[0].stop();
  await tick();
  assert.equal(tabs[1].role(), 'leader');
  const s1 = await h.stream(1);
  assert.equal(s1.url.searchParams.get('last_event_id'), 'E1/7-0');
  // The new leader resumes from before 7-0 (as if it had missed it): nobody sees it twice.
  s1.emit('welcome', welcome('6-0', { status: 'resumed', replayed: 2 }));
  s1.emit('alarm', alarm('7-0'));
  s1.emit('alarm', alarm('8-0'));
  await tick();
  assert.deepEqual(tabs[0].of('alarm').map((a) => a.id), ['6-0', '7-0']);
  for (const c of tabs.slice(1)) assert.deepEqual(c.of('alarm').map((a) => a.id), ['6-0', '7-0', '8-0']);
  assert.equal(JSON.parse(storage.getItem('alarmgate:u')).last_id, '8-0');
});

test('shared: without Web Locks every tab connects', async (t) => {
  const h = sseHarness(t, { shared: true, locks: null });
  const a = h.make();
  const b = h.make();
  a.start();
  b.start();
  await h.stream(1);
  assert.equal(a.role(), null);
});

test('shared: a tab that joins after the welcome learns the connection is open', async (t) => {
  const h = sseHarness(t, { shared: true, locks: fakeLocks(), BroadcastChannelImpl: FakeBC });
  const lead = h.make();
  lead.start();
  const s0 = await h.stream(0);
  s0.emit('welcome', welcome('5-0'));
  const late = h.make();
  late.start();
  await tick();
  assert.equal(late.role(), 'follower');
  const open = late.of('status').find((s) => s.state === 'open');
  assert.deepEqual(open && [open.node, open.epoch, open.resume], ['gw-1', 'E1', 'new']);
  s0.emit('alarm', alarm('6-0'));
  s0.emit('alarm', alarm('6-0'));
  await tick();
  assert.deepEqual(late.of('alarm').map((a) => a.id), ['6-0']);
  assert.equal(h.streams.length, 1, 'only the leader connects');
});

test('inbox: counts from welcome, alarms and state events; state events move the position', async (t) => {
  const h = harness(t);
  const counts = [];
  const states = [];
  h.client.addEventListener('counts', (e) => counts.push(e.detail));
  h.client.addEventListener('state', (e) => states.push(e.detail));
  const ws = await connect(h);
  ws.receive({ ...welcome('1-0'), inbox: { unread: 2, unseen: 1 } });
  ws.receive({ ...alarm('2-0'), unread: 3, unseen: 2 });
  const st = { type: 'state', id: '3-0', ts: 3, channel: 'user:u', op: 'read', ids: ['2-0'], unread: 2, unseen: 1 };
  ws.receive(st, st); // the second is a duplicate
  assert.deepEqual(counts, [{ unread: 2, unseen: 1 }, { unread: 3, unseen: 2 }, { unread: 2, unseen: 1 }]);
  assert.equal(states.length, 1);
  assert.deepEqual(h.client.counts(), { unread: 2, unseen: 1 });
  assert.equal(h.client.position().last_id, '3-0');
});

test('inbox: changeState goes over the open WebSocket, else over HTTP with the token', async (t) => {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, init });
    return { ok: true, status: 200, json: async () => ({}) };
  };
  const h = harness(t, { fetchImpl });
  const ws = await connect(h);
  ws.readyState = 1;
  ws.receive(welcome('1-0'));
  await h.client.markRead(['1-0']);
  await h.client.markAllRead();
  assert.deepEqual(ws.sent.slice(1), [
    { type: 'state', op: 'read', ids: ['1-0'] },
    { type: 'state', op: 'read', up_to: '1-0' },
  ]);
  ws.readyState = 3;
  await h.client.changeState('archive', { ids: ['1-0'] });
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, 'http://a/v1/inbox/state');
  assert.equal(calls[0].init.headers.Authorization, 'Bearer tok');
  assert.deepEqual(JSON.parse(calls[0].init.body), { op: 'archive', ids: ['1-0'] });
  await assert.rejects(h.client.changeState('read', {}), TypeError);
});

// ---- AlarmInbox ----

// FakeInbox is the server side of one user's inbox: GET /v1/inbox and POST /v1/inbox/state
// through fetch, and the state events a change appends (the test delivers them to sockets).
class FakeInbox {
  constructor(n = 0) {
    this.items = []; // oldest first: {alarm, seen, read, archived}
    this.ms = 1000;
    this.calls = []; // {method, url, body, auth}
    this.hold = null; // a promise GET /v1/inbox waits for
    this.fail = null; // status POST /v1/inbox/state answers (with code 'x'), once per call while set
    for (let i = 0; i < n; i++) this.publish();
  }
  nextId() {
    return `${this.ms++}-0`;
  }
  counts() {
    const live = this.items.filter((i) => !i.archived);
    return { unread: live.filter((i) => !i.read).length, unseen: live.filter((i) => !i.seen).length };
  }
  // publish appends an alarm and returns its message, with the counts after it.
  publish(data = {}) {
    const id = this.nextId();
    const alarm = { type: 'alarm', id, ts: 1, channel: 'user:u', event: 'e', data };
    this.items.push({ alarm, seen: false, read: false, archived: false });
    return { ...alarm, ...this.counts() };
  }
  // change applies a change and returns [answer, state event or null].
  change({ op, ids, up_to: upTo }) {
    const hit = ids ? this.items.filter((i) => ids.includes(i.alarm.id)) : this.items.filter((i) => compareIds(i.alarm.id, upTo) <= 0);
    const changed = [];
    for (const i of hit) {
      const before = JSON.stringify([i.seen, i.read, i.archived]);
      if (op === 'read') i.read = i.seen = true;
      if (op === 'seen') i.seen = true;
      if (op === 'unread') i.read = false;
      if (op === 'archive') i.archived = true;
      if (op === 'unarchive') i.archived = false;
      if (JSON.stringify([i.seen, i.read, i.archived]) !== before) changed.push(i.alarm.id);
    }
    if (changed.length === 0) return [{ changed: 0, ...this.counts() }, null];
    const id = this.nextId();
    const ev = { type: 'state', id, ts: 1, channel: 'user:u', op, ...this.counts() };
    if (ids) ev.ids = changed;
    else ev.up_to = changed[changed.length - 1];
    return [{ id, changed: changed.length, ...this.counts() }, ev];
  }
  fetch = async (url, init) => {
    const u = new URL(url);
    const call = { method: init.method, url: u, auth: init.headers.Authorization, body: init.body && JSON.parse(init.body) };
    this.calls.push(call);
    const answer = (status, body) => ({ ok: status < 300, status, headers: { get: () => null }, json: async () => body });
    if (u.pathname.endsWith('/v1/inbox/state')) {
      if (this.fail) return answer(this.fail, { error: { code: 'x', message: 'no' } });
      const [ans, ev] = this.change(call.body);
      this.lastEvent = ev;
      return answer(200, ans);
    }
    if (this.hold) await this.hold;
    const q = u.searchParams;
    let list = [...this.items].reverse();
    if (q.has('before')) list = list.filter((i) => compareIds(i.alarm.id, q.get('before')) < 0);
    if (q.has('unread')) list = list.filter((i) => i.read !== (q.get('unread') === 'true'));
    if (q.has('archived')) list = list.filter((i) => i.archived === (q.get('archived') === 'true'));
    const limit = Number(q.get('limit') || 50);
    const page = list.slice(0, limit).map((i) => structuredClone(i));
    const body = { epoch: 'E1', ...this.counts(), items: page };
    if (list.length > limit) body.next = page[page.length - 1].alarm.id;
    return answer(200, body);
  };
  gets() {
    return this.calls.filter((c) => c.method === 'GET');
  }
  posts() {
    return this.calls.filter((c) => c.method === 'POST');
  }
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

// inboxHarness connects a client over a fake WebSocket to a FakeInbox with n alarms, welcomes
// it (status new) and waits for the model's first page.
async function inboxHarness(t, n, opts = {}, inboxOpts = {}) {
  const srv = opts.srv ?? new FakeInbox(n);
  const h = harness(t, { fetchImpl: srv.fetch, ...opts });
  const inbox = h.client.inbox({ pageSize: 10, ...inboxOpts });
  const changes = [];
  const errors = [];
  inbox.addEventListener('change', (e) => changes.push(e.detail));
  inbox.addEventListener('error', (e) => errors.push(e.detail));
  t.after(() => inbox.close());
  const ws = await connect(h);
  ws.readyState = 1;
  const last = srv.items.length ? srv.items[srv.items.length - 1].alarm.id : '0-0';
  ws.receive({ ...welcome(last), inbox: srv.counts() });
  await settle();
  return { ...h, srv, inbox, ws, changes, errors };
}

const idsOf = (items) => items.map((i) => i.alarm.id);

test('inbox: loads the first page on open, then every page once with loadMore', async (t) => {
  const h = await inboxHarness(t, 35);
  assert.equal(h.srv.gets().length, 1);
  const first = h.srv.gets()[0];
  assert.equal(first.url.origin + first.url.pathname, 'http://a/v1/inbox');
  assert.equal(first.auth, 'Bearer tok');
  assert.deepEqual(Object.fromEntries(first.url.searchParams), { archived: 'false', limit: '10' });
  assert.ok(h.inbox.loaded && h.inbox.hasMore);
  assert.equal(h.inbox.items.length, 10);
  assert.deepEqual(h.inbox.counts, { unread: 35, unseen: 35 });
  assert.equal(h.changes.filter((c) => c.reason === 'load').length, 1);
  await Promise.all([h.inbox.loadMore(), h.inbox.loadMore()]); // the second joins the first
  while (h.inbox.hasMore) await h.inbox.loadMore();
  const want = h.srv.items.map((i) => i.alarm.id).reverse();
  assert.deepEqual(idsOf(h.inbox.items), want);
  const befores = h.srv.gets().map((c) => c.url.searchParams.get('before'));
  assert.deepEqual(befores, [null, want[9], want[19], want[29]]);
  assert.equal(h.inbox.items[0].read, false);
});

test('inbox: live alarms and state events apply once, in order; a duplicate alarm is dropped', async (t) => {
  const h = await inboxHarness(t, 3);
  const a = h.srv.publish({ title: 'x' });
  h.ws.receive(a, a);
  assert.equal(h.inbox.items[0].alarm.id, a.id);
  assert.equal(h.inbox.items.length, 4);
  assert.deepEqual(h.inbox.counts, { unread: 4, unseen: 4 });
  const [, ev] = h.srv.change({ op: 'read', ids: [a.id] });
  h.ws.receive(ev, ev);
  assert.equal(h.inbox.items[0].read, true);
  assert.deepEqual(h.inbox.counts, { unread: 3, unseen: 3 });
  const reasons = h.changes.map((c) => c.reason).filter((r) => r === 'alarm' || r === 'state');
  assert.deepEqual(reasons, ['alarm', 'state']);
  const st = h.changes.find((c) => c.reason === 'state');
  assert.deepEqual(idsOf(st.items), [a.id]);
});

test('inbox: what arrives while a page is read is applied to the page', async (t) => {
  const srv = new FakeInbox(3);
  let release;
  srv.hold = new Promise((r) => (release = r));
  const h = harness(t, { fetchImpl: srv.fetch });
  const inbox = h.client.inbox();
  t.after(() => inbox.close());
  const ws = await connect(h);
  ws.receive({ ...welcome('1002-0'), inbox: srv.counts() });
  await settle();
  assert.ok(inbox.loading && !inbox.loaded);
  // The page was read before these (its answer is still on the way).
  const snapshot = structuredClone(srv.items);
  const a = srv.publish();
  const [, ev] = srv.change({ op: 'read', ids: ['1000-0'] });
  ws.receive(a, ev);
  srv.items = snapshot;
  release();
  await settle();
  assert.ok(inbox.loaded);
  assert.deepEqual(idsOf(inbox.items), [a.id, '1002-0', '1001-0', '1000-0']);
  assert.deepEqual(inbox.items.map((i) => i.read), [false, false, false, true]);
  assert.deepEqual(inbox.counts, { unread: 3, unseen: 3 }, 'the counts of the stream, newer than the page');
});

test('inbox: a change over the WebSocket shows at once and is confirmed by its state event', async (t) => {
  const h = await inboxHarness(t, 3);
  const done = h.inbox.markRead(['1001-0', '1001-0', 'junk']);
  assert.deepEqual(h.ws.sent.at(-1), { type: 'state', op: 'read', ids: ['1001-0'] });
  const it = h.inbox.items.find((i) => i.alarm.id === '1001-0');
  assert.ok(it.read && it.seen && it.pending);
  assert.deepEqual(h.inbox.counts, { unread: 2, unseen: 2 });
  assert.equal(h.changes.at(-1).reason, 'local');
  const [, ev] = h.srv.change({ op: 'read', ids: ['1001-0'] });
  h.ws.receive(ev);
  assert.equal(await done, true);
  const after = h.inbox.items.find((i) => i.alarm.id === '1001-0');
  assert.ok(after.read && !after.pending);
  assert.deepEqual(h.inbox.counts, { unread: 2, unseen: 2 });
  assert.equal(h.srv.posts().length, 0, 'no HTTP call');
  assert.equal(await h.inbox.markRead(['1001-0']), true, 'nothing to change: nothing sent');
  assert.equal(h.ws.sent.length, 2);
});

test('inbox: an unconfirmed change is checked over HTTP; a failed one rolls back with an error', async (t) => {
  const h = await inboxHarness(t, 3, {}, { confirmTimeout: 5, retries: 0 });
  // The server already had it read (another device): no state event comes.
  h.srv.change({ op: 'read', ids: ['1000-0'] });
  assert.equal(await h.inbox.markRead(['1000-0']), true);
  assert.deepEqual(h.srv.posts().map((c) => c.body), [{ op: 'read', ids: ['1000-0'] }]);

  h.srv.fail = 400;
  const done = h.inbox.archive(['1002-0']);
  assert.deepEqual(idsOf(h.inbox.items), ['1001-0', '1000-0']);
  h.ws.receive({ type: 'error', error: 'unavailable', message: 'x' });
  assert.equal(await done, false);
  assert.deepEqual(idsOf(h.inbox.items), ['1002-0', '1001-0', '1000-0']);
  assert.equal(h.changes.at(-1).reason, 'rollback');
  assert.equal(h.errors.length, 1);
  assert.ok(h.errors[0].error instanceof GatewayHTTPError);
  assert.equal(h.errors[0].error.status, 400);
  assert.deepEqual([h.errors[0].phase, h.errors[0].op, h.errors[0].ids], ['change', 'archive', ['1002-0']]);
  assert.deepEqual(h.inbox.counts, { unread: 3, unseen: 3 });
});

test('inbox: a rate-limited change is sent again after retry_after_ms', async (t) => {
  const h = await inboxHarness(t, 2, {}, { confirmTimeout: 10000 });
  const done = h.inbox.markRead(['1000-0']);
  h.ws.receive({ type: 'error', error: 'rate_limited', message: 'x', retry_after_ms: 5 });
  await settle();
  assert.equal(h.srv.posts().length, 1);
  assert.equal(h.srv.items[0].read, true);
  // It stays shown read (pending) until its state event arrives.
  assert.ok(h.inbox.items.at(-1).read && h.inbox.items.at(-1).pending);
  h.ws.receive(h.srv.lastEvent);
  assert.equal(await done, true);
  assert.ok(h.inbox.items.at(-1).read && !h.inbox.items.at(-1).pending);
});

test('inbox: over SSE changes go over HTTP and wait for their state event', async (t) => {
  const srv = new FakeInbox(3);
  const h = sseHarness(t, { fetchImpl: async (url, init) => (url.endsWith('/ticket') ? { ok: true, status: 200, json: async () => ({ ticket: 'T' }) } : srv.fetch(url, init)) });
  const c = h.make();
  const inbox = c.inbox({ api: 'http://app.example/gw/' });
  t.after(() => inbox.close());
  c.start();
  const s0 = await h.stream(0);
  s0.emit('welcome', { ...welcome('1002-0'), inbox: srv.counts() });
  await settle();
  assert.equal(srv.gets()[0].url.origin + srv.gets()[0].url.pathname, 'http://app.example/gw/v1/inbox');
  assert.equal(inbox.items.length, 3);
  let confirmed = false;
  const done = inbox.markAllRead().then((ok) => (confirmed = ok));
  assert.deepEqual(inbox.counts, { unread: 0, unseen: 0 });
  await settle();
  assert.deepEqual(srv.posts()[0].body, { op: 'read', up_to: '1002-0' });
  assert.equal(srv.posts()[0].url.href, 'http://app.example/gw/v1/inbox/state');
  assert.equal(confirmed, false, 'waits for the state event');
  assert.ok(inbox.items.every((i) => i.read && i.pending));
  s0.emit('state', srv.lastEvent);
  await done;
  assert.equal(confirmed, true);
  assert.ok(inbox.items.every((i) => i.read && !i.pending));
  assert.deepEqual(inbox.counts, { unread: 0, unseen: 0 });
});

test('inbox: mark all read clears the counts of pages not loaded yet', async (t) => {
  const h = await inboxHarness(t, 25);
  assert.equal(h.inbox.items.length, 10);
  h.inbox.markAllRead();
  assert.deepEqual(h.ws.sent.at(-1), { type: 'state', op: 'read', up_to: '1024-0' });
  assert.deepEqual(h.inbox.counts, { unread: 0, unseen: 0 });
  const [, ev] = h.srv.change({ op: 'read', up_to: '1024-0' });
  h.ws.receive(ev);
  await settle();
  assert.deepEqual(h.inbox.counts, { unread: 0, unseen: 0 });
  assert.ok(h.inbox.items.every((i) => i.read && !i.pending));
  await h.inbox.loadMore();
  assert.equal(h.inbox.items.length, 20);
  assert.ok(h.inbox.items.every((i) => i.read));
});

test('inbox: filters select the pages and the items', async (t) => {
  const h = await inboxHarness(t, 4);
  h.srv.change({ op: 'read', ids: ['1000-0'] });
  h.srv.change({ op: 'archive', ids: ['1001-0'] });
  h.inbox.filter = 'unread';
  assert.equal(h.inbox.items.length, 0);
  await settle();
  assert.deepEqual(Object.fromEntries(h.srv.gets().at(-1).url.searchParams), { unread: 'true', archived: 'false', limit: '10' });
  assert.deepEqual(idsOf(h.inbox.items), ['1003-0', '1002-0']);
  h.inbox.markRead(['1003-0']);
  assert.deepEqual(idsOf(h.inbox.items), ['1002-0'], 'read: no longer in the unread list');
  h.inbox.filter = 'archived';
  await settle();
  assert.deepEqual(idsOf(h.inbox.items), ['1001-0']);
  h.inbox.unarchive(['1001-0']);
  assert.deepEqual(idsOf(h.inbox.items), []);
  assert.throws(() => (h.inbox.filter = 'nope'), TypeError);
});

test('inbox: reloads after a welcome that is not resumed, not after one that is', async (t) => {
  const h = await inboxHarness(t, 2);
  assert.equal(h.srv.gets().length, 1);
  h.ws.serverClose(1012);
  const ws1 = await h.socket(1);
  ws1.open();
  ws1.receive({ ...welcome('1001-0', { status: 'resumed', replayed: 0 }), inbox: h.srv.counts() });
  await settle();
  assert.equal(h.srv.gets().length, 1);
  assert.equal(h.inbox.connection, 'open');
  ws1.serverClose(1012);
  const ws2 = await h.socket(2);
  ws2.open();
  // The log was lost: a new epoch, an empty inbox.
  h.srv.items = [];
  ws2.receive({ ...welcome('0-0', { status: 'epoch_changed', replayed: 0 }, 'E2'), inbox: { unread: 0, unseen: 0 } });
  await settle();
  assert.equal(h.srv.gets().length, 2);
  assert.deepEqual(h.inbox.items, []);
  assert.deepEqual(h.inbox.counts, { unread: 0, unseen: 0 });
});

test('inbox: a load that fails is reported and retried after 503', async (t) => {
  const srv = new FakeInbox(1);
  let fails = 1;
  const fetchImpl = async (url, init) => {
    if (fails-- > 0) return { ok: false, status: 503, headers: { get: () => '0.001' }, json: async () => ({ error: { code: 'unavailable' } }) };
    return srv.fetch(url, init);
  };
  const h = await inboxHarness(t, 0, { srv, fetchImpl });
  await settle();
  assert.ok(h.inbox.loaded);
  assert.equal(h.inbox.items.length, 1);
  assert.equal(h.errors.length, 0);

  const bad = async () => ({ ok: false, status: 401, headers: { get: () => null }, json: async () => ({ error: { code: 'unauthorized' } }) });
  const h2 = await inboxHarness(t, 0, { srv: new FakeInbox(1), fetchImpl: bad });
  assert.equal(h2.errors.length, 1);
  assert.equal(h2.errors[0].phase, 'load');
  assert.equal(h2.errors[0].error.code, 'unauthorized');
  assert.ok(!h2.inbox.loaded && !h2.inbox.loading);
});

test('inbox: shared mode, one connection, one model per tab, all agree', async (t) => {
  const srv = new FakeInbox(3);
  const fetchImpl = async (url, init) => (url.endsWith('/ticket') ? { ok: true, status: 200, json: async () => ({ ticket: 'T' }) } : srv.fetch(url, init));
  const h = sseHarness(t, { fetchImpl, shared: true, locks: fakeLocks(), BroadcastChannelImpl: FakeBC });
  const tabs = [h.make(), h.make()];
  const models = tabs.map((c) => c.inbox());
  t.after(() => models.forEach((m) => m.close()));
  for (const c of tabs) c.start();
  const s0 = await h.stream(0);
  s0.emit('welcome', { ...welcome('1002-0'), inbox: srv.counts() });
  await tick();
  assert.equal(h.streams.length, 1);
  assert.deepEqual(models.map((m) => m.items.length), [3, 3]);
  // The follower reads one: over HTTP; the leader's stream brings the event to both.
  const done = models[1].markRead(['1002-0']);
  await tick();
  s0.emit('state', srv.lastEvent);
  assert.equal(await done, true);
  await tick();
  for (const m of models) {
    assert.deepEqual(m.items.map((i) => i.read), [true, false, false]);
    assert.deepEqual(m.counts, { unread: 2, unseen: 2 });
  }
});

test('inbox: validates its options', () => {
  const client = new AlarmClient({ endpoints: ['ws://a/v1/ws'], token: 't', user: 'u', storage: null });
  assert.throws(() => new AlarmInbox({}), /AlarmClient/);
  assert.throws(() => client.inbox({ filter: 'x' }), /filter/);
  assert.throws(() => client.inbox({ pageSize: 0 }), /pageSize/);
  assert.ok(client.inbox() instanceof AlarmInbox);
});
