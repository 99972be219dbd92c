"""Detection: generated digit scenes (YOLO layout), YOLO and COCO loaders, mAP, and the detector's training."""
