"""The Python client for wsapi servers (asyncio, on the `websockets` library; `pip install wsapi[client]`).

It keeps one connection open: reconnecting with full-jitter backoff (close codes decide whether and how soon),
resubscribing channels from their last positions, matching replies to calls. See docs/clients.md.
"""

from wsapi.client.backoff import (
    ELSEWHERE_CODES,
    STOP_CODES,
    Backoff,
    RetryDecision,
    RetryPolicy,
    default_retry_policy,
)
from wsapi.client.client import Client, Published, Token
from wsapi.client.errors import CallError
from wsapi.client.events import ClientEvent, ClientState, Closed, Connected, Connecting, Disconnected, Reconnecting
from wsapi.client.subscription import Subscribed, Subscription, SubscriptionState

__all__ = [
    "ELSEWHERE_CODES",
    "STOP_CODES",
    "Backoff",
    "CallError",
    "Client",
    "ClientEvent",
    "ClientState",
    "Closed",
    "Connected",
    "Connecting",
    "Disconnected",
    "Published",
    "Reconnecting",
    "RetryDecision",
    "RetryPolicy",
    "Subscribed",
    "Subscription",
    "SubscriptionState",
    "Token",
    "default_retry_policy",
]
