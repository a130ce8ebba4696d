// client.js: browser client for the alarm gateway protocol v1, over WebSocket or Server-Sent Events,
// and AlarmInbox, the model of a user's inbox on top of it.
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
 * GatewayHTTPError is an HTTP API call that was answered with an error status.
 * `status` is the HTTP status, `code` the error code of the body (docs/protocol.md, "HTTP
 * errors") or '', `retryAfter` the Retry-After header in ms (0 when absent).
 */
export class GatewayHTTPError extends Error {
  constructor(what, res, body) {
    const code = body?.error?.code ?? '';
    super('AlarmClient: ' + what + ': HTTP ' + res.status + (code ? ' ' + code : ''));
    this.name = 'GatewayHTTPError';
    this.status = res.status;
    this.code = code;
    const ra = Number(res.headers?.get?.('Retry-After'));
    this.retryAfter = Number.isFinite(ra) && ra > 0 ? ra * 1e3 : 0;
  }
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
   * @returns {Promise<object | undefined>} the HTTP answer ({id?, changed, unread, unseen}), or
   *   undefined when it went over the WebSocket. Rejects with a {@link GatewayHTTPError}.
   */
  async changeState(op, { ids, upTo } = {}) {
    const body = { op };
    if (ids && ids.length) body.ids = ids;
    else if (upTo) body.up_to = upTo;
    else throw new TypeError('AlarmClient: changeState needs ids or upTo');
    if (this._sendState(body)) return undefined;
    return this._postState(body);
  }

  /** markRead marks alarms read. @param {string[]} ids */
  markRead(ids) {
    return this.changeState('read', { ids });
  }

  /** markAllRead marks every inbox alarm up to the last one received read. */
  markAllRead() {
    return this.changeState('read', { upTo: this._pos.last_id || '0-0' });
  }

  /**
   * inbox returns a new inbox model of this client's user (see {@link AlarmInbox}).
   * @param {AlarmInboxOptions} [options]
   * @returns {AlarmInbox}
   */
  inbox(options) {
    return new AlarmInbox(this, options);
  }

  /**
   * readInbox reads one page of the user's inbox: GET /v1/inbox with the token.
   * @param {{before?: string, limit?: number, unread?: boolean, archived?: boolean}} [query]
   * @param {string} [base] base URL of the HTTP API; default the node of the current endpoint.
   * @returns {Promise<object>} the answer: {epoch, unread, unseen, items, next?}.
   */
  readInbox(query = {}, base) {
    const q = new URLSearchParams();
    for (const k of ['before', 'limit', 'unread', 'archived']) if (query[k] !== undefined && query[k] !== null) q.set(k, String(query[k]));
    const qs = q.toString();
    return this._api('GET', '/v1/inbox' + (qs ? '?' + qs : ''), { base, what: 'inbox' });
  }

  // _sendState sends a state change over this tab's open WebSocket; false when there is none.
  _sendState(body) {
    const ws = this._ws;
    if (this._sse || !ws || this._epoch === null || ws.readyState !== 1) return false;
    ws.send(JSON.stringify({ type: TYPE.STATE, ...body }));
    return true;
  }

  // _postState sends a state change over HTTP and returns the answer.
  _postState(body, base) {
    return this._api('POST', '/v1/inbox/state', { body, base, what: 'state change' });
  }

  // _apiURL is the URL of path on base, or on the node of the current (or first) endpoint.
  _apiURL(path, base) {
    if (base) return String(base).replace(/\/+$/, '') + path;
    const u = new URL(this._opts.endpoints[Math.max(this._endpoint, 0)]);
    u.protocol = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
    const [pathname, search = ''] = path.split('?');
    u.pathname = pathname;
    u.search = search;
    return u.toString();
  }

  // _api makes an HTTP API call with the token and returns the parsed answer.
  async _api(method, path, { body, base, what }) {
    const headers = { Authorization: 'Bearer ' + (await this._getToken()) };
    const init = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await this._fetch(this._apiURL(path, base), init);
    let out = null;
    try {
      out = await res.json();
    } catch {
      // no JSON body
    }
    if (!res.ok) throw new GatewayHTTPError(what, res, out);
    return out;
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

// ---- The inbox model (docs/browser-client.md, "Inbox") ----

/**
 * @typedef {object} AlarmInboxOptions
 * @property {'all' | 'unread' | 'archived'} [filter] What `items` and the pages hold: `'all'` the
 *   alarms not archived, `'unread'` those also unread, `'archived'` the archived ones. Default 'all'.
 * @property {number} [pageSize] Alarms per GET /v1/inbox page, 1..1000. Default 50.
 * @property {string} [api] Base URL of the HTTP API (GET /v1/inbox, POST /v1/inbox/state), e.g.
 *   `location.origin`. Default: the node of the client's current endpoint.
 * @property {number} [confirmTimeout] A change sent over the WebSocket that no state event
 *   confirms within this many ms is sent again over HTTP, which answers for sure. Default 2000.
 * @property {number} [retries] Retries of a call answered 429 or 503 or that failed on the
 *   network, after Retry-After or a backoff, before it counts as failed. Default 3.
 */

/**
 * @typedef {object} InboxItem
 * @property {object} alarm The alarm message as delivered.
 * @property {boolean} seen
 * @property {boolean} read
 * @property {boolean} archived
 * @property {boolean} pending A change of this item is not confirmed yet.
 */

// The largest limit of GET /v1/inbox.
const MAX_PAGE_SIZE = 1e3;

const INBOX_DEFAULTS = { filter: 'all', pageSize: 50, confirmTimeout: 2000, retries: 3, api: undefined };

// What each filter asks GET /v1/inbox for, and keeps of the items.
const FILTERS = Object.freeze({
  all: { query: { archived: false }, keep: (s) => !s.archived },
  unread: { query: { unread: true, archived: false }, keep: (s) => !s.read && !s.archived },
  archived: { query: { archived: true }, keep: (s) => s.archived },
});

// applyOp returns state s after op.
function applyOp(s, op) {
  switch (op) {
    case 'seen':
      return { ...s, seen: true };
    case 'read':
      return { ...s, seen: true, read: true };
    case 'unread':
      return { ...s, read: false };
    case 'archive':
      return { ...s, archived: true };
    case 'unarchive':
      return { ...s, archived: false };
  }
  return s;
}

// sameState reports whether op would change nothing on s.
function sameState(s, op) {
  const t = applyOp(s, op);
  return t.seen === s.seen && t.read === s.read && t.archived === s.archived;
}

// covers reports whether a change ({ids: Set} or {upTo}) names alarm id.
function covers(c, id) {
  return c.ids ? c.ids.has(id) : compareIds(id, c.upTo) <= 0;
}

// contribution is what an item adds to the counts: unarchived and unread, unseen.
function contribution(s) {
  return { unread: !s.read && !s.archived ? 1 : 0, unseen: !s.seen && !s.archived ? 1 : 0 };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// retryable reports whether a failed call may succeed later.
const retryable = (err) => !(err instanceof GatewayHTTPError) || err.status === 429 || err.status === 503;

/**
 * AlarmInbox is the user's inbox as a list: it loads GET /v1/inbox page by page, applies the
 * alarms and state events the client receives (live and replayed) in id order, once each, and
 * changes state optimistically. Events (CustomEvent):
 *
 * - `change`: `{items, counts, reason}`: the items that changed (or every item for the reasons
 *   'load' and 'filter'), the counts now, and why: 'load', 'more', 'filter', 'alarm', 'state',
 *   'local' (an optimistic change), 'confirm', 'rollback', 'counts', 'loading', 'connection'.
 * - `error`: `{error, phase: 'load' | 'change', op?, ids?, upTo?}`: a page could not be read, or a
 *   change failed and was rolled back.
 *
 * It loads the first page when the client's connection opens (or at once when it is open),
 * and again after every welcome that is not `resumed`.
 */
export class AlarmInbox extends EventTarget {
  /**
   * @param {AlarmClient} client
   * @param {AlarmInboxOptions} [options]
   */
  constructor(client, options = {}) {
    super();
    if (!(client instanceof AlarmClient)) throw new TypeError('AlarmInbox: client must be an AlarmClient');
    const o = { ...INBOX_DEFAULTS, ...options };
    if (!FILTERS[o.filter]) throw new TypeError("AlarmInbox: filter must be 'all', 'unread' or 'archived'");
    if (!Number.isInteger(o.pageSize) || o.pageSize < 1 || o.pageSize > MAX_PAGE_SIZE) throw new TypeError('AlarmInbox: pageSize must be 1..' + MAX_PAGE_SIZE);
    this.client = client;
    this._o = o;
    this._filter = o.filter;
    this._items = new Map(); // id -> {alarm, seen, read, archived}: the server's state as received
    this._order = []; // the ids of _items, newest first
    this._counts = client.counts() ?? { unread: 0, unseen: 0 }; // the server's counts, last received
    this._countsSeq = 0; // bumped by every counts received from the stream
    this._pending = []; // optimistic changes not yet confirmed, oldest first
    this._journal = []; // stream messages received while a page is read: [kind, msg]
    this._jbase = 0; // journal sequence number of _journal[0]
    this._reading = 0; // pages in flight; the journal is kept while > 0
    this._gen = 0; // bumped by every reset: pages of an older generation are dropped
    this._next = null; // before of the next page; null: none (or not loaded)
    this._loaded = false; // the first page arrived
    this._first = null; // promise of the first page in flight
    this._more = null; // promise of the loadMore in flight
    this._lastState = null; // id of the last state event applied
    this._epoch = null; // epoch of the connection
    this._connection = client._epoch !== null ? 'open' : 'connecting';
    this._view = null; // cached items; null when stale
    this._shownCounts = null; // cached counts; null when stale
    this._closed = false;
    this._on = {
      status: (e) => this._onStatus(e.detail),
      alarm: (e) => typeof e.detail.unread === 'number' && this._onAlarm(e.detail),
      state: (e) => this._onState(e.detail),
      counts: (e) => this._onCounts(e.detail),
      stateerror: (e) => this._recheckWS(Number(e.detail?.retry_after_ms) || 0),
      disconnected: () => this._recheckWS(0),
    };
    for (const [type, f] of Object.entries(this._on)) client.addEventListener(type, f);
    if (client._epoch !== null) {
      this._epoch = client._epoch;
      this.load();
    }
  }

  /** close detaches the model from its client and ends its timers. */
  close() {
    if (this._closed) return;
    this._closed = true;
    this._gen++;
    for (const [type, f] of Object.entries(this._on)) this.client.removeEventListener(type, f);
    for (const p of this._pending) clearTimeout(p.timer);
  }

  /** @returns {InboxItem[]} the items of the filter, newest first, as shown (changes applied). */
  get items() {
    if (!this._view) {
      const disp = this._display();
      const keep = FILTERS[this._filter].keep;
      this._view = this._order.map((id) => disp.get(id)).filter((d) => d && keep(d));
    }
    return this._view;
  }

  /** @returns {{unread: number, unseen: number}} the counts, changes not yet confirmed included. */
  get counts() {
    if (!this._shownCounts) this._shownCounts = this._pending.length ? this._displayCounts(this._display()) : { ...this._counts };
    return { ...this._shownCounts };
  }

  /** @returns {'all' | 'unread' | 'archived'} */
  get filter() {
    return this._filter;
  }

  /** Setting the filter empties the list and loads the first page of the new one. */
  set filter(f) {
    if (!FILTERS[f]) throw new TypeError("AlarmInbox: filter must be 'all', 'unread' or 'archived'");
    if (f === this._filter) return;
    this._filter = f;
    this._gen++;
    this._items.clear();
    this._order = [];
    this._next = null;
    this._loaded = false;
    this._first = this._more = null;
    this._commit('filter', null);
    this.load();
  }

  /** @returns {boolean} whether the first page arrived. */
  get loaded() {
    return this._loaded;
  }

  /** @returns {boolean} whether a page is being read. */
  get loading() {
    return this._first !== null || this._more !== null;
  }

  /** @returns {boolean} whether older pages remain (loadMore reads the next). */
  get hasMore() {
    return this._loaded && this._next !== null;
  }

  /**
   * @returns {'connecting' | 'open' | 'closed'} the client's connection: 'closed' once it
   *   stopped (a closed connection that reconnects is 'connecting').
   */
  get connection() {
    return this._connection;
  }

  /**
   * load reads the first page again and replaces the list with it (the alarms and changes that
   * arrive meanwhile included).
   * @returns {Promise<void>}
   */
  load() {
    if (this._closed) return Promise.resolve();
    const gen = ++this._gen;
    this._more = null;
    const p = this._read(undefined, (r) => {
      if (gen !== this._gen) return;
      this._first = null;
      if (r) this._reset(r);
      else this._commit('loading', []);
    });
    this._first = p;
    this._commit('loading', []);
    return p;
  }

  /**
   * loadMore reads the next page (no-op when none is left, or while one is read).
   * @returns {Promise<void>}
   */
  loadMore() {
    if (this._more) return this._more;
    if (this._first) return this._first;
    if (!this.hasMore || this._closed) return Promise.resolve();
    const gen = this._gen;
    const before = this._next;
    const p = this._read(before, (r) => {
      if (gen !== this._gen || this._more !== p) return;
      this._more = null;
      if (r && this._next === before) this._append(r);
      else this._commit('loading', []);
    });
    this._more = p;
    this._commit('loading', []);
    return p;
  }

  // _read reads one page (retrying) and calls done with {page, mark, fresh} (mark: the journal
  // position at its start; fresh: no counts arrived meanwhile), or with null after an error
  // (reported), while the journal still holds what arrived meanwhile.
  async _read(before, done) {
    const mark = this._jbase + this._journal.length;
    this._reading++;
    const q = { ...FILTERS[this._filter].query, limit: this._o.pageSize };
    if (before) q.before = before;
    const countsSeq = this._countsSeq;
    let r = null;
    try {
      try {
        const page = await this._retry(() => this.client.readInbox(q, this._o.api));
        r = { page, mark, fresh: countsSeq === this._countsSeq };
      } catch (error) {
        if (!this._closed) this._emit('error', { error, phase: 'load' });
      }
      done(r);
    } finally {
      if (--this._reading === 0) {
        this._jbase += this._journal.length;
        this._journal = [];
      }
    }
  }

  // _retry runs call, again after Retry-After (or a backoff) when it failed with 429, 503 or on
  // the network, up to `retries` times.
  async _retry(call) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (attempt >= this._o.retries || !retryable(err) || this._closed) throw err;
        await sleep(Math.min(5000, err.retryAfter || 250 * 2 ** attempt));
      }
    }
  }

  // _pageItems turns a page's items into a map of server states, with the stream messages
  // received since mark applied (alarms added when addAlarms).
  _pageItems({ page, mark }, addAlarms) {
    const m = new Map();
    for (const it of page.items || []) {
      if (it && it.alarm && parseId(it.alarm.id)) m.set(it.alarm.id, { alarm: it.alarm, seen: !!it.seen, read: !!it.read, archived: !!it.archived });
    }
    for (const [kind, msg] of this._journal.slice(Math.max(0, mark - this._jbase))) {
      if (kind === 'alarm' && addAlarms && !m.has(msg.id)) m.set(msg.id, { alarm: msg, seen: false, read: false, archived: false });
      if (kind === 'state') applyState(m, msg);
    }
    return m;
  }

  _reset(r) {
    this._items = this._pageItems(r, true);
    this._order = [...this._items.keys()].sort((a, b) => compareIds(b, a));
    this._next = r.page.next || null;
    this._loaded = true;
    if (r.fresh) this._counts = { unread: Number(r.page.unread) || 0, unseen: Number(r.page.unseen) || 0 };
    this._commit('load', null);
  }

  _append(r) {
    const added = [];
    for (const [id, s] of this._pageItems(r, false)) {
      if (this._items.has(id)) continue; // the stream's state is newer
      this._items.set(id, s);
      added.push(id);
    }
    this._order = [...this._items.keys()].sort((a, b) => compareIds(b, a));
    this._next = r.page.next || null;
    this._commit('more', added);
  }

  _onStatus(s) {
    if (s.state === 'open') {
      const epoch = typeof s.epoch === 'string' ? s.epoch : null;
      if (epoch !== this._epoch) this._lastState = null;
      this._epoch = epoch;
      this._connection = 'open';
      this._commit('connection', []);
      if (s.resume !== STATUS.RESUMED || (!this._loaded && !this._first)) this.load();
      return;
    }
    // A closed connection that reconnects is connecting again; only a stopped one is closed.
    const state = s.state === 'closed' && s.reconnect ? 'connecting' : s.state;
    if (this._connection === state) return;
    this._connection = state;
    this._commit('connection', []);
  }

  _onAlarm(a) {
    if (this._reading) this._journal.push(['alarm', a]);
    this._setCounts(a);
    if (this._items.has(a.id)) return this._commit('counts', []);
    this._items.set(a.id, { alarm: a, seen: false, read: false, archived: false });
    let i = 0;
    while (i < this._order.length && compareIds(this._order[i], a.id) > 0) i++;
    this._order.splice(i, 0, a.id);
    this._commit('alarm', [a.id]);
  }

  _onState(s) {
    if (!parseId(s.id) || (this._lastState && compareIds(s.id, this._lastState) <= 0)) return;
    this._lastState = s.id;
    if (this._reading) this._journal.push(['state', s]);
    const changed = applyState(this._items, s);
    this._setCounts(s);
    for (const p of [...this._pending]) {
      if ((p.via === 'ws' && this._satisfied(p, s)) || (p.eventId && compareIds(s.id, p.eventId) >= 0)) {
        this._settle(p, true);
        changed.push(...this._touched(p));
      }
    }
    this._commit('state', changed);
  }

  _onCounts(c) {
    const same = c.unread === this._counts.unread && c.unseen === this._counts.unseen;
    this._setCounts(c);
    if (!same) this._commit('counts', []);
  }

  _setCounts(c) {
    this._countsSeq++;
    this._counts = { unread: Number(c.unread) || 0, unseen: Number(c.unseen) || 0 };
  }

  // ---- Changes ----

  /** markRead marks alarms read. Resolves true when confirmed, false when rolled back. @param {string[]} ids */
  markRead(ids) {
    return this._change('read', ids);
  }

  /** markUnread marks alarms unread. @param {string[]} ids */
  markUnread(ids) {
    return this._change('unread', ids);
  }

  /** markSeen marks alarms seen. @param {string[]} ids */
  markSeen(ids) {
    return this._change('seen', ids);
  }

  /** archive archives alarms. @param {string[]} ids */
  archive(ids) {
    return this._change('archive', ids);
  }

  /** unarchive unarchives alarms. @param {string[]} ids */
  unarchive(ids) {
    return this._change('unarchive', ids);
  }

  /** markAllRead marks every inbox alarm up to the newest this tab knows read. */
  markAllRead() {
    return this._changeAll('read');
  }

  /** markAllSeen marks every inbox alarm up to the newest this tab knows seen. */
  markAllSeen() {
    return this._changeAll('seen');
  }

  _change(op, ids) {
    if (!Array.isArray(ids)) throw new TypeError('AlarmInbox: ids must be an array of alarm ids');
    const todo = [...new Set(ids)].filter((id) => {
      const d = parseId(id) ? this._shown(id) : undefined;
      return d !== undefined && !(d && sameState(d, op));
    });
    if (todo.length === 0) return Promise.resolve(true);
    return this._start({ op, ids: new Set(todo), body: { op, ids: todo } });
  }

  _changeAll(op) {
    const pos = this.client.position().last_id;
    let upTo = this._order[0] ?? null;
    if (pos && (!upTo || compareIds(pos, upTo) > 0)) upTo = pos;
    if (!upTo) return Promise.resolve(true);
    // The newest alarm the change reaches that this tab knows: its state event names it.
    const ref = this._order.find((id) => compareIds(id, upTo) <= 0) ?? null;
    return this._start({ op, upTo, ref, body: { op, up_to: upTo } });
  }

  // _start applies change p optimistically and sends it: over the WebSocket when open, where its
  // state event confirms it, else (or when none came in time) over HTTP, whose answer does.
  _start(p) {
    p.via = null;
    p.timer = null;
    p.eventId = null;
    p.done = new Promise((res) => (p.resolve = res));
    this._pending.push(p);
    this._commit('local', this._touched(p));
    if (!this._closed && this.client._sendState(p.body)) {
      p.via = 'ws';
      p.timer = setTimeout(() => this._post(p), this._o.confirmTimeout);
    } else {
      this._post(p);
    }
    return p.done;
  }

  // _recheckWS sends the changes still waiting for their state event over HTTP (after delay):
  // the socket closed, or the server refused a change without saying which.
  _recheckWS(delay) {
    for (const p of this._pending) {
      if (p.via !== 'ws') continue;
      p.via = 'recheck';
      clearTimeout(p.timer);
      p.timer = setTimeout(() => this._post(p), delay);
    }
  }

  async _post(p) {
    if (p.settled) return;
    clearTimeout(p.timer);
    p.via = 'http';
    try {
      const ans = await this._retry(() => this.client._postState(p.body, this._o.api));
      if (p.settled) return;
      const id = ans && typeof ans.id === 'string' && parseId(ans.id) ? ans.id : null;
      if (id && !(this._lastState && compareIds(id, this._lastState) <= 0)) {
        // Applied: keep showing it until its state event arrives (or 10 s pass).
        p.eventId = id;
        p.timer = setTimeout(() => this._settleAndCommit(p, true), 10000);
        return;
      }
      this._settleAndCommit(p, true);
    } catch (error) {
      if (p.settled) return;
      const { op, body } = p;
      this._settleAndCommit(p, false);
      this._emit('error', { error, phase: 'change', op, ids: body.ids, upTo: body.up_to });
    }
  }

  _settleAndCommit(p, ok) {
    if (p.settled) return;
    this._settle(p, ok);
    this._commit(ok ? 'confirm' : 'rollback', this._touched(p));
  }

  _settle(p, ok) {
    p.settled = true;
    clearTimeout(p.timer);
    this._pending = this._pending.filter((x) => x !== p);
    p.resolve(ok);
  }

  // _satisfied reports whether state event s confirms change p sent over the WebSocket: the same
  // op, naming its alarms, and the server's state of every alarm p names is what p asked for.
  _satisfied(p, s) {
    if (s.op !== p.op) return false;
    if (p.ids) {
      if (!Array.isArray(s.ids) || !s.ids.some((id) => p.ids.has(id))) return false;
    } else if (!s.up_to || (p.ref && compareIds(s.up_to, p.ref) < 0)) {
      return false;
    }
    for (const id of this._touched(p)) if (!sameState(this._items.get(id), p.op)) return false;
    return true;
  }

  // _touched lists the known alarms change p names.
  _touched(p) {
    if (p.ids) return [...p.ids].filter((id) => this._items.has(id));
    return this._order.filter((id) => compareIds(id, p.upTo) <= 0);
  }

  // ---- The view ----

  // _display returns the state of every known alarm with the pending changes applied.
  _display() {
    const m = new Map();
    for (const id of this._items.keys()) m.set(id, this._shown(id));
    return m;
  }

  // _shown returns the item of a known alarm with the pending changes applied, or null.
  _shown(id) {
    const s = this._items.get(id);
    if (!s) return null;
    let d = s;
    let pending = false;
    for (const p of this._pending) {
      if (!covers(p, id)) continue;
      d = applyOp(d, p.op);
      pending = true;
    }
    return { alarm: s.alarm, seen: d.seen, read: d.read, archived: d.archived, pending };
  }

  // _displayCounts is the server's counts with the pending changes applied: the known alarms
  // as shown, plus the unknown ones (the counts minus the known), which a pending "all" change
  // clears.
  _displayCounts(disp) {
    const known = { unread: 0, unseen: 0 };
    const shown = { unread: 0, unseen: 0 };
    for (const [id, s] of this._items) {
      const k = contribution(s);
      const d = contribution(disp.get(id));
      known.unread += k.unread;
      known.unseen += k.unseen;
      shown.unread += d.unread;
      shown.unseen += d.unseen;
    }
    let unread = Math.max(0, this._counts.unread - known.unread);
    let unseen = Math.max(0, this._counts.unseen - known.unseen);
    for (const p of this._pending) {
      if (p.ids) continue;
      if (p.op === 'read') unread = unseen = 0;
      if (p.op === 'seen') unseen = 0;
    }
    return { unread: shown.unread + unread, unseen: shown.unseen + unseen };
  }

  // _commit drops the cached view and emits change with the items of ids (all: null).
  _commit(reason, ids) {
    this._view = null;
    this._shownCounts = null;
    if (this._closed) return;
    const items = ids === null ? this.items : [...new Set(ids)].map((id) => this._shown(id)).filter(Boolean);
    this._emit('change', { items, counts: this.counts, reason });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

// applyState applies state event s to the server states in m and returns the ids it changed.
function applyState(m, s) {
  const changed = [];
  const apply = (id) => {
    const cur = m.get(id);
    if (!cur || sameState(cur, s.op)) return;
    m.set(id, { ...applyOp(cur, s.op), alarm: cur.alarm });
    changed.push(id);
  };
  if (Array.isArray(s.ids)) for (const id of s.ids) apply(id);
  else if (parseId(s.up_to)) for (const id of [...m.keys()]) if (compareIds(id, s.up_to) <= 0) apply(id);
  return changed;
}
