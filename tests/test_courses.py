"""dllab.courses: the homework sets by the names their users know."""

from dllab import courses, experiments


def test_cite_joins_course_and_question():
    assert courses.cite([(courses.TSINGHUA, "Q5.2"), (courses.CS7643, "Q1")]) == \
        "Tsinghua Deep Learning 2024 Q5.2; Georgia Tech CS7643 A1 Q1"
    assert courses.cite([]) == "-"


def test_every_experiment_cites_known_courses():
    for name in experiments.EXPERIMENTS:
        for course, question in experiments.get(name).HOMEWORK:
            assert course in courses.COURSES, (name, course)
            assert question.strip(), name
    assert len(courses.COURSES) == 5
