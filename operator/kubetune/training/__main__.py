"""``python -m kubetune.training --config /etc/kubetune/job.json``."""

from kubetune.training.main import main

raise SystemExit(main())
