// Unit tests for client.js: node --test web/static/client.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlarmClient, backoffDelay, compareIds } from './client.js';

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
