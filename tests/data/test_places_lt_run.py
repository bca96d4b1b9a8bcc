"""``python -m candle_tf.train --dataset=places_lt`` end to end, on tiny JPEGs at the paths
of Places-LT's published lists: the capped run reports the published many / medium / few
groups and finishes its export."""

import json
import os
import subprocess
import sys
import time

import pytest

from candle_tf.models.teacher import build_encoder
from tests.data.places_lt_sample import lay_places_lt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAP = 1  # images per class in each list: 365 train, 365 val, 365 test
SMALL = ["--teacher=mobilenet_v2_035", "--resolutions=32", "--student_resolution=32",
         "--width_multiplier=0.125", "--augmentation=crop_flip", "--eval_crop_fraction=1",
         "--calib_epochs=1", "--calib_warmup_epochs=0", "--distill_epochs=1",
         "--calib_batch_size=64", "--distill_batch_size=64", "--eval_batch_size=128",
         "--parity_images=8", "--verbose=0"]


@pytest.mark.slow
def test_capped_places_lt_run_reports_the_published_groups_and_exports(tmp_path):
    data = tmp_path / "data"
    assert sum(lay_places_lt(str(data), CAP).values()) == 3 * 365 * CAP
    weights = str(tmp_path / "encoder.weights.h5")  # random weights: offline, and fast
    build_encoder("mobilenet_v2_035", "none").save_weights(weights)
    workdir = tmp_path / "run"
    start = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "candle_tf.train", "--dataset=places_lt", f"--data_dir={data}",
         f"--workdir={workdir}", f"--images_per_class={CAP}", f"--teacher_weights={weights}",
         *SMALL],
        capture_output=True, text=True, timeout=900, cwd=str(tmp_path),
        env={**os.environ, "PYTHONPATH": ROOT})  # this checkout, not the installed one
    print(f"places_lt run: {time.time() - start:.1f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the published list(s) shipped with candle_tf" in result.stdout
    assert f"365 LT training images ({CAP} to {CAP} per class)" in result.stdout
    metrics = json.loads((workdir / "metrics.json").read_text(),
                         parse_constant=lambda constant: pytest.fail(f"not JSON: {constant}"))
    assert metrics["train_counts"] == [CAP] * 365
    for report in metrics["models"].values():
        assert report["group_sizes"] == {"many": 131, "medium": 163, "few": 71}
        assert all(isinstance(report[group], float) for group in ("many", "medium", "few"))
    assert "(no classes)" not in result.stdout
    assert (workdir / "export" / "student.tflite").stat().st_size > 0
    assert metrics["export"]["parity"]["agreement"] >= 0.95
