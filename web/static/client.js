// client.js: browser client for the alarm gateway protocol v1, over WebSocket or Server-Sent Events.
// A dependency-free ES module; see docs/protocol.md ("Receiving") for the wire contract and
// client.d.ts for the types.

/**
 * @typedef {object} AlarmClientOptions
 * @property {string[]} endpoints URLs of gateway nodes (ws://host/v1/ws). The client rotates
 *   through them: every (re)connect uses the next one. With `transport: 'sse'` a ws(s) URL ending
 *   in `/ws` is turned into http(s)://host/v1/sse; http(s) URLs of the SSE endpoint work too.
 * @property {'websocket' | 'sse'} [transport] Default `'websocket'`. `'sse'` trades the token for a
 *   short-lived ticket (POST /v1/sse/ticket) before every connect and opens an EventSource; the
 *   events are the same.
 * @property {boolean} [shared] One connection per browser: the tabs of one `user` elect a leader
 *   with the Web Locks API; it holds the connection and passes everything on through a
 *   BroadcastChannel. Falls back to one connection per tab without those APIs. Default false.
 * @property {string | (() => (string | Promise<string>))} token The client JWT, or a function that
 *   returns one. A function is called before the first connect and again after every 4001 close.
 * @property {string} user Names this client's position in storage (key `alarmgate:<user>`).
 * @property {Storage | null} [storage] Where the position is persisted. Default `localStorage`;
 *   `null` keeps it in memory only.
 * @property {number} [minBackoff] Base of the reconnect backoff in ms. Default 100.
 * @property {number} [maxBackoff] Cap of the reconnect backoff in ms. Default 10000.
 * @property {number} [idleTimeout] Reconnect after this many ms without any message. Default 60000.
 * @property {typeof WebSocket} [WebSocketImpl] WebSocket constructor. Default `globalThis.WebSocket`.
 * @property {() => number} [random] Source of jitter in [0, 1). Default `Math.random`.
 * @property {typeof EventSource} [EventSourceImpl] Default `globalThis.EventSource`.
 * @property {typeof fetch} [fetchImpl] Default `globalThis.fetch`.
 * @property {LockManager | null} [locks] Default `navigator.locks`.
 * @property {typeof BroadcastChannel | null} [BroadcastChannelImpl] Default `globalThis.BroadcastChannel`.
 */

/**
 * @typedef {object} Position
 * @property {string | null} last_id Id of the last alarm processed, or the position of the last
 *   welcome when no alarm came since. `null` before the first welcome.
 * @property {string | null} epoch Epoch that `last_id` belongs to.
 */

const DEFAULTS = { minBackoff: 100, maxBackoff: 10000, idleTimeout: 60000 };

// The protocol's vocabulary (docs/protocol.md). web's Go tests check these against package protocol.

// Message types.
const TYPE = Object.freeze({
  HELLO: 'hello',
  WELCOME: 'welcome',
  ALARM: 'alarm',
  PING: 'ping',
  CLOSE: 'close',
  STATE: 'state',
  ERROR: 'error',
});

// Close codes the server sends.
const CLOSE = Object.freeze({
  NORMAL: 1000,
  RESTART: 1012,
  TRY_LATER: 1013,
  PROTOCOL: 4000,
  AUTH: 4001,
  NO_HELLO: 4008,
  SLOW_CLIENT: 4029,
});

// Resume statuses of a welcome.
const STATUS = Object.freeze({
  NEW: 'new',
  RESUMED: 'resumed',
  EXPIRED: 'expired',
  EPOCH_CHANGED: 'epoch_changed',
  INVALID: 'invalid',
});

// Close codes after which the client does not reconnect by itself.
const STOP_CODES = new Set([CLOSE.NORMAL, CLOSE.PROTOCOL]);

// Events a shared leader passes on as they are; welcomes and alarms go as messages, which every
// tab processes (and de-duplicates) itself.
const RELAYED = new Set(['status', 'disconnected', 'tokenexpired', 'error']);

/**
 * sseURL turns an endpoint into the URL of the SSE endpoint: ws(s)://host/v1/ws becomes
 * http(s)://host/v1/sse; other URLs are kept.
 * @param {string} endpoint
 * @returns {string}
 */
export function sseURL(endpoint) {
  const u = new URL(endpoint);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') {
    u.protocol = u.protocol === 'ws:' ? 'http:' : 'https:';
    u.pathname = u.pathname.replace(/\/ws$/, '/sse');
  }
  return u.toString();
}

/**
 * compareIds orders two alarm ids `<ms>-<seq>` numerically, part by part, without
 * converting to Number (seq may exceed 2^53).
 * @param {string} a
 * @param {string} b
 * @returns {number} -1, 0 or 1; NaN when either is not an id.
 */
export function compareIds(a, b) {
  const x = parseId(a);
  const y = parseId(b);
  if (!x || !y) return NaN;
  return compareDecimal(x[0], y[0]) || compareDecimal(x[1], y[1]);
}

function parseId(s) {
  const m = typeof s === 'string' ? /^(\d+)-(\d+)$/.exec(s) : null;
  return m ? [m[1].replace(/^0+(?=\d)/, ''), m[2].replace(/^0+(?=\d)/, '')] : null;
}

// compareDecimal compares two decimal strings without leading zeros.
function compareDecimal(a, b) {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * backoffDelay is the delay before reconnect attempt `attempt` (0-based): exponential
 * backoff with full jitter, uniform in [0, min(max, min * 2^attempt)).
 * @param {number} attempt
 * @param {number} min
 * @param {number} max
 * @param {() => number} [random]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, min, max, random = Math.random) {
  const cap = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

/**
 * AlarmClient keeps one WebSocket to a gateway node open, resumes from the last alarm it
 * processed, and reports what happens as events (all `CustomEvent`s, payload in `detail`):
 *
 * - `alarm`: an alarm `{id, channel, event, data, ts, replayed}`; `replayed` is true for the
 *   alarms of a resume replay (the first `resume.replayed` alarms after a resumed welcome).
 * - `status`: `{state: 'connecting'|'open'|'closed', node, ...}`.
 * - `welcome`: every welcome message.
 * - `resumed`: a welcome with status `resumed`.
 * - `stale`: a welcome with a status other than `resumed` or `new` (`expired`, `epoch_changed`,
 *   `invalid`): alarms may be missing, the application must refetch its state.
 * - `disconnected`: `{code, reason}` whenever a connection ends (`1006 idle timeout` when
 *   nothing arrived within `idleTimeout`).
 * - `tokenexpired`: close 4001 with a string token; the client waits for `setToken`.
 * - `error`: `{error, phase}` when the token function or the WebSocket constructor throws.
 *
 * - `role`: `{role: 'leader'|'follower'}` in shared mode, when this tab's role changes.
 *
 * Over SSE a stream ends with a `close` event carrying the same close codes; a broken stream
 * counts as 1006. Close 1000 and 4000 stop the client; 1012 reconnects at once; anything else
 * reconnects with backoff. The position is saved in storage after every welcome and alarm, so a
 * reloaded page resumes.
 */
export class AlarmClient extends EventTarget {
  /** @param {AlarmClientOptions} options */
  constructor(options) {
    super();
    const o = { ...DEFAULTS, ...options };
    if (!Array.isArray(o.endpoints) || o.endpoints.length === 0) {
      throw new TypeError('AlarmClient: endpoints must be a non-empty array of ws URLs');
    }
    if (typeof o.user !== 'string' || o.user === '') throw new TypeError('AlarmClient: user is required');
    checkToken(o.token);
    this._opts = o;
    this._WS = o.WebSocketImpl || globalThis.WebSocket;
    this._storage = o.storage === undefined ? (globalThis.localStorage ?? null) : o.storage;
    this._random = o.random || Math.random;
    this._key = 'alarmgate:' + o.user;
    this._pos = this._load(); // persisted Position
    this._token = o.token; // string or function
    this._fetched = null; // token returned by the token function, until a 4001
    this._running = false; // between start() and stop() (or a stopping close)
    this._waitingToken = false; // 4001 with a string token: wait for setToken
    this._gen = 0; // bumped by every connect and stop; async work from older ones is dropped
    this._ws = null; // current socket, null while disconnected
    this._retry = null; // reconnect timer
    this._idle = null; // idle timer of the current socket
    this._attempt = 0; // reconnects since the last welcome
    this._endpoint = -1; // index into endpoints of the current or last socket
    this._node = null; // welcome.node of the current connection
    this._epoch = null; // welcome.epoch of the current connection
    this._replayLeft = 0; // alarms still to come from the resume replay
    this._sse = o.transport === 'sse';
    if (o.transport !== undefined && o.transport !== 'websocket' && !this._sse) {
      throw new TypeError("AlarmClient: transport must be 'websocket' or 'sse'");
    }
    this._ES = o.EventSourceImpl || globalThis.EventSource;
    this._fetch = o.fetchImpl || globalThis.fetch?.bind(globalThis);
    const locks = o.locks === undefined ? globalThis.navigator?.locks : o.locks;
    const BC = o.BroadcastChannelImpl === undefined ? globalThis.BroadcastChannel : o.BroadcastChannelImpl;
    this._shared = o.shared ? (locks && BC ? { locks, BC } : null) : null; // null: one connection per tab
    this._role = null; // shared mode: 'leader' or 'follower' while running
    this._bc = null; // shared mode: the BroadcastChannel while running
    this._unlock = null; // shared mode: ends the lock request or releases the held lock
    this._opened = null; // detail of the 'open' status of the current connection, from its welcome
    this._counts = null; // the last inbox counts received
  }

  /** role returns 'leader' or 'follower' in shared mode while started, else null. */
  role() {
    return this._role;
  }

  /** start connects (no-op when already started). */
  start() {
    if (this._running) return;
    this._running = true;
    this._waitingToken = false;
    this._attempt = 0;
    if (this._shared) this._startShared();
    else this._connect();
  }

  // _startShared joins the tabs of this user: a follower until the lock is granted, then the
  // leader, which connects from the newest position any tab has seen.
  _startShared() {
    const { locks, BC } = this._shared;
    const name = 'alarmgate:' + this._opts.user;
    const bc = new BC(name);
    this._bc = bc;
    bc.onmessage = (ev) => this._bc === bc && this._onShared(ev.data);
    this._setRole('follower');
    bc.postMessage({ kind: 'join' }); // the leader answers with the state of its connection
    const abort = new AbortController();
    let release = null;
    this._unlock = () => {
      abort.abort();
      release?.();
    };
    locks
      .request(name, { signal: abort.signal }, () => {
        if (this._bc !== bc) return undefined;
        const held = new Promise((res) => (release = res));
        this._pos = newer(this._pos, this._load());
        this._setRole('leader');
        this._attempt = 0;
        this._connect();
        return held;
      })
      .catch(() => {}); // aborted by stop
  }

  _setRole(role) {
    this._role = role;
    this._emit('role', { role });
  }

  // _onShared handles what the leader passes on, and the leader's side of a join: a tab that
  // starts after the welcome learns from the answer that the connection is open.
  _onShared(m) {
    if (!m || typeof m !== 'object') return;
    if (this._role === 'leader' && m.kind === 'join' && this._opened) this._post({ kind: 'open', detail: this._opened });
    if (this._role !== 'follower') return;
    if (m.kind === 'open' && this._epoch === null && m.detail) {
      this._node = m.detail.node ?? null;
      this._epoch = typeof m.detail.epoch === 'string' ? m.detail.epoch : null;
      this._status('open', m.detail);
    } else if (m.kind === 'msg' && m.msg?.type === TYPE.WELCOME) this._onWelcome(m.msg);
    else if (m.kind === 'msg' && m.msg?.type === TYPE.ALARM) this._onAlarm(m.msg);
    else if (m.kind === 'msg' && m.msg?.type === TYPE.STATE) this._onState(m.msg);
    else if (m.kind === 'event' && RELAYED.has(m.type) && m.detail?.state !== 'open') this.dispatchEvent(new CustomEvent(m.type, { detail: m.detail }));
  }

  _post(m) {
    if (this._role !== 'leader' || !this._bc) return;
    try {
      this._bc.postMessage(m);
    } catch {
      // not cloneable: nothing a follower could use
    }
  }

  /** stop closes the connection and cancels reconnects. `start()` may be called again. */
  stop() {
    if (!this._running) return;
    this._running = false;
    this._waitingToken = false;
    this._gen++;
    clearTimeout(this._retry);
    this._retry = null;
    this._drop();
    this._status('closed', { code: CLOSE.NORMAL, reason: 'stopped', reconnect: false });
    this._leave();
  }

  // _leave ends shared mode: the lock goes to another tab.
  _leave() {
    if (!this._bc) return;
    this._bc.close();
    this._bc = null;
    this._unlock?.();
    this._unlock = null;
    this._role = null;
  }

  /**
   * position returns where the client resumes from.
   * @returns {Position}
   */
  position() {
    return { ...this._pos };
  }

  /**
   * setToken replaces the token (a string or a function) and, when the client was
   * waiting for one after a 4001, reconnects.
   * @param {string | (() => (string | Promise<string>))} token
   */
  setToken(token) {
    checkToken(token);
    this._token = token;
    this._fetched = null;
    if (this._running && this._waitingToken) {
      this._waitingToken = false;
      this._attempt = 0;
      this._connect();
    }
  }

  async _connect() {
    const gen = ++this._gen;
    this._retry = null;
    this._opened = null;
    const endpoints = this._opts.endpoints;
    this._endpoint = (this._endpoint + 1) % endpoints.length;
    const url = endpoints[this._endpoint];
    this._node = null;
    this._status('connecting', { endpoint: url, attempt: this._attempt });
    let token;
    let ws;
    try {
      token = await this._getToken();
      if (gen !== this._gen) return;
      if (this._sse) {
        this._connectSSE(gen, url, token);
        return;
      }
      ws = new this._WS(url);
    } catch (error) {
      if (gen !== this._gen) return;
      this._emit('error', { error, phase: token === undefined ? 'token' : 'connect' });
      this._reconnect(this._nextDelay());
      return;
    }
    this._ws = ws;
    this._epoch = null;
    this._replayLeft = 0;
    ws.onopen = () => this._ws === ws && ws.send(JSON.stringify(this._hello(token)));
    ws.onmessage = (ev) => this._ws === ws && this._onFrame(ws, ev.data);
    ws.onclose = (ev) => this._ws === ws && this._onClose(ev.code, ev.reason);
    ws.onerror = () => {}; // a close event follows
    this._armIdle(ws);
  }

  // _connectSSE trades the token for a ticket, then opens an EventSource that resumes from the
  // position. EventSource's own reconnects are not used: a reconnect needs a fresh ticket.
  async _connectSSE(gen, url, token) {
    const base = sseURL(url);
    let ticket;
    try {
      const res = await this._fetch(base + '/ticket', { method: 'POST', headers: { Authorization: 'Bearer ' + token } });
      if (gen !== this._gen) return;
      if (res.status === 401) return this._onClose(CLOSE.AUTH, 'ticket refused');
      if (!res.ok) return this._onClose(CLOSE.TRY_LATER, 'ticket: HTTP ' + res.status);
      ticket = (await res.json()).ticket;
      if (gen !== this._gen) return;
    } catch (error) {
      if (gen !== this._gen) return;
      this._emit('error', { error, phase: 'connect' });
      this._reconnect(this._nextDelay());
      return;
    }
    const q = new URLSearchParams({ ticket });
    const { last_id: last, epoch } = this._pos;
    if (last) q.set('last_event_id', epoch ? epoch + '/' + last : last);
    const es = new this._ES(base + (base.includes('?') ? '&' : '?') + q);
    this._ws = es;
    this._epoch = null;
    this._replayLeft = 0;
    const data = (ev) => this._ws === es && this._onFrame(es, ev.data);
    for (const type of [TYPE.WELCOME, TYPE.ALARM, TYPE.PING, TYPE.STATE]) es.addEventListener(type, data);
    es.addEventListener(TYPE.CLOSE, (ev) => {
      if (this._ws !== es) return;
      let c = null;
      try {
        c = JSON.parse(ev.data);
      } catch {
        // unreadable: a broken stream
      }
      this._onClose(Number(c?.code) || 1006, String(c?.reason ?? ''));
    });
    es.onerror = () => this._ws === es && this._onClose(1006, 'stream error');
    this._armIdle(es);
  }

  async _getToken() {
    if (typeof this._token !== 'function') return this._token;
    if (this._fetched === null) {
      const t = await this._token();
      if (typeof t !== 'string' || t === '') {
        throw new TypeError('AlarmClient: token function returned no token');
      }
      this._fetched = t;
    }
    return this._fetched;
  }

  _hello(token) {
    const hello = { type: TYPE.HELLO, token };
    if (this._pos.last_id) hello.last_id = this._pos.last_id;
    if (this._pos.last_id && this._pos.epoch) hello.epoch = this._pos.epoch;
    return hello;
  }

  _armIdle(ws) {
    clearTimeout(this._idle);
    this._idle = setTimeout(() => {
      if (this._ws !== ws) return;
      this._drop();
      this._onClose(1006, 'idle timeout');
    }, this._opts.idleTimeout);
  }

  // _drop detaches and closes the current socket; its events are ignored from now on.
  _drop() {
    this._opened = null;
    clearTimeout(this._idle);
    this._idle = null;
    const ws = this._ws;
    this._ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      if (this._sse) ws.close();
      else ws.close(CLOSE.NORMAL, 'client');
    } catch {
      // already closing or closed
    }
  }

  _onFrame(ws, data) {
    if (typeof data !== 'string') return;
    this._armIdle(ws);
    for (const line of data.split('\n')) {
      let msg;
      try {
        msg = line && JSON.parse(line);
      } catch {
        continue; // not JSON: nothing a client can act on
      }
      if (!msg || typeof msg !== 'object') continue;
      if (msg.type === TYPE.WELCOME || msg.type === TYPE.ALARM || msg.type === TYPE.STATE) this._post({ kind: 'msg', msg });
      if (msg.type === TYPE.WELCOME) this._onWelcome(msg);
      else if (msg.type === TYPE.ALARM) this._onAlarm(msg);
      else if (msg.type === TYPE.STATE) this._onState(msg);
      else if (msg.type === TYPE.ERROR) this._emit('stateerror', msg);
      // ping and unknown types are ignored
      if (this._ws !== ws) return; // a listener stopped or restarted the client
    }
  }

  _onWelcome(w) {
    const status = (w.resume && w.resume.status) || STATUS.NEW;
    this._attempt = 0;
    this._node = w.node ?? null;
    this._epoch = typeof w.epoch === 'string' ? w.epoch : null;
    this._replayLeft = status === STATUS.RESUMED ? Math.max(0, Number(w.resume.replayed) || 0) : 0;
    // A resume never moves the position back: in shared mode a new leader may resume from
    // before alarms this tab already has, and those must not be delivered twice.
    const behind = status === STATUS.RESUMED && this._epoch === this._pos.epoch && compareIds(w.position, this._pos.last_id) < 0;
    if (parseId(w.position) && !behind) this._save({ last_id: w.position, epoch: this._epoch });
    const endpoint = this._opts.endpoints[this._endpoint];
    this._opened = { node: this._node, epoch: this._epoch, channels: w.channels, endpoint, resume: status };
    this._status('open', { epoch: this._epoch, channels: w.channels, endpoint, resume: status });
    this._emit('welcome', w);
    if (w.inbox) this._setCounts(w.inbox);
    if (status === STATUS.RESUMED) this._emit('resumed', w);
    else if (status !== STATUS.NEW) this._emit('stale', w);
  }

  _onAlarm(a) {
    const replayed = this._replayLeft > 0;
    if (replayed) this._replayLeft--;
    const valid = parseId(a.id) !== null;
    const sameEpoch = this._epoch !== null && this._epoch === this._pos.epoch;
    if (valid && sameEpoch && this._pos.last_id && compareIds(a.id, this._pos.last_id) <= 0) return;
    if (valid) this._save({ last_id: a.id, epoch: this._epoch ?? this._pos.epoch });
    this._emit('alarm', { ...a, replayed });
    if (typeof a.unread === 'number') this._setCounts(a);
  }

  // ---- Inbox state (docs/protocol.md, "Inbox state") ----

  // _onState delivers a state event once, in order with the alarms (it has a log id).
  _onState(s) {
    const replayed = this._replayLeft > 0;
    if (replayed) this._replayLeft--;
    const valid = parseId(s.id) !== null;
    const sameEpoch = this._epoch !== null && this._epoch === this._pos.epoch;
    if (valid && sameEpoch && this._pos.last_id && compareIds(s.id, this._pos.last_id) <= 0) return;
    if (valid) this._save({ last_id: s.id, epoch: this._epoch ?? this._pos.epoch });
    this._emit('state', { ...s, replayed });
    this._setCounts(s);
  }

  _setCounts(c) {
    this._counts = { unread: Number(c.unread) || 0, unseen: Number(c.unseen) || 0 };
    this._emit('counts', { ...this._counts });
  }

  /** counts returns the last inbox counts received ({unread, unseen}), or null before any. */
  counts() {
    return this._counts ? { ...this._counts } : null;
  }

  /**
   * changeState changes the state of inbox alarms: `op` ('seen', 'read', 'unread', 'archive',
   * 'unarchive') on `ids`, or on every inbox alarm up to `upTo`. It goes over this tab's
   * WebSocket when it has one open, else over HTTP (POST /v1/inbox/state with the token). The
   * change comes back as a `state` event on every device of the user.
   * @param {string} op
   * @param {{ids?: string[], upTo?: string}} target
   * @returns {Promise<void>}
   */
  async changeState(op, { ids, upTo } = {}) {
    const body = { op };
    if (ids && ids.length) body.ids = ids;
    else if (upTo) body.up_to = upTo;
    else throw new TypeError('AlarmClient: changeState needs ids or upTo');
    const ws = this._ws;
    if (!this._sse && ws && this._epoch !== null && ws.readyState === 1) {
      ws.send(JSON.stringify({ type: TYPE.STATE, ...body }));
      return;
    }
    const u = new URL(this._opts.endpoints[Math.max(this._endpoint, 0)]);
    u.protocol = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
    u.pathname = '/v1/inbox/state';
    u.search = '';
    const res = await this._fetch(u.toString(), {
      method: 'POST',
      headers: { Authorization: 'Bearer ' + (await this._getToken()), 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error('AlarmClient: state change: HTTP ' + res.status);
  }

  /** markRead marks alarms read. @param {string[]} ids */
  markRead(ids) {
    return this.changeState('read', { ids });
  }

  /** markAllRead marks every inbox alarm up to the last one received read. */
  markAllRead() {
    return this.changeState('read', { upTo: this._pos.last_id || '0-0' });
  }

  _onClose(code, reason) {
    this._drop();
    const gen = this._gen;
    this._emit('disconnected', { code, reason });
    if (!this._running || gen !== this._gen) return; // a listener stopped or restarted the client
    if (STOP_CODES.has(code)) {
      this._running = false;
      this._status('closed', { code, reason, reconnect: false });
      return;
    }
    if (code === CLOSE.AUTH) {
      this._fetched = null;
      if (typeof this._token !== 'function') {
        this._waitingToken = true;
        this._status('closed', { code, reason, reconnect: false });
        this._emit('tokenexpired', { code, reason });
        return;
      }
    }
    // A draining node (1012): go elsewhere at once, unless that already failed.
    let delay = 0;
    if (code === CLOSE.RESTART && this._attempt === 0) this._attempt++;
    else delay = this._nextDelay();
    this._status('closed', { code, reason, reconnect: true, delay });
    this._reconnect(delay);
  }

  // _nextDelay returns the backoff for the current attempt and counts it.
  _nextDelay() {
    const { minBackoff, maxBackoff } = this._opts;
    return backoffDelay(this._attempt++, minBackoff, maxBackoff, this._random);
  }

  _reconnect(delay) {
    if (!this._running) return;
    clearTimeout(this._retry);
    this._retry = setTimeout(() => this._connect(), delay);
  }

  _status(state, extra) {
    this._emit('status', { state, node: this._node, ...extra });
  }

  _emit(type, detail) {
    if (RELAYED.has(type)) this._post({ kind: 'event', type, detail: plain(detail) });
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _load() {
    try {
      const p = JSON.parse(this._storage?.getItem(this._key) ?? 'null');
      if (p && parseId(p.last_id)) {
        return { last_id: p.last_id, epoch: typeof p.epoch === 'string' ? p.epoch : null };
      }
    } catch {
      // unreadable: start fresh
    }
    return { last_id: null, epoch: null };
  }

  _save(pos) {
    this._pos = pos;
    if (this._role === 'follower') return; // the leader persists the shared position
    try {
      this._storage?.setItem(this._key, JSON.stringify(pos));
    } catch {
      // storage full or denied: the position stays in memory
    }
  }
}

// newer returns the later of two positions: the larger id within one epoch, else a (the
// position this tab saw last) unless it has none.
function newer(a, b) {
  if (!a.last_id) return b;
  if (!b.last_id || a.epoch !== b.epoch) return a;
  return compareIds(b.last_id, a.last_id) > 0 ? b : a;
}

// plain keeps what a BroadcastChannel can clone (errors become their message).
function plain(detail) {
  if (!detail || typeof detail !== 'object') return detail;
  const out = {};
  for (const [k, v] of Object.entries(detail)) out[k] = v instanceof Error ? String(v) : v;
  return out;
}

function checkToken(token) {
  if (typeof token === 'function' || (typeof token === 'string' && token !== '')) return;
  throw new TypeError('AlarmClient: token must be a non-empty string or a function');
}
