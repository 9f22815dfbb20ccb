from backfill.cli import main

raise SystemExit(main())
