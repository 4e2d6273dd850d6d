"""``python -m custseg`` runs the command line."""
from .cli import main

main()
