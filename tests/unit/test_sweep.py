"""How strongly to steer: the repetition share, the sweep's curves, the choice rule on constructed curves, the
deactivation dose-response's answer table, and the chosen-strengths file."""

import math

import pandas as pd
import pytest

from langneurons.errors import InputFileError
from langneurons.sweep import (
    CHOSEN_COLUMNS,
    SWEEP_COLUMNS,
    choose,
    chosen_table,
    deactivation_table,
    read_chosen,
    repetition_share,
    sweep_table,
)

MODES = ["replace", "add", "multiply"]
UNCERTAINTY = {"bootstrap_samples": 200, "seed": 0, "confidence": 0.95}


def curve(points, base_quality=4.0, kind="crosslingual", target="zh"):
    """A constructed curve: (mode, strength, success, quality) per point."""
    return pd.DataFrame(
        [
            {
                "kind": kind,
                "target": target,
                "mode": mode,
                "strength": strength,
                "success": success,
                "quality": quality,
                "repetition": 0.0,
                "base_success": 0.0,
                "base_quality": base_quality,
            }
            for mode, strength, success, quality in points
        ]
    )


def picked(points, threshold=0.9, margin=0.5, **kw):
    chosen = choose(curve(points, **kw), threshold, margin, MODES)
    return chosen["mode"], chosen["strength"], chosen["passed"]


def test_repetition_share_counts_repeated_word_ngrams():
    assert repetition_share("") == 0 and repetition_share("one two three") == 0  # fewer than 4 words
    assert repetition_share("the cat sat on the mat today") == 0
    # 8 words, 5 four-grams: the last one repeats the first
    assert repetition_share("a b c d a b c d") == pytest.approx(1 / 5)
    assert repetition_share("学习，学习，学习，学习，学习，学习") == pytest.approx(7 / 9)  # CJK characters are words
    assert repetition_share("学习，学习，学习，学习，学习，学习，学习，学习，学习，学习") > 0.8


def test_choice_is_the_smallest_passing_strength():
    # success rises with strength; quality holds until 4, then the answers degenerate
    points = [("add", 1, 0.2, 4.0), ("add", 2, 0.9, 3.8), ("add", 4, 1.0, 3.6), ("add", 8, 1.0, 1.2)]
    assert picked(points) == ("add", 2.0, True)
    assert picked(points, threshold=0.95) == ("add", 4.0, True)  # 2 no longer reaches the threshold
    # quality must stay within the margin of the unsteered answers: with margin 0.1 nothing passes
    assert picked(points, margin=0.1) == ("add", 4.0, False)  # the best success, then the better quality


def test_choice_across_modes_takes_the_best_quality_of_each_modes_weakest():
    points = [
        ("replace", 1, 0.95, 3.5),
        ("replace", 2, 1.0, 3.9),  # better, but not the weakest replace that passes
        ("add", 2, 0.5, 4.0),
        ("add", 4, 0.9, 3.7),
        ("multiply", 4, 1.0, 2.0),  # reaches the target but degenerates: fails the margin
    ]
    assert picked(points) == ("add", 4.0, True)  # weakest passing per mode: replace 1 (3.5), add 4 (3.7)
    # ties in quality: the higher success, then the mode order
    tied = [("replace", 1, 0.95, 3.7), ("add", 4, 0.9, 3.7)]
    assert picked(tied) == ("replace", 1.0, True)
    same = [("multiply", 2, 1.0, 3.7), ("add", 4, 1.0, 3.7)]
    assert picked(same) == ("add", 4.0, True)


def test_choice_when_nothing_passes_takes_the_best_success():
    points = [("add", 1, 0.1, 4.0), ("add", 2, 0.6, 3.0), ("multiply", 2, 0.6, 3.5), ("multiply", 4, 0.6, 3.5)]
    assert picked(points) == ("multiply", 2.0, False)  # success 0.6 three times: better quality, then smaller strength


def test_choice_without_a_judge_uses_success_alone():
    points = [("add", 1, 0.5, math.nan), ("add", 2, 0.9, math.nan), ("add", 4, 1.0, math.nan)]
    assert picked(points, base_quality=math.nan) == ("add", 2.0, True)


def test_chosen_table_has_one_row_per_kind_and_target():
    table = pd.concat(
        [
            curve([("add", 1, 1.0, 4.0), ("add", 2, 1.0, 4.0)], kind="offtarget", target="en"),
            curve([("add", 1, 0.0, 4.0), ("add", 2, 1.0, 3.9)], target="zh"),
        ]
    )
    chosen = chosen_table(table, 0.9, 0.5, MODES)
    assert list(chosen.columns) == CHOSEN_COLUMNS
    assert chosen[["kind", "target", "mode", "strength"]].values.tolist() == [
        ["offtarget", "en", "add", 1.0],
        ["crosslingual", "zh", "add", 2.0],
    ]


def answer(kind, condition, language, target=None, detected=None, score=3.0, mode=None, strength=None, **extra):
    detected = detected or target or language
    expected = target or language
    return {
        "kind": kind,
        "condition": condition,
        "language": language,
        "target": target,
        "mode": mode,
        "strength": strength,
        "lang_detected": detected,
        "in_expected_language": detected == expected,
        "line_pass": detected == expected,
        "word_pass": None,
        "score": score,
        "repetition": 0.5 if score < 2 else 0.0,
        **extra,
    }


def test_sweep_table_against_the_unsteered_answers():
    records = [
        answer("offtarget", "normal", "en", score=4.0),
        answer("offtarget", "normal", "en", score=5.0),
        answer("offtarget", "steered", "en", "en", score=4.0, mode="add", strength=2.0),
        answer("offtarget", "steered", "en", "en", detected="zh", score=1.0, mode="add", strength=2.0),
        answer("crosslingual", "unsteered", "en", score=4.0),
        answer("crosslingual", "unsteered", "es", detected="zh", score=2.0),
        answer("crosslingual", "to_zh", "en", "zh", score=3.0, mode="add", strength=2.0),
        answer("crosslingual", "to_zh", "es", "zh", detected="es", score=1.0, mode="add", strength=2.0),
    ]
    table = sweep_table(records, ["en", "zh", "es"], UNCERTAINTY)
    assert list(table.columns) == SWEEP_COLUMNS
    off, cross = table.iloc[0], table.iloc[1]
    assert (off.kind, off.target, off["mode"], off.strength, off.n) == ("offtarget", "en", "add", 2.0, 2)
    assert off.success == 0.5 and off.quality == 2.5 and off.repetition == 0.25
    assert off.base_n == 2 and off.base_success == 1.0 and off.base_quality == 4.5
    assert off.success_lo <= off.success <= off.success_hi
    assert cross.target == "zh" and cross.success == 0.5 and cross.lpr == 0.5 and math.isnan(cross.wpr)
    # the baseline of a cross-lingual target: its sources' unsteered answers; success = already in the target
    assert cross.base_n == 2 and cross.base_success == 0.5 and cross.base_quality == 3.0


def test_deactivation_table_names_the_fallback_language():
    records = [
        answer("offtarget", "normal", "zh"),
        answer("offtarget", "normal", "zh"),
        answer("deactivation", "off", "zh", detected="zh", share=0.5, deactivated=10),
        answer("deactivation", "off", "zh", detected="ja", share=0.5, deactivated=10),
        answer("deactivation", "off", "zh", detected="ja", score=1.0, share=1.0, deactivated=20),
        answer("deactivation", "off", "zh", detected="en", score=1.0, share=1.0, deactivated=20),
    ]
    records[-1]["lang_detected"] = None  # an answer in no language
    table = deactivation_table(records, ["en", "zh", "ja"]).set_index("share")
    assert table.index.tolist() == [0.0, 0.5, 1.0]
    assert table.loc[0.0, "in_language"] == 1.0 and pd.isna(table.loc[0.0, "fallback"])
    assert table.loc[0.5, ["in_language", "fallback", "fallback_share", "deactivated"]].tolist() == [0.5, "ja", 0.5, 10]
    assert table.loc[1.0, "detected"] == "ja:0.50 none:0.50" and table.loc[1.0, "quality"] == 1.0
    assert deactivation_table(records[:2], ["zh"]).empty  # no dose-response configured


def test_read_chosen(tmp_path):
    path = tmp_path / "chosen.csv"
    pd.DataFrame([{"kind": "crosslingual", "target": "zh", "mode": "add", "strength": 2}]).to_csv(path, index=False)
    assert read_chosen(path) == {("crosslingual", "zh"): ("add", 2.0)}
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="run the sweep again"):
        read_chosen(tmp_path / "other.csv")
