"""A Keras file cannot run its code, or exhaust memory, before the user says --unsafe: its config is read as Keras
reads it (keys in any order, JSON escapes, a Lambda inside a wrapper), in every format (.h5, .keras, SavedModel),
and its declared sizes are bounded before anything is inflated or allocated (a .keras zip bomb, an .h5 weight
declared 200,000 x 200,000, a calibration .npz declaring 29 TiB).

The Lambda writes a marker file when Keras builds it, so each test sees whether the file's code ran."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgeward.app.cli import main
from edgeward.core.errors import ModelFileError
from edgeward.core.keras_scan import code_layers, decode_config


def _lambda_model(marker: Path):
    """x (4) -> Lambda 'sneaky' (touches ``marker`` when it runs) -> Dense(2)."""
    from edgeward.core.keras_env import tf_keras

    keras = tf_keras()
    fn = eval(f"lambda t: t if __import__('pathlib').Path({str(marker)!r}).touch() is None else t")  # noqa: S307
    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Lambda(fn, name="sneaky")(inputs)))


def _respell(config: dict, how: str) -> str:
    """The config as JSON, its Lambda layer's entry spelled ``how``: keys reordered, the class name escaped,
    or the layer wrapped in TimeDistributed-free nesting (a module path)."""
    text = json.dumps(config)
    if how == "reordered":
        def visit(node):
            if isinstance(node, dict):
                return {k: visit(node[k]) for k in reversed(list(node))}
            return [visit(v) for v in node] if isinstance(node, list) else node
        return json.dumps(visit(config))
    if how == "escaped":
        return text.replace('"class_name": "Lambda"', '"class_name": "\\u004cambda"')
    if how == "spaced":
        return text.replace('"class_name": "Lambda", "config"', '"class_name"  :\n"Lambda" ,\t"config"')
    raise ValueError(how)


SPELLINGS = ("reordered", "escaped", "spaced")


def _h5(tmp_path: Path, marker: Path, how: str) -> Path:
    import h5py

    path = tmp_path / f"{how}.h5"
    _lambda_model(marker).save(path)
    marker.unlink(missing_ok=True)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = _respell(config, how)
    return path


def _keras_zip(tmp_path: Path, marker: Path, how: str) -> Path:
    path, respelled = tmp_path / "plain.keras", tmp_path / f"{how}.keras"
    _lambda_model(marker).save(path)
    marker.unlink(missing_ok=True)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(respelled, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                data = _respell(json.loads(data), how).encode()
            dst.writestr(item, data)
    return respelled


def _saved_model(tmp_path: Path, marker: Path, how: str) -> Path:
    from tf_keras.protobuf import saved_metadata_pb2

    path = tmp_path / f"{how}-savedmodel"
    _lambda_model(marker).save(path)
    marker.unlink(missing_ok=True)
    proto = saved_metadata_pb2.SavedMetadata()
    proto.ParseFromString((path / "keras_metadata.pb").read_bytes())
    for node in proto.nodes:
        if node.metadata:
            node.metadata = _respell(json.loads(node.metadata), how)
    (path / "keras_metadata.pb").write_bytes(proto.SerializeToString())
    return path


@pytest.mark.parametrize("how", SPELLINGS)
@pytest.mark.parametrize("fmt", [_h5, _keras_zip, _saved_model], ids=["h5", "keras", "savedmodel"])
def test_a_lambda_however_spelled_is_refused_and_its_code_never_runs(fmt, how, tmp_path, capsys):
    marker = tmp_path / "ran"
    model = fmt(tmp_path, marker, how)
    assert main(["export", "--model", str(model), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "layer 'sneaky' is a Lambda layer" in err and "--unsafe" in err and "Traceback" not in err, err
    assert not marker.exists(), "the file's code ran"


def test_the_scanner_reads_json_as_keras_does():
    lam = {"class_name": "Lambda", "config": {"name": "a"}}
    assert code_layers(lam) == ["a"]
    assert code_layers(json.loads('{"config": {"name": "b"}, "class_name": "\\u004cambda"}')) == ["b"]
    # a key given twice means its last value, to json.loads and so to Keras
    assert code_layers(json.loads('{"class_name": "Lambda", "class_name": "Dense", "config": {"name": "c"}}')) == []
    assert code_layers(json.loads('{"class_name": "Dense", "class_name": "Lambda", "config": {"name": "d"}}')) == ["d"]
    wrapped = {"class_name": "TimeDistributed", "config": {"name": "td", "layer": {**lam, "config": {"name": "inner"}}}}
    assert code_layers({"layers": [wrapped]}) == ["inner"]
    assert code_layers({"class_name": "keras.layers.Lambda", "config": {"name": "e"}}) == ["e"]
    assert code_layers({"class_name": "Dense", "config": {"name": "f", "function_type": "lambda"}}) == ["f"]
    assert code_layers({"class_name": "__lambda__", "config": {"code": "..."}}) == ["(unnamed)"]
    assert code_layers({"class_name": "Dense", "config": {"name": "Lambda"}}) == []
    with pytest.raises(ModelFileError, match="nests deeper than it can be read"):
        decode_config("[" * 100_000 + "]" * 100_000, "deep.h5")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        decode_config('{"class_name": "Lam', "cut.h5")


@pytest.mark.full  # writes a large archive: `make test-full`
def test_a_keras_zip_bomb_is_refused_before_inflating(tmp_path, capsys):
    from edgeward.core.keras_env import tf_keras

    keras = tf_keras()
    path = tmp_path / "bomb.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("padding.bin", "w", force_zip64=True) as member:
            block = bytes(1 << 24)
            for _ in range(64 * 4):  # 4 GiB of zeros, about 4 MB on disk
                member.write(block)
    assert path.stat().st_size < 10 << 20
    from edgeward.core import keras_scan

    with zipfile.ZipFile(path) as z, pytest.raises(ModelFileError, match="declare 4,29.* bytes once inflated; expected at "
                                                                       "most 2,147,483,648 .* refused before inflating"):
        keras_scan.check_keras_zip(z, str(path), memory=4 << 30)
    # and from the CLI: refused with this machine's memory when the bomb is larger than half of it
    if keras_scan.physical_memory() // 2 < 4 << 30:
        assert main(["export", "--model", str(path), "--out", str(tmp_path / "run")]) == 2
        assert "refused before inflating" in capsys.readouterr().err


def test_an_h5_weight_declared_200000_by_200000_is_refused_before_loading(tmp_path, capsys):
    import h5py

    from edgeward.core.keras_env import tf_keras

    keras = tf_keras()
    path = tmp_path / "huge.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="dense")]).save(path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][-1]["config"]["units"] = 200_000
        f.attrs["model_config"] = json.dumps(config)
        group = f["model_weights"]["dense"]["dense"]
        del group["kernel:0"]
        group.create_dataset("kernel:0", shape=(200_000, 200_000), dtype="float32")  # declared: no storage written
    assert path.stat().st_size < 1 << 20
    assert main(["export", "--model", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "weight 'model_weights/dense/dense/kernel:0' of shape (200000, 200000)" in err and "refused before loading" in err
    assert "Traceback" not in err


def test_a_calibration_npz_declaring_29_tib_is_refused_before_allocating(tmp_path, capsys):
    from edgeward.core.keras_env import tf_keras

    keras = tf_keras()
    model = tmp_path / "m.keras"
    keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(2)]).save(model)
    npz = tmp_path / "calib.npz"
    np.savez(npz, x=np.zeros((8, 4), np.float32))
    with zipfile.ZipFile(npz) as z:
        data = z.read("x.npy")
    header = data[:data.index(b"\n") + 1].decode("latin-1")
    lied = header.replace("(8, 4)", "(2000000000000, 4)")
    lied = lied[:-1].ljust(len(header) - 1) + "\n"  # the header keeps its length (numpy pads it to 64 bytes)
    with zipfile.ZipFile(npz, "w") as z:
        z.writestr("x.npy", lied.encode("latin-1") + data[len(header):])
    assert main(["export", "--model", str(model), "--calibration", str(npz), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "x.npy" in err and "declares shape (2000000000000, 4)" in err and "Traceback" not in err, err
