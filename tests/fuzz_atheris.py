"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers of untrusted bytes, beside the Hypothesis targets of
``test_fuzz.py``: libFuzzer mutates toward inputs that reach new lines of the parser, which random bytes rarely do
(a WAV header's "RIFF", "WAVE", "fmt ", "data" in the right places).

    python tests/fuzz_atheris.py TARGET -runs=100000 [-seed=1]

TARGET: wav, manifest, onnx, tflite, image, kserve, keras (the Keras config scanner). The only allowed outcomes are a result or one of edgeward's
own errors; anything else stops the run with the input that raised it (exit code non-zero). `make fuzz` runs
each target; ``test_fuzz.py::test_atheris_targets`` runs a short budget of each.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile

import atheris

# libFuzzer's memory limit is on the process's peak resident size, and Linux hands a child the peak of the process
# that started it (a pytest that trained models starts this at 2 GB): measured before anything is imported here.
INHERITED_PEAK_MB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
TARGET_MEMORY_MB = 2048  # what one input may make the target use, and the largest single allocation

with atheris.instrument_imports(include=["edgeward"]):
    from edgeward.core.errors import EdgewardError
    from edgeward.core.keras_scan import code_layers, decode_config
    from edgeward.core.manifest import Manifest
    from edgeward.runtime.io.audio_io import parse_wav
    from edgeward.runtime.engine.onnx_external import check_external_data
    from edgeward.runtime.services.serve.kserve import Request
    from edgeward.runtime.engine.tflite_metadata import read_metadata
    from edgeward.runtime.engine.embedded import manifest_of
    from edgeward.runtime.io.video import read_image

IMAGE = os.path.join(tempfile.mkdtemp(prefix="edgeward-atheris-"), "image")


def _image(data: bytes) -> None:
    with open(IMAGE, "wb") as f:
        f.write(data)
    read_image(IMAGE)


def _onnx(data: bytes) -> None:
    check_external_data(data, "m.onnx")
    manifest_of(data, "m.onnx")


def _kserve(data: bytes) -> None:
    Request(data[2:], int.from_bytes(data[:2], "little") if len(data) >= 2 else None)


TARGETS = {
    "wav": parse_wav,
    "manifest": lambda data: Manifest.from_json(data, "m.onnx"),
    "onnx": _onnx,
    "tflite": lambda data: read_metadata(data, "m.tflite"),
    "image": _image,
    "kserve": _kserve,
    "keras": lambda data: code_layers(decode_config(data, "m.h5")),
}


def main() -> None:
    target = TARGETS[sys.argv.pop(1)]

    def one(data: bytes) -> None:
        try:
            target(data)
        except EdgewardError:
            pass

    if not any(arg.startswith("-rss_limit_mb=") for arg in sys.argv):
        sys.argv += [f"-rss_limit_mb={INHERITED_PEAK_MB + TARGET_MEMORY_MB}", f"-malloc_limit_mb={TARGET_MEMORY_MB}"]
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
