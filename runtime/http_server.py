"""The HTTP server's own bound on a request's head (request line and headers).

uvicorn's httptools protocol buffers a request's head without limit (measured: a 10 MB header field was
read whole and handed to the application), and its `h11_max_incomplete_event_size` applies to h11 only.
This protocol counts the head's bytes and fields as the parser reports them and stops reading at
`MAX_HEAD_BYTES` or `MAX_HEAD_FIELDS`, answering 431 in the project's error shape and closing the
connection. The application's own limits (runtime/http_limits.RequestLimits, tighter) answer everything
between theirs and these with a 431 as well; these only keep the memory a stranger can fill bounded.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from runtime.http_limits import detail

MAX_HEAD_BYTES = 64 * 1024
MAX_HEAD_FIELDS = 256


class HeadTooLarge(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    head_limit = MAX_HEAD_BYTES
    field_limit = MAX_HEAD_FIELDS
    #: Bytes received while a request's head is incomplete: httptools keeps a header field it has not
    #: seen the end of in its own buffer, so a never-ending field is caught here, not in on_header.
    _in_head = True
    _head_seen = 0
    _head_refused = False

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_seen += len(data)
        super().data_received(data)
        if self._in_head and self._head_seen > self.head_limit and not self._head_refused:
            self._head_refused = True
            self.send_400_response("")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_seen = 0
        self._head_bytes = 0
        self._head_fields = 0
        self._head_refused = False

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), 1)
        super().on_header(name, value)

    def _count(self, size: int, fields: int) -> None:
        self._head_bytes += size
        self._head_fields += fields
        if self._head_bytes > self.head_limit or self._head_fields > self.field_limit:
            self._head_refused = True
            raise HeadTooLarge  # the parser stops and reports an error: send_400_response below

    def send_400_response(self, msg: str) -> None:
        if not self._head_refused:
            super().send_400_response(msg)
            return
        body = json.dumps(
            {
                "detail": detail(
                    "headers_too_large",
                    f"a request's line and headers are limited to "
                    f"{self.head_limit} bytes and {self.field_limit} fields",
                )
            }
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        self.transport.close()
        self._in_head = False
