export { Backoff, ELSEWHERE_CODES, STOP_CODES, defaultRetryPolicy } from "./backoff.js";
export type { BackoffOptions, RetryDecision, RetryPolicy } from "./backoff.js";
export { Client } from "./client.js";
export type {
  AnyApi,
  Api,
  CallOptions,
  ClientEvent,
  ClientOptions,
  ClientState,
  Published,
  Token,
  WebSocketConstructor,
  WebSocketLike,
} from "./client.js";
export { CallError } from "./errors.js";
export type { ClientErrorCode } from "./errors.js";
export type { ChannelFrame, ErrorData, Member, MessageFrame, Position, PresenceFrame, SubscribedFrame } from "./protocol.js";
export { Subscription } from "./subscription.js";
export type {
  MessageInfo,
  SubscribeOptions,
  SubscribedEvent,
  SubscriptionHandlers,
  SubscriptionState,
} from "./subscription.js";
