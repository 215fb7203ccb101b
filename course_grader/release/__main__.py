"""``python -m course_grader.release DEST``: what ``python3 course.py release`` runs."""

import sys

from course_grader.release import main

if __name__ == "__main__":
    sys.exit(main())
