import numpy as np
import pytest
from PIL import Image

from plots import readme_figure as RF


def test_readme_figure_puts_the_two_figures_side_by_side_at_one_height(tmp_path):
    (tmp_path / "figures").mkdir()
    Image.fromarray(np.full((100, 200, 3), (255, 0, 0), np.uint8)).save(tmp_path / "figures" / "loss_curves.png")
    Image.fromarray(np.full((50, 300, 3), (0, 0, 255), np.uint8)).save(tmp_path / "figures" / "gamma_heatmap.png")
    out = tmp_path / "docs" / "main.png"
    assert RF.main([str(tmp_path), "--out", str(out), "--width", "800"]) == 0
    im = np.asarray(Image.open(out).convert("RGB"))
    # 200x100 and (scaled to height 100) 600x100: 800 wide, a quarter red then blue
    assert im.shape == (100, 800, 3)
    np.testing.assert_allclose(im[50, 100], (255, 0, 0), atol=4)
    np.testing.assert_allclose(im[50, 500], (0, 0, 255), atol=4)


def test_readme_figure_names_the_missing_figure(tmp_path):
    with pytest.raises(FileNotFoundError, match="gamma_heatmap.png"):
        RF.compose(tmp_path)
