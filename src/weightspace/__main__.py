from weightspace.cli import main

raise SystemExit(main())
