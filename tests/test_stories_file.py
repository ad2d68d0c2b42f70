"""experiments/stories_file.py writes the grammar's stories in TinyStories' .txt format, read back whole."""

from pathlib import Path

from experiments.stories_file import main, write_stories_file
from learning_law.data.corpus import generate_corpus
from learning_law.data.tinystories import read_txt


def test_the_file_reads_back_as_the_grammar_stories(tmp_path, capsys):
    path = tmp_path / "s.txt"
    assert main([str(path), "--stories", "30", "--seed", "4"]) == 0
    assert read_txt(path) == [s.strip() for s in generate_corpus(30, 4)[0]]
    before = path.read_bytes()
    write_stories_file(path, 5, 0)  # an existing file is left as it is
    assert path.read_bytes() == before and Path(capsys.readouterr().out.strip()) == path
