"""Bad input of the tasks stage that only its job can tell: a harness task whose data is not cached while the hub
is offline. One line naming the task and the offline setting, before the job loads the model (the config gate
handles unknown names, tasks without a language and missing local data files: test_config.py)."""

import pytest

from langneurons.errors import BadInput
from langneurons.tasks import load_harness_tasks


def test_task_data_missing_offline_is_one_line_naming_the_task_and_the_setting(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # as tests/conftest.py sets it: nothing is downloaded
    with pytest.raises(BadInput) as err:
        load_harness_tasks({"xnli_fr": {"language": "fr", "metric": None}}, [])
    line = str(err.value)
    assert "\n" not in line and line.startswith("task xnli_fr: its data cannot be loaded with HF_DATASETS_OFFLINE=1")
    assert "run the tasks job once online" in line


def test_a_metric_the_task_lacks_is_named(tmp_path):
    from langneurons.tasks import bundled_task_config, primary_metric

    assert bundled_task_config("en", tmp_path / "en.jsonl")["metric_list"][0]["metric"] == "acc"
    with pytest.raises(BadInput, match=r"tasks.tasks.t.metric: bleu is not among the task's metrics \(acc,none\)"):
        primary_metric("t", {"metric": "bleu"}, {"acc,none": 0.5, "acc_stderr,none": 0.1, "alias": "t"})
    assert primary_metric("t", {"metric": "acc"}, {"acc,none": 0.5, "acc_stderr,none": 0.1}) == "acc,none"
