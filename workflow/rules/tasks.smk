localrules:
    bundled_tasks,


rule bundled_tasks:
    """The bundled offline task of every language (harness YAML over a JSONL file), from the bundled valid passages;
    one-token answers preferred for the model's tokenizer (the harness then scores an item in one forward pass)."""
    input:
        model=model_json,
    output:
        data=expand(R.pattern("bundled_task_data"), lang=BUNDLED_TASK_LANGS, allow_missing=True),
        task=expand(R.pattern("bundled_task"), lang=BUNDLED_TASK_LANGS, allow_missing=True),
    log:
        R.log("bundled_tasks", "{model}"),
    benchmark:
        R.benchmark("bundled_tasks", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        bundled=config["tasks"]["bundled"],
        valid_topics=config["corpus"]["valid_topics"],
        languages=BUNDLED_TASK_LANGS,
    script:
        "../scripts/bundled_tasks.py"


rule tasks:
    """lm-evaluation-harness tasks under normal, random and each language's neurons deactivated (or activated)."""
    input:
        model=model_json,
        neurons=R.pattern("neurons"),
        random=task_random_neurons,
        stats=task_stats,
        bundled=bundled_task_files,
    output:
        table=R.pattern("task_table"),
        specificity=R.pattern("task_specificity"),
        samples=R.pattern("task_samples"),
        harness=R.pattern("task_harness"),
        figure=report(
            R.pattern("task_figure"),
            caption="../../report/captions/tasks.rst",
            category="Downstream tasks",
            subcategory="{model}",
            labels={"model": "{model}", "method": "{method}", "figure": "task change"},
        ),
    log:
        R.log("tasks", "{model}/{method}"),
    benchmark:
        R.benchmark("tasks", "{model}/{method}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("tasks"),
    params:
        model=model_cfg,
        tasks={k: v for k, v in config["tasks"].items() if k not in ("methods", "batch_size", "bundled")},
        specs=TASK_SPECS,
        steering=task_steering(),
        uncertainty={k: config["uncertainty"][k] for k in ("bootstrap_samples", "confidence", "seed")},
        languages=LANGS,
    script:
        "../scripts/tasks.py"
