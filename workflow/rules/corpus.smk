# Wikipedia budgets are in the model's tokens, so its documents are fetched per
# model; the bundled corpus and the user's files are shared by every model.
CORPUS = "wikipedia_corpus" if config["corpus"]["source"] == "wikipedia" else "corpus"


localrules:
    wikipedia_corpus,


rule corpus:
    """Documents per language, train and valid split (bundled or user files), their paragraphs' language checked."""
    output:
        train=R.pattern("corpus", split="train"),
        valid=R.pattern("corpus", split="valid"),
        check=R.pattern("corpus_check"),
    log:
        R.log("corpus", "{lang}"),
    benchmark:
        R.benchmark("corpus", "{lang}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        corpus=corpus_source(),
        languages=LANGS,
        seq_len=None,
    script:
        "../scripts/corpus.py"


rule wikipedia_corpus:
    """Wikipedia documents per model and language: each split until the model's tokenizer reaches its token budget."""
    input:
        model=model_json,
    output:
        train=R.pattern("wikipedia_corpus", split="train"),
        valid=R.pattern("wikipedia_corpus", split="valid"),
        check=R.pattern("wikipedia_corpus_check"),
    log:
        R.log("corpus", "{model}/{lang}"),
    benchmark:
        R.benchmark("corpus", "{model}/{lang}")
    conda:
        "../../envs/langneurons.yaml"
    params:
        corpus=corpus_source(),
        languages=LANGS,
        seq_len=seq_len,
    script:
        "../scripts/corpus.py"


rule tokenize:
    """Tokenize per model and pack into sequences of seq_len, up to the split's token budget."""
    input:
        docs=R.pattern(CORPUS),
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
