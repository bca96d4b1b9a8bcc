"""RunConfig: every setting of a CANDLE run, with METHOD.md's values as defaults.

Library code takes a RunConfig; only the apps read flags (``candle_tf/app_flags.py``).
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Optional, Tuple


@dataclass(frozen=True)
class RunConfig:
    """One CANDLE run. Learning rates marked "per 128" are scaled by batch / 128."""

    # Data.
    dataset: str = "fashion_mnist_lt"
    data_dir: str = ""
    imbalance_ratio: float = 100.0
    images_per_class: int = 0
    val_per_class: int = 20
    seed: int = 0
    augmentation: str = "crop_flip"
    eval_crop_fraction: float = 1.0
    # Stage 0: the pretrained teacher.
    teacher: str = "resnet152"
    teacher_weights: str = "imagenet"
    pretrain_epochs: int = 3
    pretrain_images_per_class: int = 0
    pretrain_batch_size: int = 128
    pretrain_lr: float = 1e-3
    # Stage 1: calibration.
    resolutions: Tuple[int, ...] = (224,)
    calib_epochs: int = 10
    calib_batch_size: int = 128
    calib_lr: float = 1e-3
    calib_momentum: float = 0.9
    calib_weight_decay: float = 5e-4
    calib_warmup_epochs: int = 5
    smoothing_head: float = 0.1
    smoothing_tail: float = 0.0
    class_balanced: bool = True
    calibration_bn: str = "adapt"
    # Stage 2: distillation.
    student: str = "reactnet_a"
    student_resolution: int = 224
    width_multiplier: float = 1.0
    stem_stride: int = 2
    distill_epochs: int = 200
    distill_batch_size: int = 128
    student_lr: float = 1e-2
    temperature: float = 2.0
    balance: str = "kl_pair"
    balanced_kl: str = "student"
    fs_weight: float = 0.5
    head_pass: bool = True
    feature_target: str = "pooled"
    kl_reduction: str = "classes"
    balancer_lr: float = 1e-3
    balancer_hidden: Tuple[int, ...] = (8, 8)
    lambda_clamp: float = 0.0
    label_loss: str = "ce"
    ce_weight: float = 0.0
    fixed_lambda: Optional[float] = None
    two_step: bool = False
    select: str = "best_val"
    # Stages 3-4: evaluation and export.
    eval_batch_size: int = 256
    parity_images: int = 1000
    export_model_name: str = "candle_student"
    export_version: int = 1
    # Not part of the result: where and how verbosely to run.
    workdir: str = field(default="runs/default", metadata={"result": False})
    strategy: str = field(default="default", metadata={"result": False})
    verbose: int = field(default=1, metadata={"result": False})
    log_every: int = field(default=100, metadata={"result": False})

    def result_settings(self) -> dict:
        """The settings that change the result (compared when a run is resumed)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.metadata.get("result", True)}

    @property
    def view_sizes(self) -> dict:
        """Every view the distillation data pipeline makes: the student's and the teacher's."""
        return {"student": self.student_resolution, **self.teacher_view_sizes}

    @property
    def teacher_view_sizes(self) -> dict:
        return {f"teacher_{i}": size for i, size in enumerate(self.resolutions)}
