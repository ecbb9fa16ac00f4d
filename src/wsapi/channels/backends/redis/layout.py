"""What the Redis backend stores and sends: key names, the Lua scripts, and the pub/sub payloads (parsed strictly).

Per channel C (keys share the hash tag `{C}`, so a cluster keeps them on one slot):

- `<prefix>:{C}:meta`: a hash with the channel's `epoch` and `top` (last offset).
- `<prefix>:{C}:history`: a stream capped at `history_size` entries (exact trim); entry ids are `<offset>-0`, fields
  `f` (the frame) and `p` (the id of the publish call, so that a retried call finds its own message).
- `<prefix>:{C}:presence`: a hash of member id to member JSON.
- pub/sub channel `<prefix>:C`: live delivery to every process subscribed to C (on a cluster the sharded pub/sub
  channel `<prefix>:{C}`, in the keys' slot, so the publish script's SPUBLISH stays in it). Payloads are
  `m<offset>:<epoch> <frame>` (a message) or `e<frame>` (a presence event); anything else is not from this backend
  and is skipped.

Per process (node) N: `<prefix>:node:N` (its heartbeat), `<prefix>:node:N:channels` (channels it has members in),
`<prefix>:reap:N` (which node is removing a dead N's members); `<prefix>:nodes` lists the nodes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    """The key and pub/sub names under one prefix."""

    prefix: str = "wsapi"
    sharded: bool = False  # a cluster's: live names in their channel's slot

    def channel(self, channel: str) -> tuple[str, str]:
        """The meta hash and the history stream of `channel` (the KEYS of both scripts)."""
        return f"{self.prefix}:{{{channel}}}:meta", f"{self.prefix}:{{{channel}}}:history"

    def presence(self, channel: str) -> str:
        return f"{self.prefix}:{{{channel}}}:presence"

    def live(self, channel: str) -> str:
        return f"{self.prefix}:{{{channel}}}" if self.sharded else f"{self.prefix}:{channel}"

    def channel_of(self, live: str) -> str:
        """The channel a live name is of ('' for a name that is no channel's)."""
        name = live[len(self.prefix) + 1 :]
        if not self.sharded:
            return name
        return name[1:-1] if name.startswith("{") and name.endswith("}") else ""

    def node(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def node_channels(self, node: str) -> str:
        return f"{self.prefix}:node:{node}:channels"

    def reap(self, node: str) -> str:
        return f"{self.prefix}:reap:{node}"

    @property
    def nodes(self) -> str:
        return f"{self.prefix}:nodes"


# KEYS: meta, history. ARGV[1]: a fresh epoch id, ARGV[2]: the keys' time-to-live in ms (0: none).
_ENSURE_EPOCH = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local function new_epoch()
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
  if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
end
if not epoch then new_epoch() end
"""

# ARGV[3]: channel name, ARGV[4]: data as JSON, ARGV[5]: history size, ARGV[6]: pub/sub channel, ARGV[7]: the id
# of this publish call, ARGV[8]: '1' when the call is retried (it may have happened already), ARGV[9]: the time (ms,
# Redis's clock) after which the caller has given up, so the script must not publish.
# Returns {epoch, offset}; {'', 0} when too late. The frame is built here, once, in the same format as
# frames.message().
PUBLISH = (
    """
if ARGV[8] == '1' then
  local known = redis.call('HGET', KEYS[1], 'epoch')
  if known then
    for _, entry in ipairs(redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[5])) do
      if entry[2][4] == ARGV[7] then return {known, tonumber(string.match(entry[1], '^%d+'))} end
    end
  end
end
-- A user whose ACL lacks the pub/sub channel is refused before anything is written (Redis 7 and later).
if redis.acl_check_cmd and not redis.acl_check_cmd('PUBLISH', ARGV[6]) then
  return redis.error_reply('NOPERM this user has no permissions to publish to ' .. ARGV[6])
end
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[9]) then return {'', 0} end
"""
    + _ENSURE_EPOCH
    + """
local offset = redis.call('HINCRBY', KEYS[1], 'top', 1)
local frame = '{"type":"message","channel":"' .. ARGV[3] .. '","epoch":"' .. epoch .. '","offset":' .. offset
  .. ',"data":' .. ARGV[4] .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], offset .. '-0', 'f', frame, 'p', ARGV[7])
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
redis.call('PUBLISH', ARGV[6], 'm' .. offset .. ':' .. epoch .. ' ' .. frame)
return {epoch, offset}
"""
)

# The same on a cluster: the live name is a sharded pub/sub channel (in the keys' slot, see `Keys.live`).
SHARDED_PUBLISH = PUBLISH.replace("'PUBLISH', ARGV[6]", "'SPUBLISH', ARGV[6]")
assert SHARDED_PUBLISH.count("'SPUBLISH', ARGV[6]") == 2

# ARGV[3]: the epoch to read from ('' for none), ARGV[4]: the offset after which to read.
# A position in the current epoch beyond its top proves the offsets went back (Redis restored from an older
# snapshot, a replica promoted before it had every write): the channel starts a new epoch, so that no position
# from before can be taken for one after.
READ = (
    _ENSURE_EPOCH
    + """
local top = tonumber(redis.call('HGET', KEYS[1], 'top'))
local since = tonumber(ARGV[4])
if ARGV[3] == epoch and since > top then
  new_epoch()
  top = 0
end
local entries = {}
if ARGV[3] == epoch and since < top then
  entries = redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', '+')
end
return {epoch, top, entries}
"""
)


@dataclass(frozen=True, slots=True)
class LiveMessage:
    epoch: str
    offset: int
    frame: str


@dataclass(frozen=True, slots=True)
class LiveEvent:
    frame: str


_HEAD = re.compile(r"m([1-9][0-9]{0,17}):([0-9a-f]{1,32}) ")
_EVENT_TYPES = ("join", "leave")


def parse_payload(channel: str, payload: bytes) -> LiveMessage | LiveEvent | None:
    """A pub/sub payload of `channel`, or None if it is not one this backend publishes (forged or corrupt).

    A message's frame must be exactly what the publish script builds for its head, with valid JSON data; an event
    must be a join or leave frame of this channel.
    """
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        return None
    if text.startswith("e"):
        try:
            event = json.loads(text[1:])
        except ValueError:
            return None
        if (
            not isinstance(event, dict)
            or event.get("type") not in _EVENT_TYPES
            or event.get("channel") != channel
            or not isinstance(event.get("client"), dict)
        ):
            return None
        return LiveEvent(text[1:])
    head = _HEAD.match(text)
    if head is None:
        return None
    offset, epoch = int(head[1]), head[2]
    frame = text[head.end() :]
    start = f'{{"type":"message","channel":"{channel}","epoch":"{epoch}","offset":{offset},"data":'
    if not (frame.startswith(start) and frame.endswith("}")):
        return None
    try:
        json.loads(frame[len(start) : -1])
    except ValueError:
        return None
    return LiveMessage(epoch, offset, frame)
