/** The wire format: the typed-message envelope and the channel frames of a wsapi server. */

/** `<epoch>:<offset>`: the last message a client has in a channel. */
export type Position = string;

export interface Member {
  /** `<node>.<n>`: one connection on one server process. */
  id: string;
  /** What the server put in presence for this connection (e.g. `{ name: "ada" }`). */
  info: unknown;
}

export interface ErrorData {
  code: string;
  message: string;
  errors?: unknown[] | null;
}

export interface SubscribedFrame {
  type: "subscribed";
  channel: string;
  epoch: string;
  offset: number;
  recovered: boolean;
}

export interface MessageFrame {
  type: "message";
  channel: string;
  epoch: string;
  offset: number;
  data: unknown;
}

export interface PresenceFrame {
  type: "join" | "leave";
  channel: string;
  client: Member;
}

export type ChannelFrame = SubscribedFrame | MessageFrame | PresenceFrame;

/** Any frame from the server: a channel frame, or an envelope (`reply`, `ack`, `error`, a server message). */
export interface Envelope {
  type: string;
  id?: number | string | null;
  data?: unknown;
  channel?: string;
}

export const REPLY_SUFFIX = ".reply";

export function isChannelFrame(frame: Envelope): frame is Envelope & ChannelFrame {
  return (
    typeof frame.channel === "string" &&
    (frame.type === "subscribed" || frame.type === "message" || frame.type === "join" || frame.type === "leave")
  );
}

export function position(epoch: string, offset: number): Position {
  return `${epoch}:${offset}`;
}
