# Parameter variation (PV), the paper's baseline that fine-tunes: instruction data per
# language, one tuning job per model and language (parallel on a cluster), then the
# selection over all languages' variations (docs/pv.md).


localrules:
    instructions,


rule instructions:
    """Instruction examples per language (bundled topics or an instruction dataset), for PV."""
    output:
        R.pattern("instructions"),
    log:
        R.log("instructions", "{lang}"),
    benchmark:
        R.benchmark("instructions", "{lang}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        source=instruction_source(),
    script:
        "../scripts/instructions.py"


rule pv_tune:
    """Fine-tune the neurons' parameters on one language; write each neuron's relative change."""
    input:
        model=model_json,
        examples=R.pattern("instructions"),
    output:
        R.pattern("pv_variation"),
    log:
        R.log("pv_tune", "{model}/{lang}"),
    benchmark:
        R.benchmark("pv_tune", "{model}/{lang}")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime("pv_tune"),
    params:
        model=model_cfg,
        tuning={k: PV[k] for k in ("steps", "batch_size", "seq_len", "lr", "optimizer", "seed")},
    script:
        "../scripts/pv_tune.py"


rule pv_select:
    """PV neurons: LAPE's entropy procedure on the inverse variations of all languages."""
    input:
        pv_variations,
    output:
        neurons=R.pattern("neurons", method="pv"),
        counts=R.pattern("neuron_counts", method="pv"),
        overlap=R.pattern("neuron_overlap", method="pv"),
        jaccard=R.pattern("neuron_jaccard", method="pv"),
    log:
        R.log("pv_select", "{model}"),
    benchmark:
        R.benchmark("pv_select", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        rates=rates_of(config["selection"]),
        languages=LANGS,
    script:
        "../scripts/pv_select.py"
