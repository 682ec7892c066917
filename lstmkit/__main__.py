from lstmkit.cli import main

main()
