"""The WebSocket protocol the API servers run under uvicorn: its ``websockets-sansio`` protocol,
plus an answer to an upgrade request that websockets refuses while parsing it.

websockets parses the upgrade request itself (uvicorn's HTTP parser hands the raw bytes over) and
refuses a request line or a header line over 8 KB (``websockets.http11.MAX_LINE_LENGTH``) by
queueing a 414 or 431 response. uvicorn writes only the responses of handshakes that reach the
application, so such a client got no byte back and its connection stayed open, holding a file
descriptor, for as long as the client liked (a ``/ws?token=`` of 9,000 characters was enough).
Here the queued refusal is written and the connection closed at once. The other implementations
were no better choice: uvicorn's ``websockets`` (legacy) protocol answers 400 but is deprecated,
and ``wsproto`` is not installed with ``uvicorn[standard]``.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

# ``uvicorn.run(..., ws=UVICORN_WS)``: an import string, so every worker process can load it
UVICORN_WS = "services.query_api.ws.uvicorn_protocol:WebSocketProtocol"


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            if not self.transport.is_closing():
                self.transport.write(b"".join(self.conn.data_to_send()))
                self.transport.close()
