rule corpus:
    """Documents per language, train and valid split (bundled, Wikipedia or user files)."""
    output:
        train=os.path.join(RESULTS, "corpus", "{lang}.train.jsonl"),
        valid=os.path.join(RESULTS, "corpus", "{lang}.valid.jsonl"),
    log:
        os.path.join(RESULTS, "logs", "corpus", "{lang}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "corpus", "{lang}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        corpus=corpus_source(),
    script:
        "../scripts/corpus.py"


rule tokenize:
    """Tokenize per model and pack into sequences of seq_len, up to the split's token budget."""
    input:
        docs=os.path.join(RESULTS, "corpus", "{lang}.{split}.jsonl"),
        model=model_json,
    output:
        os.path.join(RESULTS, "{model}", "tokens", "{lang}.{split}.pt"),
    log:
        os.path.join(RESULTS, "logs", "tokenize", "{model}", "{lang}.{split}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "tokenize", "{model}", "{lang}.{split}.tsv")
    conda:
        "../../envs/langneurons.yaml"
    params:
        seq_len=seq_len,
        budget=token_budget,
    script:
        "../scripts/tokenize.py"
