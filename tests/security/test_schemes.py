"""Security schemes on HTTP and WebSocket routes: the credential is read, a missing one is refused clearly."""

from typing import Any

import pytest

from wsapi import (
    Depends,
    FastAPI,
    HTTPException,
    Security,
    SecurityScopes,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
)
from wsapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBearer,
    HTTPDigest,
    OAuth2,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OpenIdConnect,
)
from wsapi.testclient import TestClient


def app_with(scheme: Any) -> TestClient:
    app = FastAPI()

    @app.websocket("/ws")
    async def ws_endpoint(websocket: WebSocket, credential: Any = Depends(scheme)) -> None:
        await websocket.accept()
        await websocket.send_json(credential.model_dump() if hasattr(credential, "model_dump") else credential)

    @app.get("/http")
    async def http_endpoint(credential: Any = Depends(scheme)) -> Any:
        return credential

    return TestClient(app)


def ws_credential(client: TestClient, url: str = "/ws", **kwargs: Any) -> Any:
    with client.websocket_connect(url, **kwargs) as ws:
        return ws.receive_json()


def refusal(client: TestClient, url: str = "/ws", **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url, **kwargs):
        pass
    return refused.value.code, refused.value.reason


@pytest.mark.parametrize(
    ("scheme", "present"),
    [
        (APIKeyQuery(name="api_key"), {"url_suffix": "?api_key=k1"}),
        (APIKeyHeader(name="X-API-Key"), {"headers": {"X-API-Key": "k1"}}),
        (APIKeyCookie(name="key"), {"cookies": {"key": "k1"}}),
    ],
    ids=["query", "header", "cookie"],
)
def test_api_keys_work_on_websocket_and_http(scheme: Any, present: dict[str, Any]) -> None:
    client = app_with(scheme)
    assert refusal(client) == (1008, "Not authenticated")
    assert client.get("/http").status_code == 401
    suffix = present.get("url_suffix", "")
    client.cookies.update(present.get("cookies", {}))
    headers = present.get("headers", {})
    assert ws_credential(client, "/ws" + suffix, headers=dict(headers)) == "k1"
    assert client.get("/http" + suffix, headers=headers).json() == "k1"


def test_optional_api_key_gives_none_instead_of_refusing() -> None:
    client = app_with(APIKeyQuery(name="api_key", auto_error=False))
    assert ws_credential(client) is None
    assert client.get("/http").json() is None


def test_http_bearer_on_websocket_and_http() -> None:
    client = app_with(HTTPBearer())
    assert refusal(client) == (1008, "Not authenticated")
    assert refusal(client, headers={"Authorization": "Basic abc"}) == (1008, "Invalid authentication credentials")
    assert ws_credential(client, headers={"Authorization": "Bearer tok"}) == {"scheme": "Bearer", "credentials": "tok"}
    assert client.get("/http").status_code == 401
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials="tok").model_dump()
    assert client.get("/http", headers={"Authorization": "Bearer tok"}).json() == credentials


def test_oauth2_password_bearer_on_websocket_and_http() -> None:
    client = app_with(OAuth2PasswordBearer(tokenUrl="token"))
    assert refusal(client) == (1008, "Not authenticated")
    unauthorized = client.get("/http")
    assert unauthorized.status_code == 401
    assert unauthorized.headers["www-authenticate"] == "Bearer"
    assert ws_credential(client, headers={"Authorization": "Bearer t0k"}) == "t0k"


def test_scopes_checked_through_security_refuse_a_websocket_missing_one() -> None:
    oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"chat": "Chat", "admin": "Administer"})
    granted = {"alice": {"chat"}, "root": {"chat", "admin"}}

    async def current_user(scopes: SecurityScopes, token: str = Depends(oauth2)) -> str:
        missing = set(scopes.scopes) - granted.get(token, set())
        if missing:
            raise WebSocketException(1008, f"Missing scope: {', '.join(sorted(missing))}")
        return token

    app = FastAPI()

    @app.websocket("/admin")
    async def admin(websocket: WebSocket, user: str = Security(current_user, scopes=["admin"])) -> None:
        await websocket.accept()
        await websocket.send_text(user)

    client = TestClient(app)
    assert ws_credential_text(client, "/admin", {"Authorization": "Bearer root"}) == "root"
    assert refusal(client, "/admin", headers={"Authorization": "Bearer alice"}) == (1008, "Missing scope: admin")


def ws_credential_text(client: TestClient, url: str, headers: dict[str, str]) -> str:
    with client.websocket_connect(url, headers=headers) as ws:
        return ws.receive_text()


def test_http_basic_decodes_user_and_password_and_asks_for_them() -> None:
    client = app_with(HTTPBasic(realm="wsapi"))
    asked = client.get("/http")
    assert (asked.status_code, asked.headers["www-authenticate"]) == (401, 'Basic realm="wsapi"')
    assert client.get("/http", auth=("ada", "pa:ss")).json() == {"username": "ada", "password": "pa:ss"}
    garbled = client.get("/http", headers={"Authorization": "Basic not-base64!"})
    assert garbled.status_code == 401
    assert ws_credential(client, headers={"Authorization": "Basic YWRhOnB3"}) == {"username": "ada", "password": "pw"}
    assert refusal(client, headers={"Authorization": "Basic !!!"}) == (1008, "Invalid authentication credentials")


@pytest.mark.parametrize(
    ("scheme", "header", "expected"),
    [
        (HTTPDigest(), "Digest username=ada", {"scheme": "Digest", "credentials": "username=ada"}),
        (OpenIdConnect(openIdConnectUrl="https://id.example.com/.well-known"), "Bearer t", "Bearer t"),
        (
            OAuth2(flows={"implicit": {"authorizationUrl": "https://a.example.com", "scopes": {}}}),
            "Bearer t",
            "Bearer t",
        ),
        (OAuth2AuthorizationCodeBearer(authorizationUrl="authorize", tokenUrl="token"), "Bearer t", "t"),
    ],
    ids=["digest", "openid-connect", "oauth2", "authorization-code"],
)
def test_other_fastapi_schemes_read_the_authorization_header(scheme: Any, header: str, expected: Any) -> None:
    client = app_with(scheme)
    assert client.get("/http").status_code == 401
    assert client.get("/http", headers={"Authorization": header}).json() == expected
    assert refusal(client) == (1008, "Not authenticated")


def test_the_http_refusal_can_be_overridden_as_in_fastapi() -> None:
    class Forbidding(HTTPBearer):
        def make_not_authenticated_error(self) -> HTTPException:
            return HTTPException(403, "Not authenticated")

    assert app_with(Forbidding()).get("/http").status_code == 403
