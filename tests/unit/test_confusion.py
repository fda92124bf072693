"""Language confusion per answer, line and word (the Language Confusion Benchmark's metrics) on hand-made answers."""

import math

import pytest

from langneurons.confusion import analyse, lcpr, rates, script_of, words
from langneurons.evaluation import annotate_languages
from langneurons.uncertainty import confusion_ci_table

LANGS = ["en", "zh", "fr", "es", "vi", "id", "ja"]

# the seed's own example of an answer with zh neurons deactivated: Chinese, an English sentence, Latin inside words
MIXED_ZH_LINES = (
    "我是一個登上珠穆朗瑪峰頂峰的登山者。\n"
    "I am a mountaineer who has climbed to the top of Mount Everest.\n"
    "當我站在珠my朗ma峰頂峰，"
)
MIXED_ZH_INLINE = MIXED_ZH_LINES.replace("\n", " ")
JA_WITH_EN_LINE = (
    "日本の首都は東京です。東京には多くの観光地があります。\n"
    "Tokyo is the capital of Japan and a very large city.\n"
    "毎年たくさんの人が訪れます。"
)
FR_WITH_ES_LINE = (
    "Le sommeil est essentiel pour la santé.\n"
    "Hola, me llamo Juan y vivo en Madrid con mi familia.\n"
    "Il faut dormir au moins sept heures par nuit."
)
CLEAN = {
    "en": "Sleep is one of the most important habits for good health.\n"
    "Most adults need seven to nine hours every night.\n"
    "A regular bedtime and a dark, quiet room help a lot.",
    "zh": "睡眠是保持健康最重要的习惯之一。\n大多数成年人每晚需要七到九个小时的睡眠。\n规律的作息和安静黑暗的房间都很有帮助。",
    "fr": "Le sommeil est l'une des habitudes les plus importantes pour la santé.\n"
    "La plupart des adultes ont besoin de sept à neuf heures par nuit.\n"
    "Un coucher régulier et une chambre calme et sombre aident beaucoup.",
    "es": "El sueño es uno de los hábitos más importantes para la salud.\n"
    "La mayoría de los adultos necesitan entre siete y nueve horas cada noche.\n"
    "Un horario regular y una habitación oscura y tranquila ayudan mucho.",
    "vi": "Giấc ngủ là một trong những thói quen quan trọng nhất cho sức khỏe.\n"
    "Hầu hết người lớn cần ngủ từ bảy đến chín tiếng mỗi đêm.\n"
    "Đi ngủ đúng giờ và một căn phòng tối, yên tĩnh giúp ích rất nhiều.",
    "id": "Tidur adalah salah satu kebiasaan terpenting untuk kesehatan.\n"
    "Sebagian besar orang dewasa membutuhkan tujuh sampai sembilan jam setiap malam.\n"
    "Jam tidur yang teratur dan kamar yang gelap serta tenang sangat membantu.",
    "ja": "睡眠は健康のために最も大切な習慣の一つです。\n"
    "ほとんどの大人は毎晩七時間から九時間の睡眠が必要です。\n"
    "規則正しい就寝時間と暗くて静かな部屋がとても役に立ちます。",
}


def marked(text: str, result: dict) -> list[tuple[str, str]]:
    return [(text[start:end], label) for start, end, label in result["foreign_spans"]]


def test_the_seeds_mixed_chinese_answer_fails_line_and_word_level_but_passes_answer_level():
    result = analyse(MIXED_ZH_LINES, "zh", LANGS)
    assert result["answer_pass"] and result["language"] == "zh"
    assert not result["line_pass"] and not result["word_pass"]
    assert result["lines"] == 3 and result["lines_expected"] == 2 and result["line_languages"] == ["zh", "en", "zh"]
    assert marked(MIXED_ZH_LINES, result) == [
        ("I am a mountaineer who has climbed to the top of Mount Everest.", "en"),
        ("my", "latin"),
        ("ma", "latin"),
    ]
    assert result["other_languages"] == ["en"] and result["other_scripts"] == ["latin"]
    assert 0 < result["expected_share"] < 1


def test_the_mixed_answer_on_one_line_passes_line_level_but_fails_word_level():
    result = analyse(MIXED_ZH_INLINE, "zh", LANGS)
    assert result["answer_pass"] and result["line_pass"] and not result["word_pass"]
    # the English sentence is still found (sentence by sentence) and marked
    assert ("I am a mountaineer who has climbed to the top of Mount Everest.", "en") in marked(MIXED_ZH_INLINE, result)


def test_a_latin_word_glued_to_chinese_fails_word_level():
    text = "Time管理是一个重要的技能，可以帮助我们提高效率。"  # the seed's steered example
    result = analyse(text, "zh", LANGS)
    assert result["answer_pass"] and result["line_pass"] and not result["word_pass"]
    assert marked(text, result) == [("Time", "latin")]


def test_acronyms_in_capitals_do_not_fail_word_level():
    result = analyse("我们每天都使用AI和DNA技术来研究新的药物。", "zh", LANGS)
    assert result["word_pass"] and result["foreign_spans"] == []


def test_a_japanese_answer_with_an_english_line_fails_line_level():
    result = analyse(JA_WITH_EN_LINE, "ja", LANGS)
    assert result["answer_pass"] and not result["line_pass"] and not result["word_pass"]
    assert marked(JA_WITH_EN_LINE, result) == [("Tokyo is the capital of Japan and a very large city.", "en")]


def test_a_french_answer_with_a_spanish_line_fails_line_level():
    result = analyse(FR_WITH_ES_LINE, "fr", LANGS)
    assert result["answer_pass"] and not result["line_pass"]
    assert result["word_pass"] is None  # undefined in a Latin-script language
    assert result["line_languages"] == ["fr", "es", "fr"] and result["other_languages"] == ["es"]
    assert marked(FR_WITH_ES_LINE, result) == [("Hola, me llamo Juan y vivo en Madrid con mi familia.", "es")]


@pytest.mark.parametrize("lang", LANGS)
def test_a_clean_answer_passes_every_level(lang):
    result = analyse(CLEAN[lang], lang, LANGS)
    assert result["answer_pass"] and result["line_pass"]
    assert result["word_pass"] is (True if lang in ("zh", "ja") else None)
    assert result["lines"] == result["lines_expected"] == 3
    assert result["foreign_spans"] == [] and result["expected_share"] == 1.0
    summary = rates([result])
    assert summary["accuracy"] == summary["lpr"] == summary["lcpr"] == 1.0
    assert summary["wpr"] == 1.0 if lang in ("zh", "ja") else math.isnan(summary["wpr"])


@pytest.mark.parametrize("text", ["", "\n\n  \n", "1234 !! ...", "😀😀"])
@pytest.mark.parametrize("lang", ["zh", "fr"])
def test_an_answer_with_no_letters_passes_no_level(text, lang):
    result = analyse(text, lang, LANGS)
    assert result["language"] is None and not result["answer_pass"] and not result["line_pass"]
    assert result["word_pass"] is (False if lang == "zh" else None)
    assert result["lines"] == 0 and result["expected_share"] is None and result["foreign_spans"] == []


def test_a_language_lingua_does_not_know_gives_defined_values():
    result = analyse("Bonjour tout le monde, je suis très content aujourd'hui.", "xx", ["fr", "xx"])
    assert result["language"] == "fr" and not result["answer_pass"] and not result["line_pass"]
    assert result["word_pass"] is None and result["expected_share"] == 0.0
    only_unknown = analyse("Some text in no known language at all.", "xx", ["xx", "yy"])
    assert only_unknown["language"] is None and not only_unknown["line_pass"]


def test_short_lines_are_not_judged_alone():
    text = "Voici mes conseils pour bien dormir le soir.\nOK!\nDormez dans une chambre calme et sombre."
    result = analyse(text, "fr", LANGS)
    assert result["lines"] == 2 and result["line_pass"]  # "OK!" has too few words to tell its language
    short = analyse("Merci beaucoup.", "fr", LANGS)  # no line is long enough: the answer is judged as one line
    assert short["lines"] == 1 and short["line_pass"] == short["answer_pass"]


def test_scripts_and_words():
    assert [script_of(c) for c in "aéẠ漢ひカー한я1 "] == [
        "latin",
        "latin",
        "latin",
        "han",
        "hiragana",
        "katakana",
        "hiragana",  # the prolonged sound mark is kana
        "hangul",
        "cyrillic",
        None,
        None,
    ]
    assert words("Time管理 is") == [(0, 4, "latin"), (4, 5, "han"), (5, 6, "han"), (7, 9, "latin")]
    assert words("Tiếng Việt") == [(0, 5, "latin"), (6, 10, "latin")]


def test_lcpr_is_the_harmonic_mean_or_lpr_where_wpr_is_undefined():
    assert lcpr(0.5, 1.0) == pytest.approx(2 / 3) and lcpr(0.0, 0.0) == 0.0
    assert lcpr(0.75, None) == 0.75 and lcpr(0.75, float("nan")) == 0.75


def answer(condition, lang, text, qid, **extra):
    return {"condition": condition, "language": lang, "question_id": qid, "answer": text, **extra}


def test_annotated_records_and_their_table():
    records = []
    for qid in range(4):
        records.append(answer("normal", "zh", CLEAN["zh"], qid))
        records.append(answer("normal", "fr", CLEAN["fr"], qid))
        # zh neurons off: half the answers mixed on separate lines, half mixed within the line
        records.append(answer("zh", "zh", MIXED_ZH_LINES if qid % 2 else MIXED_ZH_INLINE, qid))
        records.append(answer("zh", "fr", FR_WITH_ES_LINE if qid == 0 else CLEAN["fr"], qid))
        records.append(answer("to_zh", "fr", CLEAN["zh"], qid, target="zh"))
    annotate_languages(records, LANGS)
    assert all(r["in_expected_language"] for r in records)  # every answer passes the answer level
    assert records[2]["line_pass"] is (records[2]["question_id"] % 2 == 0)
    table = confusion_ci_table(records, ["zh", "fr"], n_boot=200, seed=0, confidence=0.95)
    cell = table.set_index(["metric", "condition", "language"])
    assert cell.loc[("accuracy", "zh", "zh"), "mean"] == 1.0
    assert cell.loc[("lpr", "zh", "zh"), "mean"] == 0.5 and cell.loc[("wpr", "zh", "zh"), "mean"] == 0.0
    assert cell.loc[("lcpr", "zh", "zh"), "mean"] == 0.0
    assert cell.loc[("lpr", "zh", "fr"), "mean"] == 0.75 and ("wpr", "zh", "fr") not in cell.index  # undefined
    assert cell.loc[("lcpr", "zh", "fr"), "mean"] == 0.75  # = LPR where WPR is undefined
    lo, hi = cell.loc[("lpr", "zh", "zh"), ["lo", "hi"]]
    assert 0 <= lo < 0.5 < hi <= 1 and cell.loc[("lpr", "zh", "zh"), "n"] == 4
    assert cell.loc[("wpr", "to_zh", "fr"), "mean"] == 1.0 and cell.loc[("wpr", "to_zh", "fr"), "expected"] == "zh"
    assert list(table.columns) == ["metric", "condition", "language", "expected", "mean", "lo", "hi", "n"]
    lpr = cell.xs("lpr", level="metric")["mean"]
    assert (lpr <= cell.xs("accuracy", level="metric")["mean"].loc[lpr.index]).all()  # LPR never above accuracy
