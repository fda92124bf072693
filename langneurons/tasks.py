"""Downstream tasks under interventions: lm-evaluation-harness tasks run on the analysed model with its neurons
deactivated, random neurons deactivated or a language's neurons activated.

- **Tasks** are the harness's own: built-in ones by name (``belebele_zho_Hans``, ``xnli_fr``, ...), tasks of the
  user's folders in the harness's YAML format (``tasks.include_path``, the harness's ``TaskManager`` include path),
  and the **bundled offline task** (``langneurons_next_word_{lang}``, one per language; :func:`bundled_items`),
  written by the ``bundled_tasks`` rule as a harness YAML over a local JSONL file. Each task is mapped to the
  language it tests (``tasks.tasks``).
- **Conditions**: ``normal``, ``random`` (random neurons matched to the task's language, as in generation), each
  language's neurons deactivated (condition = the language code) and, when configured, each language's neurons
  activated (``to_{lang}``, ``steering.mode`` and ``strength``).
- **The model** is the workflow's own loaded model (same loading, dtype, device map), handed to the harness's
  Hugging Face wrapper (``HFLM(pretrained=<model>, tokenizer=<tokenizer>)``), so the workflow's hooks
  (:class:`langneurons.hooks.NeuronHooks`) act on every forward pass the harness makes.

The light half (task specs, the bundled items, the name index) is read by the config gate while Snakemake
parses: no torch and no lm_eval at module level. The harness is imported only by the functions that run it.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import logging
import os
import random
import re
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .bundled import bundled_languages, bundled_passages, bundled_valid_topics
from .errors import BadInput, ConfigError, InputFileError

if TYPE_CHECKING:  # pandas, torch and the harness load only when the stage runs
    import pandas as pd

log = logging.getLogger(__name__)

#: The bundled offline task of a language: ``langneurons_next_word_{lang}``.
BUNDLED_PREFIX = "langneurons_next_word_"
#: How to list the harness's tasks (named in the unknown-task error).
LIST_TASKS = "`lm-eval ls tasks`"
CONDITION_KINDS = ("normal", "random", "deactivated", "steered")
#: Languages written without spaces: the next "word" of the bundled task is two characters after one of these.
CHARACTER_LANGUAGES = {"zh": "的是在了，", "ja": "のはがをにでと、"}
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")
_WORD = re.compile(r"^[^\W\d_]{3,}$")  # letters only, 3 or more
_CJK_WORD = {"zh": "[\u4e00-\u9fff]{2}", "ja": "[\u4e00-\u9fff\u30a0-\u30ff]{2}"}
#: The offline setting the harness's data loading honours (named in the task-data-missing error).
OFFLINE_VARIABLES = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
#: File loaders of the ``datasets`` library: a task with one of these as ``dataset_path`` reads local files.
FILE_LOADERS = ("json", "csv", "parquet", "text", "arrow")


def bundled_task_name(lang: str) -> str:
    return f"{BUNDLED_PREFIX}{lang}"


def condition_label(kind: str, lang: str | None = None) -> str:
    """The condition names of the tables: normal, random, the deactivated language's code, ``to_{lang}``."""
    if kind in ("normal", "random"):
        return kind
    return lang if kind == "deactivated" else f"to_{lang}"


# ------------------------------------------------------------------------------------------------ task specs
def task_specs(cfg: dict) -> dict[str, dict]:
    """``{task: {"language", "metric"}}`` of a validated config: ``tasks.tasks`` (a language code or
    ``{language, metric}`` per task), or the bundled task of every language when it is null. ``metric`` None =
    the first metric the harness reports for the task. A task without a language keeps ``language`` None (the
    gate reports it). The bundled task exists for the languages of the bundled corpus only."""
    configured = cfg["tasks"]["tasks"]
    if configured is None:
        have = set(bundled_languages("corpus"))
        return {
            bundled_task_name(lang): {"language": lang, "metric": None} for lang in cfg["languages"] if lang in have
        }
    if isinstance(configured, list):  # names without languages: the gate says so
        return {str(name): {"language": None, "metric": None} for name in configured}
    specs = {}
    for name, value in configured.items():
        if isinstance(value, dict):
            specs[name] = {"language": value.get("language"), "metric": value.get("metric")}
        else:
            specs[name] = {"language": value, "metric": None}
    return specs


def task_methods(cfg: dict) -> list[str]:
    """The methods the tasks stage runs: ``tasks.methods``, none when there is no task (the bundled task and no
    language of the bundled corpus)."""
    return list(cfg["tasks"]["methods"]) if task_specs(cfg) else []


def uses_bundled(cfg: dict) -> list[str]:
    """The languages whose bundled task (``langneurons_next_word_{lang}``) the config runs."""
    return [name[len(BUNDLED_PREFIX) :] for name in task_specs(cfg) if name.startswith(BUNDLED_PREFIX)]


def include_paths(cfg: dict) -> list[str]:
    paths = cfg["tasks"]["include_path"]
    return [paths] if isinstance(paths, str) else list(paths or [])


# ----------------------------------------------------------------------------------------- the bundled task
def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def _cut(sentence: str, lang: str) -> tuple[str, str] | None:
    """The first place in ``sentence`` where a short context is followed by a word: (context, word), or None.

    Spaced languages: after 4 to 9 words, the next word of 3 or more letters. zh and ja: after one of
    :data:`CHARACTER_LANGUAGES`' characters 6 to 16 characters in, the next two (Han, or Han and katakana in
    ja) characters.
    """
    if lang in CHARACTER_LANGUAGES:
        after = re.escape(CHARACTER_LANGUAGES[lang])
        for m in re.finditer(f"(?<=[{after}])(?={_CJK_WORD[lang]})", sentence):
            if 6 <= m.start() <= 16:
                return sentence[: m.start()], sentence[m.start() : m.start() + 2]
        return None
    words = sentence.split()
    for k in range(4, min(9, len(words) - 1) + 1):
        if _WORD.match(words[k]):
            return " ".join(words[:k]), words[k]
    return None


def bundled_items(
    lang: str,
    valid_topics: int,
    items: int,
    choices: int,
    seed: int,
    one_token: Callable[[str, str], bool] | None = None,
) -> list[dict]:
    """The bundled next-word task of ``lang``: from the bundled corpus's valid passages (the topics that neither
    counting nor PV sees), the first sentence of every passage, then the second, ...; in each, a short context
    (its first words) and the word that follows. The other choices are the answers of other passages' sentences
    (never the answer itself), so one choice fits the context and the others come from other topics.

    ``one_token(context, word)``: whether the analysed model's tokenizer continues ``context`` with ``word`` in one
    token. Given, items whose answer is one token come first and distractors of one token are preferred: the
    harness then scores all choices of an item in one forward pass (it shares the context's logits among one-token
    continuations), which makes the task several times cheaper; other items and words fill in where too few are.

    Returns ``[{"id", "topic", "context", "choices", "label"}]``: the first ``items`` such items (fewer where the
    valid split has fewer sentences with a place to cut), the choices shuffled with ``seed``.
    """
    passages = bundled_passages(lang)
    valid = bundled_valid_topics(passages, valid_topics)
    texts = [(p["id"], sentences(p["text"])) for p in passages if p["id"] in valid]
    candidates = []  # (topic, context, answer): sentence by sentence across passages
    for j in range(max(len(s) for _, s in texts)):
        for topic, sents in texts:
            cut = _cut(sents[j], lang) if j < len(sents) else None
            if cut:
                candidates.append((topic, *cut))
    single = one_token or (lambda context, word: True)
    ordered = sorted(candidates, key=lambda c: not single(c[1], c[2]))  # stable: one-token answers first
    rng = random.Random(f"{seed}-{lang}")
    rows = []
    for n, (topic, context, answer) in enumerate(ordered[:items]):
        pool = sorted({a for t, _, a in candidates if t != topic and a != answer})
        if len(pool) < choices - 1:
            raise ConfigError(
                f"tasks.bundled.choices: {choices} choices need {choices - 1} other words, and {lang}'s valid "
                f"passages give {len(pool)}; use fewer choices or more corpus.valid_topics"
            )
        short = [w for w in pool if single(context, w)]
        picked = rng.sample(short, choices - 1) if len(short) >= choices - 1 else rng.sample(pool, choices - 1)
        options = [answer, *picked]
        rng.shuffle(options)
        rows.append(
            {
                "id": f"{lang}-{n}",
                "topic": topic,
                "context": context,
                "choices": options,
                "label": options.index(answer),
            }
        )
    return rows


def one_token_test(tokenizer, lang: str) -> Callable[[str, str], bool]:
    """``one_token(context, word)`` for a tokenizer, as the harness splits a request: the tokens of context +
    delimiter + word past those of the context alone."""
    delimiter = "" if lang in CHARACTER_LANGUAGES else " "
    lengths: dict[str, int] = {}

    def count(text: str) -> int:
        if text not in lengths:
            lengths[text] = len(tokenizer(text)["input_ids"])
        return lengths[text]

    return lambda context, word: count(context + delimiter + word) - count(context) == 1


def bundled_task_config(lang: str, data_file: str | Path) -> dict:
    """The harness YAML of a language's bundled task over its JSONL file (``dataset_path: json``)."""
    return {
        "task": bundled_task_name(lang),
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(Path(data_file).resolve())}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "context",
        "doc_to_choice": "choices",
        "doc_to_target": "label",
        "target_delimiter": "" if lang in CHARACTER_LANGUAGES else " ",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
        "metadata": {"version": 1.0, "source": "langneurons bundled corpus, valid topics"},
    }


def write_bundled_task(
    lang: str, cfg: dict, data_path: str | Path, yaml_path: str | Path, tokenizer=None
) -> tuple[int, int]:
    """Write a language's bundled task (its JSONL items and harness YAML) for a model's ``tokenizer``; returns
    the number of items and how many of them have every choice in one token."""
    from .io import atomic_write, write_jsonl

    bundled = cfg["tasks"]["bundled"]
    one_token = one_token_test(tokenizer, lang) if tokenizer is not None else None
    rows = bundled_items(
        lang, cfg["corpus"]["valid_topics"], bundled["items"], bundled["choices"], bundled["seed"], one_token
    )
    write_jsonl(rows, data_path)
    with atomic_write(yaml_path) as fh:
        fh.write(yaml.safe_dump(bundled_task_config(lang, data_path), allow_unicode=True, sort_keys=False))
    single = sum(all(one_token(r["context"], c) for c in r["choices"]) for r in rows) if one_token else 0
    return len(rows), single


# -------------------------------------------------------------------------------------- task names (light)
class _LenientLoader(yaml.SafeLoader):
    """YAML loader that reads the harness's ``!function`` tags (and any other) as plain values."""


_LenientLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LenientLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def folder_tasks(folder: str | Path) -> dict[str, dict]:
    """Tasks and groups defined in a folder of harness YAML files: ``{name: {"kind", "path", "config"}}``
    (``config``: the task's YAML with its ``include:`` files merged under it, as the harness reads it)."""
    found: dict[str, dict] = {}
    for path in sorted(Path(folder).glob("**/*.yaml")):
        data = _read_yaml(path)
        kind = "group" if "group" in data else "task" if isinstance(data.get("task"), str) else None
        if kind:
            found.setdefault(str(data[kind]), {"kind": kind, "path": path, "config": _with_includes(data, path)})
    return found


def _with_includes(data: dict, path: Path, depth: int = 0) -> dict:
    include = data.get("include")
    if not include or depth > 8:
        return data
    base = _read_yaml(path.parent / include) if not Path(include).is_absolute() else _read_yaml(Path(include))
    return {**_with_includes(base, path.parent / include, depth + 1), **data}


def harness_tasks_dir() -> Path | None:
    """The harness's own task folder, found without importing it (None when lm-eval is not installed)."""
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "tasks"


_TASK_LINE = re.compile(r"^task:\s*['\"]?([^\s'\"#]+)['\"]?\s*(?:#.*)?$", re.M)


@lru_cache
def _scanned_harness_names(folder: str) -> frozenset[str]:
    """Task names on a ``task: name`` line of the harness's YAML files: most of its tasks, in a fraction of a
    second (its own index takes seconds)."""
    names = set()
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith(".yaml"):
                with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as fh:
                    names.update(_TASK_LINE.findall(fh.read()))
    return frozenset(names)


@lru_cache
def _harness_index() -> dict[str, str]:
    """The harness's own index, ``{name: kind}`` (task, python_task, group, tag): imports lm_eval (seconds)."""
    from lm_eval.tasks import TaskManager

    manager = TaskManager()
    return {name: entry.kind.name.lower() for name, entry in manager._index.items()}


def unknown_task_problems(names: list[str], folders: list[str]) -> Iterator[str]:
    """One line per name that is not a task of the user's folders or of the harness (groups and tags of the
    harness are refused too: each task is mapped to one language)."""
    local: dict[str, dict] = {}
    for folder in folders:
        local.update(folder_tasks(folder))
    rest = [n for n in names if n not in local or local[n]["kind"] != "task"]
    for n in names:
        if n in local and local[n]["kind"] == "group":
            yield (
                f"tasks.tasks.{n}: a group of tasks in {local[n]['path']}; name its tasks one by one, each with the "
                "language it tests"
            )
    rest = [n for n in rest if n not in local]
    if not rest:
        return
    folder = harness_tasks_dir()
    if folder is None:
        yield "tasks: the lm-eval package is not installed; install it (pip install lm-eval) or set tasks.methods: []"
        return
    scanned = _scanned_harness_names(str(folder))
    unsure = [n for n in rest if n not in scanned]
    if not unsure:
        return
    index = _harness_index()  # only for names the quick scan did not find (usually a mistake)
    known = sorted(set(index) | set(scanned) | set(local))
    for n in unsure:
        kind = index.get(n)
        if kind in ("group", "tag"):
            yield (
                f"tasks.tasks.{n}: a {kind} of the harness, not one task; name its tasks one by one, each with the "
                "language it tests (`lm-eval ls tasks` lists them)"
            )
        elif kind is None:
            close = difflib.get_close_matches(n, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            where = f" or of tasks.include_path ({', '.join(folders)})" if folders else ""
            yield (
                f"tasks.tasks.{n}: no task of lm-evaluation-harness{where} has this name{hint}; "
                f"{LIST_TASKS} lists the harness's tasks"
            )


def local_data_problems(names: list[str], folders: list[str]) -> Iterator[str]:
    """Tasks of the user's folders that read local files (``dataset_path: json`` etc.) naming files that do not
    exist (relative paths are read from the folder Snakemake runs in, as the datasets library does)."""
    local: dict[str, dict] = {}
    for folder in folders:
        local.update(folder_tasks(folder))
    for n in names:
        entry = local.get(n)
        if not entry or entry["kind"] != "task":
            continue
        config = entry["config"]
        if config.get("dataset_path") not in FILE_LOADERS:
            continue
        files = (config.get("dataset_kwargs") or {}).get("data_files")
        listed = files.values() if isinstance(files, dict) else [files] if files else []
        for item in listed:
            for path in [item] if isinstance(item, str) else list(item or []):
                if (
                    isinstance(path, str)
                    and "://" not in path
                    and not any(c in path for c in "*?[")
                    and not Path(path).is_file()
                ):
                    yield (
                        f"tasks.tasks.{n}: its data file {path} (dataset_kwargs.data_files in {entry['path']}) does "
                        "not exist; fix the path (relative paths are read from the folder Snakemake runs in)"
                    )


def offline() -> str | None:
    """The offline setting in force (``HF_DATASETS_OFFLINE=1``, ...), or None."""
    for name in OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{name}={os.environ[name]}"
    return None


# ------------------------------------------------------------------------------------------ running (heavy)
def load_harness_tasks(specs: dict[str, dict], folders: list[str]) -> tuple[object, dict]:
    """The harness's ``TaskManager`` and ``{name: Task}`` for ``specs``, data loaded (the job's first seconds).

    A task whose data cannot be loaded while the hub is offline stops with one line naming the task and the
    offline setting; any other failure to load a task names the task and the harness's message.
    """
    from lm_eval.tasks import TaskManager

    builtin = [n for n in specs if not any(n in folder_tasks(f) for f in folders)]
    manager = TaskManager(include_path=folders or None, include_defaults=bool(builtin))
    loaded = {}
    for name in specs:
        try:
            loaded.update(manager.load([name])["tasks"])
        except BadInput:
            raise
        except Exception as err:  # the harness and datasets raise many kinds; all mean "this task cannot load"
            raise _task_load_error(name, err) from err
    missing = [n for n in specs if n not in loaded]
    if missing:
        raise ConfigError(f"tasks.tasks: the harness loaded no task named {', '.join(missing)}; {LIST_TASKS}")
    return manager, {n: loaded[n] for n in specs}


def _task_load_error(name: str, err: Exception) -> BadInput:
    message = " ".join(str(err).split())[:300] or type(err).__name__
    setting = offline()
    if setting:
        return InputFileError(
            f"task {name}: its data cannot be loaded with {setting} (offline) set and no copy in the local cache "
            f"({type(err).__name__}: {message}); run the tasks job once online (unset {', '.join(OFFLINE_VARIABLES)}) "
            "so the data is cached, or give the task local data files"
        )
    return InputFileError(f"task {name}: the harness could not load it ({type(err).__name__}: {message})")


def harness_model(lm, batch_size: int):
    """The harness's Hugging Face wrapper around the workflow's loaded model and tokenizer."""
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=batch_size)


def task_batch_size(lm, configured, seq_len: int) -> int:
    """``configured`` (a number), or for ``auto`` what fits the free GPU memory for the harness's step (a forward
    with full logits and their log-softmax over ``seq_len`` positions); 4 on a CPU."""
    import torch

    from .batching import resolve_batch_size

    def step(ids):
        torch.log_softmax(lm.model(ids).logits, dim=-1)

    return resolve_batch_size(configured, lm, step, seq_len, 64)


def evaluate(hflm, manager, tasks: dict, settings: dict) -> dict:
    """One harness run of ``tasks`` (``{name: Task}``) on ``hflm`` as it is now; the harness's result dict."""
    from lm_eval import simple_evaluate

    result = simple_evaluate(
        model=hflm,
        tasks=list(tasks.values()),
        task_manager=manager,
        num_fewshot=settings["num_fewshot"],
        limit=settings["limit"],
        bootstrap_iters=settings["bootstrap_iters"],
        log_samples=True,
        random_seed=settings["seed"],
        numpy_random_seed=settings["seed"],
        torch_random_seed=settings["seed"],
        fewshot_random_seed=settings["seed"],
    )
    if result is None:
        raise RuntimeError("lm_eval.simple_evaluate returned nothing (a non-zero rank?)")
    return result


def condition_plans(
    neurons, random_neurons, means, languages: list[str], task_languages: dict[str, str], cfg: dict, steering: dict
) -> dict[str, dict[str, dict]]:
    """``{condition: {task: plan}}``: the configured kinds of ``tasks.conditions``. Tasks of a condition that
    share a plan object run in one harness call."""
    from .hooks import activation_plan, deactivation_plan

    kinds = cfg["conditions"]
    plain: dict = {}
    plans: dict[str, dict[str, dict]] = {"normal": dict.fromkeys(task_languages, plain)}
    if "random" in kinds:
        per_lang = {lang: deactivation_plan(random_neurons[k]) for k, lang in enumerate(languages)}
        plans["random"] = {task: per_lang[lang] for task, lang in task_languages.items()}
    if "deactivated" in kinds:
        for k, lang in enumerate(languages):
            plans[condition_label("deactivated", lang)] = dict.fromkeys(task_languages, deactivation_plan(neurons[k]))
    if "steered" in kinds:
        for k, lang in enumerate(languages):
            plan = activation_plan(neurons[k], means[..., k], mode=steering["mode"], strength=steering["strength"])
            plans[condition_label("steered", lang)] = dict.fromkeys(task_languages, plan)
    return plans


def run_conditions(lm, hflm, manager, tasks: dict, plans: dict[str, dict[str, dict]], settings: dict, progress=None):
    """Every condition's harness results: ``{condition: {"results": {task: {metric: value}}, "samples": {task:
    [...]}, ...}}``, each task run under its condition's plan through the workflow's hooks."""
    from .hooks import NeuronHooks

    out = {}
    with NeuronHooks(lm) as hooks:
        for condition, per_task in plans.items():
            groups: dict[int, tuple[dict, list[str]]] = {}
            for task, plan in per_task.items():
                groups.setdefault(id(plan), (plan, []))[1].append(task)
            merged: dict = {}
            for plan, names in groups.values():
                hooks.set_plan(plan)
                result = evaluate(hflm, manager, {n: tasks[n] for n in names}, settings)
                for key in ("results", "samples", "configs", "versions", "n-samples", "higher_is_better", "n-shot"):
                    merged.setdefault(key, {}).update(result.get(key) or {})
                if progress:
                    progress(condition, names)
            out[condition] = merged
    return out


def save_runs(runs: dict, path) -> None:
    """A share of the conditions' runs (``run_conditions``; ``tasks.jobs``) as a part file for the merge. The task
    configs go as the harness summary writes them (JSON, other objects as text), the rest as it is (pickle)."""
    import pickle

    from .io import atomic_write

    record = {
        condition: {**run, "configs": json.loads(json.dumps(run.get("configs") or {}, default=str))}
        for condition, run in runs.items()
    }
    with atomic_write(path, "wb") as fh:
        pickle.dump(record, fh, protocol=pickle.HIGHEST_PROTOCOL)


def load_runs(paths: Sequence[str | Path]) -> dict:
    """The runs of the parts, in part order: the conditions' runs as one job has them."""
    import pickle

    runs: dict = {}
    for path in paths:
        with open(path, "rb") as fh:
            part = pickle.load(fh)
        if not isinstance(part, dict) or set(part) & set(runs):
            raise InputFileError(f"{path}: not a part of the tasks stage, or a condition twice: run its job again")
        runs.update(part)
    return runs


# ------------------------------------------------------------------------------------------------- tables
def _metric_keys(results: dict) -> list[str]:
    """The ``metric,filter`` keys of one task's harness results (its stderr keys and alias left out)."""
    return [k for k in results if "," in k and not k.split(",")[0].endswith("_stderr")]


def primary_metric(task: str, spec: dict, results: dict) -> str:
    """The metric the heat map and specificity read: the configured one (``acc`` or ``acc,none``), else the first
    metric the harness reports for the task."""
    keys = _metric_keys(results)
    wanted = spec.get("metric")
    if wanted:
        match = [k for k in keys if k == wanted or k.split(",")[0] == wanted]
        if not match:
            raise ConfigError(
                f"tasks.tasks.{task}.metric: {wanted} is not among the task's metrics ({', '.join(keys)}); pick one"
            )
        return match[0]
    if not keys:
        raise InputFileError(f"task {task}: the harness reported no metric")
    return keys[0]


def _per_sample(samples: list[dict], metric_key: str) -> dict[int, object]:
    metric, filt = metric_key.split(",", 1)
    return {s["doc_id"]: s[metric] for s in samples if s.get("filter", "none") == filt and metric in s}


def _aggregate(values: list, aggregation) -> float:
    return float(aggregation(list(values)))


def task_table(
    runs: dict, specs: dict[str, dict], tasks: dict, n_boot: int, seed: int, confidence: float
) -> pd.DataFrame:
    """Conditions x tasks x metrics: the harness's value and stderr, the normal value, the change from normal and
    its paired bootstrap interval (the same documents resampled under both conditions, ``n_boot`` times)."""
    import numpy as np
    import pandas as pd

    from .uncertainty import bootstrap_ci

    normal = runs["normal"]
    rows = []
    for condition, run in runs.items():
        for task, spec in specs.items():
            results = run["results"].get(task)
            if results is None:
                continue
            primary = primary_metric(task, spec, normal["results"][task])
            aggregations = tasks[task].aggregation()
            for key in _metric_keys(results):
                metric, filt = key.split(",", 1)
                value, base = results[key], normal["results"][task].get(key)
                stderr = results.get(f"{metric}_stderr,{filt}")
                stderr = float(stderr) if isinstance(stderr, (int, float)) else float("nan")
                lo = hi = float("nan")
                cond_items = _per_sample(run["samples"].get(task, []), key)
                base_items = _per_sample(normal["samples"].get(task, []), key)
                docs = sorted(set(cond_items) & set(base_items))
                aggregation = aggregations.get(metric)
                if condition != "normal" and docs and aggregation is not None and isinstance(value, (int, float)):
                    pairs = [(cond_items[d], base_items[d]) for d in docs]
                    try:  # a numeric per-sample value under a mean: numpy; anything else: the harness's aggregation
                        matrix = np.asarray(pairs, dtype=float)
                        if matrix.ndim != 2 or getattr(aggregation, "__name__", "") != "mean":
                            raise ValueError
                        _, lo, hi = bootstrap_ci(
                            matrix, lambda s: s[:, 0].mean() - s[:, 1].mean(), n_boot, seed, confidence
                        )
                    except (TypeError, ValueError):
                        index = np.arange(len(pairs), dtype=float)

                        def delta(sample, pairs=pairs, aggregation=aggregation):
                            chosen = [pairs[int(i)] for i in sample]
                            return _aggregate([c for c, _ in chosen], aggregation) - _aggregate(
                                [b for _, b in chosen], aggregation
                            )

                        _, lo, hi = bootstrap_ci(index, delta, n_boot, seed, confidence)
                numeric = isinstance(value, (int, float)) and isinstance(base, (int, float))
                rows.append(
                    {
                        "condition": condition,
                        "task": task,
                        "language": spec["language"],
                        "metric": key,
                        "primary": key == primary,
                        "higher_is_better": bool(run["higher_is_better"].get(task, {}).get(metric, True)),
                        "value": float(value) if numeric else float("nan"),
                        "stderr": stderr,
                        "normal": float(base) if numeric else float("nan"),
                        "delta": float(value) - float(base) if numeric else float("nan"),
                        "delta_lo": 0.0 if condition == "normal" else lo,
                        "delta_hi": 0.0 if condition == "normal" else hi,
                        "n": int(run["n-samples"].get(task, {}).get("effective", len(cond_items))),
                    }
                )
    return pd.DataFrame(rows)


#: Floor of the mean other-language drop in the specificity ratio (metric units: one point of accuracy).
RATIO_FLOOR = 0.01


def task_specificity(table, languages: list[str]) -> pd.DataFrame:
    """Per deactivated language with tasks: is its own tasks' drop the largest? The drop is normal - condition of
    each task's primary metric (condition - normal where lower is better), averaged over a language's tasks; the
    ratio is own / max(mean other, 0.01), in the shape of the perplexity specificity."""
    import pandas as pd

    primary = table[table["primary"]].copy()
    primary["drop"] = (primary["normal"] - primary["value"]).where(
        primary["higher_is_better"], primary["value"] - primary["normal"]
    )
    by_lang = primary.groupby(["condition", "language"])["drop"].mean()
    have = [lang for lang in languages if lang in set(primary["language"])]
    rows = []
    for off in languages:
        if off not in set(primary["condition"]) or off not in have or len(have) < 2:
            continue
        own = by_lang.get((off, off))
        others = pd.Series({lang: by_lang.get((off, lang)) for lang in have if lang != off}, dtype=float)
        rows.append(
            {
                "deactivated": off,
                "own_drop": own,
                "max_other_drop": others.max(),
                "mean_other_drop": others.mean(),
                "own_is_largest": bool(own > others.max()),
                "ratio": own / max(others.mean(), RATIO_FLOOR),
            }
        )
    columns = ["deactivated", "own_drop", "max_other_drop", "mean_other_drop", "own_is_largest", "ratio"]
    return pd.DataFrame(rows, columns=columns).set_index("deactivated")


def change_matrix(table, languages: list[str]) -> pd.DataFrame:
    """Change from normal of each task's primary metric: rows the conditions (normal left out), columns the tasks
    in language order."""
    primary = table[table["primary"] & (table["condition"] != "normal")]
    order = {lang: i for i, lang in enumerate(languages)}
    tasks = sorted(dict.fromkeys(primary["task"]), key=lambda t: (order.get(_language_of(primary, t), 99), t))
    conditions = list(dict.fromkeys(primary["condition"]))
    return primary.pivot(index="condition", columns="task", values="delta").reindex(index=conditions, columns=tasks)


def _language_of(table, task: str) -> str:
    return str(table.loc[table["task"] == task, "language"].iloc[0])


def write_samples(runs: dict, path) -> int:
    """The harness's per-sample logs of every condition and task, one JSON object per line (gzip), with the
    condition and task added; returns the number of lines."""
    import gzip

    from .io import atomic_write

    lines = 0
    with atomic_write(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        for condition, run in runs.items():
            for task, samples in run["samples"].items():
                for sample in samples:
                    record = {"condition": condition, "task": task, **sample}
                    fh.write((json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8"))
                    lines += 1
    return lines


def harness_summary(runs: dict) -> dict:
    """What the harness reported per condition, without the samples (results, versions, configs, counts)."""
    keep = ("results", "versions", "n-samples", "higher_is_better", "n-shot", "configs")
    return {condition: {k: run.get(k, {}) for k in keep} for condition, run in runs.items()}
