"""What runs inside a training pod, and behind ``kubetune dataset``.

- ``datasets``: streaming readers for the six formats, the sources (file, http(s), Postgres), validation, the
  rejection policy, the train/validation split and the digest, and the Postgres export;
- ``backends``: Hugging Face (transformers + PEFT + TRL) and Unsloth, and the choice between them;
- ``progress``: the trainer callback and the HTTP endpoint that serves /progress and /metrics;
- ``checkpoints``, ``output``, ``termination``, ``durable``: resumable checkpoints, the atomic adapter output and its
  manifest, the termination message, and the fsync both rely on;
- ``runner``: the run from config to result; ``main``: the process entry point and its exit codes.

Nothing here talks to Kubernetes: a training pod has no API credentials. It never imports the operator
(``controllers``, ``builders``, ``store``) or kopf. Heavy libraries (torch, transformers) are imported only by the
modules that train, so the dataset commands start fast and stay small.
"""
