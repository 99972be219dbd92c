"""How ``edgeward serve`` serves: address, the optional token, dynamic batching and the limits."""

from __future__ import annotations

from dataclasses import dataclass

from edgeward.core.config import at_least, check, option

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServeOptions:
    host: str = option("127.0.0.1", "address to bind; anything but loopback needs --token")
    port: int = option(8000, "TCP port")
    grpc_port: int | None = option(None, "also serve Triton's gRPC protocol on this port (tritonclient.grpc; the grpc "
                                         "extra); Triton's own is 8001")
    token: str | None = option(None, "a bearer token every request but the health checks must carry "
                                     "(Authorization: Bearer TOKEN)")
    max_batch: int = option(64, "dynamic batching: rows in one model call at most (1: no batching)")
    max_delay_ms: float = option(2.0, "dynamic batching: how long a request waits for others to join its batch")
    max_queue: int = option(4096, "rows waiting for the model at most; beyond, requests get 503")
    max_body_mb: float = option(8.0, "request body size limit, MB (413 beyond)")
    body_timeout_s: float = option(10.0, "seconds a request body may take to arrive (408 beyond)")
    source: tuple[str, ...] = option((), "live sources, comma-separated: a camera index, a video file, a URL or an "
                                         "image folder (video, for the model that takes it); mic or a WAV file "
                                         "(audio)")
    pace_files: bool = option(True, "play a file source at its own frame rate (off: as fast as the model runs)")
    once: bool = option(False, "play a file source (video, image folder, WAV) once; by default it starts again at its "
                               "end, standing in for a camera or a microphone")
    device: str = option("auto", "device profile for every served model")
    threads: int | None = option(None, "threads per model (default: the profile's)")
    # the live sources' runtimes' options: instances of their classes' ``options_type`` (the CLI makes their flags
    # from the registry); a runtime whose options are not here runs with its defaults
    runtimes: tuple = option((), cli=False)

    def runtime_options(self, cls):
        """``from_file``'s keyword arguments for a task runtime class: the options given for its ``options_type``, or
        its defaults; none for a class without options."""
        if cls.options_type is None:
            return {}
        given = [o for o in self.runtimes if isinstance(o, cls.options_type)]
        return {"options": given[0] if given else cls.options_type()}

    def __post_init__(self):
        at_least(self, 1, "max_batch", "max_queue")
        at_least(self, 0, "max_delay_ms")
        check(self, "port", isinstance(self.port, int) and 0 <= self.port <= 65535, "a TCP port, 0-65535")
        check(self, "grpc_port", self.grpc_port is None or (isinstance(self.grpc_port, int) and 1 <= self.grpc_port <= 65535
                                                            and self.grpc_port != self.port), "a TCP port, 1-65535, not --port's")
        check(self, "max_body_mb", isinstance(self.max_body_mb, (int, float)) and self.max_body_mb > 0, "a number > 0")
        check(self, "body_timeout_s", isinstance(self.body_timeout_s, (int, float)) and 0 < self.body_timeout_s <= 3600,
              "seconds, more than 0 and at most 3600")
        if self.threads is not None:
            at_least(self, 1, "threads")
        check(self, "token", self.token is None or len(self.token) >= 8, "a token of at least 8 characters")
        check(self, "host", self.host in LOOPBACK or self.token is not None,
              "127.0.0.1 unless --token is given (the models would be open to the network)")
