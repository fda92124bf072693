rule questions:
    """Questions per language (bundled, mvicuna download, or files)."""
    output:
        R.pattern("questions"),
    log:
        R.log("questions", "{lang}"),
    benchmark:
        R.benchmark("questions", "{lang}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        # the whole set (SES reads it too); each consumer takes its own first n
        questions={k: v for k, v in config["questions"].items() if k != "max_questions"},
    script:
        "../scripts/questions.py"


rule generate_part:
    """One of generation.jobs even shares of a method's batches of prompts (one GPU job): its answers."""
    input:
        model=model_json,
        questions=question_files,
        neurons=R.pattern("neurons"),
        random=R.pattern("neurons", method="random"),
    output:
        R.pattern("generated_part"),
    log:
        R.log("generate_part", "{model}/{method}.{part}"),
    benchmark:
        R.benchmark("generate_part", "{model}/{method}.{part}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("generate"),
    params:
        model=model_cfg,
        generation=config["generation"],
        max_questions=config["questions"]["max_questions"],
        languages=LANGS,
        jobs=JOBS["generate"],
    script:
        "../scripts/generate.py"


rule generate:
    """Answers under normal, random and each language's neurons deactivated (one job, or the parts joined)."""
    input:
        model=model_json,
        questions=question_files,
        neurons=R.pattern("neurons"),
        random=R.pattern("neurons", method="random"),
        parts=part_files("generated_part", "generate", "method"),
    output:
        R.pattern("generated"),
    log:
        R.log("generate", "{model}/{method}"),
    benchmark:
        R.benchmark("generate", "{model}/{method}")
    localrule: JOBS["generate"] > 1
    conda:
        "../../envs/langneurons.yaml"
    threads: split("generate", GPU_THREADS, 1)
    resources:
        gpu=split("generate", gpus, 0),
        mem_mb=split("generate", mem_mb, MERGE_MEM_MB),
        runtime=split("generate", runtime("generate"), MERGE_MINUTES),
    params:
        model=model_cfg,
        generation=config["generation"],
        max_questions=config["questions"]["max_questions"],
        languages=LANGS,
    script:
        "../scripts/generate.py"


rule steer_sweep_part:
    """One of steering.sweep_jobs even shares of the sweep's batches (one GPU job): its answers."""
    input:
        model=model_json,
        questions=sweep_question_files,
        neurons=steering_neurons,
        stats=language_stats,
    output:
        R.pattern("sweep_raw_part"),
    log:
        R.log("steer_sweep_part", "{model}/{part}"),
    benchmark:
        R.benchmark("steer_sweep_part", "{model}/{part}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("steer_sweep"),
    params:
        model=model_cfg,
        generation=config["generation"],
        steering=sweep_settings(),
        modes=STEER_MODES,
        languages=LANGS,
        jobs=JOBS["steer_sweep"],
    script:
        "../scripts/steer_sweep.py"


rule steer_sweep:
    """How strongly to steer: every (mode, strength) point of the sweep, off-target and cross-lingual, and the
    deactivation dose-response, on the sweep's held-out questions (one job, or the parts joined)."""
    input:
        model=model_json,
        questions=sweep_question_files,
        neurons=steering_neurons,
        stats=language_stats,
        parts=part_files("sweep_raw_part", "steer_sweep"),
    output:
        R.pattern("sweep_raw"),
    log:
        R.log("steer_sweep", "{model}"),
    benchmark:
        R.benchmark("steer_sweep", "{model}")
    localrule: JOBS["steer_sweep"] > 1
    conda:
        "../../envs/langneurons.yaml"
    threads: split("steer_sweep", GPU_THREADS, 1)
    resources:
        gpu=split("steer_sweep", gpus, 0),
        mem_mb=split("steer_sweep", mem_mb, MERGE_MEM_MB),
        runtime=split("steer_sweep", runtime("steer_sweep"), MERGE_MINUTES),
    params:
        model=model_cfg,
        generation=config["generation"],
        steering=sweep_settings(),
        modes=STEER_MODES,
        languages=LANGS,
    script:
        "../scripts/steer_sweep.py"


rule judge_sweep:
    """The sweep's answers judged; its curves, the setting chosen per target language, the dose-response's answers."""
    input:
        model=model_json,
        answers=R.pattern("sweep_raw"),
    output:
        answers=R.pattern("sweep_answers"),
        sweep=R.pattern("sweep"),
        chosen=R.pattern("sweep_chosen"),
        deactivation=R.pattern("sweep_deactivation"),
    log:
        R.log("judge_sweep", "{model}"),
    benchmark:
        R.benchmark("judge_sweep", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=judge_gpus,
        mem_mb=mem_mb,
        runtime=runtime("judge_sweep"),
        openai_api=judge_api_slots,
    params:
        model=model_cfg,
        judge=config["judge"],
        generation=config["generation"],
        uncertainty=config["uncertainty"],
        sweep=config["steering"]["sweep"],
        modes=STEER_MODES,
        languages=LANGS,
        cache=R.pattern("judge_cache"),
    script:
        "../scripts/judge_sweep.py"


rule steer_part:
    """One of steering.jobs even shares of the steering batches (one GPU job): its answers."""
    input:
        model=model_json,
        questions=question_files,
        neurons=steering_neurons,
        stats=language_stats,
        chosen=chosen_strengths,
    output:
        R.pattern("steered_part"),
    log:
        R.log("steer_part", "{model}/{part}"),
    benchmark:
        R.benchmark("steer_part", "{model}/{part}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("steer"),
    params:
        model=model_cfg,
        generation=config["generation"],
        steering=steering_settings(),
        max_questions=config["questions"]["max_questions"],
        languages=LANGS,
        with_normal=not GEN_METHODS,
        jobs=JOBS["steer"],
    script:
        "../scripts/steer.py"


rule steer:
    """Steered answers: off-target mitigation and cross-lingual steering (with the sweep's chosen settings; one job,
    or the parts joined)."""
    input:
        model=model_json,
        questions=question_files,
        neurons=steering_neurons,
        stats=language_stats,
        chosen=chosen_strengths,
        parts=part_files("steered_part", "steer"),
    output:
        R.pattern("steered"),
    log:
        R.log("steer", "{model}"),
    benchmark:
        R.benchmark("steer", "{model}")
    localrule: JOBS["steer"] > 1
    conda:
        "../../envs/langneurons.yaml"
    threads: split("steer", GPU_THREADS, 1)
    resources:
        gpu=split("steer", gpus, 0),
        mem_mb=split("steer", mem_mb, MERGE_MEM_MB),
        runtime=split("steer", runtime("steer"), MERGE_MINUTES),
    params:
        model=model_cfg,
        generation=config["generation"],
        steering=steering_settings(),
        max_questions=config["questions"]["max_questions"],
        languages=LANGS,
        with_normal=not GEN_METHODS,
    script:
        "../scripts/steer.py"


rule judge_part:
    """One of judge.jobs even shares of the judging (local: the model's likelihood batches; openai: the answers)."""
    input:
        model=model_json,
        generated=generated_answers,
        steered=steered_answers,
    output:
        R.pattern("judge_part"),
    log:
        R.log("judge_part", "{model}/{part}"),
    benchmark:
        R.benchmark("judge_part", "{model}/{part}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=judge_gpus,
        mem_mb=mem_mb,
        runtime=runtime("judge"),
        openai_api=judge_api_slots,
    params:
        model=model_cfg,
        judge=config["judge"],
        generation=config["generation"],
        uncertainty=config["uncertainty"],
        languages=LANGS,
        methods=GEN_METHODS,
        cache=R.pattern("judge_cache"),
        jobs=JOBS["judge"],
    script:
        "../scripts/judge.py"


rule judge:
    """Language of every answer (as a whole, per line and per word) and content quality (1-5); paper-shaped tables.

    One job (judge.jobs 1), or the parts' work merged on this machine.
    """
    input:
        model=model_json,
        generated=generated_answers,
        steered=steered_answers,
        parts=part_files("judge_part", "judge"),
    output:
        answers=expand(R.pattern("answers"), method=GEN_METHODS, allow_missing=True),
        quality=expand(R.pattern("quality"), method=GEN_METHODS, allow_missing=True),
        accuracy=expand(R.pattern("language_accuracy"), method=GEN_METHODS, allow_missing=True),
        quality_ci=expand(R.pattern("quality_ci"), method=GEN_METHODS, allow_missing=True),
        accuracy_ci=expand(R.pattern("language_accuracy_ci"), method=GEN_METHODS, allow_missing=True),
        quality_control=expand(R.pattern("quality_control"), method=GEN_METHODS, allow_missing=True),
        confusion=expand(R.pattern("confusion"), method=GEN_METHODS, allow_missing=True),
        steering=[R.pattern(name) for name in STEER_OUTPUTS],
    log:
        R.log("judge", "{model}"),
    benchmark:
        R.benchmark("judge", "{model}")
    localrule: JOBS["judge"] > 1
    conda:
        "../../envs/langneurons.yaml"
    threads: split("judge", GPU_THREADS, 1)
    resources:
        gpu=split("judge", judge_gpus, 0),
        mem_mb=split("judge", mem_mb, MERGE_MEM_MB),
        runtime=split("judge", runtime("judge"), MERGE_MINUTES),
        openai_api=judge_api_slots,
    params:
        model=model_cfg,
        judge=config["judge"],
        generation=config["generation"],
        uncertainty=config["uncertainty"],
        languages=LANGS,
        methods=GEN_METHODS,
        cache=R.pattern("judge_cache"),
    script:
        "../scripts/judge.py"
