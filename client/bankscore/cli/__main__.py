from bankscore.cli import main

main()
