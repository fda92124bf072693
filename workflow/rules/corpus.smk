rule corpus:
    """Documents per language, train and valid split (bundled, Wikipedia or user files)."""
    output:
        train=os.path.join(RESULTS, "corpus", "{lang}.train.jsonl"),
        valid=os.path.join(RESULTS, "corpus", "{lang}.valid.jsonl"),
    params:
        corpus=config["corpus"],
    log:
        os.path.join(RESULTS, "logs", "corpus", "{lang}.log"),
    conda:
        "../../envs/langneurons.yaml"
    script:
        "../scripts/corpus.py"


rule tokenize:
    """Tokenize per model and pack into sequences of seq_len, up to each split's budget."""
    input:
        train=os.path.join(RESULTS, "corpus", "{lang}.train.jsonl"),
        valid=os.path.join(RESULTS, "corpus", "{lang}.valid.jsonl"),
        model=model_json,
    output:
        train=os.path.join(RESULTS, "{model}", "tokens", "{lang}.train.pt"),
        valid=os.path.join(RESULTS, "{model}", "tokens", "{lang}.valid.pt"),
    params:
        seq_len=seq_len,
        budgets=token_budgets,
    log:
        os.path.join(RESULTS, "logs", "tokenize", "{model}", "{lang}.log"),
    conda:
        "../../envs/langneurons.yaml"
    script:
        "../scripts/tokenize.py"
