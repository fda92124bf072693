import os

# Tests never reach the hub: the real download paths are tested on local data.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import filecmp
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def loaded(architecture: str = "LlamaForCausalLM", seed: int = 0, **sizes):
    """A tiny random model wrapped like a prepared one (model, tokenizer, adapter)."""
    from langneurons.models import LoadedModel, get_adapter
    from langneurons.models.tiny import byte_tokenizer, tiny_model

    model = tiny_model(architecture, seed=seed, **sizes)
    return LoadedModel(model=model, tokenizer=byte_tokenizer(), adapter=get_adapter(model), device=torch.device("cpu"))


@pytest.fixture(scope="session")
def tiny_llama():
    return loaded("LlamaForCausalLM", num_layers=3, d_ff=48)


@pytest.fixture
def quick_stream_shutdown(monkeypatch):
    """`datasets` sleeps 5 s after each streamed split so that PyArrow's threads stop before the interpreter might
    exit (a crash at exit otherwise); the test process goes on running, so a short pause does (the tests that
    stream a local Wikipedia or instruction copy: 35 s of sleep)."""
    import datasets.config

    monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 0.1)


# ------------------------------------------------------------------ the smoke workflow, run once per session
def write_smoke_config(path: Path, results: Path, resources: Path, **changes) -> dict:
    """configs/smoke.yaml with results and prepared models elsewhere and top-level ``changes``, written to ``path``."""
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg.update(results=str(results), resources_dir=str(resources), **changes)
    # keys sorted, as every test writes its variants: Snakemake compares params by repr, so the order of a
    # config's keys alone would make every job look changed
    path.write_text(yaml.safe_dump(cfg))
    return cfg


@dataclass(frozen=True)
class SmokeRun:
    """The finished smoke workflow: its config (as written), config file, results and prepared-models folders."""

    cfg: dict
    config: Path
    results: Path  # cfg["results"]
    resources: Path  # cfg["resources_dir"]
    model: str  # the one model's name

    @property
    def model_results(self) -> Path:
        return self.results / self.model

    def copy_results(self, to: Path) -> Path:
        """A copy of the results folder (file times kept, so Snakemake sees the same finished jobs there)."""
        shutil.copytree(self.results, to, copy_function=shutil.copy2)
        return to

    def differing_files(self, results: Path) -> list[str]:
        """The files of the model's results in another run (results folder ``results``) that differ from this
        run's; ``[]`` when both hold the same files, equal as ``same_result`` compares them."""
        mine, theirs = result_files(self.model_results), result_files(results / self.model)
        assert theirs == mine, f"other files: {sorted(set(mine) ^ set(theirs))}"
        return [
            str(rel)
            for rel in mine
            if not same_result(self.model_results / rel, results / self.model / rel, self.results, results)
        ]


# the folders of a split stage's parts (only a split run has them); stats/parts are counting's, every run has them
SPLIT_PARTS = {
    "ppl/parts",
    "ppl/null_parts",
    "generation/parts",
    "steering/parts",
    "steering/sweep_parts",
    "judge/parts",
    "tasks/parts",
}
# what legitimately differs between two runs of a saved tensor file: a job's wall time
VOLATILE_KEYS = {"seconds"}


def result_files(model_results: Path) -> list[Path]:
    """A model's result files (relative paths), without the split stages' parts or the report's own page."""
    return sorted(
        rel
        for rel in (p.relative_to(model_results) for p in model_results.rglob("*") if p.is_file())
        if rel.parent.as_posix() not in SPLIT_PARTS and rel.suffix != ".html"
    )


def same_result(a: Path, b: Path, a_results: Path, b_results: Path) -> bool:
    """Byte for byte, but for the results folder's own path (which the bundled task files and the harness's task
    configs name) and, in saved tensor files, for the jobs' wall times (torch.equal on every tensor)."""
    if filecmp.cmp(a, b, shallow=False):
        return True
    if a.suffix in (".pt", ".pth"):
        same_object(torch.load(a, weights_only=False), torch.load(b, weights_only=False), str(a))
        return True
    return a.read_bytes() == b.read_bytes().replace(str(b_results).encode(), str(a_results).encode())


def same_object(a, b, where: str = "") -> None:
    """Equal nested dicts, lists and tensors (dtype and values) but for VOLATILE_KEYS; asserts, naming where not."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), f"tensor differs at {where}"
    elif isinstance(a, dict):
        assert set(a) == set(b), f"keys differ at {where}: {set(a) ^ set(b)}"
        for key in a:
            if key not in VOLATILE_KEYS:
                same_object(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"lengths differ at {where}"
        for i, (x, y) in enumerate(zip(a, b)):
            same_object(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def shared_folder(tmp_path_factory) -> Path:
    """This test run's temporary folder, the same for every pytest-xdist worker (each has a subfolder of it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> SmokeRun:
    """configs/smoke.yaml run once per test run, end to end, with `snakemake --cores 2 --max-threads 1` from the
    repository root (by the first pytest-xdist worker that needs it; the others wait for it and read it).

    Shared by every test that needs finished smoke results (tests/integration/test_workflow_smoke.py checks
    them; the split, tasks and openai judge tests rerun stages on a copy; tests/slurm compares the Slurm run with
    them): read-only, copy before changing anything.
    """
    from filelock import FileLock

    shared = shared_folder(tmp_path_factory)
    out, done = shared / "smoke", shared / "smoke.done"
    config = out / "smoke.yaml"
    with FileLock(shared / "smoke.lock"):
        if not done.exists():
            assert not out.exists(), f"the smoke run failed in another worker: see {out / 'snakemake.log'}"
            out.mkdir()
            write_smoke_config(config, out / "results", out / "resources")
            # one thread per job: the tiny model gains nothing from threads, two jobs run at once
            with open(out / "snakemake.log", "w") as log:
                run = subprocess.run(
                    ["snakemake", "--cores", "2", "--max-threads", "1", "--configfile", str(config)],
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            assert run.returncode == 0, (out / "snakemake.log").read_text()[-6000:]
            done.touch()
    cfg = yaml.safe_load(config.read_text())
    (model,) = cfg["models"]
    return SmokeRun(cfg, config, out / "results", out / "resources", model)


# Under pytest-xdist (`-n 2 --dist loadfile`: a file's tests on one worker) the workers take files in this order:
# the longest first, so that the Slurm run and the real model start at once and the rest fills in around them.
LONGEST_FIRST = (
    "tests/slurm/test_slurm.py",
    "tests/integration/test_embedded_model.py",
    "tests/integration/test_split_workflow.py",
    "tests/integration/test_openai_judge_workflow.py",
    "tests/integration/test_tasks_workflow.py",
    "tests/integration/test_workflow_smoke.py",
)


def pytest_collection_modifyitems(items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest keeps its order
