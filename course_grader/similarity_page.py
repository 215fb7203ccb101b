"""``reports/NAME/similarity.html``: each pair that ``course_grader.similarity`` lists, side by side, the
shared code marked.  One self-contained page (no scripts, no external files), the code escaped."""

from __future__ import annotations

import html
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table.pairs { border-collapse: collapse; margin-bottom: 2em; }
table.pairs td, table.pairs th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
section { margin-bottom: 2.5em; }
.sides { display: flex; gap: 1em; }
.side { flex: 1; min-width: 0; }
.side h3 { font-size: 1em; margin: 0.3em 0; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
mark { background: #ffd54f; }
"""


def marked(code: str, spans: list[tuple[int, int]]) -> str:
    """``code`` escaped for HTML, each shared span inside ``<mark>``."""
    out, at = [], 0
    for start, end in sorted(spans):
        start, end = max(start, at), min(end, len(code))
        if start >= end:
            continue
        out += [html.escape(code[at:start]), "<mark>", html.escape(code[start:end]), "</mark>"]
        at = end
    out.append(html.escape(code[at:]))
    return "".join(out)


def _party(match, side: str) -> str:
    if side == "student":
        return match.student
    return f"{match.other} ({match.matched})" if match.matched else match.other


def page(name: str, matches: list, threshold: float) -> str:
    """The whole page as text."""
    e = html.escape
    rows = "".join(f'<tr><td><a href="#pair{i}">{i}</a></td><td>{e(m.exercise)}</td><td>{e(m.student)}</td>'
                   f"<td>{e(_party(m, 'other'))}</td><td>{m.score:.2f}</td></tr>"
                   for i, m in enumerate(matches, 1))
    sections = []
    for i, m in enumerate(matches, 1):
        sides = "".join(
            f'<div class="side"><h3>{e(_party(m, side))}: {share:.0%} of this answer is shared</h3>'
            f"<pre>{marked(code, spans)}</pre></div>"
            for side, share, code, spans in (("student", m.student_share, m.student_code, m.student_spans),
                                             ("other", m.other_share, m.other_code, m.other_spans)))
        sections.append(f'<section id="pair{i}"><h2>{i}. {e(m.exercise)}: {e(m.student)} and '
                        f"{e(_party(m, 'other'))}, score {m.score:.2f}</h2>"
                        f'<div class="sides">{sides}</div></section>')
    summary = (f"<p>{len(matches)} pair{'s' if len(matches) != 1 else ''} at a score of {threshold:.2f} or more. "
               "A score is the larger of the two shares: the part of one answer's own code (the released "
               "signature, docstring and stub excluded) that is found in the other, names and formatting "
               "ignored. A listed pair is a reason to read both answers, not a verdict; scores are "
               "unchanged.</p>")
    table = ("<table class=\"pairs\"><tr><th>#</th><th>exercise</th><th>student</th><th>other</th><th>score</th>"
             f"</tr>{rows}</table>") if matches else "<p>No pair reached the threshold.</p>"
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{e(name)}: similar answers</title>"
            f"<style>{STYLE}</style></head><body><h1>{e(name)}: similar answers</h1>{summary}{table}"
            f"{''.join(sections)}</body></html>\n")


def write_page(path: Path, name: str, matches: list, threshold: float) -> Path:
    path.write_text(page(name, matches, threshold), encoding="utf-8")
    return path
