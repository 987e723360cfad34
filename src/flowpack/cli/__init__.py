"""The ``flowpack`` command line: parse, call the store, render.  No storage logic lives here.

Nouns: the *CLI context* (:class:`flowpack.cli.context.CliContext`) carries the global options
and the lazily opened store; a *command module* (``objects``, ``refs``, ``maintenance``) holds
one family of click commands and lists them in ``COMMANDS``; :mod:`flowpack.cli.main` names
every command in ``COMMAND_TABLE``, imports a family when one of its commands runs, and turns
errors into one line and an exit code.

Exit codes: 0 success, 1 failure or damage found, 2 usage error, 3 lost compare-and-set race,
130 interrupted.
"""
