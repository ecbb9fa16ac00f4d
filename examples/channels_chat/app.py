"""The guide's multiple-clients chat, done right: the same page, one room across every worker and machine.

The guide's `ConnectionManager` keeps the sockets in a list in one process, and its broadcast awaits each send in
turn. Here the room is a channel: a message reaches the clients of every uvicorn worker through Redis, each client
has its own bounded send queue (a stalled browser tab cannot hold up the others), a newcomer sees the last messages,
and a client that lost its connection reconnects from where it was and misses nothing.

    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn --app-dir examples/channels_chat app:app --workers 4

Without REDIS_URL the room lives in one process (the memory backend), like the guide's.
"""

import os
from typing import Annotated

from wsapi import FastAPI, Query, WebSocket, WebSocketDisconnect
from wsapi.channels import Backend, Channels, ChannelsDep, MemoryBackend, Position, RedisBackend
from wsapi.responses import HTMLResponse

ROOM = "chat"
HISTORY_ON_JOIN = 20


def backend() -> Backend:
    url = os.environ.get("REDIS_URL")
    return RedisBackend(url, history_size=100) if url else MemoryBackend(history_size=100)


app = FastAPI(channels=Channels(backend()))

html = """
<!DOCTYPE html>
<html>
    <head>
        <title>Chat</title>
    </head>
    <body>
        <h1>WebSocket Chat</h1>
        <h2>Your ID: <span id="ws-id"></span></h2>
        <form action="" onsubmit="sendMessage(event)">
            <input type="text" id="messageText" autocomplete="off"/>
            <button>Send</button>
        </form>
        <ul id='messages'>
        </ul>
        <script>
            var client_id = Date.now()
            document.querySelector("#ws-id").textContent = client_id;
            var since = null  // the position of the last message shown: "<epoch>:<offset>"
            var ws
            function show(text) {
                var messages = document.getElementById('messages')
                var message = document.createElement('li')
                var content = document.createTextNode(text)
                message.appendChild(content)
                messages.appendChild(message)
            }
            function connect() {
                var query = since ? `?since=${since}` : ''
                ws = new WebSocket(`ws://${location.host}/ws/${client_id}${query}`);
                ws.onmessage = function(event) {
                    var frame = JSON.parse(event.data)
                    if (frame.type === "message") {
                        since = `${frame.epoch}:${frame.offset}`
                        show(frame.data)
                    } else if (frame.type === "subscribed") {
                        if (since && !frame.recovered) {  // what we missed is lost: start over as a newcomer
                            since = null
                            document.getElementById('messages').replaceChildren()
                            ws.close()
                            return
                        }
                        since = `${frame.epoch}:${frame.offset}`
                    } else if (frame.type === "echo") {
                        show(frame.data)
                    }
                };
                ws.onclose = function() { setTimeout(connect, 1000) };  // and resume from `since`
            }
            function sendMessage(event) {
                var input = document.getElementById("messageText")
                ws.send(input.value)
                input.value = ''
                event.preventDefault()
            }
            connect()
        </script>
    </body>
</html>
"""


@app.get("/")
async def get():
    return HTMLResponse(html)


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(
    websocket: WebSocket, client_id: int, hub: ChannelsDep, since: Annotated[Position | None, Query()] = None
):
    await websocket.accept()
    if since is None:  # a newcomer: start a little way back, so that the recent messages are shown
        now = await hub.position(ROOM)
        since = Position(now.epoch, max(0, now.offset - HISTORY_ON_JOIN))
    async with hub.subscribe(websocket, ROOM, since=since):
        try:
            while True:
                data = await websocket.receive_text()
                await websocket.send_json({"type": "echo", "data": f"You wrote: {data}"})
                await hub.publish(ROOM, f"Client #{client_id} says: {data}")
        except WebSocketDisconnect:
            await hub.publish(ROOM, f"Client #{client_id} left the chat")
