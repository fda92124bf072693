rule questions:
    """Questions per language (bundled, mvicuna download, or files)."""
    output:
        os.path.join(RESULTS, "questions", "{lang}.jsonl"),
    log:
        os.path.join(RESULTS, "logs", "questions", "{lang}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "questions", "{lang}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        # the whole set (SES reads it too); each consumer takes its own first n
        questions={k: v for k, v in config["questions"].items() if k != "max_questions"},
    script:
        "../scripts/questions.py"


rule generate:
    """Answers under normal, random and each language's neurons deactivated."""
    input:
        model=model_json,
        questions=question_files,
        neurons=os.path.join(RESULTS, "{model}", "neurons", "{method}.neuron.pth"),
        random=os.path.join(RESULTS, "{model}", "neurons", "random.neuron.pth"),
    output:
        os.path.join(RESULTS, "{model}", "generation", "{method}.raw.jsonl"),
    log:
        os.path.join(RESULTS, "logs", "generate", "{model}", "{method}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "generate", "{model}", "{method}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime,
    params:
        model=model_cfg,
        generation=config["generation"],
        max_questions=config["questions"]["max_questions"],
        languages=LANGS,
    script:
        "../scripts/generate.py"


rule steer:
    """Steered answers: off-target mitigation and cross-lingual steering."""
    input:
        model=model_json,
        questions=question_files,
        neurons=steering_neurons,
        stats=language_stats,
    output:
        os.path.join(RESULTS, "{model}", "steering", "raw.jsonl"),
    log:
        os.path.join(RESULTS, "logs", "steer", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "steer", "{model}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime,
    params:
        model=model_cfg,
        generation=config["generation"],
        steering=config["steering"],
        max_questions=config["questions"]["max_questions"],
        languages=LANGS,
        with_normal=not GEN_METHODS,
    script:
        "../scripts/steer.py"


rule judge:
    """Language identification and content quality (1-5) of every answer; paper-shaped tables."""
    input:
        model=model_json,
        generated=generated_answers,
        steered=steered_answers,
    output:
        answers=expand(os.path.join(RESULTS, "{{model}}", "generation", "{method}.answers.jsonl"), method=GEN_METHODS),
        quality=expand(os.path.join(RESULTS, "{{model}}", "generation", "{method}.quality.csv"), method=GEN_METHODS),
        accuracy=expand(
            os.path.join(RESULTS, "{{model}}", "generation", "{method}.language_accuracy.csv"), method=GEN_METHODS
        ),
        steering=STEER_OUTPUTS,
    log:
        os.path.join(RESULTS, "logs", "judge", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "judge", "{model}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=judge_gpus,
        mem_mb=mem_mb,
        runtime=runtime,
        openai_api=judge_api_slots,
    params:
        model=model_cfg,
        judge=config["judge"],
        languages=LANGS,
        methods=GEN_METHODS,
        cache=os.path.join(RESULTS, "judge_cache"),
    script:
        "../scripts/judge.py"
