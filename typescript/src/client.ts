/** The client: one WebSocket to a wsapi route, kept open, with typed calls and channel subscriptions over it. */

import { Backoff, type BackoffOptions, type RetryPolicy, defaultRetryPolicy } from "./backoff.js";
import { CallError } from "./errors.js";
import { type Envelope, type ErrorData, type Member, REPLY_SUFFIX, isChannelFrame } from "./protocol.js";
import { type SubscribeOptions, Subscription, type SubscriptionHandlers } from "./subscription.js";

/** A credential, or a function returning a fresh one for every (re)connection. */
export type Token = string | (() => string | Promise<string>);

/** The `WebSocket` class to use: the browser's, Node's (20: `--experimental-websocket`, 22+: built in) or `ws`. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** Sent as the query parameter `tokenParam` of every handshake. */
  token?: Token;
  /** The query parameter that carries the token (default `token`). */
  tokenParam?: string;
  /** Defaults to `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  backoff?: BackoffOptions;
  /** What a close code means for retrying (default: `defaultRetryPolicy`). */
  retry?: RetryPolicy;
  /** How long a call waits for its reply, in ms, offline time included (default 10000). */
  timeout?: number;
  /**
   * Calls and sends made while disconnected: `"wait"` (default) queues them until connected, within their timeout;
   * `"fail"` rejects them at once with code `offline`.
   */
  offline?: "wait" | "fail";
}

export interface CallOptions {
  timeout?: number;
}

export type ClientState = "connecting" | "connected" | "disconnected" | "closed";

export type ClientEvent =
  | { type: "connecting"; attempt: number }
  | { type: "connected" }
  | { type: "disconnected"; code: number; reason: string; willRetry: boolean }
  | { type: "reconnecting"; delay: number; attempt: number }
  | { type: "closed" };

/** A route's messages: the requests it handles (with their data and reply) and the messages it sends. */
export interface Api {
  calls: { [type: string]: { data: unknown; reply: unknown } };
  events: { [type: string]: unknown };
}

/** No declared messages: any type, any data. */
export interface AnyApi extends Api {
  // biome-ignore lint: `any` is what an undeclared protocol is
  calls: { [type: string]: { data: any; reply: any } };
  // biome-ignore lint: as above
  events: { [type: string]: any };
}

type DataArgs<D, Rest extends unknown[]> = undefined extends D ? [data?: D, ...rest: Rest] : [data: D, ...rest: Rest];

export interface Published {
  channel: string;
  epoch: string;
  offset: number;
}

interface Pending {
  resolve(data: unknown): void;
  reject(error: CallError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  sent: boolean;
}

interface Outgoing {
  text: string;
  id?: number;
  sent?(): void;
  /** A send that will not go out (a call's promise is settled through `pending`). */
  failed?(error: CallError): void;
}

const OPEN = 1;

export class Client<A extends Api = AnyApi> {
  state: ClientState = "disconnected";
  private readonly url: string;
  private readonly options: ClientOptions;
  private readonly WebSocketClass: WebSocketConstructor;
  private readonly backoff: Backoff;
  private readonly retry: RetryPolicy;
  private readonly timeout: number;
  private socket: WebSocketLike | null = null;
  private openedAt: number | null = null; // when the current connection opened
  private timer: ReturnType<typeof setTimeout> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private outbox: Outgoing[] = [];
  private readonly subscriptions = new Map<string, Subscription<never>>();
  private readonly handlers = new Map<string, Set<(data: never) => void>>();
  private readonly listeners = new Set<(event: ClientEvent) => void>();
  private waiters: Array<{ resolve: () => void; reject: (error: CallError) => void }> = [];

  constructor(url: string, options: ClientOptions = {}) {
    this.url = url;
    this.options = options;
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocketClass) {
      throw new TypeError("no WebSocket here: pass one (`new Client(url, { WebSocket })`, e.g. from the `ws` package)");
    }
    this.WebSocketClass = WebSocketClass;
    this.backoff = new Backoff(options.backoff);
    this.retry = options.retry ?? defaultRetryPolicy;
    this.timeout = options.timeout ?? 10_000;
  }

  // Connection

  /** Connect (and keep reconnecting); resolves once connected, rejects if the server refuses for good. */
  connect(): Promise<void> {
    const connected = this.state === "connected" ? Promise.resolve() : this.waitConnected();
    if (this.state === "disconnected" || this.state === "closed") {
      this.state = "disconnected";
      this.backoff.reset();
      void this.open();
    }
    return connected;
  }

  /** Close for good: no reconnect; pending calls reject with `closed`. */
  close(code = 1000, reason = ""): void {
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(code, reason);
    this.stop(new CallError("closed", "the client was closed"));
  }

  /** Lifecycle events (`connecting`, `connected`, `disconnected`, `reconnecting`, `closed`); returns an unsubscribe. */
  onState(listener: (event: ClientEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Typed messages

  /** Send a request and wait for its reply (the handler's return value; undefined for an ack). */
  call<T extends keyof A["calls"] & string>(
    type: T,
    ...args: DataArgs<A["calls"][T]["data"], [options?: CallOptions]>
  ): Promise<A["calls"][T]["reply"]> {
    const [data, options] = args as [unknown, CallOptions | undefined];
    return this.request(type, data, options?.timeout ?? this.timeout) as Promise<A["calls"][T]["reply"]>;
  }

  /** Send a message without waiting for an answer; resolves once it is handed to the connection. */
  send<T extends keyof A["calls"] & string>(type: T, ...args: DataArgs<A["calls"][T]["data"], []>): Promise<void> {
    const text = JSON.stringify(args[0] === undefined ? { type } : { type, data: args[0] });
    if (this.socket?.readyState === OPEN) {
      this.socket.send(text);
      return Promise.resolve();
    }
    const unavailable = this.unavailable();
    if (unavailable) return Promise.reject(unavailable);
    return new Promise((resolve, reject) => {
      const entry: Outgoing = {
        text,
        sent: () => (clearTimeout(timer), resolve()),
        failed: (error) => (clearTimeout(timer), reject(error)),
      };
      const timer = setTimeout(() => {
        this.outbox = this.outbox.filter((queued) => queued !== entry);
        reject(new CallError("timeout", `${type}: not connected within ${this.timeout} ms`));
      }, this.timeout);
      this.outbox.push(entry);
    });
  }

  /** Handle the server's messages of one type (declared with `sends`); returns an unsubscribe. */
  on<T extends keyof A["events"] & string>(type: T, handler: (data: A["events"][T]) => void): () => void {
    let set = this.handlers.get(type);
    if (!set) this.handlers.set(type, (set = new Set()));
    set.add(handler as (data: never) => void);
    return () => set.delete(handler as (data: never) => void);
  }

  // Channels (the standard channels route, `ChannelsRouter`)

  /** Subscribe to a channel: kept across reconnects, resumed from its last position. */
  subscribe<T = unknown>(
    channel: string,
    handlers: SubscriptionHandlers<T> = {},
    options: SubscribeOptions = {},
  ): Subscription<T> {
    if (this.subscriptions.has(channel)) throw new Error(`already subscribed to ${JSON.stringify(channel)}`);
    const subscription = new Subscription<T>(channel, handlers, options, (gone) => this.leave(gone));
    this.subscriptions.set(channel, subscription as Subscription<never>);
    if (this.state === "connected") this.sendSubscribe(subscription);
    return subscription;
  }

  /** Publish to a channel (if the route allows it); its position. */
  publish(channel: string, data: unknown, options?: CallOptions): Promise<Published> {
    return this.request("publish", { channel, data }, options?.timeout ?? this.timeout) as Promise<Published>;
  }

  /** The channel's members, from the server. */
  async presence(channel: string, options?: CallOptions): Promise<Member[]> {
    const reply = (await this.request("presence", { channel }, options?.timeout ?? this.timeout)) as {
      members: Member[];
    };
    return reply.members;
  }

  // Internals

  private request(type: string, data: unknown, timeout: number): Promise<unknown> {
    const unavailable = this.unavailable();
    if (unavailable && this.socket?.readyState !== OPEN) return Promise.reject(unavailable);
    const id = this.nextId++;
    const text = JSON.stringify(data === undefined ? { type, id } : { type, id, data });
    return new Promise((resolve, reject) => {
      const entry: Pending = { resolve, reject, timer: undefined, sent: false };
      entry.timer = setTimeout(() => {
        this.pending.delete(id);
        this.outbox = this.outbox.filter((queued) => queued.id !== id);
        reject(new CallError("timeout", `${type}: no reply within ${timeout} ms`));
      }, timeout);
      this.pending.set(id, entry);
      const outgoing: Outgoing = { text, id, sent: () => (entry.sent = true) };
      if (this.socket?.readyState === OPEN) this.transmit(outgoing);
      else this.outbox.push(outgoing);
    });
  }

  /** Why a message cannot wait for a connection, if it cannot. */
  private unavailable(): CallError | null {
    if (this.state === "closed") return new CallError("closed", "the client is closed");
    if (this.options.offline === "fail" && this.state !== "connected") {
      return new CallError("offline", "not connected");
    }
    return null;
  }

  private transmit(outgoing: Outgoing): void {
    (this.socket as WebSocketLike).send(outgoing.text);
    outgoing.sent?.();
  }

  private async open(): Promise<void> {
    this.setState("connecting", { type: "connecting", attempt: this.backoff.attempt });
    let url: string;
    try {
      url = await this.address();
    } catch (error) {
      // A token that could not be fetched is a failed attempt like any other.
      this.lost(null, 1006, `token: ${(error as Error)?.message ?? error}`);
      return;
    }
    if (this.state !== "connecting") return; // closed meanwhile
    const socket = new this.WebSocketClass(url);
    this.socket = socket;
    socket.onopen = () => {
      if (socket !== this.socket) return;
      this.openedAt = Date.now();
      this.setState("connected", { type: "connected" });
      for (const subscription of this.subscriptions.values()) this.sendSubscribe(subscription);
      const queued = this.outbox;
      this.outbox = [];
      for (const outgoing of queued) this.transmit(outgoing);
      for (const waiter of this.waiters.splice(0)) waiter.resolve();
    };
    socket.onmessage = (event) => {
      if (socket === this.socket && typeof event.data === "string") this.receive(event.data);
    };
    socket.onclose = (event) => this.lost(socket, event.code, event.reason);
    socket.onerror = () => {
      // Before the handshake completed this is the end of the attempt: some implementations (Node 20's) send
      // no close event after it. After it, a close event follows with the code.
      if (this.state === "connecting") this.lost(socket, 1006, "");
    };
  }

  private async address(): Promise<string> {
    const base = (globalThis as { location?: { href: string } }).location?.href;
    const url = new URL(this.url, base);
    if (url.protocol === "http:") url.protocol = "ws:";
    if (url.protocol === "https:") url.protocol = "wss:";
    const token = this.options.token;
    if (token !== undefined) {
      url.searchParams.set(this.options.tokenParam ?? "token", typeof token === "function" ? await token() : token);
    }
    return url.href;
  }

  private lost(socket: WebSocketLike | null, code: number, reason: string): void {
    if (socket !== this.socket || this.state === "closed") return;
    this.socket = null;
    for (const [id, call] of this.pending) {
      if (!call.sent) continue;
      this.pending.delete(id);
      clearTimeout(call.timer);
      call.reject(new CallError("disconnected", `the connection closed (${code}) before the reply came`));
    }
    for (const subscription of this.subscriptions.values()) subscription.disconnected();
    // The backoff starts over only after a connection that lasted: a server that accepts and closes at once (a
    // refusal that retrying cannot cure, an overloaded one) sees the delays grow, whatever the close code says.
    const lasted = this.openedAt !== null && Date.now() - this.openedAt >= this.backoff.max;
    this.openedAt = null;
    if (lasted) this.backoff.reset();
    const decision = this.retry(code, reason);
    this.setState("disconnected", { type: "disconnected", code, reason, willRetry: decision !== "stop" });
    if (decision === "stop") {
      this.stop(new CallError("closed", `the server closed the connection for good (${code}${reason ? `: ${reason}` : ""})`));
      return;
    }
    const delay = decision === "now" && lasted ? this.backoff.soon() : this.backoff.next();
    this.emit({ type: "reconnecting", delay, attempt: this.backoff.attempt });
    this.timer = setTimeout(() => void this.open(), delay);
  }

  private stop(error: CallError): void {
    for (const [id, call] of this.pending) {
      this.pending.delete(id);
      clearTimeout(call.timer);
      call.reject(error);
    }
    for (const outgoing of this.outbox.splice(0)) outgoing.failed?.(error);
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    for (const subscription of this.subscriptions.values()) subscription.closed(error);
    this.subscriptions.clear();
    if (this.state !== "closed") this.setState("closed", { type: "closed" });
  }

  private waitConnected(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private sendSubscribe(subscription: Subscription<never>): void {
    this.request("subscribe", subscription.request(), this.timeout).then(
      (reply) => subscription.accepted((reply as { members: Member[] }).members),
      (error: CallError) => {
        if (this.subscriptions.get(subscription.channel) !== subscription) return;
        if (error.code === "disconnected" || error.code === "closed") return; // resubscribed on reconnect
        if (subscription.refused(error)) {
          this.subscriptions.delete(subscription.channel);
        } else if (this.state === "connected") {
          setTimeout(() => {
            if (this.state === "connected" && this.subscriptions.get(subscription.channel) === subscription) {
              this.sendSubscribe(subscription);
            }
          }, this.backoff.soon() + this.backoff.initial);
        }
      },
    );
  }

  private leave(subscription: Subscription<never>): void {
    if (this.subscriptions.get(subscription.channel) !== subscription) return;
    this.subscriptions.delete(subscription.channel);
    if (this.state === "connected") {
      this.request("unsubscribe", { channel: subscription.channel }, this.timeout).catch(() => {});
    }
  }

  private receive(text: string): void {
    let frame: Envelope;
    try {
      frame = JSON.parse(text) as Envelope;
    } catch {
      return; // not ours to understand
    }
    if (frame.id !== undefined && frame.id !== null && typeof frame.id === "number") {
      const call = this.pending.get(frame.id);
      if (call && (frame.type === "ack" || frame.type === "error" || frame.type.endsWith(REPLY_SUFFIX))) {
        this.pending.delete(frame.id);
        clearTimeout(call.timer);
        if (frame.type === "error") {
          const error = (frame.data ?? {}) as ErrorData;
          call.reject(new CallError(error.code, error.message, error.errors));
        } else {
          call.resolve(frame.data);
        }
        return;
      }
    }
    if (isChannelFrame(frame)) {
      this.subscriptions.get(frame.channel)?.frame(frame);
      return;
    }
    for (const handler of this.handlers.get(frame.type) ?? []) handler(frame.data as never);
  }

  private setState(state: ClientState, event: ClientEvent): void {
    this.state = state;
    this.emit(event);
  }

  private emit(event: ClientEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
