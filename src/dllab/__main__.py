from dllab.cli import main

raise SystemExit(main())
