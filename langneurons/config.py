"""Config validation: the JSON Schema (types, ranges, defaults), then every check that involves
more than one key or a file the config names, so a dry run (``snakemake -n``) catches each config
mistake before any job runs. Each problem is one line: the key, what is wrong, and the fix."""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

import jsonschema
import yaml

from .bundled import DATA, INSTRUCTIONS, bundled_languages, bundled_questions_file, bundled_topic_count
from .errors import ConfigError
from .paths import PREPARED_MODEL, fill
from .splitting import JOB_KEYS, NULL_BLOCK, StageWork, model_work
from .tasks import (
    BUNDLED_PREFIX,
    include_paths,
    local_data_problems,
    task_methods,
    task_specs,
    unknown_task_problems,
    uses_bundled,
)

log = logging.getLogger(__name__)

#: Every key, its type, allowed values, default and meaning (workflow/schemas/ links here).
SCHEMA = Path(str(DATA / "config.schema.yaml"))
# The languages of the authors' mvicuna question files (data/mvicuna/{lang}.txt in their repository).
MVICUNA_LANGUAGES = ("en", "es", "fr", "id", "ja", "vi", "zh")
MVICUNA_QUESTIONS = 70  # per language in those files


@lru_cache
def _schema(path: str) -> dict:
    # libyaml's loader where it is built in: the schema is read at every snakemake start
    return yaml.load(Path(path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _fill_defaults(instance, schema):
    """Fill ``default:`` values recursively (properties and additionalProperties)."""
    if not isinstance(instance, dict) or schema.get("type") not in ("object", None):
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in instance.items():
            if key not in schema.get("properties", {}):
                _fill_defaults(value, extra)


def validate_config(config: dict, schema_path: str | Path = SCHEMA) -> dict:
    """Validate ``config`` in place (defaults filled); raise ConfigError with one line per problem."""
    schema = copy.deepcopy(_schema(str(schema_path)))
    _fill_defaults(config, schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors]
        raise ConfigError(_report(lines) + f"\nEvery key, its allowed values and its default: {schema_path}")
    # the cross-key checks read a config the schema has vouched for (types, enums, defaults)
    problems = list(_problems(config, schema))
    if problems:
        raise ConfigError(_report(problems))
    for line in [*_ignored_settings(config, schema), *_capped_settings(config, schema)]:
        log.warning("Config warning: %s", line)
    return config


def default_languages() -> list[str]:
    """The schema's default ``languages``: the paper's seven, in the authors' order."""
    return list(_schema(str(SCHEMA))["properties"]["languages"]["default"])


def section_with_defaults(section: str, values: dict) -> dict:
    """One top-level section of the config (e.g. ``selection``) with ``values`` set and every other key at its
    schema default, checked against the schema: for code that runs a stage outside the workflow (the CLI)."""
    schema = _schema(str(SCHEMA))
    sub = schema["properties"][section]
    filled = copy.deepcopy(values)
    _fill_defaults(filled, sub)
    errors = list(jsonschema.Draft7Validator({**sub, "definitions": schema["definitions"]}).iter_errors(filled))
    if errors:
        raise ConfigError(_report([f"{'.'.join(map(str, [section, *e.absolute_path]))}: {e.message}" for e in errors]))
    return filled


def validate_workflow_config(config: dict, schema_path: str | Path = SCHEMA) -> dict:
    """``validate_config`` for the Snakefile: a bad config stops Snakemake with the message alone.

    Snakemake prints an exception raised while it parses the workflow with its
    type, file, line and traceback; SystemExit prints only the message.
    """
    if not logging.getLogger().handlers:  # warnings reach the terminal as one line each, as errors do
        logging.basicConfig(stream=sys.stderr, format="%(message)s")
    try:
        return validate_config(config, schema_path)
    except ConfigError as err:
        raise SystemExit(str(err)) from None


def _report(lines: list[str]) -> str:
    return "\n".join(f"Config error: {line}" for line in lines)


def _names(items) -> str:
    return ", ".join(map(str, items))


def _looks_local(path: str) -> bool:
    """A path on this machine rather than a hub id (``org/name``)."""
    return path.startswith(("/", ".", "~")) or path.count("/") > 1 or "\\" in path


def _problems(cfg: dict, schema: dict) -> Iterator[str]:
    yield from _folder_problems(cfg)
    yield from _model_problems(cfg["models"])
    yield from _prepared_model_problems(cfg)
    yield from _budget_problems(cfg)
    yield from _method_problems(cfg)
    yield from _null_draws_problems(cfg)
    yield from _split_problems(cfg, schema)
    yield from _corpus_problems(cfg["corpus"], cfg["languages"])
    yield from _bundled_problems(cfg)
    yield from _language_id_problems(cfg)
    yield from _tasks_problems(cfg)
    if _generates(cfg):
        mvicuna_url = schema["properties"]["questions"]["properties"]["url"]["default"]
        yield from _generation_problems(cfg, mvicuna_url)
    if cfg["steering"]["method"]:
        yield from _steering_problems(cfg["steering"], steering_modes(schema))


def steering_modes(schema: dict | None = None) -> list[str]:
    """The ways of activating neurons (``steering.mode``'s values in the schema: replace, add, multiply)."""
    schema = schema or _schema(str(SCHEMA))
    return list(schema["properties"]["steering"]["properties"]["mode"]["enum"])


def sweeps(cfg: dict) -> bool:
    """Whether steering runs a sweep of (mode, strength) points (``steering.sweep.strengths``)."""
    return bool(cfg["steering"]["method"]) and cfg["steering"]["sweep"]["strengths"] is not None


def sweep_stage(cfg: dict) -> bool:
    """Whether the sweep stage runs: steering's points or the deactivation dose-response (``sweep.shares``)."""
    return sweeps(cfg) or (bool(cfg["steering"]["method"]) and bool(cfg["steering"]["sweep"]["shares"]))


def _steering_problems(steering: dict, modes: list[str]) -> Iterator[str]:
    """The fixed setting and the sweep's points: known modes, at least one strength each, multiply by 0 or more."""
    if steering["mode"] == "multiply" and steering["strength"] < 0:
        yield (
            f"steering.strength: multiply by {steering['strength']:g} flips the sign of the activations it should "
            "strengthen; give 0 or more"
        )
    strengths = steering["sweep"]["strengths"]
    if strengths is None:
        return
    key = "steering.sweep.strengths"
    if not strengths:
        yield f"{key}: the sweep has no point; give {{mode: [strengths]}} (modes {_names(modes)}) or null for no sweep"
    for mode, values in strengths.items():
        if mode not in modes:
            yield f"{key}: mode '{mode}' is not one of {_names(modes)}; rename or remove it"
        elif not values:
            yield f"{key}.{mode}: no strength; give at least one or remove {mode}"
        elif mode == "multiply" and min(values) < 0:
            negative = _names(f"{v:g}" for v in values if v < 0)
            yield (
                f"{key}.multiply: {negative} would flip the sign of the activations it should strengthen; "
                "give 0 or more"
            )


def _generates(cfg: dict) -> bool:
    """Whether the generation stage (generation or steering) runs."""
    return bool(cfg["generation"]["methods"] or cfg["steering"]["method"])


def _model_problems(models: dict) -> Iterator[str]:
    for name, model in models.items():
        key = f"models.{name}"
        if model["source"] != "hf":
            for setting in ("path", "revision"):
                if model[setting] is not None:
                    yield f"{key}.{setting}: only read with source hf (source is {model['source']}); remove it"
        elif model["path"] is None:
            yield f"{key}.path: source hf needs a hub id (e.g. meta-llama/Llama-2-7b-hf) or a local model folder"
        elif _looks_local(model["path"]) and not Path(model["path"]).is_dir():
            yield f"{key}.path: folder {model['path']} does not exist; give a model folder or a hub id (org/name)"


def _folder_problems(cfg: dict) -> Iterator[str]:
    """The results and resources folders: apart from each other, and writable."""
    folders = {key: Path(cfg[key]).expanduser().resolve() for key in ("results", "resources_dir")}
    results, resources = folders["results"], folders["resources_dir"]
    if results == resources or results in resources.parents or resources in results.parents:
        yield (
            f"results: {cfg['results']} and resources_dir {cfg['resources_dir']} overlap (one is, or holds, the "
            "other): prepared models and results would mix; give them separate folders"
        )
    for key, folder in folders.items():
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if not existing.is_dir():
            yield f"{key}: {existing} is a file, not a folder; give a folder path"
        elif not os.access(existing, os.W_OK | os.X_OK):
            yield f"{key}: {existing} cannot be written (permissions); give a folder you can write to"


def prepared_facts(cfg: dict, name: str) -> dict | None:
    """What the config's checks need to know of model ``name``: ``num_layers``, ``d_ff`` and ``context`` (the
    positions it was trained on; None when unbounded), as ``prepare_model`` recorded them in ``model.json``;
    for a random model its spec. None while a model is not prepared (its prepare job checks the config then)."""
    model = cfg["models"][name]
    facts = {}
    if model["source"] == "random":
        facts = {"num_layers": model["random"]["num_layers"], "d_ff": model["random"]["d_ff"]}
    path = Path(cfg["resources_dir"]) / fill(PREPARED_MODEL, model=name)
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")).get("facts") or {}
    except (OSError, ValueError):
        recorded = {}
    facts.update(recorded)
    return facts or None


def _prepared_model_problems(cfg: dict) -> Iterator[str]:
    """Settings that must fit the model: its context length, its neuron count, an imported file's layers."""
    selection = cfg["selection"]
    budgeted = [m for m in selection["methods"] if m not in ("lap", "imported")]  # they keep top_rate of all neurons
    for name in cfg["models"]:
        facts = prepared_facts(cfg, name)
        if not facts:
            continue
        key = f"models.{name}"
        context = facts.get("context")
        if context and cfg["models"][name]["seq_len"] > context:
            yield (
                f"{key}.seq_len: {cfg['models'][name]['seq_len']} is longer than the {context} positions the model "
                f"was trained on; set at most {context} (the paper uses the model's context length)"
            )
        if "num_layers" in facts and "d_ff" in facts:
            neurons = facts["num_layers"] * facts["d_ff"]
            if budgeted and round(neurons * selection["top_rate"]) == 0:
                yield (
                    f"selection.top_rate: {selection['top_rate']:g} of the {neurons} neurons of {name} keeps none "
                    f"(used by {_names(budgeted)}); set it to at least {1 / neurons:.2g}"
                )
            yield from _imported_layer_problems(cfg, name, facts)


def _imported_layer_problems(cfg: dict, name: str, facts: dict) -> Iterator[str]:
    """An imported neuron file must have the model's layers (read only when imported is configured)."""
    path = cfg["selection"]["imported"]["path"]
    if "imported" not in cfg["selection"]["methods"] or not path or "://" in path or not Path(path).is_file():
        return
    from .errors import BadInput
    from .neuronsets import load_neurons  # torch: only for a config that imports a local neuron file

    try:
        neurons = load_neurons(path)
    except BadInput as err:
        yield f"selection.imported.path: {err}"
        return
    layers = len(neurons[0])
    if layers != facts["num_layers"]:
        yield (
            f"selection.imported.path: {path} has {layers} layers, model {name} has {facts['num_layers']}: "
            "the file was made for another model; import the file made for this model"
        )


def _budget_problems(cfg: dict) -> Iterator[str]:
    """Splits of the counting work that the token budget cannot fill (the tokenize job checks the real count)."""
    for name, model in cfg["models"].items():
        most = math.ceil(cfg["corpus"]["train_tokens"] / model["seq_len"])  # sequences the budget can give
        for key, value in (
            ("counting.shards", cfg["counting"]["shards"]),
            ("uncertainty.stability_parts", cfg["uncertainty"]["stability_parts"]),
        ):
            if value > most:
                yield (
                    f"{key}: {value} is more than the {most} sequences that corpus.train_tokens "
                    f"({cfg['corpus']['train_tokens']}) gives at models.{name}.seq_len {model['seq_len']}; "
                    f"set at most {most}"
                )


def check_sequence_splits(cfg: dict, lang: str, sequences: int) -> None:
    """The counting splits against the sequences a language's train tokens really hold (the tokenize job can tell)."""
    problems = [
        f"{key}: {value} is more than the {sequences} sequences of {lang}'s train tokens; set at most {sequences} "
        "(or give more text)"
        for key, value in (
            ("counting.shards", cfg["counting"]["shards"]),
            ("uncertainty.stability_parts", cfg["uncertainty"]["stability_parts"]),
        )
        if value > sequences
    ]
    if problems:
        raise ConfigError(_report(problems))


def _method_problems(cfg: dict) -> Iterator[str]:
    methods = cfg["selection"]["methods"]
    used = {
        "generation.methods": cfg["generation"]["methods"],
        "perplexity.methods": cfg["perplexity"]["methods"] or [],
        "steering.method": [cfg["steering"]["method"]] if cfg["steering"]["method"] else [],
        "tasks.methods": cfg["tasks"]["methods"],
    }
    for key, names in used.items():
        missing = [m for m in names if m not in methods]
        if missing:
            yield (
                f"{key}: {_names(missing)} not in selection.methods ({_names(methods)}); "
                f"add it to selection.methods or remove it from {key}"
            )
    imported = cfg["selection"]["imported"]
    if "imported" in methods:
        path = imported["path"]
        if not path:
            yield (
                "selection.imported.path: selection.methods has imported but no neuron file is set; "
                "set selection.imported.path (a local file or URL) or remove imported"
            )
        elif "://" not in path and not Path(path).is_file():
            yield f"selection.imported.path: file {path} does not exist; give an existing file or a URL"
        if not set(imported["languages"]) & set(cfg["languages"]):
            yield (
                f"selection.imported.languages: none of {_names(imported['languages'])} is in languages "
                f"({_names(cfg['languages'])}); list the languages of the file, in the file's order"
            )


def _null_draws_problems(cfg: dict) -> Iterator[str]:
    """``uncertainty.null_draws`` per method: methods of the perplexity matrices, each with 1 draw or more."""
    draws = cfg["uncertainty"]["null_draws"]
    if not isinstance(draws, dict):
        return
    methods = ppl_methods(cfg)
    unknown = [m for m in draws if m not in methods]
    if unknown:
        yield (
            f"uncertainty.null_draws: {_names(unknown)} not in perplexity.methods ({_names(methods)}); "
            "remove it from the mapping or add it to perplexity.methods"
        )
    for method, n in draws.items():
        if n < 1:
            yield (
                f"uncertainty.null_draws.{method}: {n} draws leave nothing to compare with; give it 1 or more "
                f"(19 allow p = 0.05) or leave {method} out of the mapping (no null for it)"
            )


def questions_asked(cfg: dict, mvicuna_url: str | None = None) -> tuple[dict[str, int], bool]:
    """Questions per language that generation and steering ask (the set cut at ``questions.max_questions``), and
    whether every count is known before the questions job (a set not yet downloaded or named counts as 70)."""
    if mvicuna_url is None:
        mvicuna_url = _schema(str(SCHEMA))["properties"]["questions"]["properties"]["url"]["default"]
    counts, first = question_counts(cfg, mvicuna_url), cfg["questions"]["max_questions"]
    asked = {lang: min(counts.get(lang, first or MVICUNA_QUESTIONS), first or math.inf) for lang in cfg["languages"]}
    return {lang: int(n) for lang, n in asked.items()}, set(counts) >= set(cfg["languages"]) or first is not None


def split_work(cfg: dict, model: str) -> list[StageWork]:
    """The GPU stages of ``model`` under a validated config: jobs and the work of the largest one
    (``splitting.model_work``); the rules' wall times and ``langneurons plan`` read it."""
    return model_work(cfg, model, ppl_methods(cfg), questions_asked(cfg)[0], task_methods(cfg), task_documents(cfg))


def task_documents(cfg: dict) -> dict[str, int | None]:
    """Documents per harness task of the tasks stage: the bundled task's items, else ``tasks.limit`` (None when
    neither fixes it)."""
    limit, bundled_items = cfg["tasks"]["limit"], cfg["tasks"]["bundled"]["items"]
    return {task: bundled_items if task.startswith(BUNDLED_PREFIX) else limit for task in task_specs(cfg)}


def _split_problems(cfg: dict, schema: dict) -> Iterator[str]:
    """A stage split into more jobs than it has work (the jobs' own minimum, 1, is the schema's)."""
    mvicuna_url = schema["properties"]["questions"]["properties"]["url"]["default"]
    known = questions_asked(cfg, mvicuna_url)[1]
    what = {
        "perplexity": "evaluations (each language with none and with each language's neurons off, per method)",
        "perplexity_null": f"blocks of {NULL_BLOCK} rows (a random draw on one valid sequence) of the null",
        "generate": f"batches of generation.batch_size ({cfg['generation']['batch_size']}) prompts per method",
        "steer": f"batches of generation.batch_size ({cfg['generation']['batch_size']}) steering prompts",
        "steer_sweep": f"batches of generation.batch_size ({cfg['generation']['batch_size']}) prompts of the sweep",
        "judge": "answers to judge",
        "tasks": "conditions of the tasks stage (normal, random, each language's neurons off or on)",
    }
    fewest: dict[str, tuple[int, str]] = {}
    for name in cfg["models"]:
        for work in split_work(cfg, name):
            if work.stage in JOB_KEYS and (
                known or work.stage in ("perplexity", "perplexity_null", "steer_sweep", "tasks")
            ):
                if work.stage not in fewest or work.units < fewest[work.stage][0]:
                    fewest[work.stage] = (work.units, name)
    for stage, (units, name) in fewest.items():
        section, key = JOB_KEYS[stage]
        jobs = cfg[section][key]
        if units and jobs > units:  # no work at all is another check's to report
            model = f" of models.{name}" if len(cfg["models"]) > 1 else ""
            yield (
                f"{section}.{key}: {jobs} jobs for {units} {what[stage]}{model}: a job would have nothing to do; "
                f"set at most {units}"
            )


def _file_map_problems(key: str, files: dict, languages: list[str]) -> Iterator[str]:
    """A ``{lang: file}`` (or ``{lang: {train: file, valid: file}}``) setting covers every language."""
    missing = [lang for lang in languages if lang not in files]
    if missing:
        yield f"{key}: no entry for {_names(missing)}; give a file for every language in languages"
    for lang in languages:
        entry = files.get(lang)
        paths = entry if isinstance(entry, dict) else {None: entry} if entry is not None else {}
        for part, path in paths.items():
            if not Path(path).is_file():
                where = f"{key}.{lang}" if part is None else f"{key}.{lang}.{part}"
                yield f"{where}: file {path} does not exist; fix the path (relative to the folder Snakemake runs in)"


def _corpus_problems(corpus: dict, languages: list[str]) -> Iterator[str]:
    if corpus["source"] == "files":
        yield from _file_map_problems("corpus.files", corpus["files"], languages)
    elif corpus["source"] == "wikipedia":
        wiki = corpus["wikipedia"]
        dataset = Path(wiki["dataset"])
        if dataset.is_dir():
            missing = [lang for lang in languages if not (dataset / f"{wiki['snapshot']}.{lang}").is_dir()]
            if missing:
                folders = _names(f"{wiki['snapshot']}.{lang}" for lang in missing)
                yield f"corpus.wikipedia.dataset: {dataset} has no folder {folders}; add them or drop those languages"
        elif _looks_local(wiki["dataset"]):
            yield (
                f"corpus.wikipedia.dataset: folder {dataset} does not exist; give a local copy "
                "({snapshot}.{lang}/*.parquet) or a hub id (wikimedia/wikipedia)"
            )


def _bundled_problems(cfg: dict) -> Iterator[str]:
    """Languages and topics of the bundled data, for every setting that reads it."""
    readers = {"corpus": [], "questions": []}
    if cfg["corpus"]["source"] == "bundled":
        readers["corpus"].append("corpus.source: bundled")
    if cfg["questions"]["source"] == "bundled" and _generates(cfg):
        readers["questions"].append("questions.source: bundled")
    if sweep_stage(cfg) and cfg["steering"]["sweep"]["question_set"] == "bundled":
        readers["questions"].append("steering.sweep.question_set: bundled")
    ses_items = cfg["ses"]["items"]
    if ses_items == "passages":
        readers["corpus"].append("ses.items: passages")
    elif cfg["questions"]["source"] == "bundled":  # else SES reads the configured question set
        readers["questions"].append("ses.items: questions")
    for kind, settings in readers.items():
        have = bundled_languages(kind)
        missing = [lang for lang in cfg["languages"] if lang not in have]
        if settings and missing:
            yield (
                f"languages: {_names(missing)} not in the bundled {kind} ({_names(have)}), which "
                f"{' and '.join(settings)} read; drop those languages or change those settings"
            )
    if readers["corpus"]:
        topics = bundled_topic_count()
        if cfg["corpus"]["valid_topics"] >= topics:
            yield (
                f"corpus.valid_topics: {cfg['corpus']['valid_topics']} leaves no train topic "
                f"(the bundled corpus has {topics}); use at most {topics - 1}"
            )


def _language_id_problems(cfg: dict) -> Iterator[str]:
    """Every language must be one lingua knows wherever languages are identified: the corpus check
    (unless corpus.language_filter is false) and the answers of generation and steering."""
    users = (["the corpus check (corpus.language_filter)"] if cfg["corpus"]["language_filter"] is not False else []) + (
        ["generation and steering"] if _generates(cfg) else []
    )
    if not users:
        return
    from lingua import Language  # here, not at module level: the gate stays light when nothing is identified

    supported = sorted(lang.iso_code_639_1.name.lower() for lang in Language.all())
    unknown = [lang for lang in cfg["languages"] if lang not in supported]
    if unknown:
        yield (
            f"languages: language identification (lingua), which {' and '.join(users)} use, does not know "
            f"{_names(unknown)}; it knows the ISO 639-1 codes {_names(supported)}. Drop those languages, or set "
            "corpus.language_filter: false and skip generation and steering (generation.methods: [], steering.method: null)"
        )


def _tasks_problems(cfg: dict) -> Iterator[str]:
    """The downstream tasks: each mapped to a configured language, each name a task of the harness or of the
    user's folders, local data files present (the harness itself is imported only for a name the quick scan of
    its task files does not find)."""
    tasks = cfg["tasks"]
    if not tasks["methods"]:
        return
    languages = cfg["languages"]
    specs = task_specs(cfg)
    if tasks["tasks"] is not None and not tasks["tasks"]:
        yield "tasks.tasks: no task; map harness tasks to their languages ({xnli_fr: fr}), or null for the bundled task"
    if not specs:  # the bundled task (tasks.tasks null) and no language of the bundled corpus: no stage
        return
    for name, spec in specs.items():
        if spec["language"] is None:
            yield (
                f"tasks.tasks.{name}: no language; map each task to the language it tests, one of "
                f"{_names(languages)} (e.g. {name}: {languages[0]})"
            )
        elif spec["language"] not in languages:
            yield f"tasks.tasks.{name}: its language {spec['language']} is not in languages ({_names(languages)})"
    folders = include_paths(cfg)
    missing = [f for f in folders if not Path(f).is_dir()]
    for folder in missing:
        yield f"tasks.include_path: folder {folder} does not exist; give folders of task YAML files"
    have = bundled_languages("corpus")
    bundled = [lang for lang in uses_bundled(cfg) if lang not in languages or lang not in have]
    if bundled:
        yield (
            f"tasks.tasks: {_names(BUNDLED_PREFIX + lang for lang in bundled)}: the bundled task is built for the "
            f"configured languages that the bundled corpus covers only ({_names(l for l in languages if l in have)})"
        )
    if tasks["tasks"] is None or missing:
        return
    names = [n for n in specs if not n.startswith(BUNDLED_PREFIX)]
    yield from unknown_task_problems(names, folders)
    yield from local_data_problems(names, folders)


def _generation_problems(cfg: dict, mvicuna_url: str) -> Iterator[str]:
    """Settings read only when the generation or steering stage runs."""
    languages, gen = cfg["languages"], cfg["generation"]
    questions = cfg["questions"]
    if questions["source"] == "files":
        yield from _file_map_problems("questions.files", questions["files"], languages)
    elif questions["source"] == "mvicuna":
        if "{lang}" not in questions["url"]:
            yield f"questions.url: {questions['url']} lacks {{lang}} (filled with each language code); add it"
        unavailable = [
            lang
            for lang in languages
            if questions["url"] == mvicuna_url
            and lang not in MVICUNA_LANGUAGES
            and not (Path(questions["dir"]) / f"{lang}.txt").is_file()
        ]
        if unavailable:
            yield (
                f"languages: the authors' mvicuna questions lack {_names(unavailable)} (they have "
                f"{_names(MVICUNA_LANGUAGES)}); put {{lang}}.txt files in questions.dir or use questions.source: files"
            )

    if gen["template"] is not None:
        yield from _template_problems(gen["template"])
    yield from _instruction_problems(gen["instructions"], languages)

    steering = cfg["steering"]
    unknown = [lang for lang in steering["crosslingual_languages"] if lang not in languages]
    if steering["method"] and unknown:
        yield (
            f"steering.crosslingual_languages: {unknown} not in languages {languages}; "
            "list only configured languages or add them to languages"
        )

    judge = cfg["judge"]
    if judge["backend"] == "openai":
        if judge["model"] is None:
            yield "judge.model: backend openai needs the judge model's name (e.g. gpt-4o), or set judge.backend: local"
        url = judge["base_url"]
        if url is not None and (not url.startswith(("http://", "https://")) or not urlparse(url).hostname):
            yield f"judge.base_url: {url} is not a server's URL; write it as http://host:port/v1"
    yield from _question_count_problems(cfg, mvicuna_url)
    if sweep_stage(cfg):
        yield from _sweep_question_problems(cfg, mvicuna_url)
    references = bundled_languages("corpus")
    if judge["backend"] == "local" and not set(languages) & set(references):
        yield (
            f"judge.backend: the local judge calibrates on bundled passages, which none of {_names(languages)} has "
            f"(they cover {_names(references)}); use judge.backend: openai or none"
        )
    if judge["prompt"] is not None and judge["backend"] == "local":
        yield "judge.prompt: the local judge reads no prompt (it measures the answers); set it to null"
    if judge["prompt"] is not None and judge["backend"] == "openai":
        yield from _judge_prompt_problems(Path(judge["prompt"]))


def _judge_prompt_problems(path: Path) -> Iterator[str]:
    if not path.is_file():
        yield f"judge.prompt: the template file {path} does not exist; fix the path or set it to null"
        return
    missing = [p for p in ("{question}", "{answer}") if p not in path.read_text(encoding="utf-8")]
    if missing:
        yield f"judge.prompt: the template {path} lacks {' and '.join(missing)}; add them"


def question_counts(cfg: dict, mvicuna_url: str) -> dict[str, int]:
    """How many questions each language's configured set holds, where that can be told before the questions job."""
    questions, counts = cfg["questions"], {}
    for lang in cfg["languages"]:
        if questions["source"] == "bundled":
            path = Path(str(bundled_questions_file(lang)))
        elif questions["source"] == "files":
            path = Path(questions["files"].get(lang) or "")
        else:
            path = Path(questions["dir"]) / f"{lang}.txt"
            if not path.is_file():
                if questions["url"] == mvicuna_url and lang in MVICUNA_LANGUAGES:
                    counts[lang] = MVICUNA_QUESTIONS
                continue
        if path.is_file():
            counts[lang] = question_count(path)
    return counts


def question_count(path) -> int:
    """Questions in a question file: one per non-blank line, in .txt and .jsonl alike (0 when it does not exist)."""
    path = Path(str(path))
    if not path.is_file():
        return 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        return sum(1 for line in fh if line.strip())


def _question_count_problems(cfg: dict, mvicuna_url: str) -> Iterator[str]:
    counts = question_counts(cfg, mvicuna_url)
    if not counts:
        return
    fewest = min(counts.values())
    smallest = ", ".join(f"{lang}: {n}" for lang, n in counts.items() if n == fewest)
    asked = cfg["questions"]["max_questions"]
    if asked is not None and asked > fewest:
        yield (
            f"questions.max_questions: {asked} is more than the question set holds ({smallest}); "
            f"set at most {fewest}, or null for all"
        )
    elif cfg["generation"]["methods"] and min(asked or fewest, fewest) < 2:
        yield (
            f"questions.max_questions: the judge's shuffled control pairs each answer with another question of its "
            f"language, and {'max_questions is 1' if asked == 1 else f'the question set holds 1 ({smallest})'}; "
            "give 2 or more questions per language"
        )


def _sweep_question_problems(cfg: dict, mvicuna_url: str) -> Iterator[str]:
    """The sweep answers the last ``sweep.questions`` of its set: never questions the tables use, never more than
    the set holds."""
    sweep, asked = cfg["steering"]["sweep"], cfg["questions"]["max_questions"]
    n, key = sweep["questions"], "steering.sweep.questions"
    if sweep["question_set"] == "bundled":
        have = {lang: question_count(bundled_questions_file(lang)) for lang in cfg["languages"]}
        have = {lang: count for lang, count in have.items() if count}  # a missing language: _bundled_problems
        shared = cfg["questions"]["source"] == "bundled"
    else:
        have, shared = question_counts(cfg, mvicuna_url), True
    if not have:
        return
    fewest = min(have.values())
    smallest = ", ".join(f"{lang}: {count}" for lang, count in have.items() if count == fewest)
    used = (fewest if asked is None else min(asked, fewest)) if shared else 0
    if n > fewest:
        yield f"{key}: {n} is more than the question set holds ({smallest}); set at most {fewest}"
    elif used + n > fewest:
        tables = f"{asked} (questions.max_questions)" if asked is not None else "all (questions.max_questions: null)"
        other = "" if cfg["questions"]["source"] == "bundled" else ", or set steering.sweep.question_set: bundled"
        yield (
            f"{key}: the sweep answers the last {n} questions of each language ({smallest}) and the generation and "
            f"steering tables the first {tables}: they overlap, so the strength would be chosen on answers it is "
            f"reported on; lower questions.max_questions or {key}{other}"
        )


#: Settings that a choice makes unused: (the choosing key, its value) -> the keys it ignores.
IGNORED = {
    ("judge.backend", "local"): ("judge.model", "judge.base_url", "judge.api_key_env", "judge.concurrency"),
    ("judge.backend", "none"): ("judge.model", "judge.base_url", "judge.prompt", "judge.api_key_env"),
    ("questions.source", "bundled"): ("questions.files", "questions.url"),
    ("questions.source", "files"): ("questions.url",),
    ("questions.source", "mvicuna"): ("questions.files",),
    ("corpus.source", "bundled"): ("corpus.files",),
    ("corpus.source", "files"): ("corpus.valid_topics",),
    ("corpus.source", "wikipedia"): ("corpus.files", "corpus.valid_topics"),
}


def _ignored_settings(cfg: dict, schema: dict) -> Iterator[str]:
    """Keys set to something other than their default that the chosen backend or source never reads."""

    def value(dotted):
        node = cfg
        for part in dotted.split("."):
            node = node[part]
        return node

    def default(dotted):
        node = schema
        for part in dotted.split("."):
            node = node["properties"][part]
        return node.get("default")

    for (choice, chosen), keys in IGNORED.items():
        if value(choice) == chosen:
            for key in keys:
                if value(key) != default(key):
                    yield f"{key}: {choice} {chosen} does not read it, so {value(key)!r} is ignored; remove it"
    if sweeps(cfg):
        for key in ("steering.mode", "steering.strength"):
            if value(key) != default(key):
                yield (
                    f"{key}: the main steering uses the setting the sweep (steering.sweep.strengths) chooses per "
                    f"target language, so {value(key)!r} is ignored; remove it"
                )


def _capped_settings(cfg: dict, schema: dict) -> Iterator[str]:
    """A cap larger than what it caps: harmless (everything is used), but not the number the config says."""
    ses = cfg["ses"]
    if ses["items"] == "questions":
        counts = question_counts(cfg, schema["properties"]["questions"]["properties"]["url"]["default"])
        fewest = min(counts.values(), default=None)
        if fewest is not None and ses["max_items"] > fewest:
            yield (
                f"ses.max_items: {ses['max_items']} is more than the question set holds ({fewest} in "
                f"{', '.join(lang for lang, n in counts.items() if n == fewest)}), so SES uses {fewest}; "
                f"set at most {fewest}"
            )


def _template_problems(template: str) -> Iterator[str]:
    path = Path(template)
    if not path.is_file():
        yield f"generation.template: file {path} does not exist; fix the path or set null for the bundled template"
        return
    text = path.read_text(encoding="utf-8")
    if "{question}" not in text:
        yield f"generation.template: {path} lacks {{question}}; add it where the question goes"
        return
    try:  # the prompt is built with str.format: any other {name} breaks it
        text.format(question="", instruction="")
    except (KeyError, IndexError, ValueError) as err:
        yield (
            f"generation.template: {path} cannot be filled ({type(err).__name__}: {err}); "
            "use only {question} and {instruction}, and double literal braces ({{ }})"
        )


def _instruction_problems(instructions: str | None, languages: list[str]) -> Iterator[str]:
    key = "generation.instructions"
    path = Path(instructions) if instructions is not None else Path(str(INSTRUCTIONS))
    if not path.is_file():
        yield f"{key}: file {path} does not exist; fix the path or set null for the bundled instructions"
        return
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        yield f"{key}: {path} is not valid JSON ({err}); write an object {{language: instruction}}"
        return
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        yield f"{key}: {path} must be a JSON object {{language: instruction text}}"
        return
    missing = [lang for lang in languages if lang not in table]
    if missing:
        yield (
            f"{key}: {path if instructions is not None else 'the bundled instructions'} have none for "
            f'{_names(missing)}; set {key} to a JSON file {{language: instruction}} for every language ("" for none)'
        )


def ppl_methods(config: dict) -> list[str]:
    """The methods whose neurons the perplexity matrices deactivate (null = every selected method)."""
    return config["perplexity"]["methods"] or config["selection"]["methods"]
