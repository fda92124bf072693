rule corpus:
    """Documents per language, train and valid split (bundled, Wikipedia or user files)."""
    output:
        train=R.pattern("corpus", split="train"),
        valid=R.pattern("corpus", split="valid"),
    log:
        R.log("corpus", "{lang}"),
    benchmark:
        R.benchmark("corpus", "{lang}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        corpus=corpus_source(),
    script:
        "../scripts/corpus.py"


rule tokenize:
    """Tokenize per model and pack into sequences of seq_len, up to the split's token budget."""
    input:
        docs=R.pattern("corpus"),
        model=model_json,
    output:
        R.pattern("tokens"),
    log:
        R.log("tokenize", "{model}/{lang}.{split}"),
    benchmark:
        R.benchmark("tokenize", "{model}/{lang}.{split}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        seq_len=seq_len,
        budget=token_budget,
    script:
        "../scripts/tokenize.py"
