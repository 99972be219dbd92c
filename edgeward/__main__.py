from edgeward.app.cli import main

raise SystemExit(main())
