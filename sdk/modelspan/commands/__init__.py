"""Sub-commands of ``modelspan``: one module each, exposing ``register(subparsers)``.

``register`` adds a sub-parser and sets ``handler=<function(args) -> int>`` as its default, e.g.::

    def register(subparsers):
        parser = subparsers.add_parser("baseline", help="build a baseline profile")
        parser.set_defaults(handler=run)
"""
