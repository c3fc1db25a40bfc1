"""``tarsier describe`` at scale: inputs, batched generation, resumable JSON-lines output, several processes.

- :mod:`.inputs` — files, folders, globs and text / JSON-lines lists → the ordered list of inputs;
- :mod:`.records` — the ``--output`` JSON-lines file: append as produced, resume, per-rank shards, merge;
- :mod:`.batching` — background decoding (DataLoader workers; each input decoded once) and left-padded batches;
- :mod:`.generation` — chunked vision encoding and greedy generation of one batch;
- :mod:`.runner` — the loop: sharding across processes, progress, failures, summary (:func:`.runner.describe`).

Only :mod:`.inputs` and :mod:`.records` are free of torch, so the command line answers quickly.
"""
