"""Tests of the learner package's helpers: data, plots, progress, training, segmentation, detection."""
