"""Do the README's figures say what the notebooks say?

A notebook states the figures its own run measured, next to the cell that
prints them; the README's table of notebooks quotes some of them.  These tests
read both texts, so a notebook that changes its numbers cannot leave the README
behind (the README once gave the tiny RPN as AP@0.5 0.54 while the notebook
measured 0.39).
"""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _readme_row(number: str) -> str:
    rows = [line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith(f"| {number} |")]
    assert len(rows) == 1, f"the README's table should have one row for notebook {number}"
    return rows[0]


def _source(pattern: str) -> str:
    return next((ROOT / "instructor").glob(pattern)).read_text()


def test_rpn_figures_in_readme_are_the_notebooks():
    """Are the tiny RPN's AP@0.5 and recall in the README's row for notebook 09 the ones notebook 09 states
    for its run?"""
    row = _readme_row("09")
    ap, recall = re.search(r"AP@0\.5 (0\.\d+), recall (0\.\d+)", row).groups()
    text = " ".join(_source("09_*.py").replace("#", " ").split())
    stated = re.search(r"the tiny RPN reached an AP@0\.5 of (0\.\d+) and found (\d+) %", text)
    assert stated, "notebook 09 no longer states its RPN's figures in the expected sentence"
    assert ap == stated.group(1)
    assert round(float(recall) * 100) == int(stated.group(2))


def test_crf_figures_in_readme_are_the_notebooks():
    """Is the CRF's mean-IoU gain in the README's row for notebook 08 the one notebook 08 states?"""
    before, after = re.search(r"mean IoU (0\.\d+) → (0\.\d+)", _readme_row("08")).groups()
    assert f"about {before} → {after}" in " ".join(_source("08_*.py").replace("#", " ").split())


def test_segmentation_figures_in_readme_are_the_notebooks():
    """Are the latest FCN-8s / U-Net / DeepLab v3+ mean IoUs in the README the ones notebook 08 states?"""
    readme = (ROOT / "README.md").read_text()
    fcn, unet, deeplab = re.search(r"latest run (0\.\d+) / (0\.\d+) / (0\.\d+)", readme).groups()
    text = " ".join(_source("08_*.py").replace("#", " ").split())
    assert f"FCN-8s {fcn}, U-Net (depth 3, 8 channels) {unet}, DeepLab v3+ {deeplab}" in text
