"""``python -m flowpack``: the ``flowpack`` command."""

from flowpack.cli.main import main

if __name__ == "__main__":
    main()
