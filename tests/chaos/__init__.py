"""The fault harness (`./dev chaos`): the real stack under a steady load of residents while its
processes and servers are killed and restarted; counts what residents lost."""
