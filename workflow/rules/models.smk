rule prepare_model:
    """Download (hub) or convert (embedded GGUF) a model once, for offline loading."""
    output:
        os.path.join(config["resources_dir"], "models", "{model}", "model.json"),
    log:
        os.path.join(RESULTS, "logs", "prepare_model", "{model}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "prepare_model", "{model}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        spec=model_spec,
    script:
        "../scripts/prepare_model.py"
