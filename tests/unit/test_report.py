"""The HTML report on small fixture results: sections, missing stages, rounding, inlined figures, no network."""

import base64
import hashlib
import html as htmlmod
import json
import logging
import re
import runpy
import sys
import types
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from langneurons.errors import InputFileError
from langneurons.neuronsets import compare_sets
from langneurons.paths import Results
from langneurons.report import SECTIONS, collect, formatting, render

from ..conftest import REPO
from ..report_fixtures import HOSTILE_ANSWER, METHODS, build_results, tiny_png, validated

TEMPLATES = REPO / "report"
TITLES = [title for _, title in SECTIONS]


def _render(tmp_path, **kw):
    results, config = build_results(tmp_path / "results", **kw)
    out = render(collect(results, config), TEMPLATES, results / "report" / "index.html")
    return out.read_text(encoding="utf-8"), results, config


def _section(page: str, key: str) -> str:
    match = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert match, f"no section {key}"
    return match.group(1)


def _text(fragment: str) -> str:
    return " ".join(htmlmod.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _cells(fragment: str) -> list[str]:
    return [_text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", fragment, re.S)]


@pytest.fixture(scope="module")
def complete_page(tmp_path_factory):
    return _render(tmp_path_factory.mktemp("complete"))


@pytest.fixture(scope="module")
def two_models_page(tmp_path_factory):
    return _render(tmp_path_factory.mktemp("two"), models=("model-a", "model-b"))


def test_six_headings_in_the_papers_order(complete_page):
    page, _, _ = complete_page
    assert re.findall(r"<h2>(.*?)</h2>", page) == TITLES
    assert [m for m in re.findall(r'<section id="(\w+)">', page)] == [key for key, _ in SECTIONS]


def test_missing_stages_are_stated_not_dropped(tmp_path):
    page, _, _ = _render(tmp_path / "partial", models=("model-a",), complete=())
    assert re.findall(r"<h2>(.*?)</h2>", page) == TITLES
    ppl = _text(_section(page, "ppl"))
    assert "Not run yet" in ppl and "model-a/ppl/lape.csv" in ppl
    assert "Not run yet" in _text(_section(page, "ses"))
    for key in ("generation", "steering"):  # configured in the fixture config, but no outputs
        assert "Configured, not run yet." in _text(_section(page, key))
    assert "Identified neurons" in page and "Table" in _text(_section(page, "neurons"))


def test_unconfigured_stages_say_not_configured(tmp_path):
    results, config = build_results(tmp_path / "results", complete=())
    config["generation"]["methods"] = []
    config["steering"]["method"] = None
    page = render(collect(results, config), TEMPLATES, tmp_path / "index.html").read_text()
    for key in ("generation", "steering"):
        assert "Not configured / not run." in _text(_section(page, key))


def test_empty_results_folder_still_renders_every_section(tmp_path):
    config = validated(
        {
            "languages": ["en", "fr"],
            "models": {"m": {"source": "random"}},
            "steering": {"crosslingual_languages": ["en", "fr"]},
        }
    )
    page = render(collect(tmp_path / "nothing", config), TEMPLATES, tmp_path / "index.html").read_text()
    assert re.findall(r"<h2>(.*?)</h2>", page) == TITLES
    for key, _ in SECTIONS[1:]:
        body = _text(_section(page, key))
        assert "not run" in body.lower(), key
    assert "<img" not in page


def test_downstream_tasks_heat_map_table_with_intervals_and_specificity(complete_page):
    page, _, config = complete_page
    tasks = _section(page, "tasks")
    text = _text(tasks)
    langs = config["languages"]
    assert f"hurts its own tasks most for {len(langs)} of {len(langs)} languages" in text
    assert "<img " in tasks and "change from normal of each task's metric" in text
    cells = _cells(tasks)
    assert "0.80 ± 0.08" in cells  # normal: value ± harness stderr, two decimals
    assert "0.30 ± 0.08 (-0.50 [-0.70, -0.30])" in cells  # own task: change from normal and its interval
    assert "✓ yes" in cells and "25.00" in cells  # specificity: own drop 0.5, others 0.02: ratio 0.5 / 0.02
    assert "95% paired bootstrap interval" in text


def test_numbers_are_rounded(complete_page):
    page, _, _ = complete_page
    ppl = _cells(_section(page, "ppl"))
    assert "10.35" in ppl  # baseline 10.3456
    assert "15.52 (+50.00%)" in ppl  # 10.3456 x 1.5, relative change as %
    assert "10.47 (+1.23%)" in ppl  # +1.23456 %
    assert "40.50" in ppl  # ratio 0.5 / 0.0123456
    ses = _cells(_section(page, "ses"))
    assert "0.123" in ses and "0.323" in ses  # similarity, 3 decimals
    gen = _cells(_section(page, "generation"))
    assert "4.33" in gen and "1.33" in gen and "33.3%" in gen  # mean scores 13/3 and 4/3, accuracy 1/3
    steering = _cells(_section(page, "steering"))
    assert "66.7%" in steering and "4.67" in steering  # steered: 2 of 3 in the question's language, mean score 14/3
    assert "33.3%" in steering and "2.67" in steering  # cross-lingual: 1 of 3 in the target language, mean score 8/3
    long_decimals = [c for c in _cells(page) if re.search(r"\d\.\d{4,}", c)]
    assert long_decimals == []
    assert "10.3456" not in page


@pytest.mark.parametrize("confidence, shown", [(0.9, "90%"), (0.95, "95%"), (0.975, "97.5%")])
def test_interval_captions_name_the_configured_confidence(tmp_path, confidence, shown):
    results, config = build_results(tmp_path / "results")
    config["uncertainty"]["confidence"] = confidence
    R = Results(results)
    where = {"model": "model-a", "method": "lape"}
    pd.DataFrame([{"deactivated": "en", "evaluated": "en", "relative": 0.1, "lo": 0.05, "hi": 0.15}]).to_csv(
        R.path("ppl_ci", **where), index=False
    )
    pd.DataFrame([{"condition": "normal", "language": "en", "lo": 3.0, "hi": 4.5}]).to_csv(
        R.path("quality_ci", **where), index=False
    )
    page = render(collect(results, config), TEMPLATES, results / "report" / "index.html").read_text(encoding="utf-8")
    for key in ("ppl", "generation", "steering"):
        text = _text(_section(page, key))
        assert f"{shown} bootstrap interval" in text, key
        if shown != "95%":
            assert "95%" not in text, key


def test_figures_are_inline_png_data_uris_with_captions(complete_page):
    page, results, _ = complete_page
    sources = re.findall(r'<img src="([^"]+)"', page)
    pngs = sorted(results.rglob("*.png"))
    assert len(sources) == len(pngs) == 3 * len(METHODS) + 1 + 1  # + the task heat map (LAPE)
    decoded = set()
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        data = base64.b64decode(src.split(",", 1)[1])
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        decoded.add(data)
    assert decoded == {p.read_bytes() for p in pngs}
    figures = re.findall(r"<figure>\s*<img[^>]*>\s*<figcaption>(.*?)</figcaption>", page, re.S)
    assert len(figures) == len(sources) and all(len(_text(c)) > 60 for c in figures)


def test_no_network_references(complete_page):
    page, _, _ = complete_page
    assert not re.search(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"<link\b|<iframe\b|<object\b|<embed\b|@import|url\(", page, re.I)
    assert not re.search(r"<script[^>]*\bsrc=", page, re.I)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))


def test_multiple_models_are_compared(two_models_page):
    page, _, _ = two_models_page
    for key in ("neurons", "ppl"):
        section = _section(page, key)
        head = re.search(r"<thead>(.*?)</thead>", section, re.S).group(1)
        assert _cells(head)[0] == "Model"
        first = _cells(re.search(r"<tbody>(.*?)</tbody>", section, re.S).group(1))
        assert "model-a" in first and "model-b" in first
        # each method: one block per model, side by side
        grids = [part.split("<h3")[0] for part in section.split('<div class="models">')[1:]]
        assert len(grids) == len(METHODS)
        assert all(g.count('class="model-block"') == 2 for g in grids)
    ses = _section(page, "ses")
    per_layer = ses.split("Mean SES per layer")[1]
    assert _cells(re.search(r"<thead>(.*?)</thead>", per_layer, re.S).group(1)) == ["Layer", "model-a", "model-b"]


def test_provenance(complete_page, tmp_path):
    page, results, config = complete_page
    setup = _text(_section(page, "setup"))
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() in setup
    for name in ("torch version", "transformers version", "langneurons version", "snakemake version"):
        assert name in setup
    commit = re.search(r"Git commit (\S+)", setup).group(1)
    assert commit == "unknown" or re.fullmatch(r"[0-9a-f]{40}", commit)
    # wall time and peak memory per stage, from Snakemake's benchmark files
    cells = _cells(_section(page, "setup"))
    i = cells.index("select_neurons")
    assert cells[i + 1 : i + 4] == ["model-a", "1", "2.5 s"]
    assert cells[i + 5] == "812 MB"
    i = cells.index("perplexity")
    assert cells[i + 3] == "1 h 02 min" and cells[i + 5] == "3.40 GiB"
    i = cells.index("whole run")
    assert cells[i + 4] == "1 h 04 min" and cells[i + 5] == "3.40 GiB"  # 10:00:00 to 11:04:01.25
    # token counts per split and language
    assert "1,024" in cells and "256" in cells and "1,000" in cells


def test_model_output_is_escaped(complete_page):
    page, _, _ = complete_page
    assert HOSTILE_ANSWER not in page and "<script>alert" not in page
    assert "&lt;script&gt;</mark>alert" in page  # escaped inside the mark of a span in another language too
    assert "\x07" not in page


def test_language_confusion_next_to_language_accuracy(complete_page):
    page, _, config = complete_page
    generation = _section(page, "generation")
    text = _text(generation)
    for name in ("LPR (line level)", "WPR (word level)", "LCPR", "Language accuracy (answer level)"):
        assert name in text
    assert "LPR is above the language accuracy in 0 of" in text and "WPR (word level) (zh)" in text
    cells = _cells(generation)
    # the fixture: the second of three questions has a line in another language, so LPR = 2/3 where accuracy is 1
    assert "66.7% [33.3%, 100.0%]" in cells or "66.7% [0.0%, 100.0%]" in cells
    assert '<mark class="foreign" title="en">' in generation
    assert "Lines in language" in text and "Word level" in text
    steering = _text(_section(page, "steering"))
    assert "language confusion of the steered answers" in steering and "cross-lingual, to zh" in steering


def test_corpus_language_check_in_the_setup(complete_page):
    page, _, config = complete_page
    setup = _section(page, "setup")
    assert "Language of the corpus" in _text(setup)
    cells = _cells(setup)
    assert cells.count("measured only") == len(config["languages"])
    assert cells.count("en 1") == 2  # zh and fr: one English paragraph each (two-word documents are not judged)
    assert "The quick development of railways changed how people travelled across the whole country." in cells


def test_marked_answers_are_escaped_and_cut():
    text = "中文<b>回答</b>\nEnglish line here\x07 end"
    html = formatting.marked_answer(text, [[12, 29, "en"]], 280)
    assert html == '中文&lt;b&gt;回答&lt;/b&gt;<br><mark class="foreign" title="en">English line here</mark> end'
    assert formatting.marked_answer(text, [[12, 29, "en"]], 15) == (
        '中文&lt;b&gt;回答&lt;/b&gt;<br><mark class="foreign" title="en">En</mark>…'
    )
    assert formatting.marked_answer(None, None, 10) == "" and formatting.marked_answer("a\n\n\n b", [], 10) == "a<br>b"


def test_judge_note(complete_page, tmp_path):
    page, _, _ = complete_page
    assert "GPT-4" in _text(_section(page, "generation")) and "local judge" in _text(_section(page, "generation"))
    results, config = build_results(tmp_path / "results", judge=False)
    page = render(collect(results, config), TEMPLATES, tmp_path / "index.html").read_text()
    assert "no quality score" in _text(_section(page, "generation"))


def test_square_crosslingual_table(tmp_path):
    results, config = build_results(tmp_path / "results")
    langs = config["languages"]
    pd.DataFrame(
        [[1.0 if s == t else 0.4 for t in langs] for s in langs], index=pd.Index(langs, name="source"), columns=langs
    ).to_csv(Results(results).path("crosslingual", model="model-a"))
    page = render(collect(results, config), TEMPLATES, tmp_path / "index.html").read_text()
    cells = _cells(_section(page, "steering"))
    assert "40.0%" in cells and "100.0%" in cells


def test_formatters():
    assert formatting.fmt_ppl(12.3456) == "12.35"
    assert formatting.fmt_pct(0.123456) == "+12.35%"
    assert formatting.fmt_pct(-0.00001) == "0.00%"
    assert formatting.fmt_pct(-0.25) == "-25.00%"
    assert formatting.fmt_sim(0.98765) == "0.988"
    assert formatting.fmt_sim(float("nan")) == "–"
    assert formatting.fmt_share(0.875) == "87.5%"
    assert formatting.fmt_int(1234567) == "1,234,567"
    assert formatting.fmt_duration(2.5) == "2.5 s"
    assert formatting.fmt_duration(125) == "2 min 05 s"
    assert formatting.fmt_duration(3725) == "1 h 02 min"
    assert formatting.fmt_float(-0.0001, 2) == "0.00"


def test_captions_for_snakemakes_report_render():
    from docutils.core import publish_parts
    from jinja2 import Template

    fake = types.SimpleNamespace(
        wildcards=types.SimpleNamespace(model="m"),
        config={
            "corpus": {"valid_tokens": 256},
            "selection": {"top_rate": 0.01},
            "ses": {"max_items": 4, "items": "questions"},
        },
    )
    for kind in ("ppl", "layers", "overlap", "ses"):
        text = Template((TEMPLATES / "captions" / f"{kind}.rst").read_text()).render(snakemake=fake)
        with warnings.catch_warnings():  # docutils 0.22 renames writer_name, which snakemake still uses
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            body = publish_parts(text, writer_name="html", settings_overrides={"report_level": 2, "halt_level": 2})[
                "body"
            ]
        assert len(body) > 100 and "System Message" not in body


def _run_report_script(tmp_path, config) -> tuple:
    """Run workflow/scripts/report.py as the report rule does; return the page and the log file."""
    out = Results(config["results"]).path("report")
    log = tmp_path / "report.log"
    fake = types.SimpleNamespace(
        input=[],
        output=[str(out)],
        log=[str(log)],
        threads=1,
        rule="report",
        wildcards={},
        params=types.SimpleNamespace(config=config, templates=str(TEMPLATES)),
    )
    stderr, handlers = sys.stderr, logging.getLogger().handlers[:]
    try:
        runpy.run_path(str(REPO / "workflow" / "scripts" / "report.py"), init_globals={"snakemake": fake})
    finally:
        if sys.stderr is not stderr:
            sys.stderr.close()
        sys.stderr = stderr
        logging.getLogger().handlers[:] = handlers
    return out, log


def test_report_script_renders_with_a_snakemake_object(tmp_path):
    _, config = build_results(tmp_path / "results")
    out, log = _run_report_script(tmp_path, config)
    assert re.findall(r"<h2>(.*?)</h2>", out.read_text()) == TITLES
    assert "written to" in log.read_text()


def test_report_script_names_an_unreadable_file_in_one_line(tmp_path):
    results, config = build_results(tmp_path / "results")
    path = Results(results).path("quality", model="model-a", method="lape")
    path.write_text('condition,en\nnormal,"4.5\n')  # an unterminated quote
    with pytest.raises(SystemExit) as stop:
        _run_report_script(tmp_path, config)
    assert stop.value.code == 1
    errors = [line for line in (tmp_path / "report.log").read_text().splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and f"ERROR: {path}: not a readable CSV table" in errors[0]
    assert "Traceback" not in (tmp_path / "report.log").read_text()


def test_figure_missing_while_tables_exist(tmp_path):
    results, config = build_results(tmp_path / "results")
    R = Results(results)
    R.path("model_figure", model="model-a", kind="ppl", method="lape").unlink()
    tiny_png(R.path("model_figure", model="model-a", kind="extra", method="lape"), "not referenced")
    page = render(collect(results, config), TEMPLATES, tmp_path / "index.html").read_text()
    assert "figure not made yet" in _text(_section(page, "ppl")) and "ppl_lape.png" in page
    assert "15.52 (+50.00%)" in _cells(_section(page, "ppl"))


def test_imported_neurons_against_lape(tmp_path):
    results, config = build_results(tmp_path / "results")
    langs = config["languages"]
    layers = [torch.arange(4), torch.arange(4), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)]
    imported = [layers for _ in langs]  # neurons 0-3 in the first two layers
    lape = [[idx + 2 for idx in layers] for _ in langs]  # neurons 2-5: two shared per layer
    table = compare_sets(imported, lape, langs).rename(columns={"a": "imported", "b": "lape"})  # as the rule writes it
    table.to_csv(Results(results).path("imported_vs_lape", model="model-a"), index=False, float_format="%.4f")
    page = render(collect(results, config), TEMPLATES, tmp_path / "index.html").read_text()
    neurons = _section(page, "neurons")
    assert "Published neurons against this run" in neurons
    cells = _cells(neurons)
    i = cells.index("en", cells.index("Jaccard"))
    assert cells[i : i + 5] == ["en", "8", "8", "4", "0.333"]


def test_each_method_reads_against_its_own_null(tmp_path):
    results, config = build_results(tmp_path / "results")
    langs = config["languages"]  # en, zh, fr
    nan = float("nan")

    def rows(method, draws, like, increases, beats, neurons):
        """The method's rows of null.csv: null mean, max, z, p and smallest p; NaN where it has no neurons."""
        for lang, own, above, n in zip(langs, increases, beats, neurons):
            stats = (0.01, 0.02, 2.5, 1 / (draws + 1)) if above else (0.05, 0.3, 0.1, 0.4)
            stats = (*stats, 1 / (draws + 1)) if n else (nan,) * 5
            columns = ("null_mean", "null_max", "z", "p_value", "min_p")
            yield {"method": method, "deactivated": lang, "own_increase": own, **dict(zip(columns, stats))} | {
                "beats_null": above,
                "draws": draws if n else 0,
                "neurons": n,
                "neurons_null": n,
                "draws_like": like,
                "note": "" if n else "no neurons",
            }

    table = pd.DataFrame(
        [
            *rows("lape", 19, "lape", [0.5, 0.4, 0.1], [True, True, False], [12, 9, 7]),
            *rows("lap", 9, "lap", [0.9, 0.8, 0.0], [True, False, False], [900, 800, 0]),
            *rows("lave", 9, "lave", [0.2, 0.1, 0.1], [False, False, False], [20, 30, 40]),
            *rows("random", 19, "lape", [0.01, 0.02, 0.01], [False, False, False], [12, 9, 7]),
        ]
    )
    table.to_csv(Results(results).path("ppl_null", model="model-a"), index=False)
    page = render(collect(results, config), TEMPLATES, tmp_path / "index.html").read_text()
    ppl = _section(page, "ppl")
    comparison = _cells(re.search(r"<table.*?</table>", ppl, re.S).group(0))
    assert comparison[6:8] == ["Own increase above every random draw of its own null", "Draws (smallest p)"]
    lape, lap = comparison.index("LAPE"), comparison.index("LAP")
    assert comparison[lape + 6 : lape + 8] == ["2 / 3", "19 (0.050)"]
    assert comparison[lap + 6 : lap + 8] == ["1 / 2", "9 (0.100)"]  # fr has no LAP neurons: not tested
    assert "no neurons" in _cells(ppl[ppl.index('id="ppl-lap"') : ppl.index('id="ppl-lave"')])
    text = _text(ppl)
    assert "as many random neurons in the same layers" in text and "more easily" not in text
    random_part = _text(ppl[ppl.index('id="ppl-random"') :])
    assert "the same sets as for LAPE: equal counts" in random_part
    assert "at least 0.050 with 19 draws" in random_part


def _empty(path):
    path.write_text("")


def _bad_line(path):
    lines = path.read_text().splitlines()
    lines[2] = '{"answer": "cut off'
    path.write_text("\n".join(lines) + "\n")


def _garbage(path):
    path.write_bytes(b"not a torch file")


def _no_column(path):
    pd.read_csv(path).drop(columns="similarity").to_csv(path, index=False)


@pytest.mark.parametrize(
    "result, values, corrupt, where",
    [
        ("ppl", {"method": "lape"}, _empty, ""),
        ("answers", {"method": "lape"}, _bad_line, ", line 3"),
        ("stats", {"lang": "zh"}, _garbage, ""),
        ("tokens", {"lang": "fr", "split": "valid"}, _garbage, ""),
        ("ses", {}, _no_column, ""),
    ],
)
def test_a_present_but_unreadable_file_is_an_error_naming_it(tmp_path, result, values, corrupt, where):
    results, config = build_results(tmp_path / "results")
    path = Results(results).path(result, model="model-a", **values)
    corrupt(path)
    with pytest.raises(InputFileError) as err:
        collect(results, config)
    assert str(err.value).startswith(f"{path}{where}:")


def test_deviations_table_is_the_readmes_and_in_the_report(complete_page):
    from langneurons.bundled import DEVIATIONS

    source = [line for line in DEVIATIONS.read_text().splitlines() if line.startswith("| ")]
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert len(source) > 5 and all(line in readme for line in source)  # the README shows the same rows
    page, _, _ = complete_page
    setup = _text(_section(page, "setup"))
    assert "Deviations from the authors' code" in setup and "BOS per window" in setup
