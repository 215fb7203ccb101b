"""``python -m course_grader NN_name``: what ``python3 course.py grade`` runs."""

import sys

from course_grader.cli import main

if __name__ == "__main__":
    sys.exit(main())
