"""A real network video stream for tests: an HTTP MJPEG server (multipart/x-mixed-replace, what IP cameras
serve) on localhost, read by OpenCV's own FFmpeg reader. It can drop each connection after a few frames, go
away for a while and come back, or send parts that are not images (a URL that opens but gives no frames)."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import numpy as np


def free_port() -> int:
    """A localhost port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def jpeg(value: int, size: int = 64) -> bytes:
    import cv2

    return cv2.imencode(".jpg", np.full((size, size, 3), value, np.uint8))[1].tobytes()


class MjpegServer:
    """``frames`` JPEG parts per connection, then the connection closes (a dropped stream); ``garbage``: parts
    that are not JPEG; ``down_s``: after the first connection, the port is closed for that long, then the
    server listens again on the same port; ``serve``: after that many connections, answer 503 (the camera is
    gone); ``hold_s``: after its frames, a connection is held open that long, silent (a stream that stalls).
    ``connections`` counts the connections served."""

    def __init__(self, frames: int = 10, garbage: bool = False, down_s: float = 0.0, serve: int = 0, hold_s: float = 0.0):
        self.frames, self.garbage, self.down_s, self.serve, self.hold_s = frames, garbage, down_s, serve, hold_s
        self.connections = self.sent = 0  # connections served, frames sent
        self.port = free_port()
        self._server = self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/camera.mjpg"

    def _listen(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if owner.serve and owner.connections >= owner.serve:
                    self.send_error(503)
                    return
                owner.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for i in range(owner.frames):
                    part = b"\xff\xd8not a picture" * 50 if owner.garbage else jpeg(20 + 10 * (i % 20))
                    try:
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(part)
                                         + part + b"\r\n")
                        self.wfile.flush()
                        owner.sent += 1
                    except OSError:  # the reader went away
                        return
                time.sleep(owner.hold_s)  # a stream that stalls: the connection open, nothing more sent
                if owner.down_s and owner.connections == 1:
                    threading.Thread(target=owner._outage, daemon=True).start()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def _outage(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        time.sleep(self.down_s)
        self._server = self._listen()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "MjpegServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

