"""DistillationTrainer: one GradientTape for the student's descent and the balancer's ascent.

L = lambda * L_KL + (1 - lambda) * L_FS (+ ce_weight * CE), lambda = AB_phi(sg(L_KL),
sg(L_FS), t). The gradient of L is applied as descent to the student and the connector,
and negated (ascent) to the balancer AB_phi. The teacher is frozen: it runs with
``training=False`` outside the tape and none of its variables are updated.

By default the student sees one view and multi-resolution reaches it only through the
teacher's fused map. ``student_views`` naming several views runs the student on each of
them separately (the "multi-resolution for teacher and student" comparison); every term
is then the mean over those views.

Under a tf.distribute strategy each replica gets its share of the global batch: lambda
comes from [L_KL, L_FS] averaged over the replicas (the same lambda on every one), and
the loss differentiated is the replica's mean divided by the number of replicas, so the
gradients summed across replicas are those of the global batch.
"""

from typing import Sequence

import tensorflow as tf

from candle_tf.distribute import global_batch_loss, replica_mean
from candle_tf.losses import feature_similarity, kl_distillation
from candle_tf.metrics import BalancedAccuracy


class DistillationTrainer(tf.keras.Model):
    """Student + connector + balancer, distilled from a frozen calibrated teacher.

    Args:
      student: raw pixels -> ``[logits, features]``.
      connector: student features -> the teacher's fused-feature shape.
      teacher: teacher views -> ``[logits, fused_features]``; never updated.
      balancer: ``[L_KL, L_FS, t]`` -> softmax weights; lambda is the first.
      teacher_views: names of the views the teacher reads, in its input order.
      temperature: tau of the KL term.
      total_steps: training steps of the whole stage, for the progress t in [0, 1].
      ce_weight: weight of an optional ground-truth cross-entropy on the student.
      fixed_lambda: if set, lambda is this constant and the balancer is not used.
      lambda_clamp: c in [0, 0.5): the balancer's lambda is clipped into [c, 1 - c]
        (0: no clamp).
      student_views: names of the views the student runs on, each separately; any view
        but ``"student"`` needs a student built for any input size. The training
        accuracy is that of the first view; ``call`` (evaluation) uses ``"student"``.
    """

    def __init__(self, student: tf.keras.Model, connector: tf.keras.Model,
                 teacher: tf.keras.Model, balancer: tf.keras.Model,
                 teacher_views: Sequence[str], temperature: float = 2.0,
                 total_steps: int = 1, ce_weight: float = 0.0, fixed_lambda=None,
                 lambda_clamp: float = 0.0, student_views: Sequence[str] = ("student",),
                 **kwargs):
        super().__init__(**kwargs)
        self.student, self.connector, self.balancer = student, connector, balancer
        self.teacher = teacher
        self.teacher.trainable = False
        self.teacher_views = list(teacher_views)
        self.temperature = float(temperature)
        self.total_steps = max(1, int(total_steps))
        self.ce_weight = float(ce_weight)
        self.fixed_lambda = fixed_lambda
        if not 0.0 <= lambda_clamp < 0.5:
            raise ValueError(f"--lambda_clamp={lambda_clamp} must be in [0, 0.5): lambda is "
                             "clipped into [c, 1 - c]; 0 switches the clamp off.")
        self.lambda_clamp = float(lambda_clamp)
        self.student_views = list(student_views)
        if not self.student_views:
            raise ValueError("student_views is empty: give at least one view name, e.g. "
                             "['student'].")
        size = tuple(student.input_shape[1:3])
        if self.student_views != ["student"] and size != (None, None):
            raise ValueError(
                f"student_views={self.student_views} runs the student on other views, but it "
                f"only takes {size[0]}x{size[1]} inputs: build it with input shape (None, "
                f"None, channels), e.g. builders.student(..., any_resolution=True).")
        self.loss_tracker = tf.keras.metrics.Mean(name="loss")
        self.accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.balanced_accuracy = BalancedAccuracy(student.outputs[0].shape[-1])
        # A step's logs (lambda and the replica-averaged terms too) are the same on every
        # replica: log the first replica's, not their sum (Keras' default).
        self.distribute_reduction_method = "first"

    def compile(self, optimizer, balancer_optimizer, **kwargs):
        """``optimizer`` descends for student + connector; ``balancer_optimizer`` ascends."""
        super().compile(optimizer=optimizer, **kwargs)
        self.balancer_optimizer = balancer_optimizer
        # Create the slot variables now: creating them inside the first traced step would
        # make tf.function trace the whole step twice.
        self.optimizer.build(self.descent_variables)
        self.balancer_optimizer.build(self.balancer.trainable_variables)

    @property
    def descent_variables(self):
        """What descends: the student and the connector."""
        return self.student.trainable_variables + self.connector.trainable_variables

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy, self.balanced_accuracy]

    def call(self, views, training=False):
        return self.student(views["student"], training=training)[0]

    def progress(self) -> tf.Tensor:
        """Fraction of the stage's steps done, in [0, 1]."""
        done = tf.cast(self.optimizer.iterations, tf.float32) / self.total_steps
        return tf.minimum(done, 1.0)

    def distillation_terms(self, views, labels, training: bool):
        """Returns (L_KL, L_FS, CE, logits of the first student view) for a batch.

        Each student view's features go through the connector to the teacher's grid; the
        three terms are averaged over the student views.
        """
        teacher_logits, teacher_features = self.teacher(
            [views[name] for name in self.teacher_views], training=False)
        terms = []
        for name in self.student_views:
            logits, features = self.student(views[name], training=training)
            projected = self.connector(features, training=training)
            ce = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True))
            terms.append((kl_distillation(teacher_logits, logits, self.temperature),
                          feature_similarity(teacher_features, projected), ce, logits))
        l_kl, l_fs, ce = (tf.add_n(list(values)) / len(terms)
                          for values in list(zip(*terms))[:3])
        return l_kl, l_fs, ce, terms[0][3]

    def balance(self, l_kl, l_fs) -> tf.Tensor:
        """lambda from AB_phi on the detached loss values and the progress (clamped)."""
        if self.fixed_lambda is not None:
            return tf.constant(float(self.fixed_lambda))
        state = tf.stack([tf.stop_gradient(l_kl), tf.stop_gradient(l_fs), self.progress()])
        lam = self.balancer(state[None, :], training=True)[0, 0]
        if self.lambda_clamp:
            lam = tf.clip_by_value(lam, self.lambda_clamp, 1.0 - self.lambda_clamp)
        return lam

    def train_step(self, data):
        views, labels = data
        descent = self.descent_variables
        ascent = [] if self.fixed_lambda is not None else self.balancer.trainable_variables
        with tf.GradientTape() as tape:
            l_kl, l_fs, ce, logits = self.distillation_terms(views, labels, training=True)
            global_kl, global_fs = tf.unstack(replica_mean(tf.stack([l_kl, l_fs])))
            lam = self.balance(global_kl, global_fs)
            loss = lam * l_kl + (1.0 - lam) * l_fs + self.ce_weight * ce
            scaled_loss = global_batch_loss(loss)
        gradients = tape.gradient(scaled_loss, descent + ascent)
        self.optimizer.apply_gradients(zip(gradients[:len(descent)], descent))
        if ascent:
            self.balancer_optimizer.apply_gradients(
                zip([-g for g in gradients[len(descent):]], ascent))
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(labels, logits)
        return {"loss": self.loss_tracker.result(), "accuracy": self.accuracy.result(),
                "lambda": lam, "l_kl": global_kl, "l_fs": global_fs}

    def test_step(self, data):
        views, labels = data
        logits = self(views, training=False)
        self.accuracy.update_state(labels, logits)
        self.balanced_accuracy.update_state(labels, logits)
        return {"accuracy": self.accuracy.result(),
                "balanced_accuracy": self.balanced_accuracy.result()}
