"""Which waveform augmentations (and accents) to keep: each measured alone against none, on the held-out
engine's choosing half, at a proxy scale that two cores train in minutes.

A condition is kept when it lifts clip accuracy on festival's choosing half (``kal_diphone``) by at least
``HELPS`` points and costs the espeak-ng test voices at most ``HURTS``; then the kept ones are trained together,
and only that model and the baseline are measured on festival's measured half. ``make ablate-commands`` runs
it; docs/benchmarks.md has the table and the numbers it gave.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from edgeward.train.commands.augment import Augmentation

HELPS, HURTS = 2.0, 1.0  # points of clip accuracy, fixed before the runs (the scatter between seeds is not measured)
ACCENTS = "accents"


@dataclass(frozen=True)
class Condition:
    name: str
    augment: tuple[str, ...] = ()
    accents: bool = False


def conditions() -> list[Condition]:
    """No augmentation, each augmentation alone, accents alone."""
    return [Condition("none"), *(Condition(a.value, (a.value,)) for a in Augmentation), Condition(ACCENTS, accents=True)]


def heldout_accuracy(run: Path, folder: Path, split: str) -> float:
    """The Keras model's clip accuracy on a held-out folder's ``split`` (val: the choosing half; test: measured)."""
    from edgeward.core.keras_env import tf_keras
    from edgeward.core.rundir import RunDir
    from edgeward.runtime.io.audio_features import FrontEnd
    from edgeward.train.commands.data import features, load_clips

    record = RunDir(run).record()
    fe = FrontEnd.from_dict(record.payload.front_end, str(run))
    audio, y = load_clips(folder, fe, tuple(record.labels))[split]
    model = tf_keras().models.load_model(run / "model.keras", compile=False)
    p = model.predict((features(audio, fe) - fe.mean) / fe.std, batch_size=256, verbose=0)
    return float((p.argmax(1) == y).mean())


def run_condition(c: Condition, data: dict[bool, Path], festival: Path, out: Path, epochs: int, filters: int,
                  measured: bool = False) -> dict:
    from edgeward.core.rundir import RunDir
    from edgeward.train.commands.config import CommandsTrainConfig
    from edgeward.train.commands.training import train_commands

    run = out / c.name
    if not (run / "train.json").exists():
        train_commands(data[c.accents], run, CommandsTrainConfig(epochs=epochs, filters=filters, augment=c.augment),
                       progress=True)
    record = RunDir(run).record()
    row = {"condition": c.name, "augment": list(c.augment), "accents": c.accents,
           "espeak_test": 100 * record.metrics["model"]["accuracy"],
           "festival_choosing": 100 * heldout_accuracy(run, festival, "val"),
           "train_seconds": record.train_seconds}
    if measured:
        row["festival_measured"] = 100 * heldout_accuracy(run, festival, "test")
    return row


def kept(rows: list[dict]) -> list[dict]:
    """The conditions that help on the choosing half without hurting the espeak-ng test voices."""
    base = next(r for r in rows if r["condition"] == "none")
    return [r for r in rows if r["condition"] != "none"
            and r["festival_choosing"] - base["festival_choosing"] >= HELPS
            and base["espeak_test"] - r["espeak_test"] <= HURTS]


def ablate(plain: Path, accented: Path, festival: Path, out: Path, epochs: int = 16, filters: int = 64) -> dict:
    data = {False: plain, True: accented}
    rows = [run_condition(c, data, festival, out, epochs, filters, measured=c.name == "none") for c in conditions()]
    chosen = kept(rows)
    result = {"epochs": epochs, "filters": filters, "helps": HELPS, "hurts": HURTS, "rows": rows,
              "kept": [r["condition"] for r in chosen]}
    if chosen:
        together = Condition("kept", tuple(a for r in chosen for a in r["augment"]), any(r["accents"] for r in chosen))
        result["together"] = run_condition(together, data, festival, out, epochs, filters, measured=True)
    (out / "ablation.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def table(result: dict) -> str:
    lines = ["| condition | espeak-ng test voices | festival, choosing half | festival, measured half | kept |",
             "|---|---:|---:|---:|---|"]
    rows = result["rows"] + ([result["together"]] if "together" in result else [])
    for r in rows:
        measured = f"{r['festival_measured']:.1f}%" if "festival_measured" in r else "(not measured)"
        mark = "yes" if r["condition"] in result["kept"] else ("together" if r["condition"] == "kept" else "")
        lines.append(f"| {r['condition']} | {r['espeak_test']:.1f}% | {r['festival_choosing']:.1f}% | {measured} | {mark} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plain", type=Path, required=True, help="espeak-ng data without accents")
    p.add_argument("--accented", type=Path, required=True, help="the same data with --accents")
    p.add_argument("--festival", type=Path, required=True, help="festival --eval-only data (val: choosing half)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--filters", type=int, default=64)
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    print(table(ablate(a.plain, a.accented, a.festival, a.out, a.epochs, a.filters)))


if __name__ == "__main__":
    main()
