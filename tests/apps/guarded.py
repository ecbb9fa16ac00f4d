"""An app with cookie authentication and the default connection guards, for attack tests under a real uvicorn.

- `GET /login` sets the session cookie; `GET /` is a page that opens `/ws` with it and echoes (`window.outcome`).
- `/ws`: a plain route, cookie-authenticated, echoing `<user>: <text>`; `/partner`: the same, open to the origin in
  the `PARTNER_ORIGIN` environment variable; `/small`: a plain route taking at most 16 KiB per message.
- `/expiring?token=<unix time>`: identifies user `token-user` until that time; `refresh` with a later one;
  `/expiring-plain?token=...`: the same on a plain echo route.
- `GET /stats`: how many sockets were accepted so far.
"""

import os
from typing import Annotated

from wsapi import Depends, MessageRouter, Query, WebSocket, WebSocketDisconnect, WebSocketException, WsAPI, identify
from wsapi.responses import HTMLResponse, PlainTextResponse
from wsapi.security import APIKeyCookie

app = WsAPI()
accepted = 0
session = APIKeyCookie(name="session")
SESSIONS = {"s3cr3t-session": "ada"}

PAGE = """<!doctype html><script>
window.outcome = new Promise((resolve) => {
  const path = new URLSearchParams(location.search).get("path") || "/ws";
  const target = new URLSearchParams(location.search).get("target") || location.host;
  const ws = new WebSocket(`ws://${target}${path}`);
  let opened = false, echoed = null;
  ws.onopen = () => { opened = true; ws.send("hello"); };
  ws.onmessage = (event) => { echoed = event.data; ws.close(1000); };
  ws.onclose = (event) => resolve({opened, echoed, code: event.code});
});
</script>"""


async def current_user(token: Annotated[str, Depends(session)]) -> str:
    user = SESSIONS.get(token)
    if user is None:
        raise WebSocketException(1008, "Invalid session")
    return user


async def echo(websocket: WebSocket, user: str) -> None:
    global accepted
    await websocket.accept()
    accepted += 1
    try:
        while True:
            await websocket.send_text(f"{user}: {await websocket.receive_text()}")
    except WebSocketDisconnect:
        pass


@app.get("/")
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@app.get("/login")
async def login() -> PlainTextResponse:
    response = PlainTextResponse("logged in")
    response.set_cookie("session", "s3cr3t-session", httponly=True)
    return response


@app.get("/stats")
async def stats() -> dict[str, int]:
    return {"accepted": accepted}


@app.websocket("/ws")
async def ws(websocket: WebSocket, user: Annotated[str, Depends(current_user)]) -> None:
    await echo(websocket, user)


@app.websocket("/partner", allowed_origins=[os.environ.get("PARTNER_ORIGIN", "https://partner.example")])
async def partner(websocket: WebSocket, user: Annotated[str, Depends(current_user)]) -> None:
    await echo(websocket, user)


@app.websocket("/small", max_message_size=16 * 1024)
async def small(websocket: WebSocket) -> None:
    await echo(websocket, "small")


expiring = MessageRouter()


async def token_user(websocket: WebSocket, token: Annotated[float, Query()]) -> str:
    identify(websocket, "token-user", expires_at=token)
    return "token-user"


@expiring.on_connect
async def connect(user: Annotated[str, Depends(token_user)]) -> None:
    pass


@expiring.on("refresh")
async def refresh(token: float, websocket: WebSocket) -> None:
    identify(websocket, "token-user", expires_at=token)


app.add_api_websocket_route("/expiring", expiring)


@app.websocket("/expiring-plain")
async def expiring_plain(websocket: WebSocket, user: Annotated[str, Depends(token_user)]) -> None:
    await echo(websocket, user)
