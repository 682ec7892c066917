from lstmkit.cli import main

raise SystemExit(main())
