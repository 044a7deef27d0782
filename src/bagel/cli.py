"""The `bagel` command: argument parsing only; the work happens in the modules it calls.

Each stage registers its own commands (``register(app)`` in its ``commands`` module) so adding a
stage is one line here, and every error a user can cause is printed as one line with exit 2.
"""

from __future__ import annotations

import sys

import typer

from bagel.errors import BagelError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="bagel: what your image classifier still gets wrong, and why.")


def _register_stages() -> None:
    from bagel.data import commands as data_commands
    from bagel.mistakes import commands as mistakes_commands
    from bagel.neighbors import commands as neighbors_commands
    from bagel.review import commands as review_commands
    from bagel.report import commands as report_commands
    from bagel import evaluate_commands, demo_commands

    for module in (data_commands, evaluate_commands, mistakes_commands, neighbors_commands, review_commands, report_commands, demo_commands):
        module.register(app)


_register_stages()


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except BagelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # typer/click exit codes (help, usage errors)
        return int(e.code or 0)
    except Exception as e:
        # Usage errors of the (possibly vendored) click underneath typer: shown as click shows them.
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            return int(e.exit_code)
        if type(e).__name__ == "Abort":
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
