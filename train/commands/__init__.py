"""Voice commands: generated speech in the Speech Commands layout, its loader, and the DS-CNN's training."""
