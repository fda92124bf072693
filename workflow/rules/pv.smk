# Parameter variation (PV), the paper's baseline that fine-tunes: instruction data per
# language, one tuning job per model and language (parallel on a cluster), then the
# selection over all languages' variations (docs/pv.md).


localrules:
    instructions,


rule instructions:
    """Instruction examples per language (bundled topics or an instruction dataset), for PV."""
    output:
        os.path.join(RESULTS, "instructions", "{lang}.jsonl"),
    log:
        os.path.join(RESULTS, "logs", "instructions", "{lang}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "instructions", "{lang}.tsv")
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
        examples=os.path.join(RESULTS, "instructions", "{lang}.jsonl"),
    output:
        os.path.join(RESULTS, "{model}", "pv", "{lang}.pt"),
    log:
        os.path.join(RESULTS, "logs", "pv_tune", "{model}", "{lang}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "pv_tune", "{model}", "{lang}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    threads: GPU_THREADS
    resources:
        gpu=gpus,
        mem_mb=mem_mb,
        runtime=runtime,
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
        neurons=os.path.join(RESULTS, "{model}", "neurons", "pv.neuron.pth"),
        counts=os.path.join(RESULTS, "{model}", "neurons", "pv.counts.csv"),
        overlap=os.path.join(RESULTS, "{model}", "neurons", "pv.overlap.csv"),
        jaccard=os.path.join(RESULTS, "{model}", "neurons", "pv.jaccard.csv"),
    log:
        os.path.join(RESULTS, "logs", "pv_select", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "pv_select", "{model}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        rates={k: config["selection"][k] for k in ("top_rate", "filter_rate", "activation_bar_ratio")},
        languages=LANGS,
    script:
        "../scripts/pv_select.py"
