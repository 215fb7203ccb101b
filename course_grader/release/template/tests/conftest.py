"""The notebooks run against this folder's course_utils and data, wherever else one is installed."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(ROOT))
# Kernels started by the tests inherit these: this folder first on their path, static explorers,
# and a scratch progress file (a test run never counts as your progress).
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
os.environ.setdefault("COURSE_HEADLESS", "1")
os.environ.setdefault("COURSE_PROGRESS_FILE", os.path.join(tempfile.gettempdir(),
                                                           f"course-test-progress-{os.getpid()}.json"))
