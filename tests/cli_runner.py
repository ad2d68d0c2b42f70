"""One way for the tests to call the command line: exit code and everything printed."""

from learning_law.cli import main


def run(argv, capsys) -> tuple[int, str]:
    """``learning-law ARGV`` in-process: (exit code, stdout + stderr)."""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err
