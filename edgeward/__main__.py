from edgeward.cli import main

raise SystemExit(main())
