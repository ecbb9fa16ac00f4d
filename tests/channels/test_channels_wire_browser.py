"""Prepared frames as a browser reads them: Chromium asks for permessage-deflate, so it gets small channel frames
uncompressed among compressed ones (the handler's own, larger publishes) on one connection."""

from tests.browser import chromium, requires_chromium
from tests.channels.support import ServerProcess

pytestmark = requires_chromium

# Sends one text at a time and waits for what comes back; messages are queued as they arrive, so none is missed.
EXCHANGE = """async ([url, texts]) => {
  const ws = new WebSocket(url);
  const inbox = [];
  let wake = null;
  ws.onmessage = (event) => { inbox.push(event.data); if (wake) { wake(); wake = null; } };
  const next = async () => {
    while (inbox.length === 0) await new Promise((resolve) => { wake = resolve; });
    return inbox.shift();
  };
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const first = [JSON.parse(await next()), JSON.parse(await next())];
  const received = [];
  for (const text of texts) {
    ws.send(text);
    const reply = await next();
    received.push(text.startsWith("own:") ? reply : JSON.parse(reply).data);
  }
  ws.close();
  return { extensions: ws.extensions, first, received };
}"""


def test_chromium_reads_small_uncompressed_frames_among_compressed_ones(wire_server: ServerProcess) -> None:
    line = "the same words again and again, "
    # Small publishes (prepared, uncompressed), the handler's own frames and publishes over 1 KiB (compressed),
    # the same words throughout, so that each compressed frame refers back to the ones before it.
    texts = [line, "own:" + line, line * 2, line * 40, line * 28, "own:" + line * 3, line * 3_000, line]
    with chromium() as browser:
        page = browser.new_page()
        page.goto(wire_server.http + "/")
        result = page.evaluate(EXCHANGE, [wire_server.ws + "/sub/browser", texts])
    assert result["extensions"].startswith("permessage-deflate")
    assert result["first"][0]["type"] == "subscribed"
    assert result["first"][1] == {"prepared": True}
    assert result["received"] == texts
