"""Image classification: generated class folders (objects, nodules), a loader for any class-folder tree, and
the classifier's training."""
