/** One channel subscribed over the standard channels route: its position, its members, its handlers. */

import type { CallError } from "./errors.js";
import { type ChannelFrame, type Member, type Position, position } from "./protocol.js";

export interface SubscribedEvent {
  /** Where the messages that follow start. */
  position: Position;
  /** True when the subscription continues exactly from the position the client had (nothing was missed). */
  recovered: boolean;
  /** True when the client had a position in this channel already: `resumed && !recovered` means reload. */
  resumed: boolean;
}

export interface MessageInfo {
  position: Position;
  epoch: string;
  offset: number;
}

export interface SubscriptionHandlers<T = unknown> {
  /** A message, once, in order (duplicates after a reconnect are dropped by offset). */
  message?(data: T, info: MessageInfo): void;
  /** Every `subscribed` frame: the first one, each resume after a reconnect, a history lost meanwhile. */
  subscribed?(event: SubscribedEvent): void;
  /** Someone entered the channel's presence (also for members found on resubscribing). */
  join?(member: Member): void;
  /** Someone left (also for members gone while this client was disconnected). */
  leave?(member: Member): void;
  /**
   * The subscribe was refused (`channel_refused`, `validation_error`: the subscription ends) or failed for now
   * (`unavailable`, `timeout`: it is retried).
   */
  error?(error: CallError): void;
}

export interface SubscribeOptions {
  /** Resume after this position (e.g. one kept in storage); later reconnects use the latest one. */
  since?: Position;
  /** Without a position: start this many messages back, as far as the channel's history goes. */
  history?: number;
}

export type SubscriptionState = "subscribing" | "subscribed" | "unsubscribed";

export interface SubscribeRequest {
  channel: string;
  since?: Position;
  history?: number;
}

/** Errors after which subscribing again would be refused again. */
const FINAL = new Set(["channel_refused", "validation_error", "unknown_type", "closed"]);

export class Subscription<T = unknown> {
  state: SubscriptionState = "subscribing";
  /** The last position received (`<epoch>:<offset>`), or null before the first `subscribed` frame. */
  position: Position | null = null;
  /** The channel's members by id, kept current from the server's list and the join/leave frames. */
  readonly members = new Map<string, Member>();
  private epoch = "";
  private offset = 0;
  // Presence frames received while a subscribe is answered: applied after the member list it returns.
  private heldPresence: ChannelFrame[] | null = null;
  private waiters: Array<{ resolve: () => void; reject: (error: CallError) => void }> = [];

  constructor(
    readonly channel: string,
    private readonly handlers: SubscriptionHandlers<T>,
    private readonly options: SubscribeOptions,
    private readonly leave: (subscription: Subscription<T>) => void,
  ) {
    this.position = options.since ?? null;
    if (options.since) [this.epoch, this.offset] = splitPosition(options.since);
  }

  /** Resolves once the server has accepted the subscription (again, after a reconnect); rejects if refused. */
  ready(): Promise<void> {
    if (this.state === "subscribed") return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Leave the channel; its handlers are called no more. */
  unsubscribe(): void {
    if (this.state === "unsubscribed") return;
    this.state = "unsubscribed";
    this.leave(this);
  }

  // Driven by the client.

  /** @internal The subscribe request to send now (with the latest position, so a resume misses nothing). */
  request(): SubscribeRequest {
    this.state = "subscribing";
    this.heldPresence = [];
    if (this.position !== null) return { channel: this.channel, since: this.position };
    return this.options.history ? { channel: this.channel, history: this.options.history } : { channel: this.channel };
  }

  /** @internal */
  accepted(members: Member[]): void {
    if (this.state === "unsubscribed") return;
    this.state = "subscribed";
    const now = new Map(members.map((member) => [member.id, member]));
    // Arrivals before departures: a person whose connection was replaced (a reconnect) is present throughout.
    for (const member of now.values()) this.addMember(member);
    for (const [id, member] of [...this.members]) if (!now.has(id)) this.removeMember(member);
    const held = this.heldPresence ?? [];
    this.heldPresence = null;
    for (const frame of held) this.frame(frame);
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  /** @internal Whether the subscription is over (the error is final) or should be tried again. */
  refused(error: CallError): boolean {
    this.heldPresence = null;
    const final = FINAL.has(error.code);
    if (final) this.state = "unsubscribed";
    this.handlers.error?.(error);
    if (final) for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    return final;
  }

  /** @internal The connection is gone: presence stays as last known until the resubscribe's list replaces it. */
  disconnected(): void {
    if (this.state !== "unsubscribed") this.state = "subscribing";
    this.heldPresence = null;
  }

  /** @internal */
  closed(error: CallError): void {
    this.state = "unsubscribed";
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }

  /** @internal */
  frame(frame: ChannelFrame): void {
    if (this.state === "unsubscribed") return;
    switch (frame.type) {
      case "subscribed": {
        const resumed = this.position !== null;
        this.epoch = frame.epoch;
        this.offset = frame.offset;
        this.position = position(frame.epoch, frame.offset);
        this.handlers.subscribed?.({ position: this.position, recovered: frame.recovered, resumed });
        return;
      }
      case "message": {
        if (frame.epoch === this.epoch && frame.offset <= this.offset) return; // already delivered
        this.epoch = frame.epoch;
        this.offset = frame.offset;
        this.position = position(frame.epoch, frame.offset);
        this.handlers.message?.(frame.data as T, { position: this.position, epoch: frame.epoch, offset: frame.offset });
        return;
      }
      default: {
        if (this.heldPresence !== null) {
          this.heldPresence.push(frame);
        } else if (frame.type === "join") {
          this.addMember(frame.client);
        } else {
          this.removeMember(frame.client);
        }
      }
    }
  }

  private addMember(member: Member): void {
    if (this.members.has(member.id)) return;
    this.members.set(member.id, member);
    this.handlers.join?.(member);
  }

  private removeMember(member: Member): void {
    if (!this.members.delete(member.id)) return;
    this.handlers.leave?.(member);
  }
}

function splitPosition(text: Position): [string, number] {
  const match = /^([0-9a-f]{1,32}):([0-9]{1,18})$/.exec(text);
  if (!match) throw new TypeError(`invalid position ${JSON.stringify(text)}: expected <epoch>:<offset>`);
  return [match[1] as string, Number(match[2])];
}
