from infomin_cli.cli import main

main()
