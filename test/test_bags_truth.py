"""Truth files: segments with their YAML lines, and errors that name the lines at fault."""
import pytest

from ar_core.bags.truth import Segment, TruthError, read_truth, segment_index

CLASSES = ["waving hand", "clapping", "jumping"]


def write(tmp_path, text: str):
    path = tmp_path / "truth.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_segments_come_with_their_lines(tmp_path):
    path = write(tmp_path, "# recorded in the lab\n"
                           "segments:\n"
                           "  - {start: 0.0, end: 4.5, label: waving hand}\n"
                           "  - start: 6\n"
                           "    end: 9.25\n"
                           "    label: \"clapping\"\n")
    segments = read_truth(path, CLASSES)
    assert segments == [Segment(0.0, 4.5, "waving hand", 3), Segment(6.0, 9.25, "clapping", 4)]
    assert [segment_index(segments, t) for t in (0.0, 4.49, 4.5, 5.0, 6.0, 9.25)] == [0, 0, None, None, 1, None]


@pytest.mark.parametrize("text, expected", [
    ("segments:\n  - {start: 0, end: 4, label: clapping}\n  - {start: 3, end: 6, label: jumping}\n",
     r"line 3: 3.0-6.0 overlaps line 2 \(0.0-4.0\)"),
    ("segments:\n  - {start: 5, end: 6, label: clapping}\n  - {start: 0, end: 2, label: jumping}\n",
     r"line 3: segments must be in time order, but it starts at 0.0, before line 2 at 5.0"),
    ("segments:\n  - {start: 0, end: 1, label: clapping}\n  - {start: 3, end: 3, label: jumping}\n",
     r"line 3: need 0 <= start < end, got start 3 and end 3"),
    ("segments:\n  - {start: 0, end: 1, label: clapping}\n\n  - {start: 2, end: 3, label: running}\n",
     r"line 4: label 'running' is not a class of the model \(classes: 'waving hand', 'clapping', 'jumping'\)"),
    ("segments:\n  - {start: 0, label: clapping, stop: 3}\n", r"line 2: missing end, unknown field stop"),
    ("segments:\n  - {start: zero, end: 1, label: clapping}\n", r"line 2: start and end must be numbers"),
    ("segments:\n  - {start: 0, end: 1, label: [clapping]}\n", r"line 2: label must be a class name"),
    ("segments:\n  - {start: 0, end: 1, label: clapping\n", r"truth.yaml:\d+: not valid YAML"),
    ("segments: []\n", r"'segments' is empty"),
    ("- {start: 0, end: 1, label: clapping}\n", r"truth.yaml:1: expected a mapping with a list under 'segments'"),
])
def test_bad_truth_names_the_line(tmp_path, text, expected):
    with pytest.raises(TruthError, match=expected):
        read_truth(write(tmp_path, text), CLASSES)


def test_every_problem_is_listed_in_line_order(tmp_path):
    path = write(tmp_path, "segments:\n"
                           "  - {start: 0, end: 4, label: clapping}\n"
                           "  - {start: 2, end: 5, label: sleeping}\n"
                           "  - {start: 9, end: 8, label: jumping}\n")
    with pytest.raises(TruthError) as caught:
        read_truth(path, CLASSES)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert message.index("line 3: 2.0-5.0 overlaps") < message.index("line 3: label 'sleeping'") \
        < message.index("line 4: need 0 <= start < end")


def test_labels_are_free_without_classes_and_a_missing_file_is_named(tmp_path):
    path = write(tmp_path, "segments:\n  - {start: 0, end: 1, label: anything}\n")
    assert read_truth(path)[0].label == "anything"
    with pytest.raises(TruthError, match="truth file not found: .*nope.yaml"):
        read_truth(tmp_path / "nope.yaml")
