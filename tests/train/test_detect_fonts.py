"""The digit generator's faces: many families from Debian's font packages, some held out of training entirely
(the unseen-fonts split measures them), the Liberation fonts never drawn."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edgeward.train.detect import fonts
from edgeward.train.detect.fonts import FONT_PACKAGES, UNSEEN, FontPicker, FontSet, font_families

REPO = Path(__file__).resolve().parents[2]


def test_the_makefile_installs_the_font_packages():
    listed = re.search(r"^FONT_PACKAGES := (.*)$", (REPO / "Makefile").read_text(), re.M).group(1).split()
    assert listed == list(FONT_PACKAGES)


def test_training_and_unseen_families_never_share_a_face():
    training, unseen = font_families(FontSet.TRAINING), font_families(FontSet.UNSEEN)
    assert len(training) >= 40 and sorted(unseen) == sorted(UNSEEN)  # every unseen family installed (make install)
    train_files = {f for v in training.values() for f in v}
    unseen_files = {f for v in unseen.values() for f in v}
    assert train_files and unseen_files and not train_files & unseen_files
    assert not any("iberation" in f for f in train_files | unseen_files)  # reserved for the check kept outside
    assert any(k.startswith("DSEG7") for k in training) and "DSEG14" in unseen  # seven-segment trained, fourteen held out


def test_without_the_packages_matplotlib_faces_stand_in(tmp_path):
    training = font_families(FontSet.TRAINING, root=tmp_path)
    assert sorted(training) == ["DejaVu Sans", "DejaVu Sans Mono", "DejaVu Serif", "STIXGeneral"]
    assert font_families(FontSet.UNSEEN, root=tmp_path) == {}


def test_a_face_without_digits_is_left_out(tmp_path):
    """A symbol face draws no digits (or the same box for each): it never enters the families."""
    symbols = next(Path("/usr/share/fonts").rglob("D050000L.otf"), None)
    if symbols is None:
        pytest.skip("fonts-urw-base35 is not installed (make install adds it)")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / symbols.name).write_bytes(symbols.read_bytes())
    fonts.families.cache_clear()
    assert fonts.families(tmp_path) == {}


def test_picker_draws_families_evenly():
    pick = FontPicker({"one": ("a",), "many": tuple("bcdefghij")})
    draws = [pick(np.random.default_rng(i)) for i in range(400)]
    assert 0.4 < draws.count("a") / len(draws) < 0.6
    with pytest.raises(ValueError, match="no font families"):
        FontPicker({})


def test_generated_data_has_an_unseen_fonts_split(detect_data, detect_run):
    text = (detect_data / "data.yaml").read_text()
    assert "unseen-fonts: images/unseen-fonts" in text and "# unseen font families: Bebas Neue, Caladea" in text
    assert len(list((detect_data / "images" / "unseen-fonts").glob("*.jpg"))) == 8
    from edgeward.core.rundir import RunDir

    m = RunDir(detect_run).record().metrics["model"]
    assert 0 <= m["unseen_fonts_map50"] <= 1 and 0 <= m["unseen_fonts_map50_95"] <= m["unseen_fonts_map50"]
