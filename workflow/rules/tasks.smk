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


rule tasks_part:
    """One of tasks.jobs even shares of the conditions of the tasks stage (one GPU job): their harness runs."""
    input:
        model=model_json,
        neurons=R.pattern("neurons"),
        random=task_random_neurons,
        stats=task_stats,
        bundled=bundled_task_files,
    output:
        R.pattern("task_part"),
    log:
        R.log("tasks_part", "{model}/{method}.{part}"),
    benchmark:
        R.benchmark("tasks_part", "{model}/{method}.{part}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("tasks"),
    params:
        model=model_cfg,
        tasks=TASK_SETTINGS,
        specs=TASK_SPECS,
        steering=task_steering(),
        uncertainty=TASK_UNCERTAINTY,
        languages=LANGS,
        jobs=JOBS["tasks"],
    script:
        "../scripts/tasks.py"


rule tasks:
    """lm-evaluation-harness tasks under normal, random and each language's neurons deactivated (or activated):
    one job (tasks.jobs 1), or the parts' runs merged on this machine."""
    input:
        model=model_json,
        neurons=R.pattern("neurons"),
        random=task_random_neurons,
        stats=task_stats,
        bundled=bundled_task_files,
        parts=part_files("task_part", "tasks", "method"),
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
    localrule: JOBS["tasks"] > 1
    conda:
        "../../envs/langneurons.yaml"
    threads: split("tasks", GPU_THREADS, 1)
    resources:
        gpu=split("tasks", gpus, 0),
        mem_mb=split("tasks", mem_mb, MERGE_MEM_MB),
        runtime=split("tasks", runtime("tasks"), MERGE_MINUTES),
    params:
        model=model_cfg,
        tasks=TASK_SETTINGS,
        specs=TASK_SPECS,
        steering=task_steering(),
        uncertainty=TASK_UNCERTAINTY,
        languages=LANGS,
    script:
        "../scripts/tasks.py"
