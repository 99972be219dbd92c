"""A Keras callback that shows training progress as a tqdm bar (on stderr), one step per epoch."""

from __future__ import annotations


def epoch_bar(keras, epochs: int, desc: str, enabled: bool):
    from tqdm import tqdm

    class EpochBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = tqdm(total=epochs, desc=desc, unit="epoch", disable=not enabled, leave=False)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items() if k in ("loss", "val_loss", "val_auprc")})
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return EpochBar()
