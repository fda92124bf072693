import json
import os

from langneurons.activations import load_stats, stack_stats
from langneurons.io import atomic_write
from langneurons.models import job_settings, load_for_job
from langneurons.neuronsets import load_model_neurons
from langneurons.plots import task_heatmap
from langneurons.runlog import job_part, start
from langneurons.splitting import part_range
from langneurons.tasks import (
    change_matrix,
    condition_plans,
    harness_model,
    harness_summary,
    load_harness_tasks,
    load_runs,
    run_conditions,
    save_runs,
    task_batch_size,
    task_specificity,
    task_table,
    write_samples,
)

# Rules tasks_part (a share of the conditions: a part file) and tasks (all of them, or the parts merged; the
# same tables either way).
log = start(snakemake)
languages, cfg, specs = snakemake.params.languages, snakemake.params.tasks, snakemake.params.specs
unc = snakemake.params.uncertainty
# the tasks first: a task that cannot load (unknown, data missing offline) stops the job before the model loads
bundled = sorted({os.path.dirname(path) for path in snakemake.input.bundled})
folders = bundled + ([cfg["include_path"]] if isinstance(cfg["include_path"], str) else list(cfg["include_path"]))
manager, tasks = load_harness_tasks(specs, folders)
log.info("%d tasks loaded: %s", len(tasks), ", ".join(tasks))

method = snakemake.wildcards.method
if snakemake.rule == "tasks" and snakemake.input.parts:  # the parts ran the model
    runs = load_runs(snakemake.input.parts)
    log.info("%d conditions from %d parts", len(runs), len(snakemake.input.parts))
else:
    lm = load_for_job(snakemake)
    neurons = load_model_neurons(snakemake.input.neurons, languages, lm)
    random_neurons = None
    if snakemake.input.random:
        random_neurons = load_model_neurons(snakemake.input.random[0], languages, lm)
    means = stack_stats([load_stats(path) for path in snakemake.input.stats])[1] if snakemake.input.stats else None
    model_settings = job_settings(snakemake)
    configured = snakemake.config["tasks"]["batch_size"] or model_settings["batch_size"]
    batch_size = task_batch_size(lm, configured, model_settings["seq_len"])
    log.info("harness batch size %d", batch_size)
    hflm = harness_model(lm, batch_size)
    plans = condition_plans(
        neurons,
        random_neurons,
        means,
        languages,
        {name: spec["language"] for name, spec in specs.items()},
        cfg,
        snakemake.params.steering,
    )
    settings = {
        "num_fewshot": cfg["num_fewshot"],
        "limit": cfg["limit"],
        "bootstrap_iters": unc["bootstrap_samples"],
        "seed": cfg["seed"],
    }
    if snakemake.rule == "tasks_part":  # its share of the conditions, in the order one job runs them
        part, parts = job_part(snakemake)
        names = list(plans)
        plans = {names[i]: plans[names[i]] for i in part_range(len(names), part, parts)}
        log.info("part %d of %d: conditions %s", part + 1, parts, ", ".join(plans))
    runs = run_conditions(
        lm,
        hflm,
        manager,
        tasks,
        plans,
        settings,
        progress=lambda c, names: log.info("condition %s: %s", c, ", ".join(names)),
    )
if snakemake.rule == "tasks_part":
    save_runs(runs, snakemake.output[0])
else:
    table = task_table(runs, specs, tasks, unc["bootstrap_samples"], unc["seed"], unc["confidence"])
    table.to_csv(snakemake.output.table, index=False)  # full precision: the harness's own numbers
    spec = task_specificity(table, languages)
    spec.to_csv(snakemake.output.specificity, float_format="%.6g")
    lines = write_samples(runs, snakemake.output.samples)
    with atomic_write(snakemake.output.harness) as fh:
        json.dump(harness_summary(runs), fh, indent=1, default=str)
    task_heatmap(change_matrix(table, languages), f"{snakemake.wildcards.model}: {method}", snakemake.output.figure)
    log.info(
        "%s: %d conditions x %d tasks, %d sample lines; own language's tasks hurt most for %d/%d languages",
        method,
        len(runs),
        len(tasks),
        lines,
        int(spec["own_is_largest"].sum()),
        len(spec),
    )
