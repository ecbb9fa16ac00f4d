"""Another Python process that publishes to the app's channels without serving WebSockets (as docs/operations.md
shows): `python publisher.py <redis url> <channel> <JSON data>`; prints the new message's position."""

import asyncio
import json
import sys

from wsapi.channels import Channels, RedisBackend


async def main(url: str, channel: str, data: str) -> None:
    async with Channels(RedisBackend(url)) as hub:
        print(await hub.publish(channel, json.loads(data)))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
