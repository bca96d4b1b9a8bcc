"""DistillationTrainer: one GradientTape for the student's descent and the balancer's ascent.

The authors' objective (``Objective()``, METHOD.md "Stage 2"), for a batch with teacher
logits z_T (after LWS), student logits z_S, training prior pi:

* L_KL = KL(softmax(z_T/tau) || softmax(z_S/tau)); the class-balanced
  L_KL^bal = KL(softmax(z_T/tau) || softmax((z_S + log pi)/tau)) (``balanced_kl="both"``:
  log pi added to z_T too; ``"none"``: no balanced KL, w = [1, 0] and no balancer);
  L_FS = 2 - 2 cos(P(F_S), F_T) on the pooled features
  (``feature_target="pooled"``) or the feature maps (``"map"``).
* [w1, w2] = AB_phi(sg(L_KL), sg(L_KL^bal), t); the encoder's loss is
  L_enc = fs_weight * L_FS + (1 - fs_weight) * (w1 L_KL + w2 L_KL^bal) (+ a label term).
* Head pass (``head_pass``): the student's classifier is trained alone, with its own
  optimiser, on L_KL of features that carry no gradient to the encoder; L_enc then reaches
  the encoder through a stop-gradient copy of the classifier, so the classifier gets only
  the head loss and the encoder only L_enc. (The authors update the head first and then
  run the encoder pass; here both gradients come from the same forward pass.)

``balance="kl_fs"`` is the earlier reading: lambda = AB_phi(sg(L_KL), sg(L_FS), t)[0] and
L = lambda L_KL + (1 - lambda) L_FS (+ the label term).

One ``tape.gradient`` of (L_enc + head loss) gives every group its own gradient: the
student's encoder and the connector descend, the classifier descends the head loss, and
the balancer's gradient is negated (ascent). The teacher is frozen: it runs with
``training=False`` and none of its variables are updated.

Under a tf.distribute strategy each replica gets its share of the global batch: the
balancer's inputs are averaged over the replicas (the same weights on every one), and the
loss differentiated is the replica's mean divided by the number of replicas.
"""

import dataclasses
from dataclasses import dataclass
from typing import Optional, Sequence

import tensorflow as tf

from candle_tf.distribute import global_batch_loss, replica_mean
from candle_tf.config import check_values
from candle_tf.losses import (balanced_kl_distillation, feature_similarity, kl_distillation,
                              log_prior, sparse_cross_entropy)
from candle_tf.metrics import BalancedAccuracy
from candle_tf.models.students import core_network
from trainers.logits_trainer import track_accuracy


@dataclass(frozen=True)
class Objective:
    """The distillation objective; the defaults are the authors' code (METHOD.md)."""

    temperature: float = 2.0
    balance: str = "kl_pair"
    balanced_kl: str = "student"
    fs_weight: float = 0.5
    head_pass: bool = True
    feature_target: str = "pooled"
    kl_reduction: str = "classes"
    label_loss: str = "ce"
    ce_weight: float = 0.0
    fixed_lambda: Optional[float] = None
    lambda_clamp: float = 0.0

    def __post_init__(self):
        check_values(dataclasses.asdict(self))  # the same names and bounds as RunConfig's

    @property
    def balanced(self) -> bool:
        """Whether the adversarial balancer sets the weights (and so ascends)."""
        return self.fixed_lambda is None and not (
            self.balance == "kl_pair" and self.balanced_kl == "none")


class DistillationTrainer(tf.keras.Model):
    """Student + connector + balancer, distilled from a frozen calibrated teacher.

    Args:
      student: raw pixels -> ``[logits, features]``; its core network ends in global
        average pooling and a Dense layer named "logits" (every registered student).
      connector: the student's features (pooled as ``(batch, 1, 1, C)``, or its map) ->
        the teacher's fused-feature shape (pooled likewise).
      teacher: teacher views -> ``[logits, fused_features]``; never updated.
      balancer: ``[L_a, L_b, t]`` -> two softmax weights.
      teacher_views: names of the views the teacher reads, in its input order.
      class_counts: training images per class (the prior pi of the balanced KL).
      objective: the terms and their weights.
      total_steps: training steps of the whole stage, for the progress t in [0, 1].
      student_views: names of the views the student runs on, each separately (terms are
        averaged over them); any view but ``"student"`` needs a student built for any
        input size. ``call`` (evaluation) uses ``"student"``.
    """

    def __init__(self, student: tf.keras.Model, connector: tf.keras.Model,
                 teacher: tf.keras.Model, balancer: tf.keras.Model,
                 teacher_views: Sequence[str], class_counts,
                 objective: Objective = Objective(), total_steps: int = 1,
                 student_views: Sequence[str] = ("student",), **kwargs):
        super().__init__(**kwargs)
        self.student, self.connector, self.balancer = student, connector, balancer
        self.teacher = teacher
        self.teacher.trainable = False
        self.teacher_views = list(teacher_views)
        self.objective = objective
        self.prior_log = tf.constant(log_prior(class_counts))
        self.total_steps = max(1, int(total_steps))
        self.classifier = core_network(student).get_layer("logits")
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
        # A step's logs (weights and replica-averaged terms too) are the same on every
        # replica: log the first replica's, not their sum (Keras' default).
        self.distribute_reduction_method = "first"

    def compile(self, optimizer, balancer_optimizer, head_optimizer=None, **kwargs):
        """``optimizer`` descends for the student's encoder (and its classifier when there is
        no head pass) + connector; ``head_optimizer`` for the classifier's head pass;
        ``balancer_optimizer`` ascends."""
        if self.objective.head_pass and head_optimizer is None:
            raise ValueError("The head pass needs its own optimiser: pass head_optimizer.")
        super().compile(optimizer=optimizer, **kwargs)
        self.balancer_optimizer = balancer_optimizer
        self.head_optimizer = head_optimizer
        # Create the slot variables now: creating them inside the first traced step would
        # make tf.function trace the whole step twice.
        self.optimizer.build(self.descent_variables)
        self.balancer_optimizer.build(self.balancer.trainable_variables)
        if self.objective.head_pass:
            self.head_optimizer.build(self.head_variables)

    @property
    def head_variables(self):
        """What the head pass trains: the student's classifier (empty without a head pass)."""
        return self.classifier.trainable_variables if self.objective.head_pass else []

    @property
    def descent_variables(self):
        """What descends L_enc: the student (but its classifier when the head pass has it)
        and the connector."""
        head = {v.ref() for v in self.head_variables}
        return ([v for v in self.student.trainable_variables if v.ref() not in head]
                + self.connector.trainable_variables)

    @property
    def ascent_variables(self):
        return self.balancer.trainable_variables if self.objective.balanced else []

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy, self.balanced_accuracy]

    def call(self, views, training=False):
        return self.student(views["student"], training=training)[0]

    def progress(self) -> tf.Tensor:
        """Fraction of the stage's steps done, in [0, 1]."""
        done = tf.cast(self.optimizer.iterations, tf.float32) / self.total_steps
        return tf.minimum(done, 1.0)

    def label_term(self, labels, logits) -> tf.Tensor:
        if self.objective.label_loss == "balanced_softmax":
            return tf.reduce_mean(sparse_cross_entropy(labels, logits + self.prior_log))
        return tf.reduce_mean(sparse_cross_entropy(labels, logits))

    def distillation_terms(self, views, labels, training: bool) -> dict:
        """The terms of a batch, averaged over the student views: ``l_kl``, ``l_kl_bal``,
        ``l_fs``, ``label`` (reaching the encoder only, when there is a head pass),
        ``head`` (the head pass's loss; 0 without one), and ``logits`` of the first view."""
        objective = self.objective
        teacher_logits, teacher_features = self.teacher(
            [views[name] for name in self.teacher_views], training=False)
        if objective.feature_target == "pooled":
            teacher_features = tf.reduce_mean(teacher_features, [1, 2], keepdims=True)
        kl = lambda logits: kl_distillation(  # noqa: E731
            teacher_logits, logits, objective.temperature, objective.kl_reduction)
        per_view = []
        for name in self.student_views:
            logits, features = self.student(views[name], training=training)
            pooled = tf.reduce_mean(features, [1, 2])
            terms = {"head": tf.constant(0.0)}
            if objective.head_pass:
                head_logits = self.classifier(tf.stop_gradient(pooled))
                terms["head"] = kl(head_logits) + objective.ce_weight * self.label_term(
                    labels, head_logits)
                logits = (tf.matmul(pooled, tf.stop_gradient(self.classifier.kernel))
                          + tf.stop_gradient(self.classifier.bias))
            student_features = (pooled[:, None, None, :] if objective.feature_target == "pooled"
                                else features)
            terms.update(
                l_kl=kl(logits),
                l_kl_bal=balanced_kl_distillation(
                    teacher_logits, logits, self.prior_log, objective.temperature,
                    objective.balanced_kl == "both", objective.kl_reduction),
                l_fs=feature_similarity(teacher_features,
                                        self.connector(student_features, training=training)),
                label=self.label_term(labels, logits), logits=logits)
            per_view.append(terms)
        averaged = {key: tf.add_n([terms[key] for terms in per_view]) / len(per_view)
                    for key in ("l_kl", "l_kl_bal", "l_fs", "label", "head")}
        return {**averaged, "logits": per_view[0]["logits"]}

    def balance(self, first, second) -> tf.Tensor:
        """[w1, w2] from AB_phi on the detached pair and the progress, w1 clamped (or the
        fixed w1 = ``fixed_lambda``; w1 = 1 without a balanced KL)."""
        objective = self.objective
        if not self.objective.balanced:
            w1 = tf.constant(1.0 if objective.fixed_lambda is None
                             else float(objective.fixed_lambda))
        else:
            state = tf.stack([tf.stop_gradient(first), tf.stop_gradient(second),
                              self.progress()])
            w1 = self.balancer(state[None, :], training=True)[0, 0]
            if objective.lambda_clamp:
                w1 = tf.clip_by_value(w1, objective.lambda_clamp, 1.0 - objective.lambda_clamp)
        return tf.stack([w1, 1.0 - w1])

    def encoder_loss(self, terms: dict, global_terms: dict):
        """(L_enc, [w1, w2]) from the replica's terms; the balancer reads the global ones."""
        objective = self.objective
        if objective.balance == "kl_fs":
            weights = self.balance(global_terms["l_kl"], global_terms["l_fs"])
            distill = weights[0] * terms["l_kl"] + weights[1] * terms["l_fs"]
        else:
            weights = self.balance(global_terms["l_kl"], global_terms["l_kl_bal"])
            distill = (objective.fs_weight * terms["l_fs"] + (1.0 - objective.fs_weight)
                       * (weights[0] * terms["l_kl"] + weights[1] * terms["l_kl_bal"]))
        return distill + objective.ce_weight * terms["label"], weights

    def train_step(self, data):
        views, labels = data
        descent, head, ascent = self.descent_variables, self.head_variables, self.ascent_variables
        names = ("l_kl", "l_kl_bal", "l_fs", "label", "head")
        with tf.GradientTape() as tape:
            terms = self.distillation_terms(views, labels, training=True)
            global_terms = dict(zip(names, tf.unstack(replica_mean(
                tf.stack([terms[name] for name in names])))))
            loss, weights = self.encoder_loss(terms, global_terms)
            scaled_loss = global_batch_loss(loss + terms["head"])
        gradients = tape.gradient(scaled_loss, descent + head + ascent)
        self.optimizer.apply_gradients(zip(gradients[:len(descent)], descent))
        if head:
            self.head_optimizer.apply_gradients(
                zip(gradients[len(descent):len(descent) + len(head)], head))
        if ascent:
            self.balancer_optimizer.apply_gradients(
                zip([-g for g in gradients[len(descent) + len(head):]], ascent))
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(labels, terms["logits"])
        return {"loss": self.loss_tracker.result(), "accuracy": self.accuracy.result(),
                "lambda": weights[0], "w2": weights[1],
                **{name: global_terms[name] for name in names}}

    def test_step(self, data):
        views, labels = data
        return track_accuracy(self, labels, self(views, training=False))
