"""Bad configs (each a small change to configs/smoke.yaml): one clear line naming the key, before any job.

Every case goes through the validation the workflow runs at parse time. A few go through `snakemake`
itself (a cross-key problem in a dry run and in a real run, a schema problem in a dry run), checking the
exit status, that the message reaches the terminal as its only line, that no job starts and that nothing
already in the results folder is touched; for a handful more, the message that line would be is checked
in-process.
"""

import copy
import json
import re
import subprocess

import pytest
import yaml

from langneurons.config import validate_config
from langneurons.errors import ConfigError

from ..conftest import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SMOKE = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())


def at(cfg, section):
    return cfg.setdefault(section, {})


def model(cfg):
    return cfg["models"]["tiny-llama"]


def write(tmp, name, text):
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def files_corpus(cfg, files):
    cfg["corpus"] = {"source": "files", "files": files}


def existing(tmp, *langs):
    return {lang: write(tmp, f"{lang}.txt", "one document\n\nanother\n") for lang in langs}


# (id, change(cfg, tmp_path), key the message must name)
CASES = [
    (
        "crosslingual-unknown",
        lambda c, t: at(c, "steering").update(crosslingual_languages=["en", "de"]),
        "steering.crosslingual_languages",
    ),
    (
        "crosslingual-one",
        lambda c, t: at(c, "steering").update(crosslingual_languages=["en"]),
        "steering.crosslingual_languages",
    ),
    ("openai-no-model", lambda c, t: at(c, "judge").update(backend="openai"), "judge.model"),
    (
        "openai-bad-url",
        lambda c, t: at(c, "judge").update(backend="openai", model="m", base_url="localhost:8000"),
        "judge.base_url",
    ),
    (
        "local-judge-prompt",
        lambda c, t: at(c, "judge").update(backend="local", prompt=write(t, "p.txt", "{question} {answer}")),
        "judge.prompt",
    ),
    ("one-question-control", lambda c, t: at(c, "questions").update(max_questions=1), "questions.max_questions"),
    ("api-key-env-name", lambda c, t: at(c, "judge").update(api_key_env="MY KEY"), "judge.api_key_env"),
    ("hf-no-path", lambda c, t: model(c).update(source="hf"), "models.tiny-llama.path"),
    ("hf-empty-path", lambda c, t: model(c).update(source="hf", path=""), "models.tiny-llama.path"),
    (
        "hf-missing-folder",
        lambda c, t: model(c).update(source="hf", path=str(t / "no-model")),
        "models.tiny-llama.path",
    ),
    ("path-without-hf", lambda c, t: model(c).update(path="gpt2"), "models.tiny-llama.path"),
    ("results-empty", lambda c, t: c.update(results=""), "results"),
    ("resources-empty", lambda c, t: c.update(resources_dir=""), "resources_dir"),
    ("bundled-corpus-language", lambda c, t: c.update(languages=["en", "zh", "de"]), "languages"),
    ("valid-topics-all", lambda c, t: at(c, "corpus").update(valid_topics=100), "corpus.valid_topics"),
    ("valid-topics-80", lambda c, t: at(c, "corpus").update(valid_topics=80), "corpus.valid_topics"),
    (
        "imported-no-path",
        lambda c, t: at(c, "selection").update(methods=["lape", "random", "imported"]),
        "selection.imported.path",
    ),
    (
        "imported-missing-file",
        lambda c, t: at(c, "selection").update(
            methods=["lape", "imported"], imported={"path": str(t / "x.neuron.pth")}
        ),
        "selection.imported.path",
    ),
    (
        "imported-no-overlap",
        lambda c, t: at(c, "selection").update(
            methods=["lape", "imported"], imported={"path": "https://example.org/x.pth", "languages": ["de", "it"]}
        ),
        "selection.imported.languages",
    ),
    (
        "imported-duplicate-languages",
        lambda c, t: at(c, "selection").update(imported={"languages": ["en", "en", "zh"]}),
        "selection.imported.languages",
    ),
    (
        "generation-method-unselected",
        lambda c, t: at(c, "generation").update(methods=["lape", "imported"]),
        "generation.methods",
    ),
    (
        "perplexity-method-unselected",
        lambda c, t: at(c, "perplexity").update(methods=["lape", "imported"]),
        "perplexity.methods",
    ),
    ("perplexity-methods-empty", lambda c, t: at(c, "perplexity").update(methods=[]), "perplexity.methods"),
    (
        "steering-method-unselected",
        lambda c, t: (at(c, "selection").update(methods=["lape", "random"]), at(c, "steering").update(method="lave")),
        "steering.method",
    ),
    ("corpus-files-language-missing", lambda c, t: files_corpus(c, existing(t, "en", "zh")), "corpus.files"),
    (
        "corpus-file-missing",
        lambda c, t: files_corpus(c, {**existing(t, "en", "fr"), "zh": str(t / "zh.txt")}),
        "corpus.files.zh",
    ),
    (
        "corpus-valid-file-missing",
        lambda c, t: files_corpus(
            c, {**existing(t, "zh", "fr"), "en": {"train": write(t, "a", "x"), "valid": str(t / "b")}}
        ),
        "corpus.files.en.valid",
    ),
    (
        "wikipedia-local-copy-missing",
        lambda c, t: at(c, "corpus").update(source="wikipedia", wikipedia={"dataset": str(t / "wiki")}),
        "corpus.wikipedia.dataset",
    ),
    (
        "wikipedia-local-copy-lacks-language",
        lambda c, t: (
            (t / "wiki" / "20231101.en").mkdir(parents=True),
            at(c, "corpus").update(source="wikipedia", wikipedia={"dataset": str(t / "wiki")}),
        ),
        "corpus.wikipedia.dataset",
    ),
    (
        "questions-files-language-missing",
        lambda c, t: at(c, "questions").update(source="files", files=existing(t, "en")),
        "questions.files",
    ),
    (
        "questions-file-missing",
        lambda c, t: at(c, "questions").update(
            source="files", files={**existing(t, "en", "zh"), "fr": str(t / "fr.q")}
        ),
        "questions.files.fr",
    ),
    (
        "mvicuna-url-without-lang",
        lambda c, t: at(c, "questions").update(source="mvicuna", url="https://example.org/q.txt"),
        "questions.url",
    ),
    ("template-missing", lambda c, t: at(c, "generation").update(template=str(t / "none.txt")), "generation.template"),
    (
        "template-without-question",
        lambda c, t: at(c, "generation").update(template=write(t, "t.txt", "Q: {instruction}\nA:")),
        "generation.template",
    ),
    (
        "template-unknown-placeholder",
        lambda c, t: at(c, "generation").update(template=write(t, "t.txt", "{question} {answer}")),
        "generation.template",
    ),
    (
        "instructions-missing",
        lambda c, t: at(c, "generation").update(instructions=str(t / "none.json")),
        "generation.instructions",
    ),
    (
        "instructions-not-json",
        lambda c, t: at(c, "generation").update(instructions=write(t, "i.json", "{en: x")),
        "generation.instructions",
    ),
    (
        "instructions-lack-language",
        lambda c, t: at(c, "generation").update(
            instructions=write(t, "i.json", json.dumps({"en": " In English.", "zh": ""}))
        ),
        "generation.instructions",
    ),
    (
        "judge-prompt-missing",
        lambda c, t: at(c, "judge").update(backend="openai", model="m", prompt=str(t / "none.txt")),
        "judge.prompt",
    ),
    (
        "judge-prompt-without-answer",
        lambda c, t: at(c, "judge").update(backend="openai", model="m", prompt=write(t, "j.txt", "Rate {question}")),
        "judge.prompt",
    ),
    ("empty-stop-string", lambda c, t: at(c, "generation").update(stop=["\nQ:", ""]), "generation.stop"),
    # what the model's size and context, the question set and the token budget reveal
    ("imported-other-model", lambda c, t: imports(c, t, layers=32), "selection.imported.path"),
    ("top-rate-keeps-none", lambda c, t: at(c, "selection").update(top_rate=0.001), "selection.top_rate"),
    ("seq-len-past-context", lambda c, t: prepared(c, t, context=48), "models.tiny-llama.seq_len"),
    ("one-question-file", lambda c, t: question_files(c, t, 1, max_questions=None), "questions.max_questions"),
    ("more-questions-than-set", lambda c, t: at(c, "questions").update(max_questions=41), "questions.max_questions"),
    ("more-than-file-holds", lambda c, t: question_files(c, t, 3, max_questions=5), "questions.max_questions"),
    ("shards-past-sequences", lambda c, t: at(c, "counting").update(shards=17), "counting.shards"),
    (
        "parts-past-sequences",
        lambda c, t: at(c, "uncertainty").update(stability_parts=17),
        "uncertainty.stability_parts",
    ),
    ("results-is-resources", lambda c, t: c.update(results=str(t / "r"), resources_dir=str(t / "r")), "results"),
    (
        "results-inside-resources",
        lambda c, t: c.update(results=str(t / "r/out"), resources_dir=str(t / "r")),
        "results",
    ),
    ("results-under-a-file", lambda c, t: c.update(results=write(t, "file", "x") + "/results"), "results"),
    (
        "base-url-without-host",
        lambda c, t: at(c, "judge").update(backend="openai", model="m", base_url="http:///v1"),
        "judge.base_url",
    ),
    (
        "null-draws-per-method-zero",
        lambda c, t: at(c, "uncertainty").update(null_draws={"lape": 19, "lap": 0}),
        "uncertainty.null_draws.lap",
    ),
    (
        "null-draws-per-method-negative",
        lambda c, t: at(c, "uncertainty").update(null_draws={"lape": -3}),
        "uncertainty.null_draws.lape",
    ),
    (
        "null-draws-method-not-in-perplexity",
        lambda c, t: (
            at(c, "perplexity").update(methods=["lape", "random"]),
            at(c, "uncertainty").update(null_draws={"lape": 19, "lave": 5}),
        ),
        "uncertainty.null_draws",
    ),
    (
        "null-draws-unknown-method",
        lambda c, t: at(c, "uncertainty").update(null_draws={"lape": 19, "lapee": 5}),
        "uncertainty.null_draws",
    ),
    ("language-unknown-to-lingua", lambda c, t: unknown_language(c, t), "languages"),
    # how strongly to steer: the sweep's points and questions
    ("sweep-empty", lambda c, t: sweep(c, strengths={}), "steering.sweep.strengths"),
    ("sweep-mode-without-strengths", lambda c, t: sweep(c, strengths={"add": []}), "steering.sweep.strengths.add"),
    ("sweep-unknown-mode", lambda c, t: sweep(c, strengths={"add": [1], "scale": [2]}), "steering.sweep.strengths"),
    (
        "sweep-multiply-negative",
        lambda c, t: sweep(c, strengths={"multiply": [2, -2]}),
        "steering.sweep.strengths.multiply",
    ),
    (
        "strength-multiply-negative",
        lambda c, t: at(c, "steering").update(mode="multiply", strength=-1, sweep={}),
        "steering.strength",
    ),
    ("sweep-share-zero", lambda c, t: sweep(c, shares=[0, 0.5]), "steering.sweep.shares.0"),
    ("sweep-questions-past-set", lambda c, t: sweep(c, questions=41), "steering.sweep.questions"),
    ("sweep-questions-in-tables", lambda c, t: sweep(c, questions=39), "steering.sweep.questions"),
    (
        "sweep-questions-all-in-tables",
        lambda c, t: (sweep(c, questions=2), at(c, "questions").update(max_questions=None)),
        "steering.sweep.questions",
    ),
    (
        "sweep-bundled-questions-missing",
        lambda c, t: (other_languages(c, t), sweep(c, question_set="bundled")),
        "languages",
    ),
    # downstream tasks (lm-evaluation-harness)
    ("task-unknown", lambda c, t: at(c, "tasks").update(tasks={"xnli_frr": "fr"}), "tasks.tasks.xnli_frr"),
    ("task-without-language", lambda c, t: at(c, "tasks").update(tasks={"xnli_fr": None}), "tasks.tasks.xnli_fr"),
    ("task-list-without-languages", lambda c, t: at(c, "tasks").update(tasks=["xnli_fr"]), "tasks.tasks.xnli_fr"),
    (
        "task-language-not-configured",
        lambda c, t: at(c, "tasks").update(tasks={"xnli_es": "es"}),
        "tasks.tasks.xnli_es",
    ),
    ("task-harness-group", lambda c, t: at(c, "tasks").update(tasks={"xnli": "fr"}), "tasks.tasks.xnli"),
    ("task-none", lambda c, t: at(c, "tasks").update(tasks={}), "tasks.tasks"),
    (
        "task-folder-missing",
        lambda c, t: at(c, "tasks").update(include_path=[str(t / "no-tasks")], tasks={"mine": "en"}),
        "tasks.include_path",
    ),
    ("task-data-missing", lambda c, t: user_task(c, t, data=False), "tasks.tasks.mine_en"),
    (
        "task-bundled-other-language",
        lambda c, t: at(c, "tasks").update(tasks={"langneurons_next_word_de": "en"}),
        "tasks.tasks",
    ),
    ("task-method-not-selected", lambda c, t: at(c, "tasks").update(methods=["lap_budget"]), "tasks.methods"),
]


def sweep(cfg, **values):
    """The smoke config's steering.sweep with ``values`` set."""
    at(at(cfg, "steering"), "sweep").update(values)


def user_task(cfg, tmp, data=True):
    """A task folder in the harness's YAML format over a local JSON file (``mine_en``), mapped to en."""
    folder = tmp / "my_tasks"
    folder.mkdir()
    rows = tmp / "mine.jsonl"
    if data:
        rows.write_text('{"context": "The cat sat on the", "choices": ["mat", "sky"], "label": 0}\n', encoding="utf-8")
    (folder / "mine.yaml").write_text(
        f"task: mine_en\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {rows}\ntest_split: test\n"
        "output_type: multiple_choice\ndoc_to_text: context\ndoc_to_choice: choices\ndoc_to_target: label\n",
        encoding="utf-8",
    )
    at(cfg, "tasks").update(include_path=[str(folder)], tasks={"mine_en": "en"})


def imports(cfg, tmp, layers):
    """selection.methods gains imported: a neuron file of ``layers`` layers for the config's languages."""
    import torch

    path = tmp / "other.neuron.pth"
    torch.save([[torch.tensor([1, 2]) for _ in range(layers)] for _ in cfg["languages"]], path)
    at(cfg, "selection").update(methods=[*cfg["selection"]["methods"], "imported"])
    cfg["selection"]["imported"] = {"path": str(path), "languages": cfg["languages"]}


def prepared(cfg, tmp, **facts):
    """The model prepared earlier, with these recorded facts (what prepare_model writes in model.json)."""
    cfg["resources_dir"] = str(tmp / "resources")
    meta = tmp / "resources" / "models" / "tiny-llama" / "model.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"path": str(meta.parent), "source": "random", "facts": facts}))


def question_files(cfg, tmp, n, max_questions):
    lines = "".join(f"question {i}?\n" for i in range(n))
    at(cfg, "questions").update(
        source="files",
        max_questions=max_questions,
        files={lang: write(tmp, f"q_{lang}.txt", lines) for lang in cfg["languages"]},
    )


def unknown_language(cfg, tmp):
    """Languages from files, one of them unknown to lingua (xx); the judge off (it needs bundled passages)."""
    other_languages(cfg, tmp, ("de", "xx"))
    at(cfg, "judge").update(backend="none")


def bad_config(change, tmp_path):
    cfg = copy.deepcopy(SMOKE)
    change(cfg, tmp_path)
    return cfg


@pytest.mark.parametrize("change, key", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_names_the_key(change, key, tmp_path):
    with pytest.raises(ConfigError) as err:
        validate_config(bad_config(change, tmp_path), SCHEMA)
    lines = str(err.value).splitlines()
    assert any(re.match(rf"Config error: {re.escape(key)}[.:]", line) for line in lines), lines
    # one line per problem, and nothing else but the pointer to the schema
    assert all(line.startswith(("Config error: ", "Every key")) for line in lines), lines


def other_languages(cfg, tmp, langs=("de", "it")):
    """A config in languages that have no bundled data: corpus and questions from files."""
    cfg["languages"] = list(langs)
    files_corpus(cfg, existing(tmp, *langs))
    question_files(cfg, tmp, 4, 2)  # the tables ask the first 2, the sweep the last 2
    at(cfg, "steering").update(crosslingual_languages=list(langs))
    instructions = write(tmp, "instructions.json", json.dumps({lang: f" ({lang})" for lang in langs}))
    at(cfg, "generation").update(instructions=instructions)


def test_the_local_judge_needs_a_language_with_reference_passages(tmp_path):
    cfg = bad_config(other_languages, tmp_path)
    with pytest.raises(ConfigError, match=r"Config error: judge.backend: the local judge calibrates on bundled"):
        validate_config(cfg, SCHEMA)
    cfg["judge"]["backend"] = "none"
    validate_config(cfg, SCHEMA)


def test_ses_on_a_configured_question_set_does_not_need_the_bundled_questions(tmp_path):
    cfg = bad_config(lambda c, t: other_languages(c, t, ("en", "de")), tmp_path)
    cfg["ses"] = {"items": "questions"}  # the files above, not the bundled questions (which lack de)
    validate_config(cfg, SCHEMA)


def test_stage_settings_are_checked_only_when_the_stage_runs(tmp_path):
    cfg = bad_config(lambda c, t: at(c, "judge").update(backend="openai", prompt=str(t / "none.txt")), tmp_path)
    cfg["generation"]["methods"], cfg["steering"]["method"] = [], None
    validate_config(cfg, SCHEMA)


def test_sweep_settings(tmp_path, caplog):
    # off: no points and no shares; on with only the dose-response; bundled questions held out from another set
    for values in ({"strengths": None, "shares": []}, {"strengths": None, "shares": [1.0]}):
        validate_config(bad_config(lambda c, t, v=values: sweep(c, **v), tmp_path), SCHEMA)
    files = bad_config(lambda c, t: (question_files(c, t, 3, None), sweep(c, question_set="bundled")), tmp_path)
    validate_config(files, SCHEMA)
    # steering off: the sweep's settings are not checked
    off = bad_config(lambda c, t: (sweep(c, strengths={}), at(c, "steering").update(method=None)), tmp_path)
    validate_config(off, SCHEMA)
    # with a sweep the main steering uses the chosen points: a fixed setting is named in a warning
    fixed = bad_config(lambda c, t: at(c, "steering").update(mode="add", strength=2), tmp_path)
    with caplog.at_level("WARNING"):
        validate_config(fixed, SCHEMA)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(w.startswith("Config warning: steering.mode: the main steering uses the setting") for w in warnings)
    assert any(w.startswith("Config warning: steering.strength:") for w in warnings), warnings


@pytest.mark.parametrize("draws", [19, 0, {"lape": 19, "random": 19, "lap": 5}, {"lape": 1}])
def test_null_draws_a_number_for_every_method_or_one_per_method(draws, tmp_path):
    validate_config(bad_config(lambda c, t: at(c, "uncertainty").update(null_draws=draws), tmp_path), SCHEMA)


def test_an_unknown_language_is_refused_wherever_languages_are_identified(tmp_path):
    cfg = bad_config(unknown_language, tmp_path)
    with pytest.raises(ConfigError) as err:
        validate_config(copy.deepcopy(cfg), SCHEMA)
    (line,) = [line for line in str(err.value).splitlines() if line.startswith("Config error: languages:")]
    assert "does not know xx" in line and "generation and steering" in line and "corpus.language_filter" in line
    assert "de, el, en, eo, es" in line  # the supported codes are named
    cfg["generation"]["methods"], cfg["steering"]["method"] = [], None  # no answers: the corpus check still uses it
    with pytest.raises(ConfigError, match=r"languages: language identification \(lingua\), which the corpus check"):
        validate_config(copy.deepcopy(cfg), SCHEMA)
    cfg["corpus"]["language_filter"] = False  # nothing identifies languages: a language lingua lacks is fine
    validate_config(cfg, SCHEMA)


# The line `snakemake -n` prints for these: the whole message, one line naming the key (and its exact text
# where given). openai-no-model goes through `snakemake -n` itself (test_dry_run_stops_with_one_line).
ONE_LINE_CASES = [
    ("crosslingual-unknown", "steering.crosslingual_languages: ['de'] not in languages ['en', 'zh', 'fr']"),
    ("openai-no-model", "judge.model: backend openai needs the judge model's name"),
    ("hf-no-path", None),
    ("imported-no-path", None),
    ("valid-topics-all", None),
    ("imported-other-model", None),
    ("null-draws-per-method-zero", None),
    ("language-unknown-to-lingua", None),
    ("task-unknown", None),
    ("task-without-language", None),
    ("sweep-empty", None),
    ("sweep-unknown-mode", None),
    ("sweep-multiply-negative", None),
]


@pytest.mark.parametrize("name, text", ONE_LINE_CASES, ids=[c[0] for c in ONE_LINE_CASES])
def test_message_is_one_line(name, text, tmp_path):
    change, key = next(c[1:] for c in CASES if c[0] == name)
    with pytest.raises(ConfigError) as err:
        validate_config(bad_config(change, tmp_path), SCHEMA)
    lines = str(err.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Config error: {key}:"), lines
    assert text is None or text in lines[0], lines


def run_snakemake(change, tmp_path, *args):
    """Snakemake on a bad config whose results folder already holds a finished output."""
    cfg = bad_config(change, tmp_path)
    results = tmp_path / "results"
    cfg["results"], cfg["resources_dir"] = str(results), str(tmp_path / "resources")
    finished = results / "tiny-llama" / "neurons" / "lape.neuron.pth"
    finished.parent.mkdir(parents=True)
    finished.write_bytes(b"computed earlier")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = subprocess.run(
        ["snakemake", *args, "--configfile", str(path)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert finished.read_bytes() == b"computed earlier"
    assert [p for p in results.rglob("*") if p.is_file()] == [finished]
    return run


@pytest.mark.integration
def test_dry_run_stops_with_one_line(tmp_path):
    name = "openai-no-model"
    change, key = next(c[1:] for c in CASES if c[0] == name)
    text = dict(ONE_LINE_CASES)[name]
    run = run_snakemake(change, tmp_path, "-n")
    assert run.returncode != 0
    errors = [
        line for line in run.stderr.strip().splitlines() if not line.startswith("Using workflow specific profile")
    ]
    assert len(errors) == 1 and errors[0].startswith(f"Config error: {key}:") and text in errors[0], run.stderr
    assert "Traceback" not in run.stdout + run.stderr and "Building DAG" not in run.stdout + run.stderr


@pytest.mark.integration
def test_dry_run_stops_on_a_schema_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: {m: {source: embedded}}\nselection: {top_rate: 5}\n")
    run = subprocess.run(["snakemake", "-n", "--configfile", str(bad)], cwd=REPO, capture_output=True, text=True)
    assert run.returncode != 0
    assert "selection.top_rate" in run.stdout + run.stderr


@pytest.mark.integration
def test_real_run_starts_no_job(tmp_path):
    change, key = next(c[1:] for c in CASES if c[0] == "imported-no-path")
    run = run_snakemake(change, tmp_path, "--cores", "1")
    assert run.returncode != 0 and f"Config error: {key}:" in run.stderr
    assert "rule " not in run.stdout + run.stderr  # no job was scheduled


def test_settings_that_the_choice_ignores_are_named_in_a_warning(tmp_path, caplog):
    cfg = bad_config(
        lambda c, t: at(c, "judge").update(backend="local", base_url="http://h:1/v1", model="gpt"), tmp_path
    )
    with caplog.at_level("WARNING"):
        validate_config(cfg, SCHEMA)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(w.startswith("Config warning: judge.model: judge.backend local does not read it") for w in warnings)
    assert any(w.startswith("Config warning: judge.base_url:") for w in warnings), warnings


def test_a_cap_above_what_there_is_is_named_in_a_warning(tmp_path, caplog):
    cfg = bad_config(lambda c, t: c.update(ses={"items": "questions", "max_items": 100}), tmp_path)
    with caplog.at_level("WARNING"):
        validate_config(cfg, SCHEMA)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "Config warning: ses.max_items: 100 is more than the question set holds (40 in en, zh, fr)" in "".join(
        warnings
    ), warnings
    caplog.clear()
    with caplog.at_level("WARNING"):
        validate_config(bad_config(lambda c, t: c.update(ses={"items": "questions", "max_items": 40}), tmp_path))
    assert not [r for r in caplog.records if "ses.max_items" in r.getMessage()]


def test_the_unknown_task_line_names_it_and_how_to_list_tasks(tmp_path):
    with pytest.raises(ConfigError) as err:
        validate_config(bad_config(lambda c, t: at(c, "tasks").update(tasks={"xnli_frr": "fr"}), tmp_path), SCHEMA)
    (line,) = str(err.value).splitlines()[:1]
    assert "xnli_frr" in line and "`lm-eval ls tasks`" in line and "did you mean xnli_fr" in line


def test_a_user_task_with_its_data_passes_and_bundled_task_names_need_no_harness_lookup(tmp_path):
    validate_config(bad_config(user_task, tmp_path), SCHEMA)
    cfg = bad_config(lambda c, t: at(c, "tasks").update(tasks={"langneurons_next_word_zh": "zh"}), tmp_path)
    validate_config(cfg, SCHEMA)


def test_the_tasks_stage_is_checked_only_when_it_runs(tmp_path):
    cfg = bad_config(lambda c, t: at(c, "tasks").update(tasks={"xnli_frr": None}, methods=[]), tmp_path)
    validate_config(cfg, SCHEMA)


def test_the_shipped_configs_give_no_warning(caplog):
    for path in [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
        with caplog.at_level("WARNING"):
            validate_config(yaml.safe_load(path.read_text()), SCHEMA)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_the_tokenize_job_checks_the_splits_against_the_real_sequences():
    from langneurons.config import check_sequence_splits

    cfg = validate_config(copy.deepcopy(SMOKE), SCHEMA)
    check_sequence_splits(cfg, "zh", 8)  # 2 shards, 8 parts: fits
    with pytest.raises(
        ConfigError, match=r"^Config error: uncertainty.stability_parts: 8 is more than the 5 sequences of zh's"
    ):
        check_sequence_splits(cfg, "zh", 5)
