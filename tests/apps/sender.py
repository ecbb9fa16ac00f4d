"""An app that keeps sending to its client, and reports what happened once the client is gone."""

import asyncio

from wsapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
outcomes: list[str] = []


@app.websocket("/ticks")
async def ticks(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        for _ in range(10_000):
            await websocket.send_text("tick")
            await asyncio.sleep(0.005)
        outcomes.append("finished")
    except WebSocketDisconnect as exc:
        outcomes.append(f"disconnect {exc.code}")
        raise


@app.get("/outcomes")
async def get_outcomes() -> list[str]:
    return outcomes
