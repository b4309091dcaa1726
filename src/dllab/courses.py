"""The homework sets dllab implements, by the names their users know, and where each one is online.

Experiments and theory checks name their course with these constants and give the question as the homework
numbers it, so ``dllab list``, the reports and the docs all say "Tsinghua Deep Learning 2024, Q5.2".
"""

from __future__ import annotations

CS229BR = "Harvard CS229br HW0"
THEORY_SEMINAR = "Harvard ML theory seminar HW0"
TSINGHUA = "Tsinghua Deep Learning 2024"
MIT_6S898 = "MIT 6.S898 HW1"
CS7643 = "Georgia Tech CS7643 A1"

COURSES = {
    CS229BR: "Harvard CS 229br Foundations of Deep Learning, Homework 0",
    THEORY_SEMINAR: "Harvard machine-learning theory seminar, Homework 0",
    TSINGHUA: "Tsinghua University Deep Learning (2024), homework",
    MIT_6S898: "MIT 6.S898 Deep Learning, Homework 1",
    CS7643: "Georgia Tech CS 7643 Deep Learning, Assignment 1",
}


def cite(homework: list[tuple[str, str]]) -> str:
    """``[(course, question), ...]`` as one line: 'Tsinghua Deep Learning 2024 Q5.2-Q5.5; ...'."""
    return "; ".join(f"{course} {question}" for course, question in homework) or "-"
