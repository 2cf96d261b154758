"""The README's Python examples run (the data example on synth_au/tiny instead of BP4D)."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_the_two_python_examples():
    assert len(python_blocks()) == 2


def test_layer_example_runs_as_written():
    namespace = {}
    exec(python_blocks()[0], namespace)
    assert namespace["model"].output.shape == (None, 160, 160, 32)


def test_fit_example_runs_on_synth_au(synth_data_dir):
    # BP4D is licensed: the same code on synth_au/tiny (the tiny DRML config), one step of batch 4.
    replacements = {
        'load_split("bp4d/aligned200", "part1+part2")': (
            f'load_split("synth_au/tiny", "part1+part2", {synth_data_dir!r})'
        ),
        'get_pipeline("DRML")': 'get_pipeline("DRML", input_size=74, source_size=80)',
        'get("DRML")(num_aus=12)': 'get("DRML")(num_aus=12, input_shape=(74, 74, 3))',
        "batch_size=128": "batch_size=4",
        "epochs=20": "epochs=1, steps_per_epoch=1",
    }
    code = python_blocks()[1]
    for old, new in replacements.items():
        assert old in code, old
        code = code.replace(old, new)
    namespace = {}
    exec(code, namespace)
    assert "loss" in namespace["model"].history.history
