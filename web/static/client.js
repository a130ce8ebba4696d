// client.js: browser client for the alarm gateway WebSocket protocol v1.
// A dependency-free ES module; see PROTOCOL.md ("Receiving") for the wire contract.

/**
 * @typedef {object} AlarmClientOptions
 * @property {string[]} endpoints WebSocket URLs of gateway nodes (ws://host/v1/ws). The client
 *   rotates through them: every (re)connect uses the next one.
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
 */

/**
 * @typedef {object} Position
 * @property {string | null} last_id Id of the last alarm processed, or the position of the last
 *   welcome when no alarm came since. `null` before the first welcome.
 * @property {string | null} epoch Epoch that `last_id` belongs to.
 */

const DEFAULTS = { minBackoff: 100, maxBackoff: 10000, idleTimeout: 60000 };

// The protocol's vocabulary (PROTOCOL.md). web's Go tests check these against package protocol.

// Message types.
const TYPE = Object.freeze({ HELLO: 'hello', WELCOME: 'welcome', ALARM: 'alarm', PING: 'ping' });

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
 * Close 1000 and 4000 stop the client; 1012 reconnects at once; anything else reconnects
 * with backoff. The position is saved in storage after every welcome and alarm, so a
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
  }

  /** start connects (no-op when already started). */
  start() {
    if (this._running) return;
    this._running = true;
    this._waitingToken = false;
    this._attempt = 0;
    this._connect();
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
    clearTimeout(this._idle);
    this._idle = null;
    const ws = this._ws;
    this._ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(CLOSE.NORMAL, 'client');
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
      if (msg.type === TYPE.WELCOME) this._onWelcome(msg);
      else if (msg.type === TYPE.ALARM) this._onAlarm(msg);
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
    if (parseId(w.position)) this._save({ last_id: w.position, epoch: this._epoch });
    const endpoint = this._opts.endpoints[this._endpoint];
    this._status('open', { epoch: this._epoch, channels: w.channels, endpoint, resume: status });
    this._emit('welcome', w);
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
    try {
      this._storage?.setItem(this._key, JSON.stringify(pos));
    } catch {
      // storage full or denied: the position stays in memory
    }
  }
}

function checkToken(token) {
  if (typeof token === 'function' || (typeof token === 'string' && token !== '')) return;
  throw new TypeError('AlarmClient: token must be a non-empty string or a function');
}
