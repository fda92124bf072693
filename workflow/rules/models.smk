rule prepare_model:
    """Download (hub) or convert (embedded GGUF) a model once, for offline loading."""
    output:
        os.path.join(config["resources_dir"], PREPARED_MODEL),
    log:
        R.log("prepare_model", "{model}"),
    benchmark:
        R.benchmark("prepare_model", "{model}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        spec=model_spec,
    script:
        "../scripts/prepare_model.py"
