"""Stage 3: the long-tailed test report of a student or a calibrated teacher, with its
classifier's weight norm per class and the training class counts."""

import numpy as np

from candle_tf import builders
from candle_tf.config import RunConfig
from candle_tf.data.dataset import LongTailedDataset
from candle_tf.evaluate import evaluate
from candle_tf.models.heads import classifier_head
from candle_tf.models.students import logits_model


def weight_norms(kernel) -> list:
    """L2 norm of each class's column of a (features, classes) kernel.

    >>> weight_norms([[3.0, 0.0], [4.0, 1.0]])
    [5.0, 1.0]
    """
    return np.linalg.norm(np.asarray(kernel), axis=0).tolist()


def student_report(config: RunConfig, dataset: LongTailedDataset, student_path: str) -> dict:
    """The test report of the student whose weights ``student_path`` holds."""
    student = builders.student(config, dataset)
    student.load_weights(student_path)
    report = evaluate(logits_model(student), dataset, config.student_view_size,
                      config.eval_batch_size, config.eval_crop_fraction)
    return {**report, "classifier_norms": weight_norms(classifier_head(student).kernel),
            "train_counts": dataset.train_counts.tolist()}


def teacher_report(config: RunConfig, dataset: LongTailedDataset, teacher_path: str) -> dict:
    """The same report for a calibrated teacher (its norms include the LWS scales)."""
    teacher = builders.load_calibrated_teacher(config, dataset, teacher_path)
    report = evaluate(teacher, dataset, config.teacher_view_sizes, config.eval_batch_size,
                      config.eval_crop_fraction)
    kernel = teacher.get_layer("classifier").kernel * teacher.get_layer("lws").scales[None, :]
    return {**report, "classifier_norms": weight_norms(kernel),
            "train_counts": dataset.train_counts.tolist()}
