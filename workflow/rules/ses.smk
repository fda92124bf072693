rule ses:
    """Sentence embedding similarity across languages per layer, on parallel items."""
    input:
        model=model_json,
        # ses.items: questions = the configured question set (bundled, mvicuna or files)
        questions=question_files if config["ses"]["items"] == "questions" else [],
    output:
        R.pattern("ses"),
    log:
        R.log("ses", "{model}"),
    benchmark:
        R.benchmark("ses", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("ses"),
    params:
        model=model_cfg,
        ses=config["ses"],
        valid_topics=config["corpus"]["valid_topics"],
        languages=LANGS,
    script:
        "../scripts/ses.py"
