"""Signed artifacts: a key pair from `edgeward keys`, `export --sign`, `verify --key`, `Model(require_signature=)`.

The case that makes signatures necessary: a model whose decision threshold was changed and whose hash was
recomputed (re-sealed) passes `verify` without a key, since its hash is whatever its author wrote, and fails
`verify --key`."""

from __future__ import annotations

import json
import shutil
import stat

import onnx
import pytest

from edgeward.app.cli import main
from edgeward.core.errors import InputError, ModelFileError
from edgeward.core.manifest import METADATA_KEY
from edgeward.core.seal import UNSEALED, seal
from edgeward.runtime import Model

pytest.importorskip("cryptography")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    assert main(["keys", str(folder / "release")]) == 0
    assert main(["keys", str(folder / "other")]) == 0
    return folder


@pytest.fixture(scope="module")
def signed_run(fraud_run, keys, tmp_path_factory):
    """A copy of the fraud run, exported again with --sign (ONNX and TFLite, fp32)."""
    run = tmp_path_factory.mktemp("signed") / "run"
    shutil.copytree(fraud_run, run)
    assert main(["export", str(run), "--format", "all", "--precision", "fp32", "--sign", str(keys / "release.key")]) == 0
    return run


def _resealed_with_threshold(source, out, threshold: float):
    """The file with its manifest's threshold changed and its hash recomputed, as an attacker would."""
    proto = onnx.load(source)
    prop = next(p for p in proto.metadata_props if p.key == METADATA_KEY)
    data = json.loads(prop.value)
    data["thresholds"] = {k: threshold for k in data["thresholds"]}
    data["provenance"]["artifact_sha256"] = UNSEALED
    prop.value = json.dumps(data, sort_keys=True)
    out.write_bytes(seal(proto.SerializeToString()))
    return out


def test_keys_are_a_pair_the_private_half_0600_and_never_overwritten(keys, capsys):
    assert stat.S_IMODE((keys / "release.key").stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in (keys / "release.key").read_bytes() and b"PUBLIC KEY" in (keys / "release.pub").read_bytes()
    before = (keys / "release.key").read_bytes()
    assert main(["keys", str(keys / "release")]) == 2
    assert "release.key: already exists" in capsys.readouterr().err
    assert (keys / "release.key").read_bytes() == before


def test_a_signed_export_verifies_with_its_key_and_not_with_another(signed_run, keys, capsys):
    artifacts = sorted(p for p in (signed_run / "artifacts").glob("model*.*") if p.suffix in (".onnx", ".tflite"))
    assert len(artifacts) == 2 and all((a.parent / (a.name + ".sig")).exists() for a in artifacts)
    capsys.readouterr()
    assert main(["verify", "--key", str(keys / "release.pub"), *map(str, artifacts)]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok, signed by key ") == 2 and "every byte as that key's holder signed it" in out
    assert main(["verify", "--key", str(keys / "other.pub"), str(artifacts[0])]) == 2
    err = capsys.readouterr().err
    assert "signed by key" in err and "not from the holder of that key" in err, err
    assert main(["verify", "--key", str(keys / "release.key"), str(artifacts[0])]) == 2  # the wrong half
    err = capsys.readouterr().err
    assert "expected a PEM public key (.pub, from edgeward keys) (this is the other half of the pair)" in err
    assert err.count("\n") == 1


def test_a_resealed_model_passes_the_hash_and_fails_the_signature(signed_run, keys, tmp_path, capsys):
    model = signed_run / "artifacts" / "model.onnx"
    forged = _resealed_with_threshold(model, tmp_path / "model.onnx", 0.999)
    shutil.copy(model.with_name("model.onnx.sig"), tmp_path / "model.onnx.sig")  # the genuine signature beside it
    assert Model(forged).manifest.thresholds != Model(model).manifest.thresholds
    capsys.readouterr()
    assert main(["verify", str(forged)]) == 0  # the hash proves only that the author re-sealed it
    assert "this does not show who made it" in capsys.readouterr().out
    assert main(["verify", "--key", str(keys / "release.pub"), str(forged)]) == 2
    err = capsys.readouterr().err
    assert "does not match the file" in err and "changed since it was signed" in err and err.count("\n") == 1


def test_the_runtime_refuses_an_unsigned_or_forged_file_when_asked(signed_run, keys, tmp_path):
    model = signed_run / "artifacts" / "model.onnx"
    assert Model(model, require_signature=keys / "release.pub").manifest.task == "fraud"
    unsigned = tmp_path / "unsigned.onnx"
    shutil.copy(model, unsigned)
    assert Model(unsigned).manifest.task == "fraud"  # not asked: loads
    with pytest.raises(ModelFileError, match=r"unsigned.onnx: not signed: expected its signature in .*unsigned.onnx.sig"):
        Model(unsigned, require_signature=keys / "release.pub")
    with pytest.raises(ModelFileError, match="not from the holder of that key"):
        Model(model, require_signature=keys / "other.pub")
    forged = _resealed_with_threshold(model, tmp_path / "forged.onnx", 0.5)
    shutil.copy(model.with_name("model.onnx.sig"), tmp_path / "forged.onnx.sig")
    with pytest.raises(ModelFileError, match="does not match the file"):
        Model(forged, require_signature=keys / "release.pub")
    (tmp_path / "forged.onnx.sig").write_text("{not json")
    with pytest.raises(ModelFileError, match="expected an edgeward signature"):
        Model(forged, require_signature=keys / "release.pub")


def test_sign_after_the_fact_and_a_bad_key_is_said_before_any_work(fraud_model, keys, tmp_path, capsys):
    copy = tmp_path / "m.onnx"
    shutil.copy(fraud_model, copy)
    assert main(["sign", "--key", str(keys / "release.key"), str(copy)]) == 0
    assert Model(copy, require_signature=keys / "release.pub").manifest.task == "fraud"
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(InputError, match="bad.key: expected a PEM private key"):
        from edgeward.core.signing import check_private_key

        check_private_key(tmp_path / "bad.key")
    assert main(["export", str(tmp_path / "no-run"), "--sign", str(tmp_path / "bad.key")]) == 2
    assert "bad.key: expected a PEM private key" in capsys.readouterr().err
    assert main(["export", "--model", str(tmp_path / "any.keras"), "--out", str(tmp_path / "adopted"), "--sign",
                 str(tmp_path / "bad.key")]) == 2  # said before the model is even looked at
    assert "bad.key: expected a PEM private key" in capsys.readouterr().err and not (tmp_path / "adopted").exists()
