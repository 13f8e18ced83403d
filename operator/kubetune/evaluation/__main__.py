"""``python -m kubetune.evaluation --config /etc/kubetune/evaluator.json``."""

from kubetune.evaluation.main import main

raise SystemExit(main())
