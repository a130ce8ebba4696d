// alarm-inbox.js: <alarm-inbox>, a notification bell with a popover list for an AlarmInbox of
// client.js. A dependency-free ES module that defines one custom element; see
// docs/browser-client.md ("The <alarm-inbox> element").
//
//   <alarm-inbox></alarm-inbox>
//   document.querySelector('alarm-inbox').client = client; // or .inbox = client.inbox({...})
//
// Alarm data is shown as text only: the title is data.title (else the event), the text
// data.text; both go through textContent. A page that wants more sets `renderItem`.

const STYLE = `
:host {
  --_fg: var(--alarm-inbox-fg, #1d232b);
  --_bg: var(--alarm-inbox-bg, #ffffff);
  --_muted: var(--alarm-inbox-muted, #5b6673);
  --_border: var(--alarm-inbox-border, #d6dbe1);
  --_accent: var(--alarm-inbox-accent, #2457c5);
  --_hover: var(--alarm-inbox-hover, #f1f4f8);
  --_unread-bg: var(--alarm-inbox-unread-bg, #eef3fd);
  --_badge-bg: var(--alarm-inbox-badge-bg, #c62828);
  --_badge-fg: var(--alarm-inbox-badge-fg, #ffffff);
  --_warn: var(--alarm-inbox-warn, #8a5a00);
  --_shadow: var(--alarm-inbox-shadow, 0 8px 28px rgb(0 0 0 / 18%));
  position: relative;
  display: inline-block;
  font: var(--alarm-inbox-font, inherit);
  color: var(--_fg);
}
@media (prefers-color-scheme: dark) {
  :host {
    --_fg: var(--alarm-inbox-fg, #e6e9ed);
    --_bg: var(--alarm-inbox-bg, #1e2227);
    --_muted: var(--alarm-inbox-muted, #9aa5b1);
    --_border: var(--alarm-inbox-border, #3a414a);
    --_accent: var(--alarm-inbox-accent, #7aa5ff);
    --_hover: var(--alarm-inbox-hover, #2a3038);
    --_unread-bg: var(--alarm-inbox-unread-bg, #22304a);
    --_badge-bg: var(--alarm-inbox-badge-bg, #ef5350);
    --_warn: var(--alarm-inbox-warn, #f0c062);
    --_shadow: var(--alarm-inbox-shadow, 0 8px 28px rgb(0 0 0 / 55%));
  }
}
:host([hidden]) { display: none; }
[hidden] { display: none !important; }
button { font: inherit; color: inherit; }
:focus-visible { outline: 2px solid var(--_accent); outline-offset: 2px; }
.bell {
  position: relative; display: inline-grid; place-items: center;
  inline-size: var(--alarm-inbox-bell-size, 2.5rem); block-size: var(--alarm-inbox-bell-size, 2.5rem);
  padding: 0; border: 1px solid var(--_border); border-radius: 50%;
  background: var(--_bg); color: var(--_fg); cursor: pointer;
}
.bell:hover { background: var(--_hover); }
.bell svg { inline-size: 55%; block-size: 55%; }
.badge {
  position: absolute; inset-block-start: -.3rem; inset-inline-end: -.4rem;
  min-inline-size: 1.25rem; padding: 0 .3rem; border-radius: 1rem; box-sizing: border-box;
  background: var(--_badge-bg); color: var(--_badge-fg);
  font-size: .72rem; font-weight: 700; line-height: 1.25rem; text-align: center;
}
.panel {
  position: absolute; z-index: 1000; inset-block-start: calc(100% + .4rem); inset-inline-end: 0;
  inline-size: min(var(--alarm-inbox-width, 24rem), calc(100vw - 1rem));
  display: flex; flex-direction: column; max-block-size: var(--alarm-inbox-max-height, 28rem);
  background: var(--_bg); color: var(--_fg); border: 1px solid var(--_border);
  border-radius: var(--alarm-inbox-radius, .5rem); box-shadow: var(--_shadow); overflow: hidden;
}
:host([align="start"]) .panel { inset-inline-end: auto; inset-inline-start: 0; }
.header { display: flex; align-items: center; justify-content: space-between; gap: .5rem; padding: .6rem .75rem .3rem; }
h2 { margin: 0; font-size: 1rem; }
.mark-all { border: 0; background: none; color: var(--_accent); cursor: pointer; padding: .2rem .3rem; font-size: .85rem; }
.mark-all:disabled { color: var(--_muted); cursor: default; }
.tabs { display: flex; gap: .25rem; padding: 0 .75rem; border-block-end: 1px solid var(--_border); }
.tab { border: 0; border-block-end: 2px solid transparent; background: none; padding: .35rem .5rem; cursor: pointer; color: var(--_muted); font-size: .85rem; }
.tab[aria-selected="true"] { color: var(--_fg); border-block-end-color: var(--_accent); font-weight: 600; }
.note { margin: 0; padding: .4rem .75rem; font-size: .8rem; color: var(--_warn); }
.scroller { overflow-y: auto; overscroll-behavior: contain; flex: 1 1 auto; }
.list { list-style: none; margin: 0; padding: 0; }
.item { display: flex; align-items: stretch; border-block-end: 1px solid var(--_border); }
.item[data-read="false"] { background: var(--_unread-bg); }
.main {
  flex: 1 1 auto; display: flex; gap: .6rem; align-items: flex-start; min-inline-size: 0;
  padding: .6rem .5rem .6rem .75rem; border: 0; background: none; text-align: start;
  cursor: pointer; text-decoration: none; color: inherit;
}
.main:hover, .archive:hover { background: var(--_hover); }
.main:focus-visible, .archive:focus-visible { outline-offset: -2px; }
.dot { flex: none; inline-size: .5rem; block-size: .5rem; margin-block-start: .45rem; border-radius: 50%; }
.item[data-read="false"] .dot { background: var(--_accent); }
.body { display: grid; gap: .1rem; min-inline-size: 0; }
.title { font-weight: 600; overflow-wrap: anywhere; }
.item[data-read="true"] .title { font-weight: 400; }
.text { font-size: .88rem; color: var(--_muted); overflow-wrap: anywhere; white-space: pre-line; }
.time { font-size: .75rem; color: var(--_muted); }
.archive {
  flex: none; inline-size: 2.5rem; border: 0; background: none; color: var(--_muted); cursor: pointer;
  display: grid; place-items: center;
}
.archive svg { inline-size: 1.1rem; block-size: 1.1rem; }
.empty, .more { margin: 0; padding: 1.25rem .75rem; text-align: center; color: var(--_muted); font-size: .9rem; }
.more { padding: .6rem; }
.sr { position: absolute; inline-size: 1px; block-size: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
`;

const BELL = '<svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9"/><path d="M10.3 21a1.94 1.94 0 0 0 3.4 0"/></svg>';
const BOX = '<svg viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><rect x="2" y="3" width="20" height="5" rx="1"/><path d="M4 8v11a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8"/><path d="M10 12h4"/></svg>';

const TEMPLATE = `<style>${STYLE}</style>
<button part="bell" class="bell" type="button" aria-haspopup="dialog" aria-expanded="false" aria-controls="panel" aria-label="Notifications">${BELL}<span part="badge" class="badge" aria-hidden="true" hidden></span></button>
<div part="panel" class="panel" id="panel" role="dialog" aria-labelledby="heading" hidden>
  <div part="header" class="header">
    <h2 id="heading" part="heading"></h2>
    <button part="mark-all" class="mark-all" type="button">Mark all read</button>
  </div>
  <div part="tabs" class="tabs" role="tablist" aria-label="Show">
    <button part="tab" class="tab" type="button" role="tab" id="tab-unread" data-filter="unread" aria-controls="tabpanel">Unread</button>
    <button part="tab" class="tab" type="button" role="tab" id="tab-all" data-filter="all" aria-controls="tabpanel">All</button>
    <button part="tab" class="tab" type="button" role="tab" id="tab-archived" data-filter="archived" aria-controls="tabpanel">Archived</button>
  </div>
  <p part="status" class="note status" role="status" hidden></p>
  <p part="error" class="note error" role="alert" hidden></p>
  <div part="scroller" class="scroller" id="tabpanel" role="tabpanel">
    <ul part="list" class="list" aria-labelledby="heading"></ul>
    <p part="empty" class="empty" hidden></p>
    <p part="more" class="more" hidden>Loading…</p>
  </div>
</div>`;

const EMPTY = { all: 'No notifications', unread: 'No unread notifications', archived: 'Nothing archived' };
const TICK = 30000; // relative times are updated this often (ms)
const NEAR_BOTTOM = 120; // px from the end of the list at which the next page is read

/**
 * relativeTime says how long ago `ms` was, at `now`: "just now", "2 min ago", "3 h ago",
 * "4 d ago", else the date.
 * @param {number} ms
 * @param {number} now
 * @returns {string}
 */
export function relativeTime(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 45) return 'just now';
  const m = Math.max(1, Math.round(s / 60));
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  if (d < 7) return `${d} d ago`;
  return new Date(ms).toLocaleDateString();
}

/**
 * safeURL returns data.url when it is an absolute http(s) URL, else null.
 * @param {unknown} url
 * @returns {string | null}
 */
export function safeURL(url) {
  if (typeof url !== 'string') return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

// titleOf and textOf pick what an item shows, as plain strings.
const titleOf = (a) => (typeof a.data?.title === 'string' && a.data.title !== '' ? a.data.title : String(a.event ?? ''));
const textOf = (a) => (typeof a.data?.text === 'string' ? a.data.text : '');

/**
 * AlarmInboxElement is <alarm-inbox>. Properties: `client` (an AlarmClient: the element makes
 * and owns its inbox model), or `inbox` (an AlarmInbox the page made); `renderItem(item, el)`
 * (optional: fills `el`, the item's content, instead of the title, text and time); `open`.
 * Attributes: `label` (the heading and the bell's name, default "Notifications"), `align`
 * ("start" opens the popover to the right of the bell), `link-target` (where data.url opens,
 * default "_blank"). Events: `toggle` ({open}), `select` ({item}; cancelable: cancelled, the
 * link is not followed).
 */
export class AlarmInboxElement extends (globalThis.HTMLElement ?? class {}) {
  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = TEMPLATE; // fixed markup: no alarm data ever goes through innerHTML
    const $ = (s) => root.querySelector(s);
    this._el = {
      bell: $('.bell'), badge: $('.badge'), panel: $('.panel'), heading: $('h2'), markAll: $('.mark-all'),
      tabs: [...root.querySelectorAll('.tab')], status: $('.status'), error: $('.error'),
      scroller: $('.scroller'), list: $('.list'), empty: $('.empty'), more: $('.more'),
    };
    this._inbox = null;
    this._owned = false; // the element made the model (from `client`) and closes it
    this._rows = new Map(); // alarm id -> {li, main, state}
    this._wasOpen = false; // the connection was open once: a drop is "reconnecting"
    this._scheduled = false;
    this._timer = null;
    this._errTimer = null;
    this.renderItem = null;
    this._onChange = () => this._schedule();
    this._onError = (e) => this._showError(e.detail);
    this._onOutside = (e) => !e.composedPath().includes(this) && this.hide(false);
    this._wire();
  }

  static get observedAttributes() {
    return ['label'];
  }

  attributeChangedCallback() {
    this._schedule();
  }

  connectedCallback() {
    this._schedule();
  }

  disconnectedCallback() {
    this.hide(false);
  }

  /** @returns {object | null} the AlarmInbox shown. */
  get inbox() {
    return this._inbox;
  }

  set inbox(model) {
    this._attach(model, false);
  }

  /** Setting an AlarmClient makes an inbox model of it (closed when replaced). */
  set client(client) {
    this._attach(client ? client.inbox() : null, true);
  }

  get client() {
    return this._inbox?.client ?? null;
  }

  get open() {
    return !this._el.panel.hidden;
  }

  set open(v) {
    if (v) this.show();
    else this.hide(false);
  }

  /** show opens the popover and moves the focus into it. */
  show() {
    if (this.open) return;
    this._el.panel.hidden = false;
    this._el.bell.setAttribute('aria-expanded', 'true');
    document.addEventListener('pointerdown', this._onOutside, true);
    this._timer = setInterval(() => this._tick(), TICK);
    this._render();
    (this._el.list.querySelector('.main') ?? this._selectedTab()).focus();
    if (this._inbox && this._inbox.counts.unseen > 0) this._inbox.markAllSeen();
    this.dispatchEvent(new CustomEvent('toggle', { detail: { open: true } }));
  }

  /** hide closes the popover; with focusBell (default true) the focus goes back to the bell. */
  hide(focusBell = true) {
    if (!this.open) return;
    const inside = this.shadowRoot.activeElement !== null && this.shadowRoot.activeElement !== this._el.bell;
    this._el.panel.hidden = true;
    this._el.bell.setAttribute('aria-expanded', 'false');
    document.removeEventListener('pointerdown', this._onOutside, true);
    clearInterval(this._timer);
    if (focusBell || inside) this._el.bell.focus();
    this.dispatchEvent(new CustomEvent('toggle', { detail: { open: false } }));
  }

  toggle() {
    if (this.open) this.hide();
    else this.show();
  }

  _attach(model, owned) {
    if (this._inbox === model) return;
    if (this._inbox) {
      this._inbox.removeEventListener('change', this._onChange);
      this._inbox.removeEventListener('error', this._onError);
      if (this._owned) this._inbox.close();
    }
    this._inbox = model;
    this._owned = owned && !!model;
    this._wasOpen = false;
    for (const row of this._rows.values()) row.li.remove();
    this._rows.clear();
    if (model) {
      model.addEventListener('change', this._onChange);
      model.addEventListener('error', this._onError);
    }
    this._schedule();
  }

  // _wire sets up the fixed controls.
  _wire() {
    const { bell, markAll, panel, list, scroller } = this._el;
    bell.addEventListener('click', () => this.toggle());
    markAll.addEventListener('click', () => this._inbox?.markAllRead());
    for (const tab of this._el.tabs) tab.addEventListener('click', () => this._setFilter(tab.dataset.filter));
    panel.addEventListener('keydown', (e) => this._onKey(e));
    this.addEventListener('keydown', (e) => e.key === 'Escape' && this.open && (e.preventDefault(), this.hide()));
    list.addEventListener('click', (e) => this._onItemClick(e));
    scroller.addEventListener('scroll', () => this._maybeMore(), { passive: true });
  }

  _setFilter(f) {
    if (!this._inbox || this._inbox.filter === f) return;
    this._inbox.filter = f;
    this._el.scroller.scrollTop = 0;
  }

  _selectedTab() {
    return this._el.tabs.find((t) => t.getAttribute('aria-selected') === 'true') ?? this._el.tabs[1];
  }

  // _onKey: ArrowUp/ArrowDown (and Home/End) move between the items, ArrowLeft/ArrowRight
  // between the tabs (which they select).
  _onKey(e) {
    const root = this.shadowRoot;
    const tabs = this._el.tabs;
    const ti = tabs.indexOf(root.activeElement);
    if (ti >= 0 && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) {
      const next = tabs[(ti + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      next.focus();
      this._setFilter(next.dataset.filter);
      e.preventDefault();
      return;
    }
    if (!['ArrowDown', 'ArrowUp', 'Home', 'End'].includes(e.key)) return;
    const mains = [...this._el.list.querySelectorAll('.main')];
    if (mains.length === 0) return;
    const i = mains.indexOf(root.activeElement?.closest?.('.item')?.querySelector('.main'));
    let j;
    if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = mains.length - 1;
    else if (i < 0) j = 0;
    else j = Math.min(mains.length - 1, Math.max(0, i + (e.key === 'ArrowDown' ? 1 : -1)));
    mains[j].focus();
    mains[j].scrollIntoView({ block: 'nearest' });
    e.preventDefault();
  }

  _onItemClick(e) {
    const li = e.target.closest('.item');
    const row = li && this._rows.get(li.dataset.id);
    if (!row || !this._inbox) return;
    const id = li.dataset.id;
    if (e.target.closest('.archive')) {
      if (row.item.archived) this._inbox.unarchive([id]);
      else this._inbox.archive([id]);
      return;
    }
    if (!e.target.closest('.main')) return;
    const go = this.dispatchEvent(new CustomEvent('select', { detail: { item: row.item }, cancelable: true }));
    if (!go) e.preventDefault();
    if (!row.item.read) this._inbox.markRead([id]);
  }

  _showError(d) {
    const what = d.phase === 'load' ? 'Could not load the notifications.' : 'A change could not be saved.';
    this._el.error.textContent = what;
    this._el.error.hidden = false;
    clearTimeout(this._errTimer);
    this._errTimer = setTimeout(() => (this._el.error.hidden = true), 8000);
  }

  _schedule() {
    if (this._scheduled) return;
    this._scheduled = true;
    queueMicrotask(() => {
      this._scheduled = false;
      this._render();
    });
  }

  // _render shows the model: the bell always, the popover while open.
  _render() {
    const m = this._inbox;
    const label = this.getAttribute('label') || 'Notifications';
    const unread = m ? m.counts.unread : 0;
    const { bell, badge } = this._el;
    badge.textContent = unread > 99 ? '99+' : String(unread);
    badge.hidden = unread === 0;
    bell.setAttribute('aria-label', unread > 0 ? `${label}, ${unread} unread` : label);
    bell.dataset.unread = String(unread);
    this._el.heading.textContent = label;
    if (m?.connection === 'open') this._wasOpen = true;
    let conn = m ? m.connection : 'open';
    if (conn === 'connecting' && this._wasOpen) conn = 'reconnecting';
    this.setAttribute('connection', conn);
    if (!this.open) return;
    this._renderPanel(m, conn, unread);
  }

  _renderPanel(m, conn, unread) {
    const { status, markAll, empty, more } = this._el;
    status.hidden = conn === 'open';
    status.textContent = { reconnecting: 'Reconnecting…', connecting: 'Connecting…', closed: 'Disconnected' }[conn] ?? '';
    markAll.disabled = !m || unread === 0;
    const filter = m?.filter ?? 'all';
    for (const tab of this._el.tabs) {
      const on = tab.dataset.filter === filter;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    this._el.scroller.setAttribute('aria-labelledby', 'tab-' + filter);
    const items = m ? m.items : [];
    this._renderList(items);
    const busy = !!m && m.loading;
    more.hidden = !busy;
    empty.hidden = items.length > 0 || busy;
    empty.textContent = EMPTY[filter];
    this._maybeMore();
  }

  // _renderList makes the list show items (newest first), keeping the rows that stay.
  _renderList(items) {
    const list = this._el.list;
    const keep = new Set(items.map((it) => it.alarm.id));
    for (const [id, row] of this._rows) {
      if (keep.has(id)) continue;
      row.li.remove();
      this._rows.delete(id);
    }
    let at = list.firstElementChild;
    const now = Date.now();
    for (const it of items) {
      let row = this._rows.get(it.alarm.id);
      if (!row) {
        row = this._row(it, now);
        this._rows.set(it.alarm.id, row);
      } else if (row.item !== it) {
        this._update(row, it);
      }
      if (row.li === at) at = at.nextElementSibling;
      else list.insertBefore(row.li, at);
    }
  }

  // _row builds the row of an item: alarm data goes in as text only.
  _row(it, now) {
    const a = it.alarm;
    const li = document.createElement('li');
    li.className = 'item';
    li.setAttribute('part', 'item');
    li.dataset.id = a.id;
    const url = safeURL(a.data?.url);
    const main = document.createElement(url ? 'a' : 'button');
    main.className = 'main';
    main.setAttribute('part', 'item-main');
    if (url) {
      main.href = url;
      main.target = this.getAttribute('link-target') || '_blank';
      main.rel = 'noopener noreferrer';
    } else {
      main.type = 'button';
    }
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.setAttribute('part', 'unread-marker');
    const body = document.createElement('span');
    body.className = 'body';
    const sr = document.createElement('span');
    sr.className = 'sr';
    main.append(dot, body, sr);
    const archive = document.createElement('button');
    archive.type = 'button';
    archive.className = 'archive';
    archive.setAttribute('part', 'archive');
    archive.innerHTML = BOX; // fixed markup
    li.append(main, archive);
    const row = { li, main, body, sr, archive, item: null, time: null };
    this._fill(row, it, now);
    this._update(row, it);
    return row;
  }

  // _fill renders the content of an item: renderItem, or title, text and time as text.
  _fill(row, it, now) {
    const { body } = row;
    body.replaceChildren();
    if (typeof this.renderItem === 'function') {
      this.renderItem(it, body);
      return;
    }
    const a = it.alarm;
    const title = document.createElement('span');
    title.className = 'title';
    title.setAttribute('part', 'item-title');
    title.textContent = titleOf(a);
    body.append(title);
    const text = textOf(a);
    if (text) {
      const p = document.createElement('span');
      p.className = 'text';
      p.setAttribute('part', 'item-text');
      p.textContent = text;
      body.append(p);
    }
    if (Number.isFinite(a.ts)) {
      const time = document.createElement('time');
      time.className = 'time';
      time.setAttribute('part', 'item-time');
      time.dateTime = new Date(a.ts).toISOString();
      time.title = new Date(a.ts).toLocaleString();
      time.dataset.ts = String(a.ts);
      time.textContent = relativeTime(a.ts, now);
      body.append(time);
      row.time = time;
    }
  }

  _update(row, it) {
    const prev = row.item;
    row.item = it;
    if (prev && prev.read === it.read && prev.archived === it.archived && prev.pending === it.pending) return;
    const { li, sr, archive } = row;
    li.dataset.read = String(it.read);
    li.dataset.archived = String(it.archived);
    li.dataset.pending = String(it.pending);
    sr.textContent = it.read ? '' : ', unread';
    const title = titleOf(it.alarm);
    archive.setAttribute('aria-label', (it.archived ? 'Unarchive: ' : 'Archive: ') + title);
    archive.title = it.archived ? 'Unarchive' : 'Archive';
    if (prev && typeof this.renderItem === 'function' && (prev.read !== it.read || prev.archived !== it.archived)) {
      this._fill(row, it, Date.now());
    }
  }

  _tick() {
    const now = Date.now();
    for (const row of this._rows.values()) {
      if (row.time) row.time.textContent = relativeTime(Number(row.time.dataset.ts), now);
    }
  }

  // _maybeMore reads the next page when the list is scrolled near its end, or does not fill
  // the popover.
  _maybeMore() {
    const m = this._inbox;
    if (!this.open || !m || !m.hasMore || m.loading) return;
    const s = this._el.scroller;
    if (s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM) m.loadMore();
  }
}

if (globalThis.customElements && !customElements.get('alarm-inbox')) {
  customElements.define('alarm-inbox', AlarmInboxElement);
}
