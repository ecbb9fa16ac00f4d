"""REST routes beside a WebSocket, written as a FastAPI app is: login, users, items, uploads, and live updates.

Run: `.venv/bin/uvicorn --app-dir examples/http_api app:app`, then open /docs (Swagger UI), /redoc or /asyncapi.
Log in as `ada` / `secret` (the token is the user name: a demo, not a token scheme).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from wsapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    FastAPI,
    File,
    HTTPException,
    Query,
    UploadFile,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from wsapi.security import APIKeyQuery, OAuth2PasswordBearer, OAuth2PasswordRequestForm


class User(BaseModel):
    username: str
    full_name: str | None = None


class UserInDB(User):
    hashed_password: str


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class ItemIn(BaseModel):
    name: str = Field(min_length=1, examples=["Plumbus"])
    description: str | None = Field(None, description="Shown under the item's name.")
    price: float = Field(gt=0)


class Item(ItemIn):
    id: int
    owner: str


USERS = {"ada": UserInDB(username="ada", full_name="Ada Lovelace", hashed_password="hashed:secret")}
ITEMS: dict[int, Item] = {}
EVENTS: list[str] = []

oauth2 = OAuth2PasswordBearer(tokenUrl="token")
ws_token = APIKeyQuery(name="token", description="The access token from `POST /token`.")


def current_user(token: Annotated[str, Depends(oauth2)]) -> UserInDB:
    user = USERS.get(token)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid token", headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[UserInDB, Depends(current_user)]

app = FastAPI(
    title="Items",
    description="Items with **live updates**: REST for changes, a WebSocket for the stream.",
    openapi_tags=[{"name": "items", "description": "What users sell."}, {"name": "users"}],
)


@app.post("/token", tags=["users"])
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = USERS.get(form.username)
    if user is None or user.hashed_password != f"hashed:{form.password}":
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Incorrect username or password")
    return Token(access_token=user.username)


@app.get("/users/me", tags=["users"])
async def me(user: CurrentUser) -> User:
    """The logged-in user; the stored password hash never leaves the server (the return type has no such field)."""
    return user


items = APIRouter(prefix="/items", tags=["items"], responses={404: {"description": "No such item"}})


@items.get("/")
async def list_items(skip: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(le=100)] = 10) -> list[Item]:
    return list(ITEMS.values())[skip : skip + limit]


@items.post("/", status_code=status.HTTP_201_CREATED)
async def create_item(item: ItemIn, user: CurrentUser, tasks: BackgroundTasks) -> Item:
    created = Item(id=len(ITEMS) + 1, owner=user.username, **item.model_dump())
    ITEMS[created.id] = created
    tasks.add_task(EVENTS.append, f"created {created.id}")
    return created


@items.get("/{item_id}")
async def read_item(item_id: int) -> Item:
    if item_id not in ITEMS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Item not found")
    return ITEMS[item_id]


@items.put("/{item_id}/picture", summary="Replace an item's picture")
async def upload_picture(item_id: int, picture: Annotated[UploadFile, File(description="A PNG or JPEG")]) -> dict:
    await read_item(item_id)
    return {"item_id": item_id, "filename": picture.filename, "size": len(await picture.read())}


app.include_router(items)


@app.websocket("/ws/events")
async def events(websocket: WebSocket, token: Annotated[str, Depends(ws_token)]) -> None:
    """The events so far, then one line per new event."""
    if token not in USERS:
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "Invalid token")
        return
    await websocket.accept()
    try:
        for event in EVENTS:
            await websocket.send_text(event)
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
