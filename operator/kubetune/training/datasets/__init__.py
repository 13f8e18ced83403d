"""Datasets: read rows from a source, normalise the six formats to one shape, validate, split and digest them.

- ``records``: the normalised example shape and the ``Issue`` a bad row produces;
- ``formats``: one normaliser per format (``openai``, ``chatml``, ``alpaca``, ``sharegpt``, ``prompt-completion``,
  ``text``);
- ``jsonl``: the streaming JSON Lines reader (bad UTF-8 and bad JSON become issues with their line number);
- ``sources``: a local file or directory, an http(s) URL, or a Postgres query, as a stream of rows;
- ``postgres`` and ``mapping``: the read-only, server-side-cursor query and the column mapping into a format;
- ``lengths``: token counts with the base model's tokenizer; ``validation``: the checks and the report;
- ``split``: the hash-based train/validation split; ``loading``: all of it, with the rejection policy;
- ``export``: Postgres to JSON Lines for ``kubetune dataset export``.

No torch here: the tokenizer is passed in by the caller, so ``kubetune dataset`` stays light.
"""
