// Types for client.js, the browser client of the alarm gateway (protocol v1).

/** Where a client resumes from. */
export interface Position {
  /** Id of the last alarm processed, or the position of the last welcome; null before one. */
  last_id: string | null;
  /** Epoch `last_id` belongs to. */
  epoch: string | null;
}

export type Token = string | (() => string | Promise<string>);

export interface AlarmClientOptions {
  /** Gateway nodes (ws://host/v1/ws); every (re)connect uses the next one. With `transport: 'sse'`
   * ws(s)://host/v1/ws becomes http(s)://host/v1/sse. */
  endpoints: string[];
  /** The client JWT, or a function returning one (called again after a 4001). */
  token: Token;
  /** Names the stored position (`alarmgate:<user>`) and, in shared mode, the tab group. */
  user: string;
  /** Default 'websocket'. 'sse' trades the token for a ticket and opens an EventSource. */
  transport?: 'websocket' | 'sse';
  /** One connection per browser (Web Locks + BroadcastChannel); falls back to one per tab. */
  shared?: boolean;
  /** Default localStorage; null keeps the position in memory. */
  storage?: Storage | null;
  /** Reconnect backoff base in ms. Default 100. */
  minBackoff?: number;
  /** Reconnect backoff cap in ms. Default 10000. */
  maxBackoff?: number;
  /** Reconnect after this many ms without a message. Default 60000. */
  idleTimeout?: number;
  WebSocketImpl?: typeof WebSocket;
  EventSourceImpl?: typeof EventSource;
  fetchImpl?: typeof fetch;
  locks?: LockManager | null;
  BroadcastChannelImpl?: typeof BroadcastChannel | null;
  /** Jitter source in [0, 1). Default Math.random. */
  random?: () => number;
}

export interface Alarm {
  type: 'alarm';
  id: string;
  channel: string;
  event: string;
  data: unknown;
  ts: number;
  /** True for the alarms of a resume replay. */
  replayed: boolean;
  /** Inbox alarms (channel user:<sub>): the counts right after this alarm. */
  unread?: number;
  unseen?: number;
}

/** Inbox counts: unarchived inbox alarms that are unread, unseen. */
export interface Counts {
  unread: number;
  unseen: number;
}

export type StateOp = 'seen' | 'read' | 'unread' | 'archive' | 'unarchive';

/** A state event: op applied to ids, or to every inbox alarm with an id at or below up_to. */
export interface StateEvent extends Counts {
  type: 'state';
  id: string;
  ts: number;
  channel: string;
  op: StateOp;
  ids?: string[];
  up_to?: string;
  replayed: boolean;
}

export type ResumeStatus = 'new' | 'resumed' | 'expired' | 'epoch_changed' | 'invalid';

export interface Welcome {
  type: 'welcome';
  node: string;
  epoch: string;
  channels: string[];
  position: string;
  resume: { status: ResumeStatus; replayed: number };
  /** The inbox counts at the welcome (absent when the gateway keeps no inbox state). */
  inbox?: Counts;
}

export interface StatusDetail {
  state: 'connecting' | 'open' | 'closed';
  node: string | null;
  endpoint?: string;
  attempt?: number;
  epoch?: string | null;
  channels?: string[];
  resume?: ResumeStatus;
  code?: number;
  reason?: string;
  reconnect?: boolean;
  delay?: number;
}

export interface CloseDetail {
  /** The close code (over SSE: of the `close` event; 1006 for a broken stream). */
  code: number;
  reason: string;
}

export interface AlarmClientEventMap {
  /** An alarm, once per tab, in id order. */
  alarm: CustomEvent<Alarm>;
  status: CustomEvent<StatusDetail>;
  /** Every welcome. */
  welcome: CustomEvent<Welcome>;
  /** A welcome with status 'resumed'. */
  resumed: CustomEvent<Welcome>;
  /** A welcome with status expired, epoch_changed or invalid: refetch the application's state. */
  stale: CustomEvent<Welcome>;
  disconnected: CustomEvent<CloseDetail>;
  /** Close 4001 with a string token: call setToken. */
  tokenexpired: CustomEvent<CloseDetail>;
  error: CustomEvent<{ error: unknown; phase: 'token' | 'connect' }>;
  /** A state event (from any device of the user), once per tab, in id order with the alarms. */
  state: CustomEvent<StateEvent>;
  /** New inbox counts (from a welcome, an inbox alarm or a state event). */
  counts: CustomEvent<Counts>;
  /** The server refused a state change sent over the WebSocket; with error 'rate_limited', retry_after_ms says when to send it again. */
  stateerror: CustomEvent<{ type: 'error'; error: string; message: string; retry_after_ms?: number }>;
  /** Shared mode: this tab became the leader or a follower. */
  role: CustomEvent<{ role: 'leader' | 'follower' }>;
}

export class AlarmClient extends EventTarget {
  constructor(options: AlarmClientOptions);
  start(): void;
  stop(): void;
  position(): Position;
  setToken(token: Token): void;
  /** 'leader' or 'follower' in shared mode while started, else null. */
  role(): 'leader' | 'follower' | null;
  /** The last inbox counts received, or null before any. */
  counts(): Counts | null;
  /** Change the state of inbox alarms: over this tab's WebSocket when open (resolves undefined),
   * else over HTTP (resolves the answer; rejects with a GatewayHTTPError). */
  changeState(op: StateOp, target: { ids?: string[]; upTo?: string }): Promise<StateAnswer | undefined>;
  markRead(ids: string[]): Promise<StateAnswer | undefined>;
  /** Mark every inbox alarm up to the last message received read. */
  markAllRead(): Promise<StateAnswer | undefined>;
  /** A new inbox model of this client's user. */
  inbox(options?: AlarmInboxOptions): AlarmInbox;
  /** One page of GET /v1/inbox with the token; `base` defaults to the current endpoint's node. */
  readInbox(query?: InboxQuery, base?: string): Promise<InboxPage>;
  addEventListener<K extends keyof AlarmClientEventMap>(
    type: K,
    listener: (ev: AlarmClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

/** The answer of POST /v1/inbox/state. `id` is the state event's, absent when nothing changed. */
export interface StateAnswer extends Counts {
  id?: string;
  changed: number;
}

export interface InboxQuery {
  before?: string;
  limit?: number;
  unread?: boolean;
  archived?: boolean;
}

/** One alarm of the inbox and its state. */
export interface InboxItem {
  /** The alarm message as delivered (`unread`/`unseen` are the counts at its publish). */
  alarm: Alarm;
  seen: boolean;
  read: boolean;
  archived: boolean;
}

/** The answer of GET /v1/inbox. */
export interface InboxPage extends Counts {
  epoch: string;
  /** Newest first. */
  items: InboxItem[];
  /** The `before` of the next page; absent on the last one. */
  next?: string;
}

/** An HTTP API call answered with an error status. */
export class GatewayHTTPError extends Error {
  readonly status: number;
  /** The error code of the body ('rate_limited', 'invalid_change', ...), or ''. */
  readonly code: string;
  /** Retry-After in ms, 0 when absent. */
  readonly retryAfter: number;
}

/** 'all': not archived; 'unread': unread and not archived; 'archived': archived. */
export type InboxFilter = 'all' | 'unread' | 'archived';

export interface AlarmInboxOptions {
  /** Default 'all'. */
  filter?: InboxFilter;
  /** Alarms per GET /v1/inbox page, 1..1000. Default 50. */
  pageSize?: number;
  /** Base URL of the HTTP API (e.g. location.origin). Default the node of the client's current endpoint. */
  api?: string;
  /** A change sent over the WebSocket that no state event confirms within this many ms is sent
   * again over HTTP, which answers for sure. Default 2000. */
  confirmTimeout?: number;
  /** Retries of a call answered 429 or 503 or failed on the network. Default 3. */
  retries?: number;
}

/** An item as the model shows it: with the changes not yet confirmed applied. */
export interface ShownInboxItem extends InboxItem {
  /** A change of this item is not confirmed yet. */
  pending: boolean;
}

export type InboxChangeReason =
  | 'load' | 'more' | 'filter' | 'alarm' | 'state' | 'local' | 'confirm' | 'rollback' | 'counts' | 'loading' | 'connection';

export interface InboxChange {
  /** The items that changed ('load', 'filter': every item of the list). */
  items: ShownInboxItem[];
  counts: Counts;
  reason: InboxChangeReason;
}

export interface InboxError {
  error: unknown;
  /** 'load': a page could not be read; 'change': a change failed and was rolled back. */
  phase: 'load' | 'change';
  op?: StateOp;
  ids?: string[];
  upTo?: string;
}

export interface AlarmInboxEventMap {
  change: CustomEvent<InboxChange>;
  error: CustomEvent<InboxError>;
}

/** The user's inbox as a list: pages of GET /v1/inbox plus the alarms and state events the
 * client receives, in id order, once each; optimistic changes, confirmed or rolled back. */
export class AlarmInbox extends EventTarget {
  constructor(client: AlarmClient, options?: AlarmInboxOptions);
  readonly client: AlarmClient;
  /** The items of the filter, newest first, with the pending changes applied. */
  readonly items: ShownInboxItem[];
  /** The counts, with the pending changes applied. */
  readonly counts: Counts;
  /** Setting it empties the list and loads the first page of the new filter. */
  filter: InboxFilter;
  readonly loaded: boolean;
  readonly loading: boolean;
  readonly hasMore: boolean;
  readonly connection: 'connecting' | 'open' | 'closed';
  /** Read the first page again and replace the list. */
  load(): Promise<void>;
  /** Read the next page (no-op when none is left or one is being read). */
  loadMore(): Promise<void>;
  /** Each resolves true when the server confirmed the change, false when it was rolled back. */
  markRead(ids: string[]): Promise<boolean>;
  markUnread(ids: string[]): Promise<boolean>;
  markSeen(ids: string[]): Promise<boolean>;
  archive(ids: string[]): Promise<boolean>;
  unarchive(ids: string[]): Promise<boolean>;
  /** up_to = the newest alarm id this tab knows (or its position, if newer). */
  markAllRead(): Promise<boolean>;
  markAllSeen(): Promise<boolean>;
  /** Detach from the client. */
  close(): void;
  addEventListener<K extends keyof AlarmInboxEventMap>(
    type: K,
    listener: (ev: AlarmInboxEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

export function compareIds(a: string, b: string): number;
export function backoffDelay(attempt: number, min: number, max: number, random?: () => number): number;
export function sseURL(endpoint: string): string;
